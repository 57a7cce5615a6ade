/// A syntactically valid email address, normalised to lowercase so that uniqueness is case-insensitive.
public struct EmailAddress: Hashable, Sendable, CustomStringConvertible {
    /// The normalised (trimmed, lowercased) address.
    public let value: String

    /// Validates and normalises an address.
    /// - Throws: `ValidationError` with code `invalidEmail`.
    public init(_ raw: String) throws(ValidationError) {
        let trimmed = raw.trimmingWhitespace().lowercased()
        guard Self.isPlausible(trimmed) else { throw ValidationError(.invalidEmail, field: "email") }
        self.value = trimmed
    }

    public var description: String { value }

    // INVARIANT: one `@`, a non-empty local part of at most 64 bytes, a domain with a dot, no spaces
    // or control characters, at most 254 bytes in all (RFC 5321 limits).
    static func isPlausible(_ s: String) -> Bool {
        guard s.utf8.count <= 254, !s.isEmpty else { return false }
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        let local = parts[0]
        let domain = parts[1]
        guard !local.isEmpty, local.utf8.count <= 64, domain.count >= 3 else { return false }
        guard !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else { return false }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        for label in labels {
            guard !label.isEmpty, label.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-") else { return false }
            guard label.unicodeScalars.allSatisfy({ $0.isASCIIAlphanumeric || $0 == "-" }) else { return false }
        }
        let allowedLocal = Set("!#$%&'*+-/=?^_`{|}~.".unicodeScalars)
        return local.unicodeScalars.allSatisfy { $0.isASCIIAlphanumeric || allowedLocal.contains($0) }
    }
}

extension Unicode.Scalar {
    var isASCIIAlphanumeric: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces, tabs and newlines.
    public func trimmingWhitespace() -> String {
        let scalars = Array(unicodeScalars)
        var start = 0
        var end = scalars.count
        while start < end, scalars[start].properties.isWhitespace { start += 1 }
        while end > start, scalars[end - 1].properties.isWhitespace { end -= 1 }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[start..<end])
        return String(result)
    }
}
