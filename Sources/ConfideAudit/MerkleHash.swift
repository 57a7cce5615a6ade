import ConfideCore
public import Crypto

/// A SHA-256 value in the log's Merkle tree: a leaf hash, an interior node hash or a tree root.
public struct MerkleHash: Hashable, Sendable, CustomStringConvertible {
    /// The length of every hash, in bytes.
    public static let byteCount = 32

    // INVARIANT: exactly `byteCount` bytes.
    /// The 32 raw bytes.
    public let bytes: [UInt8]

    /// Wraps 32 raw bytes; `nil` for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Wraps a SHA-256 digest.
    public init(_ digest: SHA256.Digest) { self.bytes = digest.withUnsafeBytes { Array($0) } }

    /// Parses 64 hexadecimal digits (either case); `nil` for anything else.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 2 * Self.byteCount else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let high = Self.nibble(digits[i]), let low = Self.nibble(digits[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.bytes = bytes
    }

    /// Lowercase hexadecimal, 64 digits.
    public var hex: String { lowercaseHex(bytes) }

    public var description: String { hex }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
