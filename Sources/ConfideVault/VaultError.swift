/// Everything the vault can refuse. Messages name paths and key ids, never key material or media.
public enum VaultError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A sealed chunk or wrapped key failed authentication: wrong key, wrong recording, segment, index or
    /// final flag, or altered bytes. Deliberately says nothing about which.
    case authenticationFailed
    /// The bytes are too short or otherwise not in the expected layout.
    case malformed(String)
    /// A format version byte this build does not know.
    case unsupportedVersion(UInt8)
    /// The key ring holds no key-encryption key with this id (it was removed, or never loaded).
    case unknownKeyEncryptionKey(String)
    /// A key file is not 32 bytes of base64.
    case invalidKeyFile(path: String)
    /// A key file may be read by its group or by others; its mode (octal) is reported.
    case insecureKeyFile(path: String, mode: UInt32)
    /// A segment ended without a chunk sealed `final`: chunks were dropped from its end.
    case truncated(segment: Int, chunks: Int)
    /// A chunk came after the chunk sealed `final`.
    case chunkAfterFinal(segment: Int, index: Int)
    /// No blob with this name.
    case notFound(String)
    /// A segment or chunk index is negative, or a name is not an opaque vault name.
    case invalidArgument(String)
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// An object store answered an operation (`put`, `get`, …) with an unexpected HTTP status; `code` is the
    /// S3 error code from the response body (e.g. `SignatureDoesNotMatch`) when there was one. Never carries
    /// an object key, a credential or data.
    case objectStore(operation: String, status: Int, code: String?)
    /// An object store could not be reached, or did not answer in time (after the retry, where one applies).
    case objectStoreUnavailable(operation: String, reason: String)

    public var description: String {
        switch self {
        case .authenticationFailed: "authentication failed"
        case .malformed(let what): "malformed \(what)"
        case .unsupportedVersion(let v): "unsupported format version \(v)"
        case .unknownKeyEncryptionKey(let id): "no key-encryption key with id \(id) in the key ring"
        case .invalidKeyFile(let path): "\(path) is not a key file (32 bytes encoded as base64)"
        case .insecureKeyFile(let path, let mode):
            "\(path) has mode \(String(mode, radix: 8)); a key file must not be accessible to group or others (chmod 600)"
        case .truncated(let segment, let chunks): "segment \(segment) is truncated after \(chunks) chunk(s)"
        case .chunkAfterFinal(let segment, let index): "segment \(segment) has chunk \(index) after its final chunk"
        case .notFound(let name): "no blob named \(name)"
        case .invalidArgument(let what): "invalid argument: \(what)"
        case .io(let operation, let path, let errno): "\(operation) \(path) failed (errno \(errno))"
        case .objectStore(let operation, let status, let code):
            "object store \(operation) failed: HTTP \(status)\(code.map { " (\($0))" } ?? "")"
        case .objectStoreUnavailable(let operation, let reason): "object store \(operation) failed: \(reason)"
        }
    }
}

/// Big-endian, length-prefixed encodings for associated data and names: fixed-width integers and
/// length-prefixed strings, so no two distinct inputs encode to the same bytes.
struct Encoder {
    private(set) var bytes: [UInt8] = []

    init(domain: String) { append(domain) }

    mutating func append(_ string: String) {
        let utf8 = Array(string.utf8)
        append(UInt32(utf8.count))
        bytes += utf8
    }

    mutating func append(_ value: UInt32) {
        bytes += [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    mutating func append(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(value >> UInt64(shift) & 0xFF)) }
    }

    mutating func append(_ value: UInt8) { bytes.append(value) }
}

/// Checks a segment or chunk index and widens it for encoding.
func nonNegative(_ value: Int, _ what: String) throws(VaultError) -> UInt64 {
    guard value >= 0 else { throw .invalidArgument("\(what) must not be negative") }
    return UInt64(value)
}
