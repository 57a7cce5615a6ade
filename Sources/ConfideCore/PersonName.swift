/// A person's name as they want it shown: given and family names, each 1 to 100 characters,
/// no control characters.
public struct PersonName: Hashable, Sendable, Codable {
    /// Given (first) name.
    public let given: String
    /// Family name (surname).
    public let family: String

    /// Validates both parts.
    /// - Throws: `ValidationError` with code `invalidName`, naming the field at fault.
    public init(given: String, family: String) throws(ValidationError) {
        self.given = try Self.validated(given, field: "given_name")
        self.family = try Self.validated(family, field: "family_name")
    }

    static func validated(_ raw: String, field: String) throws(ValidationError) -> String {
        let value = raw.trimmingWhitespace()
        guard (1...100).contains(value.count),
            !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "<" || $0 == ">" })
        else { throw ValidationError(.invalidName, field: field) }
        return value
    }

    /// "Given Family".
    public var display: String { "\(given) \(family)" }
}
