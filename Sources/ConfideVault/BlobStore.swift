import ConfideCore
import Crypto
public import Foundation

/// An opaque object name: 64 lowercase hex digits of an HMAC-SHA256, stored sharded as `ab/cd/abcd…`.
///
/// A name reveals neither the recording id, the segment nor the chunk index; only a holder of the
/// naming key can compute it.
public struct BlobName: Sendable, Hashable, CustomStringConvertible {
    /// The 64 hex digits.
    public let hex: String

    /// Accepts exactly 64 lowercase hex digits; anything else (a path, an id) is `nil`.
    public init?(hex: String) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        else { return nil }
        self.hex = hex
    }

    /// The chunk's name: HMAC-SHA256 under the naming key of `"confide-blob-v1"` ‖ recording id (u32 length ‖
    /// UTF-8) ‖ segment (u64) ‖ index (u64), big-endian. The final flag is not part of it: a reader does not know it.
    public init(recording: String, segment: Int, index: Int, naming: NamingKey) throws {
        var encoder = Encoder(domain: "confide-blob-v1")
        encoder.append(recording)
        encoder.append(try nonNegative(segment, "segment"))
        encoder.append(try nonNegative(index, "chunk index"))
        let mac = HMAC<SHA256>.authenticationCode(for: encoder.bytes, using: naming.key)
        self.hex = lowercaseHex(mac)
    }

    /// `ab/cd/abcd…`: two directory levels of 256 entries each.
    public var relativePath: String {
        let chars = Array(hex)
        return "\(String(chars[0..<2]))/\(String(chars[2..<4]))/\(hex)"
    }

    public var description: String { hex }
}

/// Where sealed chunks live. Implementations only ever see opaque names and ciphertext.
public protocol BlobStore: Sendable {
    /// Stores `data` under `name`, replacing any previous blob, durably: when this returns the blob
    /// survives a crash, and a crash before it returns leaves the old blob or none, never a partial one.
    func put(name: BlobName, data: Data) async throws
    /// The blob `name`. - Throws: ``VaultError/notFound(_:)`` when there is none.
    func get(name: BlobName) async throws -> Data
    /// Removes `name`; removing a missing blob is not an error.
    func delete(name: BlobName) async throws
    /// Whether a blob `name` exists.
    func exists(name: BlobName) async throws -> Bool
    /// The slow half of a `put`, for callers that must decide under a lock whether the blob goes in:
    /// writes `data` durably where no read sees it. `promote` then puts it under its name; `discard`
    /// drops it. A crash in between leaves nothing a read sees.
    func stage(name: BlobName, data: Data) async throws -> StagedBlob
    /// Puts a staged blob under its name, durably (for files: a rename and a directory sync).
    func promote(_ staged: StagedBlob) async throws
    /// Drops a staged blob that will not be promoted (best effort).
    func discard(_ staged: StagedBlob) async
}

/// A blob written by ``BlobStore/stage(name:data:)`` and not yet under its name.
public struct StagedBlob: Sendable {
    public let name: BlobName
    /// Kept in memory by stores that have no cheap move (the default: `promote` is a `put`).
    let data: Data?
    /// Where a file store wrote it.
    let temporaryPath: String?

    init(name: BlobName, data: Data? = nil, temporaryPath: String? = nil) {
        self.name = name
        self.data = data
        self.temporaryPath = temporaryPath
    }
}

extension BlobStore {
    /// Default: nothing is written until `promote`, which is a plain `put` (object stores have no rename).
    public func stage(name: BlobName, data: Data) async throws -> StagedBlob { StagedBlob(name: name, data: data) }

    public func promote(_ staged: StagedBlob) async throws {
        guard let data = staged.data else { throw VaultError.notFound(staged.name.hex) }
        try await put(name: staged.name, data: data)
    }

    public func discard(_ staged: StagedBlob) async {}
}
