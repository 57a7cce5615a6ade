public import ConfideBreach
public import ConfideCore
public import ConfidePolicy
public import Foundation

/// Storage errors the callers handle. Other errors are driver failures.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// An account with this email already exists (case-insensitive).
        case duplicateEmail = "duplicate-email"
        /// A capability does not fit the call (wrong action or resource).
        case capabilityMismatch = "capability-mismatch"
        /// The slot is held by another active booking.
        case slotTaken = "slot-taken"
        /// The row already exists or changed meanwhile.
        case conflict
    }

    public let code: Code
    public init(_ code: Code) { self.code = code }
    public var description: String { "store error: \(code.rawValue)" }
}

/// The credential store: emails, password hashes, TOTP, sessions, throttling, one-time tokens.
/// It holds no demographics, so signing in needs no patient data.
public protocol CredentialStore: Sendable {
    /// - Throws: `StoreError(.duplicateEmail)` when the email is taken.
    func insertAccount(_ account: AccountRecord) async throws
    func account(id: Account.ID) async throws -> AccountRecord?
    func account(email: EmailAddress) async throws -> AccountRecord?
    func updatePasswordHash(account: Account.ID, hash: String, at: Date) async throws
    func setStatus(account: Account.ID, status: AccountStatus) async throws
    /// Stores a new pending TOTP secret, only while TOTP is not enabled; `false` when it is.
    func startTOTP(account: Account.ID, sealedSecret: String) async throws -> Bool
    /// Enables TOTP with the pending secret, once; `false` when it was already enabled.
    func enableTOTP(account: Account.ID) async throws -> Bool
    /// Atomically moves the last used TOTP step forward. Returns `false` when `step` is not newer
    /// (a replayed code), also when two instances race.
    func advanceTOTPStep(account: Account.ID, to step: Int64) async throws -> Bool
    func markEmailVerified(account: Account.ID, at: Date) async throws

    func insertSession(_ session: SessionRecord) async throws
    func session(tokenHash: String) async throws -> SessionRecord?
    func touchSession(tokenHash: String, at: Date) async throws
    /// Marks a session as signed in at `at` (its owner just proved the credentials again).
    func reconfirmSession(tokenHash: String, at: Date) async throws
    func revokeSession(tokenHash: String, at: Date) async throws
    /// Revokes every live session of the account except `keeping`.
    func revokeSessions(account: Account.ID, keeping: String?, at: Date) async throws

    /// Records a sign-in attempt under `key` before its outcome is known (so concurrent attempts
    /// count each other); a failed attempt stays, a successful one is removed.
    func recordLoginFailure(key: String, attempt: String?, at: Date) async throws
    /// Removes the rows of one attempt (it succeeded, or it was refused before being tried).
    func removeLoginAttempt(_ attempt: String) async throws
    func loginFailures(key: String, since: Date) async throws -> Int
    func clearLoginFailures(key: String) async throws

    func insertOneTimeToken(hash: String, account: Account.ID, purpose: OneTimeTokenPurpose, expiresAt: Date) async throws
    /// Marks a token used and returns its account, once; `nil` when unknown, used or expired.
    func consumeOneTimeToken(hash: String, purpose: OneTimeTokenPurpose, at: Date) async throws -> Account.ID?
    /// Marks every unused token of the account for `purpose` as used (a completed reset voids the others).
    func voidOneTimeTokens(account: Account.ID, purpose: OneTimeTokenPurpose, at: Date) async throws

    func replaceRecoveryCodes(account: Account.ID, hashes: [String]) async throws
    /// Uses a recovery code once; `false` when unknown or used.
    func consumeRecoveryCode(account: Account.ID, hash: String, at: Date) async throws -> Bool

    func enqueueEmail(_ email: OutgoingEmail) async throws
    func pendingEmails(limit: Int) async throws -> [OutgoingEmail]
    /// Claims a pending email for sending, once across all instances; `false` when another
    /// instance already has it.
    func claimEmail(id: String, at: Date) async throws -> Bool
    /// Puts a claimed email back in the queue (its send failed).
    func releaseEmail(id: String) async throws
    /// Replaces a sent email's body with a marker: links in it must not outlive delivery.
    func redactEmail(id: String) async throws
}

/// Patient demographics. Every method takes a capability minted by the policy engine.
public protocol PatientRecordStore: Sendable {
    /// Creates the account and its patient record together (one transaction).
    /// - Throws: `StoreError(.duplicateEmail)`; `StoreError(.capabilityMismatch)` when the grant is
    ///   not a `create` grant for this record.
    func createPatientAccount(_ account: AccountRecord, record: PatientRecord, grant: Grant<PatientRecordResource>) async throws
    /// The record the grant names, or `nil` when it does not exist.
    func read(_ grant: Grant<PatientRecordResource>) async throws -> PatientRecord?
    /// Changes the name on the record the grant names (an `update` grant).
    func updateName(_ name: PersonName, at: Date, grant: Grant<PatientRecordResource>) async throws -> PatientRecord?
    /// The records in the scope, compiled into the query's `WHERE` clause.
    func list(_ scope: Scope<PatientRecordResource>) async throws -> [PatientRecord]
    /// Non-clinical fact for building a principal: the patient an account is.
    func patientID(forAccount account: Account.ID) async throws -> Patient.ID?
}

/// Staff profiles (clinicians and operators).
public protocol StaffStore: Sendable {
    /// Creates the account and its staff profile together.
    func createStaffAccount(_ account: AccountRecord, profile: StaffRecord, grant: Grant<StaffAccountResource>) async throws
    func read(_ grant: Grant<StaffAccountResource>) async throws -> StaffRecord?
    func list(_ scope: Scope<StaffAccountResource>) async throws -> [StaffMember]
    /// Non-clinical fact for building a principal: a clinician's role.
    func role(forAccount account: Account.ID) async throws -> StaffRole?
    /// The staff directory (not patient data): a staff member's name and role, to tell patients
    /// who accessed their record.
    func directoryEntry(account: Account.ID) async throws -> (name: PersonName, role: StaffRole?, kind: AccountKind)?
}

/// The visibly separate system path: migrations and health. No HTTP handler holds one.
public protocol SystemStore: Sendable {
    /// Applies pending migrations; returns the versions applied now.
    func migrate() async throws -> [Int]
    /// Applied migration versions.
    func appliedMigrations() async throws -> [Int]
    /// Throws when the database cannot be reached.
    func ping() async throws
    /// Closes connections.
    func shutdown() async throws
}

/// All ports of one database.
public struct ConfideStores: Sendable {
    public let credentials: any CredentialStore
    public let patients: any PatientRecordStore
    public let staff: any StaffStore
    public let system: any SystemStore
    public let facts: any FactsStore
    public let audit: any AuditStore
    public let clinic: any ClinicStore
    public let clinicFacts: any ClinicFactsStore
    public let calls: any CallStore
    public let recordings: any RecordingStore
    public let triage: any TriageStore
    /// The breach report's evidence (plain queries, not the policy's loaders).
    public let breach: any BreachEvidence
    /// What the detection raised.
    public let incidents: any IncidentStore
    /// Breach notices.
    public let notices: any BreachNoticeStore

    public init(
        credentials: any CredentialStore, patients: any PatientRecordStore, staff: any StaffStore, system: any SystemStore,
        facts: any FactsStore, audit: any AuditStore, clinic: any ClinicStore, clinicFacts: any ClinicFactsStore, calls: any CallStore,
        recordings: any RecordingStore, triage: any TriageStore, breach: any BreachEvidence, incidents: any IncidentStore,
        notices: any BreachNoticeStore
    ) {
        self.notices = notices
        self.breach = breach
        self.incidents = incidents
        self.calls = calls
        self.recordings = recordings
        self.triage = triage
        self.clinic = clinic
        self.clinicFacts = clinicFacts
        self.credentials = credentials
        self.facts = facts
        self.audit = audit
        self.patients = patients
        self.staff = staff
        self.system = system
    }
}
