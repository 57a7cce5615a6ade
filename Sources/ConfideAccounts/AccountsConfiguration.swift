/// Settings of the accounts subsystem, validated by the server configuration at boot.
public struct AccountsConfiguration: Sendable {
    /// bcrypt cost.
    public var bcryptCost: UInt8
    /// A session ends after this long without a request.
    public var sessionIdleSeconds: Double
    /// A session ends this long after sign-in, whatever happens.
    public var sessionAbsoluteSeconds: Double
    /// Failed sign-ins per account (by email, registered or not) within the window before lockout.
    public var maxFailuresPerAccount: Int
    /// Failed sign-ins per client address within the window before lockout.
    public var maxFailuresPerAddress: Int
    /// The throttling window.
    public var throttleWindowSeconds: Double
    /// Self-registrations per client address per hour.
    public var maxRegistrationsPerAddress: Int
    /// The base URL put into emailed links, like `https://confide.example`.
    public var publicURL: String
    /// How long an email verification link works.
    public var verificationTokenSeconds: Double
    /// How long a password reset link works.
    public var resetTokenSeconds: Double
    /// How long the "set your password" link for a new staff account works.
    public var staffInvitationSeconds: Double

    public init(
        bcryptCost: UInt8 = 12, sessionIdleSeconds: Double = 30 * 60, sessionAbsoluteSeconds: Double = 12 * 3600,
        maxFailuresPerAccount: Int = 5, maxFailuresPerAddress: Int = 50, throttleWindowSeconds: Double = 15 * 60,
        maxRegistrationsPerAddress: Int = 100,
        publicURL: String, verificationTokenSeconds: Double = 24 * 3600, resetTokenSeconds: Double = 3600,
        staffInvitationSeconds: Double = 72 * 3600
    ) {
        self.bcryptCost = bcryptCost
        self.sessionIdleSeconds = sessionIdleSeconds
        self.sessionAbsoluteSeconds = sessionAbsoluteSeconds
        self.maxFailuresPerAccount = maxFailuresPerAccount
        self.maxFailuresPerAddress = maxFailuresPerAddress
        self.throttleWindowSeconds = throttleWindowSeconds
        self.maxRegistrationsPerAddress = maxRegistrationsPerAddress
        self.publicURL = publicURL
        self.verificationTokenSeconds = verificationTokenSeconds
        self.resetTokenSeconds = resetTokenSeconds
        self.staffInvitationSeconds = staffInvitationSeconds
    }
}
