import ConfideCore
public import Foundation
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Blobs as files under `root`, at `ab/<name>` in 256 shard directories made when it opens (directories 0700, files 0600).
///
/// `put` writes a temporary file `.tmp-<random>` in the final directory, `fsync`s it, renames it over the
/// final name and `fsync`s the directory; a crash leaves at worst a temporary file, which no read sees
/// and ``removeTemporaryFiles(olderThan:)`` (run when the store opens) deletes. One server owns a root.
///
/// The file I/O (a chunk's write and `fsync` block for milliseconds) runs on ``BlockingIO``'s threads,
/// never on Swift's cooperative pool, which has one thread per core.
public struct FileBlobStore: BlobStore {
    public let root: String
    static let temporaryPrefix = ".tmp-"

    /// Opens (creating if needed, mode 0700) the store at `root` and removes temporary files left by a
    /// crash (those older than ``temporaryGrace``).
    public init(root: String) throws {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        try makeDirectory(self.root)
        try prepareShards()
        try removeTemporaryFiles()
    }

    /// Creates the 256 shard directories up front (one `fsync` of the root), so that a `put` never
    /// creates a directory: two syncs per blob (the file, its directory), not four.
    func prepareShards() throws {
        var created = false
        for i in 0..<256 {
            let directory = "\(root)/\(lowercaseHex([UInt8(i)]))"
            var info = stat()
            if stat(directory, &info) == 0 { continue }
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
                throw VaultError.io(operation: "mkdir", path: directory, errno: errno)
            }
            created = true
        }
        if created { try syncDirectory(containing: "\(root)/x") }
    }

    public func put(name: BlobName, data: Data) async throws {
        try await BlockingIO.run { try putSync(name: name, data: data) }
    }

    /// Writes and syncs the temporary file in the final directory (the data's sync, the slow part).
    public func stage(name: BlobName, data: Data) async throws -> StagedBlob {
        let final = path(name)
        return StagedBlob(name: name, temporaryPath: try await BlockingIO.run { try writeTemporary(for: final, data: data) })
    }

    /// Renames the staged file over the final name and syncs the directory.
    public func promote(_ staged: StagedBlob) async throws {
        guard let temporary = staged.temporaryPath else { throw VaultError.notFound(staged.name.hex) }
        let final = path(staged.name)
        try await BlockingIO.run { try moveIntoPlace(temporary, as: final) }
    }

    public func discard(_ staged: StagedBlob) async {
        if let temporary = staged.temporaryPath { _ = try? await BlockingIO.run { unlink(temporary) } }
    }

    public func get(name: BlobName) async throws -> Data {
        let path = self.path(name)
        return try await BlockingIO.run {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                if errno == ENOENT { throw VaultError.notFound(name.hex) }
                throw VaultError.io(operation: "open", path: path, errno: errno)
            }
            defer { close(fd) }
            return try readFile(fd, path: path)
        }
    }

    public func delete(name: BlobName) async throws {
        let path = self.path(name)
        try await BlockingIO.run {
            guard unlink(path) == 0 else {
                if errno == ENOENT { return }
                throw VaultError.io(operation: "unlink", path: path, errno: errno)
            }
            try syncDirectory(containing: path)
        }
    }

    public func exists(name: BlobName) async throws -> Bool {
        let path = self.path(name)
        return try await BlockingIO.run {
            var info = stat()
            return stat(path, &info) == 0
        }
    }

    /// Every blob name in the store (temporary files excluded).
    public func names() throws -> [BlobName] {
        try files().compactMap { BlobName(hex: ($0 as NSString).lastPathComponent) }
    }

    /// How old a temporary file must be before a sweep removes it: a running server's staged chunks
    /// live seconds (an upload waits at most 10 s for its predecessors), and a one-off command that
    /// opens the store beside it must not remove them.
    public static let temporaryGrace: TimeInterval = 120

    /// Deletes the temporary files a crash during `put` or between `stage` and `promote` may have
    /// left, once older than `age` seconds. Returns how many.
    @discardableResult
    public func removeTemporaryFiles(olderThan age: TimeInterval = FileBlobStore.temporaryGrace) throws -> Int {
        var removed = 0
        let cutoff = Date().addingTimeInterval(-age)
        for file in try files() where (file as NSString).lastPathComponent.hasPrefix(Self.temporaryPrefix) {
            let modified = (try? FileManager.default.attributesOfItem(atPath: file))?[.modificationDate] as? Date
            guard let modified, modified <= cutoff else { continue }
            if unlink(file) == 0 { removed += 1 }
        }
        return removed
    }

    /// `<root>/ab/abcd…`: one shard level of 256 directories, made when the store opens.
    func path(_ name: BlobName) -> String { "\(root)/\(name.hex.prefix(2))/\(name.hex)" }

    /// Writes `data` to a new temporary file beside `final` and syncs it; returns its path.
    func writeTemporary(for final: String, data: Data) throws -> String {
        let directory = (final as NSString).deletingLastPathComponent
        try makeDirectory(directory)
        let temporary = "\(directory)/\(Self.temporaryPrefix)\(randomHex(bytes: 8))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.io(operation: "create", path: temporary, errno: errno) }
        do {
            if try !writeDirect(fd, data, path: temporary) { try writeAll(fd, data, path: temporary) }
            guard fsync(fd) == 0 else { throw VaultError.io(operation: "fsync", path: temporary, errno: errno) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        return temporary
    }

    func putSync(name: BlobName, data: Data, interruptBeforeRename: Bool = false) throws {
        let final = path(name)
        let temporary = try writeTemporary(for: final, data: data)
        if interruptBeforeRename { return }  // Tests: a crash between the write and the rename.
        try moveIntoPlace(temporary, as: final)
    }

    /// Renames a synced temporary file over `final` and syncs the directory; a failed rename removes
    /// the temporary file.
    func moveIntoPlace(_ temporary: String, as final: String) throws {
        guard rename(temporary, final) == 0 else {
            let code = errno
            unlink(temporary)
            throw VaultError.io(operation: "rename", path: final, errno: code)
        }
        try syncDirectory(containing: final)
    }

    /// Creates `directory` and its missing parents (0700), syncing each parent that gained an entry.
    func makeDirectory(_ directory: String) throws {
        var info = stat()
        if stat(directory, &info) == 0 { return }
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != directory { try makeDirectory(parent) }
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
            throw VaultError.io(operation: "mkdir", path: directory, errno: errno)
        }
        try syncDirectory(containing: directory)
    }

    /// All regular files in the shard directories.
    func files() throws -> [String] {
        let manager = FileManager.default
        var out: [String] = []
        for first in (try? manager.contentsOfDirectory(atPath: root)) ?? [] where first.utf8.count == 2 {
            let shard = "\(root)/\(first)"
            for file in (try? manager.contentsOfDirectory(atPath: shard)) ?? [] { out.append("\(shard)/\(file)") }
        }
        return out
    }
}

// MARK: - POSIX helpers

func readAll(_ fd: Int32, path: String) throws -> [UInt8] {
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw VaultError.io(operation: "read", path: path, errno: errno)
        }
        if n == 0 { return out }
        out += buffer[0..<n]
    }
}

/// Reads a whole file straight into one buffer of its size (a blob is written once and never grows).
func readFile(_ fd: Int32, path: String) throws -> Data {
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw VaultError.io(operation: "fstat", path: path, errno: errno) }
    var out = Data(count: Int(info.st_size))
    let filled = try repeatIO(out.count, "read", path: path) { done in
        out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
    }
    // Anything past the size fstat gave (a file that grew meanwhile) is read as well.
    let rest = try readAll(fd, path: path)
    if filled < out.count { out.removeSubrange(filled...) }
    out.append(contentsOf: rest)
    return out
}

func writeAll(_ fd: Int32, _ bytes: Data, path: String) throws {
    let written = try repeatIO(bytes.count, "write", path: path) { done in
        bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
    }
    guard written == bytes.count else { throw VaultError.io(operation: "write", path: path, errno: EIO) }
}

/// Repeats `step` (a `read` or `write` from byte `done` on) until `count` bytes are done or it
/// returns 0, retrying after `EINTR`; returns how many were done.
func repeatIO(_ count: Int, _ operation: String, path: String, _ step: (_ done: Int) -> Int) throws -> Int {
    var done = 0
    while done < count {
        let n = step(done)
        if n < 0 {
            if errno == EINTR { continue }
            throw VaultError.io(operation: operation, path: path, errno: errno)
        }
        if n == 0 { break }
        done += n
    }
    return done
}

/// Writes a large blob with `O_DIRECT`, from the device straight out of an aligned copy of `data`:
/// the kernel's copy into the page cache costs more than sealing the chunk, and a chunk written to be
/// kept is not read back soon. The write is padded to the alignment and the file truncated to the
/// blob's size (the caller's `fsync` makes both durable). Returns false, having written nothing,
/// for a small blob or where the file system refuses direct I/O; the caller then writes through the
/// page cache.
func writeDirect(_ fd: Int32, _ data: Data, path: String) throws -> Bool {
    #if os(Linux)
    guard data.count >= DirectIO.minimum, let direct = DirectIO.flag else { return false }
    let flags = fcntl(fd, F_GETFL)
    guard flags >= 0, fcntl(fd, F_SETFL, flags | direct) == 0 else { return false }
    defer { _ = fcntl(fd, F_SETFL, flags) }
    // F_SETFL ignores a flag it does not know: direct only if the file now says so.
    guard fcntl(fd, F_GETFL) & direct != 0 else { return false }
    let padded = (data.count + DirectIO.alignment - 1) / DirectIO.alignment * DirectIO.alignment
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: padded, alignment: DirectIO.alignment)
    defer { buffer.deallocate() }
    data.withUnsafeBytes { source in
        buffer.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: source.count)
    }
    (buffer.baseAddress! + data.count).initializeMemory(as: UInt8.self, repeating: 0, count: padded - data.count)
    var offset = 0
    while offset < padded {
        let n = pwrite(fd, buffer.baseAddress! + offset, padded - offset, off_t(offset))
        if n < 0 {
            if errno == EINTR { continue }
            // Refused before a byte is written (a device that wants a larger alignment, a file system
            // without direct I/O): write through the cache, where a real I/O error shows again.
            if offset == 0 {
                guard ftruncate(fd, 0) == 0 else { throw VaultError.io(operation: "ftruncate", path: path, errno: errno) }
                return false
            }
            throw VaultError.io(operation: "write", path: path, errno: errno)
        }
        guard n > 0, n % DirectIO.alignment == 0 else {
            throw VaultError.io(operation: "write", path: path, errno: EIO)
        }
        offset += n
    }
    guard ftruncate(fd, off_t(data.count)) == 0 else { throw VaultError.io(operation: "ftruncate", path: path, errno: errno) }
    return true
    #else
    return false
    #endif
}

#if os(Linux)
enum DirectIO {
    /// Blobs below this size are written through the page cache (an `O_DIRECT` write waits for the device).
    static let minimum = 64 * 1024
    /// Covers devices with 512-byte and 4 KiB logical blocks.
    static let alignment = 4096
    /// `O_DIRECT`, which Glibc's module does not export; nil where its value is not known here.
    #if arch(x86_64)
    static let flag: Int32? = 0o40000
    #elseif arch(arm64) || arch(arm)
    static let flag: Int32? = 0o200000
    #else
    static let flag: Int32? = nil
    #endif
}
#endif

/// `fsync`s the directory holding `path`, so a created, renamed or removed entry is durable.
func syncDirectory(containing path: String) throws {
    var directory = (path as NSString).deletingLastPathComponent
    if directory.isEmpty { directory = "." }
    let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw VaultError.io(operation: "open", path: directory, errno: errno) }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw VaultError.io(operation: "fsync", path: directory, errno: errno) }
}

/// Threads for blocking file I/O. A chunk's write and `fsync` take milliseconds; run on the
/// cooperative pool (one thread per core) they would stall every other task meanwhile, and chunks in
/// flight together could not sync together.
enum BlockingIO {
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 8)
        pool.start()
        return pool
    }()

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }
}
