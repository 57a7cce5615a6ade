/// The position of an entry in the audit log, counted from zero.
///
/// An index is durable: once `append` has returned it, the entry at that index never changes and the
/// log never gets shorter. Distinct from a tree *size*, which counts entries (`size == lastIndex + 1`).
public struct LogIndex: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The zero-based position.
    public let rawValue: UInt64

    /// Wraps a zero-based position.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Wraps a zero-based position.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public var description: String { String(rawValue) }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
