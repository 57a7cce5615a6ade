import Foundation

/// A commitment to the state of the log: its origin, its size and the root hash of its first `size`
/// entries, in the tlog checkpoint format (c2sp.org/tlog-checkpoint).
///
/// The body is exactly three lines, each ending in a newline:
///
/// ```
/// <origin>
/// <size in decimal, no leading zeros>
/// <root hash in standard padded base64>
/// ```
///
/// Confide checkpoints carry no extension lines. Signed with `CheckpointSigner`, the body becomes a
/// signed note (see `SignedCheckpoint`).
public struct Checkpoint: Hashable, Sendable {
    /// The longest origin, in bytes.
    public static let maximumOriginLength = 256

    /// The log's unique name, such as `confide.example.org/audit`: visible ASCII, no spaces.
    public let origin: String
    /// The number of entries committed to.
    public let size: UInt64
    /// `MTH` of the first `size` entries.
    public let rootHash: MerkleHash

    /// Creates a checkpoint.
    /// - Throws: `AuditLogError.malformedCheckpoint` when the origin is empty, too long or not visible ASCII.
    public init(origin: String, size: UInt64, rootHash: MerkleHash) throws {
        let bytes = origin.utf8
        guard !bytes.isEmpty, bytes.count <= Self.maximumOriginLength, bytes.allSatisfy({ (0x21...0x7e).contains($0) })
        else { throw AuditLogError.malformedCheckpoint("invalid origin") }
        self.origin = origin
        self.size = size
        self.rootHash = rootHash
    }

    /// The checkpoint body: `origin\nsize\nbase64(root)\n`.
    public var body: String {
        "\(origin)\n\(size)\n\(Base64.encode(rootHash.bytes))\n"
    }

    /// Parses a body, accepting only the exact text that `body` produces.
    /// - Throws: `AuditLogError.malformedCheckpoint`.
    public init(body: String) throws {
        guard body.utf8.last == UInt8(ascii: "\n") else { throw AuditLogError.malformedCheckpoint("no final newline") }
        let lines = body.utf8.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard lines.count == 3 else { throw AuditLogError.malformedCheckpoint("expected three lines") }
        let sizeText = String(decoding: lines[1], as: UTF8.self)
        guard let size = UInt64(sizeText), String(size) == sizeText else {
            throw AuditLogError.malformedCheckpoint("invalid size")
        }
        guard let rootBytes = Base64.decodeCanonical(String(decoding: lines[2], as: UTF8.self)),
            let root = MerkleHash(bytes: rootBytes)
        else { throw AuditLogError.malformedCheckpoint("invalid root hash") }
        try self.init(origin: String(decoding: lines[0], as: UTF8.self), size: size, rootHash: root)
        guard self.body.utf8.elementsEqual(body.utf8) else { throw AuditLogError.malformedCheckpoint("not canonical") }
    }
}

/// Standard padded base64 that accepts only its own output, so no two texts decode to the same bytes.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    static func decodeCanonical(_ text: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: text) else { return nil }
        let bytes = [UInt8](data)
        guard encode(bytes) == text else { return nil }
        return bytes
    }
}
