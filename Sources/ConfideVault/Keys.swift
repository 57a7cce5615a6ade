import ConfideCore
public import Crypto
public import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A recording's data key: 256 random bits, fresh per recording, that seal its chunks.
///
/// It exists in memory only; what is stored is a ``WrappedKey``. Destroying every copy of the wrapped
/// key destroys the recording (crypto-shredding).
public struct RecordingKey: Sendable {
    let key: SymmetricKey

    /// A fresh random data key.
    public init() { self.key = SymmetricKey(size: .bits256) }

    /// An existing 256-bit key (for tests and tools).
    public init(_ key: SymmetricKey) throws {
        guard key.bitCount == 256 else { throw VaultError.invalidArgument("a data key must be 256 bits") }
        self.key = key
    }
}

/// Key files: 32 random bytes, base64, one line, mode 0600.
public enum KeyFile {
    /// Reads the key at `path`, refusing a file that its group or others may access in any way.
    ///
    /// The mode is checked on the open descriptor (`fstat`), so the file checked is the file read.
    /// - Throws: ``VaultError/insecureKeyFile(path:mode:)``, ``VaultError/invalidKeyFile(path:)``,
    ///   ``VaultError/io(operation:path:errno:)``.
    public static func read(path: String) throws -> SymmetricKey {
        guard let raw = Data(base64Encoded: try readText(path: path, secret: true)), raw.count == 32 else {
            throw VaultError.invalidKeyFile(path: path)
        }
        return SymmetricKey(data: raw)
    }

    /// Reads a one-line secret or credential file (at most 4 KiB, a regular file), trimmed. When
    /// `secret`, refuses a file its group or others may access in any way; the mode is checked on the
    /// open descriptor (`fstat`), so the file checked is the file read.
    /// - Throws: ``VaultError/insecureKeyFile(path:mode:)``, ``VaultError/invalidKeyFile(path:)`` (empty,
    ///   several lines, too large, not UTF-8, not a regular file), ``VaultError/io(operation:path:errno:)``.
    public static func readText(path: String, secret: Bool) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VaultError.io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw VaultError.io(operation: "fstat", path: path, errno: errno) }
        let mode = UInt32(info.st_mode) & 0o7777
        if secret, mode & 0o077 != 0 { throw VaultError.insecureKeyFile(path: path, mode: mode) }
        guard UInt32(info.st_mode) & 0o170000 == 0o100000, Int(info.st_size) <= 4096 else {
            throw VaultError.invalidKeyFile(path: path)
        }
        let contents = try readAll(fd, path: path)
        guard contents.count <= 4096, let text = String(bytes: contents, encoding: .utf8) else {
            throw VaultError.invalidKeyFile(path: path)
        }
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty, !value.contains(where: \.isNewline) else { throw VaultError.invalidKeyFile(path: path) }
        return value
    }

    /// Writes a fresh random key to `path` (which must not exist) with mode 0600, durably, and returns it.
    public static func create(path: String) throws -> SymmetricKey {
        let key = SymmetricKey(size: .bits256)
        let line = Data((key.withUnsafeBytes { Data($0) }.base64EncodedString() + "\n").utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.io(operation: "create", path: path, errno: errno) }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw VaultError.io(operation: "fchmod", path: path, errno: errno) }
        try writeAll(fd, line, path: path)
        guard fsync(fd) == 0 else { throw VaultError.io(operation: "fsync", path: path, errno: errno) }
        try syncDirectory(containing: path)
        return key
    }
}

/// A key-encryption key (KEK): wraps data keys. Identified by `id`, which is stored beside every key it wraps.
public struct KeyEncryptionKey: Sendable {
    /// Names this key in a ``WrappedKey``; by default a fingerprint of the key, which reveals nothing about it.
    public let id: String
    let key: SymmetricKey

    /// - Parameter id: the key id; `nil` takes the fingerprint (16 hex digits of a domain-separated SHA-256).
    public init(_ key: SymmetricKey, id: String? = nil) throws {
        guard key.bitCount == 256 else { throw VaultError.invalidArgument("a key-encryption key must be 256 bits") }
        if let id, id.isEmpty || id.utf8.count > 255 {
            throw VaultError.invalidArgument("a key id must be 1 to 255 bytes")
        }
        self.key = key
        self.id = id ?? Self.fingerprint(key)
    }

    /// Loads the key file at `path` (see ``KeyFile/read(path:)``).
    public static func load(path: String, id: String? = nil) throws -> KeyEncryptionKey {
        try KeyEncryptionKey(KeyFile.read(path: path), id: id)
    }

    /// Generates a key into a new key file at `path` (mode 0600).
    public static func generate(path: String, id: String? = nil) throws -> KeyEncryptionKey {
        try KeyEncryptionKey(KeyFile.create(path: path), id: id)
    }

    static func fingerprint(_ key: SymmetricKey) -> String {
        var hash = SHA256()
        hash.update(data: Array("confide-kek-id-v1".utf8))
        key.withUnsafeBytes { hash.update(bufferPointer: $0) }
        return lowercaseHex(hash.finalize().prefix(8))
    }
}

/// The key that derives opaque blob names. It is not rotated with the KEKs: rotating it would rename every blob.
public struct NamingKey: Sendable {
    let key: SymmetricKey

    public init(_ key: SymmetricKey) throws {
        guard key.bitCount == 256 else { throw VaultError.invalidArgument("a naming key must be 256 bits") }
        self.key = key
    }

    /// Loads the key file at `path` (see ``KeyFile/read(path:)``).
    public static func load(path: String) throws -> NamingKey { try NamingKey(KeyFile.read(path: path)) }

    /// Generates a key into a new key file at `path` (mode 0600).
    public static func generate(path: String) throws -> NamingKey { try NamingKey(KeyFile.create(path: path)) }
}

/// A data key sealed under a KEK: what the database stores for a recording.
///
/// `sealed` is AES-256-GCM nonce (12) ‖ ciphertext (32) ‖ tag (16) with associated data
/// `"confide-dek-v1"` ‖ u32 length ‖ recording id (UTF-8), so a wrapped key cannot be moved to another recording.
public struct WrappedKey: Sendable, Hashable, Codable {
    public static let version: UInt8 = 1
    static let sealedCount = 12 + 32 + 16

    /// The id of the KEK this data key is wrapped under.
    public let kekID: String
    /// Nonce, ciphertext and tag.
    public let sealed: Data

    public init(kekID: String, sealed: Data) {
        self.kekID = kekID
        self.sealed = sealed
    }

    /// Version (1) ‖ u8 length of the key id ‖ key id (UTF-8) ‖ nonce ‖ ciphertext ‖ tag.
    public var serialized: Data {
        var out = Data([Self.version, UInt8(kekID.utf8.count)])
        out.append(contentsOf: Array(kekID.utf8))
        out.append(sealed)
        return out
    }

    /// Parses ``serialized``.
    public init(serialized data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.count >= 2 else { throw VaultError.malformed("wrapped key") }
        guard bytes[0] == Self.version else { throw VaultError.unsupportedVersion(bytes[0]) }
        let idCount = Int(bytes[1])
        guard idCount > 0, bytes.count == 2 + idCount + Self.sealedCount,
            let id = String(bytes: bytes[2..<(2 + idCount)], encoding: .utf8)
        else { throw VaultError.malformed("wrapped key") }
        self.init(kekID: id, sealed: Data(bytes[(2 + idCount)...]))
    }

    static func associatedData(recording: String) -> [UInt8] {
        Encoder(domain: "confide-dek-v1").appending(recording).bytes
    }
}

extension Encoder {
    func appending(_ string: String) -> Encoder {
        var copy = self
        copy.append(string)
        return copy
    }
}

/// The current KEK, the older KEKs still needed to unwrap keys not yet re-wrapped, and the naming key.
public struct KeyRing: Sendable {
    /// New data keys are wrapped under this key.
    public let current: KeyEncryptionKey
    let previous: [String: KeyEncryptionKey]
    /// Derives blob names.
    public let naming: NamingKey

    public init(current: KeyEncryptionKey, previous: [KeyEncryptionKey] = [], naming: NamingKey) {
        self.current = current
        var byID: [String: KeyEncryptionKey] = [:]
        for key in previous where key.id != current.id { byID[key.id] = key }
        self.previous = byID
        self.naming = naming
    }

    /// The ids of every KEK in the ring, current first.
    public var kekIDs: [String] { [current.id] + previous.keys.sorted() }

    /// A ring whose current key is `next`, keeping the present current key to unwrap what is not yet re-wrapped.
    public func rotated(to next: KeyEncryptionKey) -> KeyRing {
        KeyRing(current: next, previous: Array(previous.values) + [current], naming: naming)
    }

    /// A ring without the old KEK `id` (once every key wrapped under it has been re-wrapped).
    /// - Throws: ``VaultError/invalidArgument(_:)`` for the current key.
    public func removing(kekID id: String) throws -> KeyRing {
        guard id != current.id else { throw VaultError.invalidArgument("cannot remove the current key-encryption key") }
        return KeyRing(current: current, previous: previous.values.filter { $0.id != id }, naming: naming)
    }

    /// Wraps `key` for `recording` under the current KEK.
    public func wrap(_ key: RecordingKey, recording: String) throws -> WrappedKey {
        let plain = key.key.withUnsafeBytes { Data($0) }
        let box = try AES.GCM.seal(
            plain, using: current.key, nonce: AES.GCM.Nonce(),
            authenticating: WrappedKey.associatedData(recording: recording)
        )
        guard let combined = box.combined else { throw VaultError.malformed("sealed box") }
        return WrappedKey(kekID: current.id, sealed: combined)
    }

    /// Unwraps the data key of `recording`.
    /// - Throws: ``VaultError/unknownKeyEncryptionKey(_:)`` when the ring no longer holds its KEK,
    ///   ``VaultError/authenticationFailed`` for another recording's key or altered bytes.
    public func unwrap(_ wrapped: WrappedKey, recording: String) throws -> RecordingKey {
        let kek: KeyEncryptionKey
        if wrapped.kekID == current.id {
            kek = current
        } else if let old = previous[wrapped.kekID] {
            kek = old
        } else {
            throw VaultError.unknownKeyEncryptionKey(wrapped.kekID)
        }
        guard wrapped.sealed.count == WrappedKey.sealedCount else { throw VaultError.malformed("wrapped key") }
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped.sealed)
            let plain = try AES.GCM.open(box, using: kek.key, authenticating: WrappedKey.associatedData(recording: recording))
            return try RecordingKey(SymmetricKey(data: plain))
        } catch {
            throw VaultError.authenticationFailed
        }
    }

    /// Key rotation: the same data key, wrapped under the current KEK. The media is not touched; a key
    /// already under the current KEK is returned freshly wrapped (new nonce) all the same.
    public func rewrap(_ wrapped: WrappedKey, recording: String) throws -> WrappedKey {
        try wrap(unwrap(wrapped, recording: recording), recording: recording)
    }
}
