public import Foundation

/// An ISO 3166-1 alpha-2 country code, uppercased ("GB", "CA", "US", "SG").
///
/// Only the shape is checked (exactly two ASCII letters); whether the code is assigned is not.
public struct CountryCode: Hashable, Sendable, CustomStringConvertible {
    /// The uppercased two-letter code.
    public let value: String

    /// Trims, uppercases and validates a code.
    /// - Throws: `ValidationError` with code `invalidCountry`, field `country`.
    public init(_ raw: String) throws(ValidationError) {
        let v = raw.trimmingWhitespace().uppercased()
        guard v.unicodeScalars.count == 2, v.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) }) else {
            throw ValidationError(.invalidCountry, field: "country")
        }
        self.value = v
    }

    public var description: String { value }
}

/// An IANA time zone name in Region/City style ("Europe/London", "America/Toronto", "Asia/Singapore"),
/// or exactly "UTC".
///
/// Abbreviations ("EST", "BST", "GMT") and POSIX-style names ("EST5EDT") are rejected even where
/// Foundation knows them: an abbreviation is ambiguous (IST, CST) and does not follow daylight saving
/// the way the region's rules do. Names are case-sensitive, as in the tz database.
public struct ZoneName: Hashable, Sendable, CustomStringConvertible {
    /// The zone name as given (trimmed), e.g. "Europe/London".
    public let identifier: String

    /// Validates a zone name with `TimeZone(identifier:)`.
    /// - Throws: `ValidationError` with code `invalidTimeZone`, field `time_zone`.
    public init(_ raw: String) throws(ValidationError) {
        let v = raw.trimmingWhitespace()
        guard Self.isWellFormed(v), TimeZone(identifier: v) != nil else {
            throw ValidationError(.invalidTimeZone, field: "time_zone")
        }
        self.identifier = v
    }

    /// The Foundation time zone.
    public var timeZone: TimeZone { TimeZone(identifier: identifier) ?? TimeZone(secondsFromGMT: 0)! }

    public var description: String { identifier }

    // INVARIANT: "UTC", or `Area/Location[/Sub]` made of tz database characters, no empty or dot-only
    // component, at most 64 bytes.
    static func isWellFormed(_ s: String) -> Bool {
        if s == "UTC" { return true }
        guard s.utf8.count <= 64 else { return false }
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return false }
        for part in parts {
            guard !part.isEmpty, part.first != ".", part.first != "-",
                part.unicodeScalars.allSatisfy({ $0.isASCIIAlphanumeric || "_-+.".unicodeScalars.contains($0) })
            else { return false }
        }
        return parts[0].first.map { ("A"..."Z").contains($0) } ?? false
    }
}
