/// A rejected input value. Its message never repeats the value itself (it may be personal data).
public struct ValidationError: Error, Hashable, Sendable {
    /// Stable machine-readable codes; a struct wrapper keeps adding cases non-breaking.
    public enum Code: String, Sendable, Hashable {
        case invalidEmail = "invalid-email"
        case invalidName = "invalid-name"
        case invalidBirthDate = "invalid-birth-date"
        case weakPassword = "weak-password"
        case invalidStaffRole = "invalid-staff-role"
        case invalidRegistrationNumber = "invalid-registration-number"
        case invalidValue = "invalid-value"
        case invalidCountry = "invalid-country"
        case invalidTimeZone = "invalid-time-zone"
        case invalidAvailability = "invalid-availability"
        case overlappingAvailability = "overlapping-availability"
    }

    /// What was wrong.
    public let code: Code
    /// The input field at fault, as the client named it.
    public let field: String
    /// A human-readable explanation, lowercase, without the offending value.
    public let message: String

    /// Creates an error with the default message of its code.
    public init(_ code: Code, field: String, message: String? = nil) {
        self.code = code
        self.field = field
        self.message = message ?? Self.defaultMessage(code)
    }

    static func defaultMessage(_ code: Code) -> String {
        switch code {
        case .invalidEmail: "enter a valid email address, like name@example.com"
        case .invalidName: "enter a name of 1 to 100 characters"
        case .invalidBirthDate: "enter a real date of birth in the past, as YYYY-MM-DD"
        case .weakPassword: "choose a password of at least 12 characters that is not a common password"
        case .invalidStaffRole: "choose one of gp, nurse, pharmacist, therapist"
        case .invalidRegistrationNumber: "enter a professional registration number of 3 to 32 letters, digits or dashes"
        case .invalidValue: "this value is not valid"
        case .invalidCountry: "enter a two-letter ISO 3166 country code, like GB or CA"
        case .invalidTimeZone: "choose a time zone by its region and city, like Europe/London, or UTC"
        case .invalidAvailability: "this availability is not valid"
        case .overlappingAvailability: "these availability windows overlap"
        }
    }
}
