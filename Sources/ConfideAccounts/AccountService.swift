public import ConfideCore
import ConfidePolicy
public import ConfideStore
import Foundation
public import Logging

/// Who is calling, for auditing and throttling: never personal data.
public struct RequestMeta: Sendable {
    public let requestID: String
    /// The client's IP address as the server saw it.
    public let clientAddress: String

    public init(requestID: String, clientAddress: String) {
        self.requestID = requestID
        self.clientAddress = clientAddress
    }
}

/// A new patient's registration form.
public struct RegistrationInput: Sendable {
    public var email: String
    public var password: String
    public var givenName: String
    public var familyName: String
    public var birthDate: String

    public init(email: String, password: String, givenName: String, familyName: String, birthDate: String) {
        self.email = email
        self.password = password
        self.givenName = givenName
        self.familyName = familyName
        self.birthDate = birthDate
    }
}

/// An admin's form for a new staff account.
public struct StaffInput: Sendable {
    public var email: String
    public var givenName: String
    public var familyName: String
    /// `.clinician` or `.admin`.
    public var kind: AccountKind
    /// For clinicians: gp, nurse, pharmacist, therapist.
    public var role: String?
    /// For clinicians: the professional registration number.
    public var registrationNumber: String?

    public init(email: String, givenName: String, familyName: String, kind: AccountKind, role: String?, registrationNumber: String?) {
        self.email = email
        self.givenName = givenName
        self.familyName = familyName
        self.kind = kind
        self.role = role
        self.registrationNumber = registrationNumber
    }
}

/// A new session: the secret token goes to the client once and is stored only as a digest.
public struct SignedIn: Sendable {
    public let token: String
    public let session: SessionRecord
    /// A staff member without TOTP must set it up before anything else.
    public var needsTOTPEnrolment: Bool { !session.mfaSatisfied }
}

/// A verified session and the principal it speaks for.
public struct AuthenticatedSession: Sendable {
    public let session: SessionRecord
    public let account: AccountRecord
    public let principal: Principal
    /// When true, only TOTP enrolment and sign-out are allowed.
    public var needsTOTPEnrolment: Bool { !session.mfaSatisfied }
}

/// The caller's own profile.
public struct Profile: Sendable, Hashable {
    public let account: Account.ID
    public let kind: AccountKind
    public let email: EmailAddress
    public let emailVerified: Bool
    public let totpEnabled: Bool
    public let name: PersonName
    public let birthDate: CalendarDate?
    public let patient: Patient.ID?
    public let staffRole: StaffRole?
    public let registrationNumber: RegistrationNumber?
}

/// A started TOTP enrolment: show the secret or its URI as a QR code, then confirm with a code.
public struct TOTPEnrolment: Sendable {
    public let secretBase32: String
    public let provisioningURI: String
}

/// Registration, sign-in, sessions, TOTP, password changes and resets, staff accounts.
public struct AccountService: Sendable {
    let stores: ConfideStores
    let gate: AccessGate
    public let configuration: AccountsConfiguration
    package let masterKey: MasterKey
    let hasher: PasswordHasher
    let passwordPolicy: PasswordPolicy
    let clock: any WallClock
    let logger: Logger

    public init(
        stores: ConfideStores, gate: AccessGate, configuration: AccountsConfiguration, masterKey: MasterKey,
        clock: any WallClock = SystemWallClock(), logger: Logger
    ) {
        self.stores = stores
        self.gate = gate
        self.configuration = configuration
        self.masterKey = masterKey
        self.hasher = PasswordHasher(cost: configuration.bcryptCost)
        self.passwordPolicy = PasswordPolicy(commonPasswords: CommonPasswords.list)
        self.clock = clock
        self.logger = logger
    }

    func validated<T>(_ body: () throws(ValidationError) -> T) throws(AccountsError) -> T {
        do { return try body() } catch { throw AccountsError(error) }
    }

    // MARK: registration

    /// Registers a patient: an account (credentials) and a patient record (demographics),
    /// together, and queues an email verification link.
    /// - Throws: `AccountsError` (`validation`, `emailTaken`); `AccessDenied`; store errors.
    public func register(_ input: RegistrationInput, by principal: Principal = .anonymous, meta: RequestMeta) async throws -> Profile {
        let now = clock.now()
        if case .anonymous = principal {
            // Each registration costs a bcrypt hash: bound them per client address.
            try await throttle(key: "register:" + meta.clientAddress, limit: configuration.maxRegistrationsPerAddress, window: 3600)
        }
        let email = try validated { () throws(ValidationError) in try EmailAddress(input.email) }
        let name = try validated { () throws(ValidationError) in try PersonName(given: input.givenName, family: input.familyName) }
        let birth = try validated { () throws(ValidationError) in try BirthDate(input.birthDate, today: now.utcCalendarDate) }
        try validated { () throws(ValidationError) in try passwordPolicy.check(input.password, context: [email.value]) }

        let accountID = Account.ID()
        let patientID = Patient.ID()
        let grant = try await gate.createPatientRecord(patientID, by: principal, purpose: "registration", requestID: meta.requestID)
        let account = AccountRecord(
            id: accountID, email: email, passwordHash: await hasher.hash(input.password), kind: .patient, createdAt: now)
        let record = PatientRecord(id: patientID, account: accountID, name: name, birthDate: birth.date, createdAt: now, updatedAt: now)
        do {
            try await stores.patients.createPatientAccount(account, record: record, grant: grant)
        } catch let error as StoreError where error.code == .duplicateEmail {
            throw AccountsError(.emailTaken)
        }
        try await sendVerificationEmail(account: accountID, to: email)
        logger.info("patient registered", metadata: ["confide.request.id": "\(meta.requestID)", "confide.account.id": "\(accountID)"])
        return Profile(
            account: accountID, kind: .patient, email: email, emailVerified: false, totpEnabled: false, name: name,
            birthDate: birth.date, patient: patientID, staffRole: nil, registrationNumber: nil)
    }

    func sendVerificationEmail(account: Account.ID, to email: EmailAddress) async throws {
        let token = Tokens.random()
        try await stores.credentials.insertOneTimeToken(
            hash: Tokens.digest(token), account: account, purpose: .verifyEmail,
            expiresAt: clock.now().addingTimeInterval(configuration.verificationTokenSeconds))
        try await enqueue(
            to: email, subject: "Confirm your email address for Confide",
            body: """
                Please confirm your email address by opening this link:

                \(configuration.publicURL)/verify-email?token=\(token)

                The link works once and expires in 24 hours. If you did not create a Confide account, ignore this email.
                """)
    }

    // INVARIANT: a queued email's body (it may hold a live one-time link) is sealed with the master
    // key; a database backup alone cannot use the links. Delivery redacts the body once sent.
    func enqueue(to: EmailAddress, subject: String, body: String) async throws {
        try await stores.credentials.enqueueEmail(try sealed(to: to, subject: subject, body: body))
    }

    /// Queues an email to an operator address (incident alerts), sealed like every queued email.
    /// Callers write no patient data into it.
    public func enqueueOperatorEmail(to: EmailAddress, subject: String, body: String) async throws {
        try await enqueue(to: to, subject: subject, body: body)
    }

    /// A notice to an account's email (booking confirmations, reminders), sealed for the outbox
    /// but not queued: the caller stores it in the same transaction as what it announces.
    /// Callers write no clinical content: a notice only prompts the person to sign in.
    /// - Returns: `nil` when the account does not exist or is deactivated.
    public func sealedNotice(to account: Account.ID, subject: String, body: String) async throws -> OutgoingEmail? {
        guard let record = try await stores.credentials.account(id: account), record.status == .active else { return nil }
        return try sealed(to: record.email, subject: subject, body: body)
    }

    func sealed(to: EmailAddress, subject: String, body: String) throws -> OutgoingEmail {
        let id = UUID().uuidString.lowercased()
        let sealed = "sealed:" + (try masterKey.seal(Array(body.utf8), context: "outbox:\(id)"))
        return OutgoingEmail(id: id, to: to, subject: subject, body: sealed, createdAt: clock.now())
    }

    /// The email with its body unsealed, for delivery.
    /// - Throws: when the body was sealed under another key or altered.
    public func openOutgoing(_ email: OutgoingEmail) throws -> OutgoingEmail {
        guard email.body.hasPrefix("sealed:") else { return email }
        var opened = email
        opened.body = String(decoding: try masterKey.open(String(email.body.dropFirst(7)), context: "outbox:\(email.id)"), as: UTF8.self)
        return opened
    }

    /// Confirms an email address from its one-time link.
    /// - Throws: `AccountsError(.invalidToken)`.
    public func verifyEmail(token: String) async throws {
        guard let account = try await stores.credentials.consumeOneTimeToken(hash: Tokens.digest(token), purpose: .verifyEmail, at: clock.now())
        else { throw AccountsError(.invalidToken) }
        try await stores.credentials.markEmailVerified(account: account, at: clock.now())
    }

    // MARK: sign-in

    func throttleKeys(email: String, address: String) -> (account: String, address: String) {
        ("account:" + Tokens.digest(email.trimmingWhitespace().lowercased()), "address:" + address)
    }

    /// Signs in with email, password and, for accounts that have TOTP, a code or a recovery code.
    /// - Throws: `AccountsError` (`invalidCredentials`, `tooManyAttempts`, `totpRequired`, `invalidTOTP`).
    public func signIn(email rawEmail: String, password: String, totp: String?, kind: SessionKind, meta: RequestMeta) async throws -> SignedIn {
        let now = clock.now()
        let keys = throttleKeys(email: rawEmail, address: meta.clientAddress)
        let since = now.addingTimeInterval(-configuration.throttleWindowSeconds)
        // INVARIANT: the lockout is keyed on the email as typed, registered or not, so it reveals nothing.
        // INVARIANT: the attempt is recorded before it is counted and tried, so N concurrent guesses
        // see each other and at most the limit of them are ever tried.
        let attempt = Tokens.random(bytes: 16)
        try await stores.credentials.recordLoginFailure(key: keys.account, attempt: attempt, at: now)
        try await stores.credentials.recordLoginFailure(key: keys.address, attempt: attempt, at: now)
        let accountFailures = try await stores.credentials.loginFailures(key: keys.account, since: since)
        let addressFailures = try await stores.credentials.loginFailures(key: keys.address, since: since)
        if accountFailures > configuration.maxFailuresPerAccount || addressFailures > configuration.maxFailuresPerAddress {
            try await stores.credentials.removeLoginAttempt(attempt)
            throw AccountsError(.tooManyAttempts)
        }
        let email = try? EmailAddress(rawEmail)
        let account: AccountRecord? = if let email { try await stores.credentials.account(email: email) } else { nil }
        let passwordOK = await hasher.verify(password, hash: account?.passwordHash)
        guard let account, passwordOK, account.status == .active else {
            throw AccountsError(.invalidCredentials)  // the recorded attempt stays as a failure
        }
        var mfaSatisfied = !account.kind.requiresTOTP
        if account.totpEnabled {
            guard let code = totp?.trimmingWhitespace(), !code.isEmpty else {
                try await stores.credentials.removeLoginAttempt(attempt)  // a right password, not a failure
                throw AccountsError(.totpRequired)
            }
            guard try await checkSecondFactor(account: account, code: code, at: now) else {
                throw AccountsError(.invalidTOTP)  // the recorded attempt stays as a failure
            }
            mfaSatisfied = true
        }
        try await stores.credentials.removeLoginAttempt(attempt)
        try await stores.credentials.clearLoginFailures(key: keys.account)
        let token = Tokens.random()
        let session = SessionRecord(
            tokenHash: Tokens.digest(token), account: account.id, kind: kind, csrfToken: Tokens.random(), mfaSatisfied: mfaSatisfied,
            createdAt: now, lastSeenAt: now, absoluteExpiresAt: now.addingTimeInterval(configuration.sessionAbsoluteSeconds))
        try await stores.credentials.insertSession(session)
        logger.info("signed in", metadata: ["confide.request.id": "\(meta.requestID)", "confide.account.id": "\(account.id)"])
        return SignedIn(token: token, session: session)
    }

    /// A 6-digit TOTP code (not replayed) or an unused recovery code.
    func checkSecondFactor(account: AccountRecord, code: String, at now: Date) async throws -> Bool {
        if code.contains("-") {
            return try await stores.credentials.consumeRecoveryCode(
                account: account.id, hash: Tokens.digest(code.lowercased()), at: now)
        }
        guard let sealed = account.totpSecretSealed,
            let secret = try? masterKey.open(sealed, context: "totp:\(account.id)"),
            let step = TOTP(secret: secret).matchingStep(for: code, at: now)
        else { return false }
        return try await stores.credentials.advanceTOTPStep(account: account.id, to: step)
    }

    /// Records one use of a rate-limited operation and refuses it beyond `limit` in `window` seconds.
    /// - Throws: `AccountsError(.tooManyAttempts)`.
    func throttle(key: String, limit: Int, window: Double) async throws {
        let now = clock.now()
        try await stores.credentials.recordLoginFailure(key: key, attempt: nil, at: now)
        if try await stores.credentials.loginFailures(key: key, since: now.addingTimeInterval(-window)) > limit {
            throw AccountsError(.tooManyAttempts)
        }
    }

    /// Verifies a session token and builds the principal from stored, non-clinical facts.
    /// - Throws: `AccountsError(.unauthenticated)` for unknown, revoked, expired or deactivated.
    public func authenticate(token: String, kind: SessionKind) async throws -> AuthenticatedSession {
        let now = clock.now()
        guard !token.isEmpty, token.utf8.count < 200,
            let session = try await stores.credentials.session(tokenHash: Tokens.digest(token)),
            session.kind == kind, session.revokedAt == nil, now < session.absoluteExpiresAt,
            now.timeIntervalSince(session.lastSeenAt) < configuration.sessionIdleSeconds,
            let account = try await stores.credentials.account(id: session.account), account.status == .active,
            // INVARIANT: a session signed in before the password last changed is dead, also one that
            // raced the change (it read the old hash, then stored itself after the revocation).
            session.createdAt >= account.passwordChangedAt
        else { throw AccountsError(.unauthenticated) }
        let principal: Principal
        switch account.kind {
        case .patient:
            guard let patient = try await stores.patients.patientID(forAccount: account.id) else { throw AccountsError(.unauthenticated) }
            principal = .patient(account: account.id, patient: patient)
        case .clinician:
            guard let role = try await stores.staff.role(forAccount: account.id) else { throw AccountsError(.unauthenticated) }
            principal = .clinician(account: account.id, role: role)
        case .admin:
            principal = .admin(account: account.id)
        case .practiceAdmin:
            principal = .practiceAdmin(account: account.id)
        }
        // Write at most once a minute per session: enough for a 30-minute idle timeout.
        if now.timeIntervalSince(session.lastSeenAt) > 60 {
            try await stores.credentials.touchSession(tokenHash: session.tokenHash, at: now)
        }
        return AuthenticatedSession(session: session, account: account, principal: principal)
    }

    /// Ends a session at once.
    public func signOut(_ session: AuthenticatedSession) async throws {
        try await stores.credentials.revokeSession(tokenHash: session.session.tokenHash, at: clock.now())
    }

    // MARK: own profile

    /// The caller's own profile; patient demographics are read through the gate.
    public func profile(of auth: AuthenticatedSession, meta: RequestMeta) async throws -> Profile {
        let account = auth.account
        switch auth.principal {
        case .patient(_, let patientID):
            let grant = try await gate.patientRecord(patientID, .read, by: auth.principal, purpose: "self-service", requestID: meta.requestID)
            guard let record = try await stores.patients.read(grant) else { throw AccessDenied.notFound }
            return Profile(
                account: account.id, kind: .patient, email: account.email, emailVerified: account.emailVerifiedAt != nil,
                totpEnabled: account.totpEnabled, name: record.name, birthDate: record.birthDate, patient: patientID, staffRole: nil,
                registrationNumber: nil)
        default:
            let grant = try await gate.staffAccount(account.id, .read, by: auth.principal, purpose: "self-service", requestID: meta.requestID)
            guard let staff = try await stores.staff.read(grant) else { throw AccessDenied.notFound }
            return Profile(
                account: account.id, kind: account.kind, email: account.email, emailVerified: account.emailVerifiedAt != nil,
                totpEnabled: account.totpEnabled, name: staff.name, birthDate: nil, patient: nil, staffRole: staff.role,
                registrationNumber: staff.registrationNumber)
        }
    }

    /// Changes the caller's own name (patients; staff names are managed by an admin).
    public func updateName(of auth: AuthenticatedSession, givenName: String, familyName: String, meta: RequestMeta) async throws -> Profile {
        let name = try validated { () throws(ValidationError) in try PersonName(given: givenName, family: familyName) }
        guard case .patient(_, let patientID) = auth.principal else {
            throw AccountsError(ValidationError(.invalidValue, field: "given_name", message: "staff names are changed by an administrator"))
        }
        let grant = try await gate.patientRecord(patientID, .update, by: auth.principal, purpose: "self-service", requestID: meta.requestID)
        guard try await stores.patients.updateName(name, at: clock.now(), grant: grant) != nil else { throw AccessDenied.notFound }
        return try await profile(of: auth, meta: meta)
    }

    /// Changes the caller's password after checking the current one; ends every other session.
    public func changePassword(of auth: AuthenticatedSession, current: String, new: String, meta: RequestMeta) async throws {
        guard await hasher.verify(current, hash: auth.account.passwordHash) else { throw AccountsError(.wrongCurrentPassword) }
        try validated { () throws(ValidationError) in try passwordPolicy.check(new, field: "new_password", context: [auth.account.email.value]) }
        let now = clock.now()
        try await stores.credentials.updatePasswordHash(account: auth.account.id, hash: await hasher.hash(new), at: now)
        // The caller just proved the credentials: their session counts as signed in now.
        try await stores.credentials.reconfirmSession(tokenHash: auth.session.tokenHash, at: now)
        try await stores.credentials.revokeSessions(account: auth.account.id, keeping: auth.session.tokenHash, at: now)
        try await enqueue(
            to: auth.account.email, subject: "Your Confide password was changed",
            body: "Your password was changed. If this was not you, reset your password at \(configuration.publicURL)/forgot-password and contact support.")
    }

    // MARK: password reset

    /// Queues a reset link when the email belongs to an active account. Answers the same either way.
    public func requestPasswordReset(email raw: String, meta: RequestMeta) async throws {
        // Bound reset emails per address typed (registered or not) and per client address.
        try await throttle(key: throttleKeys(email: raw, address: "").account.replacingOccurrences(of: "account:", with: "reset:"), limit: 5, window: 3600)
        try await throttle(key: "reset-from:" + meta.clientAddress, limit: 30, window: 3600)
        guard let email = try? EmailAddress(raw), let account = try await stores.credentials.account(email: email), account.status == .active
        else { return }
        try await sendResetLink(account: account.id, to: email, ttl: configuration.resetTokenSeconds, invitation: false)
    }

    func sendResetLink(account: Account.ID, to email: EmailAddress, ttl: Double, invitation: Bool) async throws {
        let token = Tokens.random()
        try await stores.credentials.insertOneTimeToken(
            hash: Tokens.digest(token), account: account, purpose: .resetPassword, expiresAt: clock.now().addingTimeInterval(ttl))
        let link = "\(configuration.publicURL)/reset-password?token=\(token)"
        if invitation {
            try await enqueue(
                to: email, subject: "Your Confide staff account",
                body: "An administrator created a Confide staff account for you. Choose your password here (the link works once, for 72 hours):\n\n\(link)\n\nYou will then set up two-factor authentication.")
        } else {
            try await enqueue(
                to: email, subject: "Reset your Confide password",
                body: "Open this link to choose a new password (it works once, for one hour):\n\n\(link)\n\nIf you did not ask for this, ignore this email.")
        }
    }

    /// Sets a new password from a reset link; ends every session of the account.
    /// - Throws: `AccountsError` (`invalidToken`, `validation`).
    public func completePasswordReset(token: String, newPassword: String, meta: RequestMeta) async throws {
        // Check the password first so that a weak password does not burn the link.
        try validated { () throws(ValidationError) in try passwordPolicy.check(newPassword, field: "password") }
        let now = clock.now()
        guard let accountID = try await stores.credentials.consumeOneTimeToken(hash: Tokens.digest(token), purpose: .resetPassword, at: now),
            let account = try await stores.credentials.account(id: accountID)
        else { throw AccountsError(.invalidToken) }
        do {
            try passwordPolicy.check(newPassword, field: "password", context: [account.email.value])
        } catch {
            // The link was used up by a password equal to the email: send a fresh one.
            try await sendResetLink(account: accountID, to: account.email, ttl: configuration.resetTokenSeconds, invitation: false)
            throw AccountsError(error)
        }
        try await stores.credentials.updatePasswordHash(account: accountID, hash: await hasher.hash(newPassword), at: now)
        try await stores.credentials.voidOneTimeTokens(account: accountID, purpose: .resetPassword, at: now)
        try await stores.credentials.revokeSessions(account: accountID, keeping: nil, at: now)
        // The link came to this mailbox, so the address is verified.
        try await stores.credentials.markEmailVerified(account: accountID, at: now)
        try await stores.credentials.clearLoginFailures(key: throttleKeys(email: account.email.value, address: "").account)
    }

    // MARK: TOTP

    /// Starts TOTP enrolment: a new secret, sealed at rest, not yet enabled. A fully signed-in
    /// session (turning two-factor on voluntarily) must give the current password, so that a
    /// stolen session cannot enrol the thief's authenticator and lock the owner out.
    /// - Throws: `AccountsError` (`totpAlreadyEnabled`, `wrongCurrentPassword`).
    public func startTOTPEnrolment(_ auth: AuthenticatedSession, currentPassword: String? = nil) async throws -> TOTPEnrolment {
        if auth.session.mfaSatisfied {
            guard let currentPassword, await hasher.verify(currentPassword, hash: auth.account.passwordHash) else {
                throw AccountsError(.wrongCurrentPassword)
            }
        }
        let totp = TOTP.generate()
        let sealed = try masterKey.seal(totp.secret, context: "totp:\(auth.account.id)")
        guard try await stores.credentials.startTOTP(account: auth.account.id, sealedSecret: sealed) else {
            throw AccountsError(.totpAlreadyEnabled)
        }
        return TOTPEnrolment(secretBase32: totp.base32, provisioningURI: totp.provisioningURI(account: auth.account.email.value))
    }

    /// Confirms enrolment with a code from the app; returns ten single-use recovery codes
    /// (shown once, stored as digests). Ends the account's other sessions.
    /// - Throws: `AccountsError` (`totpNotStarted`, `invalidTOTP`, `totpAlreadyEnabled`).
    public func confirmTOTPEnrolment(_ auth: AuthenticatedSession, code: String) async throws -> [String] {
        guard let account = try await stores.credentials.account(id: auth.account.id) else { throw AccountsError(.unauthenticated) }
        guard !account.totpEnabled else { throw AccountsError(.totpAlreadyEnabled) }
        guard let sealed = account.totpSecretSealed else { throw AccountsError(.totpNotStarted) }
        let secret = try masterKey.open(sealed, context: "totp:\(account.id)")
        guard let step = TOTP(secret: secret).matchingStep(for: code, at: clock.now()),
            try await stores.credentials.advanceTOTPStep(account: account.id, to: step)
        else { throw AccountsError(.invalidTOTP) }
        // INVARIANT: only the request that enables TOTP issues recovery codes (a double submit loses).
        guard try await stores.credentials.enableTOTP(account: account.id) else { throw AccountsError(.totpAlreadyEnabled) }
        try await enqueue(
            to: account.email, subject: "Two-factor authentication is on for your Confide account",
            body: "Two-factor authentication was turned on for your account. If this was not you, contact support at once.")
        let codes = (0..<10).map { _ in Tokens.recoveryCode() }
        try await stores.credentials.replaceRecoveryCodes(account: account.id, hashes: codes.map(Tokens.digest))
        // This session has now shown the second factor; replace it so the old token cannot be reused.
        try await stores.credentials.revokeSessions(account: account.id, keeping: nil, at: clock.now())
        return codes
    }

    /// After enrolment the session was revoked: issue a fresh one with the factor satisfied.
    public func reissueSession(after auth: AuthenticatedSession) async throws -> SignedIn {
        let now = clock.now()
        let token = Tokens.random()
        let session = SessionRecord(
            tokenHash: Tokens.digest(token), account: auth.account.id, kind: auth.session.kind, csrfToken: Tokens.random(),
            mfaSatisfied: true, createdAt: now, lastSeenAt: now, absoluteExpiresAt: auth.session.absoluteExpiresAt)
        try await stores.credentials.insertSession(session)
        return SignedIn(token: token, session: session)
    }

    // MARK: staff

    /// Creates a clinician or admin account on an admin's behalf and emails a one-time link to
    /// choose a password. TOTP is set up at first sign-in.
    /// - Returns: the new account's identifier.
    public func createStaff(_ input: StaffInput, by principal: Principal, meta: RequestMeta) async throws -> Account.ID {
        let (account, profile) = try validatedStaff(input, passwordHash: "!", now: clock.now())
        let grant = try await gate.createStaffAccount(account.id, by: principal, purpose: "administration", requestID: meta.requestID)
        do {
            try await stores.staff.createStaffAccount(account, profile: profile, grant: grant)
        } catch let error as StoreError where error.code == .duplicateEmail {
            throw AccountsError(.emailTaken)
        }
        try await sendResetLink(account: account.id, to: account.email, ttl: configuration.staffInvitationSeconds, invitation: true)
        return account.id
    }

    /// Bootstraps a staff account with a password and TOTP already enrolled (the `confide user
    /// create` command and the demo seeder, on the system path).
    /// - Returns: the account and the otpauth URI of its TOTP secret.
    public func createStaffWithCredentials(_ input: StaffInput, password: String, job: String) async throws -> (Account.ID, String) {
        try validated { () throws(ValidationError) in try passwordPolicy.check(password, context: [input.email]) }
        let now = clock.now()
        var (account, profile) = try validatedStaff(input, passwordHash: await hasher.hash(password), now: now)
        let totp = TOTP.generate()
        account.totpSecretSealed = try masterKey.seal(totp.secret, context: "totp:\(account.id)")
        account.totpEnabled = true
        account.emailVerifiedAt = now
        let grant = try await gate.createStaffAccount(account.id, by: .system(job: job), purpose: "bootstrap", requestID: job)
        do {
            try await stores.staff.createStaffAccount(account, profile: profile, grant: grant)
        } catch let error as StoreError where error.code == .duplicateEmail {
            throw AccountsError(.emailTaken)
        }
        return (account.id, totp.provisioningURI(account: account.email.value))
    }

    func validatedStaff(_ input: StaffInput, passwordHash: String, now: Date) throws(AccountsError) -> (AccountRecord, StaffRecord) {
        try validated { () throws(ValidationError) in
            guard input.kind != .patient else { throw ValidationError(.invalidValue, field: "kind", message: "choose clinician or admin") }
            let email = try EmailAddress(input.email)
            let name = try PersonName(given: input.givenName, family: input.familyName)
            var role: StaffRole?
            var registration: RegistrationNumber?
            if input.kind == .clinician {
                role = try StaffRole(parsing: input.role ?? "")
                registration = try RegistrationNumber(input.registrationNumber ?? "")
            }
            let id = Account.ID()
            return (
                AccountRecord(id: id, email: email, passwordHash: passwordHash, kind: input.kind, createdAt: now),
                StaffRecord(account: id, name: name, role: role, registrationNumber: registration, createdAt: now)
            )
        }
    }

    /// Staff accounts the principal may list (operators: all; others: none, so an empty list).
    public func listStaff(by principal: Principal, meta: RequestMeta) async throws -> [StaffMember] {
        let scope = try await gate.staffAccounts(by: principal, purpose: "administration", requestID: meta.requestID)
        return try await stores.staff.list(scope)
    }

    /// Deactivates a staff account; its sessions end at once.
    public func deactivateStaff(_ account: Account.ID, by principal: Principal, meta: RequestMeta) async throws {
        _ = try await gate.staffAccount(account, .update, by: principal, purpose: "administration", requestID: meta.requestID)
        guard principal.account != account else {
            throw AccountsError(ValidationError(.invalidValue, field: "account", message: "you cannot deactivate your own account"))
        }
        try await stores.credentials.setStatus(account: account, status: .deactivated)
        try await stores.credentials.revokeSessions(account: account, keeping: nil, at: clock.now())
    }

    /// Registers a patient on the system path (demo seeding), with the email already verified.
    public func seedPatient(_ input: RegistrationInput, job: String) async throws -> Profile {
        let profile = try await register(input, by: .system(job: job), meta: RequestMeta(requestID: job, clientAddress: "system"))
        try await stores.credentials.markEmailVerified(account: profile.account, at: clock.now())
        return profile
    }
}
