import Crypto
import Foundation
import PropertyBased
import Testing

@testable import ConfideVault

@Suite("Blob names and the file store")
struct BlobStoreTests {
    @Test("names are opaque: deterministic, distinct, 64 hex digits, sharded, never containing the id", .tags(.property))
    func names() async throws {
        let naming = try NamingKey(SymmetricKey(size: .bits256))
        let otherNaming = try NamingKey(SymmetricKey(size: .bits256))
        await propertyCheck(
            count: 300, input: recordingGen, Gen.int(in: 0...20), Gen.int(in: 0...20), recordingGen, Gen.int(in: 0...20),
            Gen.int(in: 0...20)
        ) { r1, s1, i1, r2, s2, i2 in
            let a = try BlobName(recording: r1, segment: s1, index: i1, naming: naming)
            let again = try BlobName(recording: r1, segment: s1, index: i1, naming: naming)
            let b = try BlobName(recording: r2, segment: s2, index: i2, naming: naming)
            #expect(a == again)
            #expect((a == b) == (r1 == r2 && s1 == s2 && i1 == i2))
            #expect(try BlobName(recording: r1, segment: s1, index: i1, naming: otherNaming) != a)
            #expect(BlobName(hex: a.hex) == a)
            #expect(a.relativePath == "\(a.hex.prefix(2))/\(a.hex.dropFirst(2).prefix(2))/\(a.hex)")
            if r1.count > 2 { #expect(!a.relativePath.contains(r1)) }
        }
        #expect(BlobName(hex: "../../etc/passwd") == nil)
        #expect(BlobName(hex: String(repeating: "A", count: 64)) == nil)
    }

    @Test("put, get, exists, delete; put replaces; delete is idempotent")
    func basics() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try FileBlobStore(root: dir.path)
        let name = try #require(BlobName(hex: String(repeating: "ab", count: 32)))
        #expect(try await !store.exists(name: name))
        await #expect(throws: VaultError.notFound(name.hex)) { try await store.get(name: name) }
        try await store.put(name: name, data: Data("one".utf8))
        #expect(try await store.exists(name: name))
        #expect(try await store.get(name: name) == Data("one".utf8))
        try await store.put(name: name, data: Data("two".utf8))
        #expect(try await store.get(name: name) == Data("two".utf8))
        #expect(FileManager.default.fileExists(atPath: "\(dir.path)/ab/\(name.hex)"))
        let mode = try #require(FileManager.default.attributesOfItem(atPath: "\(dir.path)/ab/\(name.hex)")[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        try await store.put(name: name, data: Data())
        #expect(try await store.get(name: name) == Data())
        #expect(try store.names() == [name])
        try await store.delete(name: name)
        try await store.delete(name: name)
        #expect(try await !store.exists(name: name))
        #expect(try store.names().isEmpty)
    }

    @Test("large blobs are written around the page cache (O_DIRECT, padded, truncated) and read back exactly, at every size about the alignment")
    func directWrites() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try FileBlobStore(root: dir.path)
        let sizes = [0, 1, 4095, 65_535, 65_536, 65_537, 4096 * 300, (1 << 20) + 29, (8 << 20) + 29]
        for (i, size) in sizes.enumerated() {
            let data = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) })
            let name = try #require(BlobName(hex: String(format: "%064x", i + 1)))
            if i % 2 == 0 {
                try await store.put(name: name, data: data)
            } else {
                try await store.promote(try await store.stage(name: name, data: data))
            }
            #expect(try await store.get(name: name) == data, "size \(size)")
            let onDisk = try #require(FileManager.default.attributesOfItem(atPath: store.path(name))[.size] as? Int)
            #expect(onDisk == size, "the padding is cut off: size \(size)")
        }
        #expect(dir.allFiles().allSatisfy { !$0.contains(FileBlobStore.temporaryPrefix) })
        // The direct path is the one taken for a large blob wherever the file system takes O_DIRECT
        // (one that refuses it, such as tmpfs before Linux 6.6, gets false and a buffered write).
        #if os(Linux)
        let path = "\(dir.path)/direct-probe"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        defer { close(fd) }
        let probe = open("\(dir.path)/probe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (DirectIO.flag ?? 0), 0o600)
        let supported = DirectIO.flag != nil && probe >= 0 && fcntl(probe, F_GETFL) & DirectIO.flag! != 0
        if probe >= 0 { close(probe) }
        let large = Data(repeating: 7, count: (1 << 20) + 29)
        #expect(try writeDirect(fd, large, path: path) == supported)
        #expect(fcntl(fd, F_GETFL) & (DirectIO.flag ?? 0) == 0, "the descriptor's flags are restored")
        #expect(try !writeDirect(fd, Data(repeating: 7, count: 100), path: path))
        if supported { #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == large) }
        #endif
    }

    @Test("a staged blob is invisible until promoted; promotion replaces; a discarded or crashed stage leaves nothing a read sees")
    func staging() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try FileBlobStore(root: dir.path)
        let name = try #require(BlobName(hex: String(repeating: "5e", count: 32)))
        try await store.put(name: name, data: Data("acknowledged".utf8))
        // Staged over an existing blob: reads still see the old one until the promotion.
        let staged = try await store.stage(name: name, data: Data("next".utf8))
        #expect(try await store.get(name: name) == Data("acknowledged".utf8))
        #expect(try store.names() == [name])
        try await store.promote(staged)
        #expect(try await store.get(name: name) == Data("next".utf8))
        // Discarded: the old blob stays and no temporary file is left.
        let dropped = try await store.stage(name: name, data: Data("refused".utf8))
        await store.discard(dropped)
        #expect(try await store.get(name: name) == Data("next".utf8))
        #expect(dir.allFiles().count == 1)
        // A stage in flight survives another process opening the store (an admin command); a crash
        // between stage and promote leaves a leftover that a sweep past the grace period removes.
        let other = try #require(BlobName(hex: String(repeating: "6f", count: 32)))
        let inFlight = try await store.stage(name: other, data: Data("in flight".utf8))
        #expect(try await !store.exists(name: other))
        #expect(try FileBlobStore(root: dir.path).removeTemporaryFiles() == 0)
        #expect(dir.allFiles().count == 2)
        #expect(try store.removeTemporaryFiles(olderThan: 0) == 1)
        #expect(dir.allFiles().count == 1)
        await #expect(throws: VaultError.self) { try await store.promote(inFlight) }
        // A store without a cheap move stages in memory: promote is a put.
        let memory = InMemoryBlobStore()
        let held = try await memory.stage(name: other, data: Data("later".utf8))
        #expect(try await !memory.exists(name: other))
        try await memory.promote(held)
        #expect(try await memory.get(name: other) == Data("later".utf8))
    }

    @Test("a put interrupted before its rename leaves nothing under the final name; the store ignores and cleans the leftover")
    func crashSafety() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try FileBlobStore(root: dir.path)
        let name = try #require(BlobName(hex: String(repeating: "c4", count: 32)))

        // A crash between writing the temporary file and renaming it.
        try store.putSync(name: name, data: Data(repeating: 7, count: 10_000), interruptBeforeRename: true)
        #expect(try await !store.exists(name: name))
        await #expect(throws: VaultError.notFound(name.hex)) { try await store.get(name: name) }
        #expect(try store.names().isEmpty)
        let leftovers = dir.allFiles().filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") }
        #expect(leftovers.count == 1)

        // An older complete blob survives an interrupted replacement intact.
        try await store.put(name: name, data: Data("complete".utf8))
        try store.putSync(name: name, data: Data("partial replacement".utf8), interruptBeforeRename: true)
        #expect(try await store.get(name: name) == Data("complete".utf8))

        // Reopening the store (the restart after the crash) removes the temporary files once they are
        // older than the grace period (a fresh one may be a running server's staged chunk).
        _ = try FileBlobStore(root: dir.path)
        #expect(dir.allFiles().filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") }.count == 2)
        for file in dir.allFiles() where (file as NSString).lastPathComponent.hasPrefix(".tmp-") {
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-FileBlobStore.temporaryGrace - 1)], ofItemAtPath: file)
        }
        _ = try FileBlobStore(root: dir.path)
        #expect(dir.allFiles().filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") }.isEmpty)
        #expect(try await store.get(name: name) == Data("complete".utf8))
        #expect(dir.allFiles().count == 1)
    }

    @Test("concurrent puts of many blobs all land complete")
    func concurrentPuts() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try FileBlobStore(root: dir.path)
        let naming = try NamingKey(SymmetricKey(size: .bits256))
        let names = try (0..<64).map { try BlobName(recording: "r", segment: 0, index: $0, naming: naming) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, name) in names.enumerated() {
                group.addTask { try await store.put(name: name, data: Data(repeating: UInt8(i), count: 1_000 + i)) }
            }
            try await group.waitForAll()
        }
        for (i, name) in names.enumerated() {
            #expect(try await store.get(name: name) == Data(repeating: UInt8(i), count: 1_000 + i))
        }
        #expect(Set(try store.names()) == Set(names))
    }
}

/// A blob store with no `stage` of its own (like the object store): it gets the protocol's defaults.
final class InMemoryBlobStore: BlobStore, @unchecked Sendable {
    private let lock = NSLock()
    private var blobs: [BlobName: Data] = [:]

    func put(name: BlobName, data: Data) async throws { lock.withLock { blobs[name] = data } }
    func get(name: BlobName) async throws -> Data {
        guard let data = lock.withLock({ blobs[name] }) else { throw VaultError.notFound(name.hex) }
        return data
    }
    func delete(name: BlobName) async throws { _ = lock.withLock { blobs.removeValue(forKey: name) } }
    func exists(name: BlobName) async throws -> Bool { lock.withLock { blobs[name] != nil } }
}
