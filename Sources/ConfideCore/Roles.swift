/// What kind of account signs in. Patients register themselves; staff accounts are made by an admin.
public enum AccountKind: String, Sendable, Hashable, Codable, CaseIterable {
    case patient
    case clinician
    /// A platform operator ("admin").
    case admin
    /// A practice admin: manages the practices they are admin of, never clinical content.
    case practiceAdmin = "practice-admin"

    /// Staff (clinicians and admins) must use TOTP.
    public var requiresTOTP: Bool { self != .patient }
}

/// A clinician's professional role.
public enum StaffRole: String, Sendable, Hashable, Codable, CaseIterable {
    case gp, nurse, pharmacist, therapist

    /// Parses a role name, case-insensitively.
    /// - Throws: `ValidationError` with code `invalidStaffRole`.
    public init(parsing raw: String) throws(ValidationError) {
        guard let role = StaffRole(rawValue: raw.trimmingWhitespace().lowercased()) else {
            throw ValidationError(.invalidStaffRole, field: "staff_role")
        }
        self = role
    }
}

/// A professional registration number (GMC, NMC, GPhC, a college licence...): 3 to 32 letters,
/// digits or dashes.
public struct RegistrationNumber: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    /// - Throws: `ValidationError` with code `invalidRegistrationNumber`.
    public init(_ raw: String) throws(ValidationError) {
        let v = raw.trimmingWhitespace().uppercased()
        guard (3...32).contains(v.count), v.unicodeScalars.allSatisfy({ $0.isASCIIAlphanumeric || $0 == "-" }) else {
            throw ValidationError(.invalidRegistrationNumber, field: "registration_number")
        }
        self.value = v
    }

    public var description: String { value }
}

/// Whether an account may sign in.
public enum AccountStatus: String, Sendable, Hashable, Codable {
    case active
    case deactivated
}
