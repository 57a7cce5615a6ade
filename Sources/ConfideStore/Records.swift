public import ConfideCore
public import Foundation

/// Credentials and status of one sign-in identity. No demographics: sign-in needs no patient data.
public struct AccountRecord: Sendable, Hashable {
    public var id: Account.ID
    public var email: EmailAddress
    public var passwordHash: String
    public var kind: AccountKind
    public var status: AccountStatus
    public var emailVerifiedAt: Date?
    /// The TOTP secret sealed with the server's master key (AES-GCM), never stored in the clear.
    public var totpSecretSealed: String?
    public var totpEnabled: Bool
    /// The last accepted TOTP time step: a code of an equal or earlier step is a replay.
    public var totpLastStep: Int64
    public var createdAt: Date
    public var passwordChangedAt: Date

    public init(
        id: Account.ID, email: EmailAddress, passwordHash: String, kind: AccountKind, status: AccountStatus = .active,
        emailVerifiedAt: Date? = nil, totpSecretSealed: String? = nil, totpEnabled: Bool = false,
        totpLastStep: Int64 = 0, createdAt: Date, passwordChangedAt: Date? = nil
    ) {
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.kind = kind
        self.status = status
        self.emailVerifiedAt = emailVerifiedAt
        self.totpSecretSealed = totpSecretSealed
        self.totpEnabled = totpEnabled
        self.totpLastStep = totpLastStep
        self.createdAt = createdAt
        self.passwordChangedAt = passwordChangedAt ?? createdAt
    }
}

/// A patient's demographics. Patient data: reachable only with a `Grant` or `Scope`.
public struct PatientRecord: Sendable, Hashable {
    public var id: Patient.ID
    public var account: Account.ID
    public var name: PersonName
    public var birthDate: CalendarDate
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: Patient.ID, account: Account.ID, name: PersonName, birthDate: CalendarDate, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.account = account
        self.name = name
        self.birthDate = birthDate
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A clinician's or admin's profile.
public struct StaffRecord: Sendable, Hashable {
    public var account: Account.ID
    public var name: PersonName
    /// The professional role; `nil` for platform operators.
    public var role: StaffRole?
    public var registrationNumber: RegistrationNumber?
    public var createdAt: Date

    public init(account: Account.ID, name: PersonName, role: StaffRole?, registrationNumber: RegistrationNumber?, createdAt: Date) {
        self.account = account
        self.name = name
        self.role = role
        self.registrationNumber = registrationNumber
        self.createdAt = createdAt
    }
}

/// How a session's token travels.
public enum SessionKind: String, Sendable, Hashable {
    /// An HttpOnly cookie in a browser; state-changing requests need the CSRF token.
    case cookie
    /// An `Authorization: Bearer` token for API clients.
    case bearer
}

/// A signed-in session. The token itself is never stored: `id` is its SHA-256.
public struct SessionRecord: Sendable, Hashable {
    /// Hex SHA-256 of the secret token.
    public var tokenHash: String
    public var account: Account.ID
    public var kind: SessionKind
    /// The anti-CSRF token for cookie sessions.
    public var csrfToken: String
    /// Whether the second factor was given (or not required) at sign-in.
    public var mfaSatisfied: Bool
    public var createdAt: Date
    public var lastSeenAt: Date
    public var absoluteExpiresAt: Date
    public var revokedAt: Date?

    public init(
        tokenHash: String, account: Account.ID, kind: SessionKind, csrfToken: String, mfaSatisfied: Bool,
        createdAt: Date, lastSeenAt: Date, absoluteExpiresAt: Date, revokedAt: Date? = nil
    ) {
        self.tokenHash = tokenHash
        self.account = account
        self.kind = kind
        self.csrfToken = csrfToken
        self.mfaSatisfied = mfaSatisfied
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.absoluteExpiresAt = absoluteExpiresAt
        self.revokedAt = revokedAt
    }
}

/// What a one-time emailed token is for.
public enum OneTimeTokenPurpose: String, Sendable, Hashable {
    case verifyEmail = "verify-email"
    case resetPassword = "reset-password"
}

/// An email waiting in the outbox. Holds links and account notices, never clinical content.
public struct OutgoingEmail: Sendable, Hashable {
    public var id: String
    public var to: EmailAddress
    public var subject: String
    public var body: String
    public var createdAt: Date

    public init(id: String, to: EmailAddress, subject: String, body: String, createdAt: Date) {
        self.id = id
        self.to = to
        self.subject = subject
        self.body = body
        self.createdAt = createdAt
    }
}

/// A staff profile with its account's kind and status, for the operators' list.
public struct StaffMember: Sendable, Hashable {
    public var profile: StaffRecord
    public var kind: AccountKind
    public var status: AccountStatus

    public init(profile: StaffRecord, kind: AccountKind, status: AccountStatus) {
        self.profile = profile
        self.kind = kind
        self.status = status
    }
}
