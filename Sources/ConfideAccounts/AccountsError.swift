public import ConfideCore

/// Why an account operation failed. Messages never carry personal data, and the sign-in
/// failures do not reveal whether an email is registered.
public struct AccountsError: Error, Hashable, Sendable {
    public enum Code: String, Sendable, Hashable {
        /// Email or password wrong, or the account is deactivated or unknown (one answer for all).
        case invalidCredentials = "invalid-credentials"
        /// Too many failed sign-ins for this account or client address; wait and try again.
        case tooManyAttempts = "too-many-attempts"
        /// The password was right; a TOTP code (or a recovery code) is needed.
        case totpRequired = "totp-required"
        /// The TOTP code is wrong, expired or already used.
        case invalidTOTP = "invalid-totp"
        /// The email is already registered.
        case emailTaken = "email-taken"
        /// A one-time link is unknown, used or expired.
        case invalidToken = "invalid-token"
        /// The current password given to change it is wrong.
        case wrongCurrentPassword = "wrong-current-password"
        /// TOTP is already enabled on this account.
        case totpAlreadyEnabled = "totp-already-enabled"
        /// TOTP enrolment was not started.
        case totpNotStarted = "totp-not-started"
        /// The session is not signed in (expired, revoked, unknown).
        case unauthenticated
        /// The staff member must set up TOTP before anything else.
        case totpEnrolmentRequired = "totp-enrolment-required"
        /// The audit entry is not covered by a signed checkpoint yet; retry in a few seconds.
        case notYetCheckpointed = "not-yet-checkpointed"
        /// Input failed validation.
        case validation
    }

    public let code: Code
    /// For `validation`: which field and why.
    public let validation: ValidationError?

    public init(_ code: Code) {
        self.code = code
        self.validation = nil
    }

    public init(_ validation: ValidationError) {
        self.code = .validation
        self.validation = validation
    }
}
