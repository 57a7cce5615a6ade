public import Foundation

/// A typed identifier: an `Identifier<Patient>` can never be passed where an `Identifier<Clinician>`
/// is expected, although both are UUIDs underneath.
///
/// Each entity exposes its own spelling, `Patient.ID`, `Account.ID`, as Swift does with `RequestID`.
public struct Identifier<Tag>: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The underlying UUID.
    public let rawValue: UUID

    /// Wraps an existing UUID.
    public init(_ rawValue: UUID) { self.rawValue = rawValue }

    /// A fresh random identifier.
    public init() { self.rawValue = UUID() }

    /// Parses the canonical UUID string form; `nil` for anything else.
    public init?(string: String) {
        guard let uuid = UUID(uuidString: string) else { return nil }
        self.rawValue = uuid
    }

    /// The lowercase canonical string, as stored and as shown in URLs.
    public var description: String { rawValue.uuidString.lowercased() }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        guard let uuid = UUID(uuidString: string) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an identifier")
        }
        self.rawValue = uuid
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.description < rhs.description }
}

/// A sign-in identity: credentials, kind and status. Holds no demographics.
public enum Account { public typealias ID = Identifier<Account> }
/// A patient's record (demographics now, clinical data in later issues).
public enum Patient { public typealias ID = Identifier<Patient> }
/// A session of a signed-in account.
public enum Session { public typealias ID = Identifier<Session> }
/// A practice (a GP surgery or clinic).
public enum Practice { public typealias ID = Identifier<Practice> }
/// A consultation (an appointment and what happens in it).
public enum Consultation { public typealias ID = Identifier<Consultation> }
/// A care team within a practice.
public enum CareTeam { public typealias ID = Identifier<CareTeam> }
