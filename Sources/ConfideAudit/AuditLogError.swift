/// Why an audit log operation, a proof request or a decoding step failed.
///
/// Messages name positions and sizes only, never entry contents.
public enum AuditLogError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An index at or beyond the tree size.
    case indexOutOfRange(index: UInt64, size: UInt64)
    /// A tree size larger than the number of leaves available.
    case sizeOutOfRange(size: UInt64, available: UInt64)
    /// A consistency proof asked from a larger tree to a smaller one.
    case invalidRange(from: UInt64, to: UInt64)
    /// An audit entry field or encoding that is not valid.
    case malformedEntry(String)
    /// A checkpoint body or signed note that is not valid.
    case malformedCheckpoint(String)
    /// The checkpoint belongs to another log.
    case unexpectedOrigin
    /// No signature by the expected key verifies over the checkpoint.
    case signatureNotVerified
    /// A signing or verifier key that is not valid.
    case invalidKey(String)

    public var description: String {
        switch self {
        case .indexOutOfRange(let index, let size): "index \(index) is outside a tree of size \(size)"
        case .sizeOutOfRange(let size, let available): "tree size \(size) exceeds the \(available) leaves available"
        case .invalidRange(let from, let to): "cannot prove consistency from size \(from) to smaller size \(to)"
        case .malformedEntry(let reason): "malformed audit entry: \(reason)"
        case .malformedCheckpoint(let reason): "malformed checkpoint: \(reason)"
        case .unexpectedOrigin: "checkpoint origin is not this log's origin"
        case .signatureNotVerified: "no valid signature by the log's key"
        case .invalidKey(let reason): "invalid key: \(reason)"
        }
    }
}
