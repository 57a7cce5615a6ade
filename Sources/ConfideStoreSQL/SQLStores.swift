import ConfideAudit
public import ConfideCore
public import ConfidePolicy
public import ConfideStore
public import Foundation
import SQLKit

/// The one SQL implementation of every store port, over any `SQLBackend`.
public struct SQLStores: Sendable {
    let backend: any SQLBackend
    /// Test-only faults (always `none` in a release build).
    let faults: InjectedFaults

    public init(backend: any SQLBackend, faults: InjectedFaults = .none) {
        self.backend = backend
        self.faults = faults
    }

    /// All ports backed by this database.
    public var stores: ConfideStores {
        ConfideStores(
            credentials: self, patients: self, staff: self, system: self, facts: self, audit: self, clinic: self, clinicFacts: self, calls: self,
            recordings: self, triage: self, breach: self, incidents: self, notices: self)
    }

    func read<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await backend.withDatabase(body)
    }

    func mapUnique<R>(_ body: () async throws -> R) async throws -> R {
        do { return try await body() } catch {
            if backend.isUniqueViolation(error) { throw StoreError(.duplicateEmail) }
            throw error
        }
    }
}

// MARK: - row mapping

extension Bool {
    var flag: Int64 { self ? 1 : 0 }
}

struct RowError: Error, CustomStringConvertible {
    let column: String
    var description: String { "stored value in column `\(column)` is not valid" }
}

extension SQLRow {
    func ms(_ column: String) throws -> Date { Date(epochMilliseconds: try decode(column: column, as: Int64.self)) }
    func msOptional(_ column: String) throws -> Date? {
        try decode(column: column, as: Int64?.self).map(Date.init(epochMilliseconds:))
    }
    func id<T>(_ column: String, as _: Identifier<T>.Type = Identifier<T>.self) throws -> Identifier<T> {
        guard let id = Identifier<T>(string: try decode(column: column, as: String.self)) else { throw RowError(column: column) }
        return id
    }
    func name() throws -> PersonName {
        do {
            return try PersonName(
                given: try decode(column: "given_name", as: String.self),
                family: try decode(column: "family_name", as: String.self))
        } catch { throw RowError(column: "given_name") }
    }

    func accountRecord() throws -> AccountRecord {
        guard let email = try? EmailAddress(try decode(column: "email", as: String.self)) else { throw RowError(column: "email") }
        guard let kind = AccountKind(rawValue: try decode(column: "kind", as: String.self)) else { throw RowError(column: "kind") }
        guard let status = AccountStatus(rawValue: try decode(column: "status", as: String.self)) else {
            throw RowError(column: "status")
        }
        return AccountRecord(
            id: try id("id"), email: email, passwordHash: try decode(column: "password_hash", as: String.self), kind: kind,
            status: status, emailVerifiedAt: try msOptional("email_verified_at"),
            totpSecretSealed: try decode(column: "totp_secret_sealed", as: String?.self),
            totpEnabled: try decode(column: "totp_enabled", as: Int64.self) != 0,
            totpLastStep: try decode(column: "totp_last_step", as: Int64.self), createdAt: try ms("created_at"),
            passwordChangedAt: try ms("password_changed_at"))
    }

    func patientRecord() throws -> PatientRecord {
        guard let dob = CalendarDate(iso8601: try decode(column: "birth_date", as: String.self)) else {
            throw RowError(column: "birth_date")
        }
        return PatientRecord(
            id: try id("id"), account: try id("account_id"), name: try name(), birthDate: dob,
            createdAt: try ms("created_at"), updatedAt: try ms("updated_at"))
    }

    func staffRecord() throws -> StaffRecord {
        let role = try decode(column: "role", as: String?.self).flatMap(StaffRole.init(rawValue:))
        let reg = try decode(column: "registration_number", as: String?.self).flatMap { try? RegistrationNumber($0) }
        return StaffRecord(account: try id("account_id"), name: try name(), role: role, registrationNumber: reg, createdAt: try ms("created_at"))
    }

    func sessionRecord() throws -> SessionRecord {
        guard let kind = SessionKind(rawValue: try decode(column: "kind", as: String.self)) else { throw RowError(column: "kind") }
        return SessionRecord(
            tokenHash: try decode(column: "token_hash", as: String.self), account: try id("account_id"), kind: kind,
            csrfToken: try decode(column: "csrf_token", as: String.self),
            mfaSatisfied: try decode(column: "mfa_satisfied", as: Int64.self) != 0, createdAt: try ms("created_at"),
            lastSeenAt: try ms("last_seen_at"), absoluteExpiresAt: try ms("absolute_expires_at"),
            revokedAt: try msOptional("revoked_at"))
    }
}

func insertEmailSQL(_ e: OutgoingEmail) -> SQLQueryString {
    """
    INSERT INTO email_outbox (id, to_address, subject, body, created_at)
    VALUES (\(bind: e.id), \(bind: e.to.value), \(bind: e.subject), \(bind: e.body), \(bind: e.createdAt.epochMilliseconds))
    """
}

func insertAccountSQL(_ a: AccountRecord) -> SQLQueryString {
    """
    INSERT INTO accounts (id, email, password_hash, kind, status, email_verified_at, totp_secret_sealed, totp_enabled,
        totp_last_step, created_at, password_changed_at)
    VALUES (\(bind: a.id.description), \(bind: a.email.value), \(bind: a.passwordHash), \(bind: a.kind.rawValue),
        \(bind: a.status.rawValue), \(bind: a.emailVerifiedAt?.epochMilliseconds), \(bind: a.totpSecretSealed),
        \(bind: a.totpEnabled.flag), \(bind: a.totpLastStep), \(bind: a.createdAt.epochMilliseconds),
        \(bind: a.passwordChangedAt.epochMilliseconds))
    """
}

// MARK: - CredentialStore

extension SQLStores: CredentialStore {
    public func insertAccount(_ account: AccountRecord) async throws {
        try await mapUnique { try await read { db in try await db.raw(insertAccountSQL(account)).run() } }
    }

    public func account(id: Account.ID) async throws -> AccountRecord? {
        try await read { db in
            try await db.raw("SELECT * FROM accounts WHERE id = \(bind: id.description)").first()?.accountRecord()
        }
    }

    public func account(email: EmailAddress) async throws -> AccountRecord? {
        try await read { db in
            try await db.raw("SELECT * FROM accounts WHERE email = \(bind: email.value)").first()?.accountRecord()
        }
    }

    public func updatePasswordHash(account: Account.ID, hash: String, at: Date) async throws {
        try await read { db in
            try await db.raw(
                """
                UPDATE accounts SET password_hash = \(bind: hash), password_changed_at = \(bind: at.epochMilliseconds)
                WHERE id = \(bind: account.description)
                """
            ).run()
        }
    }

    public func setStatus(account: Account.ID, status: AccountStatus) async throws {
        try await read { db in
            try await db.raw("UPDATE accounts SET status = \(bind: status.rawValue) WHERE id = \(bind: account.description)").run()
        }
    }

    public func startTOTP(account: Account.ID, sealedSecret: String) async throws -> Bool {
        try await read { db in
            try await db.raw(
                """
                UPDATE accounts SET totp_secret_sealed = \(bind: sealedSecret)
                WHERE id = \(bind: account.description) AND totp_enabled = 0 RETURNING id
                """
            ).first() != nil
        }
    }

    public func enableTOTP(account: Account.ID) async throws -> Bool {
        try await read { db in
            try await db.raw(
                "UPDATE accounts SET totp_enabled = 1 WHERE id = \(bind: account.description) AND totp_enabled = 0 RETURNING id"
            ).first() != nil
        }
    }

    public func advanceTOTPStep(account: Account.ID, to step: Int64) async throws -> Bool {
        try await read { db in
            try await db.raw(
                """
                UPDATE accounts SET totp_last_step = \(bind: step)
                WHERE id = \(bind: account.description) AND totp_last_step < \(bind: step) RETURNING id
                """
            ).first() != nil
        }
    }

    public func markEmailVerified(account: Account.ID, at: Date) async throws {
        try await read { db in
            try await db.raw(
                """
                UPDATE accounts SET email_verified_at = \(bind: at.epochMilliseconds)
                WHERE id = \(bind: account.description) AND email_verified_at IS NULL
                """
            ).run()
        }
    }

    public func insertSession(_ s: SessionRecord) async throws {
        try await read { db in
            try await db.raw(
                """
                INSERT INTO sessions (token_hash, account_id, kind, csrf_token, mfa_satisfied, created_at, last_seen_at,
                    absolute_expires_at, revoked_at)
                VALUES (\(bind: s.tokenHash), \(bind: s.account.description), \(bind: s.kind.rawValue), \(bind: s.csrfToken),
                    \(bind: s.mfaSatisfied.flag), \(bind: s.createdAt.epochMilliseconds), \(bind: s.lastSeenAt.epochMilliseconds),
                    \(bind: s.absoluteExpiresAt.epochMilliseconds), \(bind: s.revokedAt?.epochMilliseconds))
                """
            ).run()
        }
    }

    public func session(tokenHash: String) async throws -> SessionRecord? {
        try await read { db in
            try await db.raw("SELECT * FROM sessions WHERE token_hash = \(bind: tokenHash)").first()?.sessionRecord()
        }
    }

    public func touchSession(tokenHash: String, at: Date) async throws {
        try await read { db in
            try await db.raw(
                "UPDATE sessions SET last_seen_at = \(bind: at.epochMilliseconds) WHERE token_hash = \(bind: tokenHash)"
            ).run()
        }
    }

    public func reconfirmSession(tokenHash: String, at: Date) async throws {
        try await read { db in
            try await db.raw(
                """
                UPDATE sessions SET created_at = \(bind: at.epochMilliseconds), last_seen_at = \(bind: at.epochMilliseconds)
                WHERE token_hash = \(bind: tokenHash)
                """
            ).run()
        }
    }

    public func revokeSession(tokenHash: String, at: Date) async throws {
        try await read { db in
            try await db.raw(
                """
                UPDATE sessions SET revoked_at = \(bind: at.epochMilliseconds)
                WHERE token_hash = \(bind: tokenHash) AND revoked_at IS NULL
                """
            ).run()
        }
    }

    public func revokeSessions(account: Account.ID, keeping: String?, at: Date) async throws {
        try await read { db in
            try await db.raw(
                """
                UPDATE sessions SET revoked_at = \(bind: at.epochMilliseconds)
                WHERE account_id = \(bind: account.description) AND revoked_at IS NULL
                    AND token_hash <> \(bind: keeping ?? "")
                """
            ).run()
        }
    }

    public func recordLoginFailure(key: String, attempt: String?, at: Date) async throws {
        try await read { db in
            try await db.raw(
                "INSERT INTO login_failures (throttle_key, at, attempt) VALUES (\(bind: key), \(bind: at.epochMilliseconds), \(bind: attempt))"
            ).run()
        }
    }

    public func removeLoginAttempt(_ attempt: String) async throws {
        try await read { db in try await db.raw("DELETE FROM login_failures WHERE attempt = \(bind: attempt)").run() }
    }

    public func loginFailures(key: String, since: Date) async throws -> Int {
        try await read { db in
            let row = try await db.raw(
                "SELECT COUNT(*) AS n FROM login_failures WHERE throttle_key = \(bind: key) AND at >= \(bind: since.epochMilliseconds)"
            ).first()
            return Int(try row?.decode(column: "n", as: Int64.self) ?? 0)
        }
    }

    public func clearLoginFailures(key: String) async throws {
        try await read { db in try await db.raw("DELETE FROM login_failures WHERE throttle_key = \(bind: key)").run() }
    }

    public func insertOneTimeToken(hash: String, account: Account.ID, purpose: OneTimeTokenPurpose, expiresAt: Date) async throws {
        try await read { db in
            try await db.raw(
                """
                INSERT INTO one_time_tokens (token_hash, account_id, purpose, expires_at)
                VALUES (\(bind: hash), \(bind: account.description), \(bind: purpose.rawValue), \(bind: expiresAt.epochMilliseconds))
                """
            ).run()
        }
    }

    public func consumeOneTimeToken(hash: String, purpose: OneTimeTokenPurpose, at: Date) async throws -> Account.ID? {
        try await read { db in
            try await db.raw(
                """
                UPDATE one_time_tokens SET used_at = \(bind: at.epochMilliseconds)
                WHERE token_hash = \(bind: hash) AND purpose = \(bind: purpose.rawValue) AND used_at IS NULL
                    AND expires_at > \(bind: at.epochMilliseconds)
                RETURNING account_id
                """
            ).first()?.id("account_id")
        }
    }

    public func voidOneTimeTokens(account: Account.ID, purpose: OneTimeTokenPurpose, at: Date) async throws {
        try await read { db in
            try await db.raw(
                """
                UPDATE one_time_tokens SET used_at = \(bind: at.epochMilliseconds)
                WHERE account_id = \(bind: account.description) AND purpose = \(bind: purpose.rawValue) AND used_at IS NULL
                """
            ).run()
        }
    }

    public func replaceRecoveryCodes(account: Account.ID, hashes: [String]) async throws {
        try await backend.transaction { db in
            try await db.raw("DELETE FROM recovery_codes WHERE account_id = \(bind: account.description)").run()
            for hash in hashes {
                try await db.raw(
                    "INSERT INTO recovery_codes (account_id, code_hash) VALUES (\(bind: account.description), \(bind: hash))"
                ).run()
            }
        }
    }

    public func consumeRecoveryCode(account: Account.ID, hash: String, at: Date) async throws -> Bool {
        try await read { db in
            try await db.raw(
                """
                UPDATE recovery_codes SET used_at = \(bind: at.epochMilliseconds)
                WHERE account_id = \(bind: account.description) AND code_hash = \(bind: hash) AND used_at IS NULL
                RETURNING code_hash
                """
            ).first() != nil
        }
    }

    public func enqueueEmail(_ e: OutgoingEmail) async throws {
        try await read { db in try await db.raw(insertEmailSQL(e)).run() }
    }

    public func pendingEmails(limit: Int) async throws -> [OutgoingEmail] {
        try await read { db in
            try await db.raw(
                "SELECT * FROM email_outbox WHERE sent_at IS NULL ORDER BY created_at, id LIMIT \(bind: Int64(limit))"
            ).all().map { row in
                guard let to = try? EmailAddress(try row.decode(column: "to_address", as: String.self)) else {
                    throw RowError(column: "to_address")
                }
                return OutgoingEmail(
                    id: try row.decode(column: "id", as: String.self), to: to,
                    subject: try row.decode(column: "subject", as: String.self),
                    body: try row.decode(column: "body", as: String.self), createdAt: try row.ms("created_at"))
            }
        }
    }

    public func claimEmail(id: String, at: Date) async throws -> Bool {
        try await read { db in
            try await db.raw(
                "UPDATE email_outbox SET sent_at = \(bind: at.epochMilliseconds) WHERE id = \(bind: id) AND sent_at IS NULL RETURNING id"
            ).first() != nil
        }
    }

    public func redactEmail(id: String) async throws {
        try await read { db in
            try await db.raw("UPDATE email_outbox SET body = 'redacted after delivery' WHERE id = \(bind: id) AND sent_at IS NOT NULL").run()
        }
    }

    public func releaseEmail(id: String) async throws {
        try await read { db in try await db.raw("UPDATE email_outbox SET sent_at = NULL WHERE id = \(bind: id)").run() }
    }
}

// MARK: - PatientRecordStore

extension SQLStores: PatientRecordStore {
    public func createPatientAccount(_ account: AccountRecord, record: PatientRecord, grant: Grant<PatientRecordResource>) async throws {
        guard grant.action == .create, grant.resourceID == record.id.description, record.account == account.id,
            account.kind == .patient
        else { throw StoreError(.capabilityMismatch) }
        try await mapUnique {
            try await backend.transaction { db in
                try await db.raw(insertAccountSQL(account)).run()
                try await db.raw(
                    """
                    INSERT INTO patients (id, account_id, given_name, family_name, birth_date, created_at, updated_at)
                    VALUES (\(bind: record.id.description), \(bind: record.account.description), \(bind: record.name.given),
                        \(bind: record.name.family), \(bind: record.birthDate.description),
                        \(bind: record.createdAt.epochMilliseconds), \(bind: record.updatedAt.epochMilliseconds))
                    """
                ).run()
            }
        }
    }

    public func read(_ grant: Grant<PatientRecordResource>) async throws -> PatientRecord? {
        guard grant.action == .read || grant.action == .update else { throw StoreError(.capabilityMismatch) }
        return try await read { db in
            try await db.raw("SELECT * FROM patients WHERE id = \(bind: grant.resourceID)").first()?.patientRecord()
        }
    }

    public func updateName(_ name: PersonName, at: Date, grant: Grant<PatientRecordResource>) async throws -> PatientRecord? {
        guard grant.action == .update else { throw StoreError(.capabilityMismatch) }
        return try await read { db in
            try await db.raw(
                """
                UPDATE patients SET given_name = \(bind: name.given), family_name = \(bind: name.family),
                    updated_at = \(bind: at.epochMilliseconds)
                WHERE id = \(bind: grant.resourceID) RETURNING *
                """
            ).first()?.patientRecord()
        }
    }

    public func list(_ scope: Scope<PatientRecordResource>) async throws -> [PatientRecord] {
        let predicate = scope.predicate.sql(ScopeColumns(patient: "id", practice: "practice_id"))
        return try await read { db in
            try await db.raw("SELECT * FROM patients WHERE \(predicate) ORDER BY id").all().map { try $0.patientRecord() }
        }
    }

    public func patientID(forAccount account: Account.ID) async throws -> Patient.ID? {
        try await read { db in
            try await db.raw("SELECT id FROM patients WHERE account_id = \(bind: account.description)").first()?.id("id")
        }
    }
}

// MARK: - StaffStore

extension SQLStores: StaffStore {
    public func createStaffAccount(_ account: AccountRecord, profile: StaffRecord, grant: Grant<StaffAccountResource>) async throws {
        guard grant.action == .create, grant.resourceID == account.id.description, profile.account == account.id,
            account.kind != .patient
        else { throw StoreError(.capabilityMismatch) }
        try await mapUnique {
            try await backend.transaction { db in
                try await db.raw(insertAccountSQL(account)).run()
                try await db.raw(
                    """
                    INSERT INTO staff (account_id, given_name, family_name, role, registration_number, created_at)
                    VALUES (\(bind: profile.account.description), \(bind: profile.name.given), \(bind: profile.name.family),
                        \(bind: profile.role?.rawValue), \(bind: profile.registrationNumber?.value),
                        \(bind: profile.createdAt.epochMilliseconds))
                    """
                ).run()
            }
        }
    }

    public func read(_ grant: Grant<StaffAccountResource>) async throws -> StaffRecord? {
        try await read { db in
            try await db.raw("SELECT * FROM staff WHERE account_id = \(bind: grant.resourceID)").first()?.staffRecord()
        }
    }

    public func list(_ scope: Scope<StaffAccountResource>) async throws -> [StaffMember] {
        let predicate = scope.predicate.sql(ScopeColumns(account: "s.account_id"))
        return try await read { db in
            try await db.raw(
                """
                SELECT s.*, a.kind, a.status FROM staff s JOIN accounts a ON a.id = s.account_id
                WHERE \(predicate) ORDER BY s.family_name, s.given_name, s.account_id
                """
            ).all().map { row in
                guard let kind = AccountKind(rawValue: try row.decode(column: "kind", as: String.self)),
                    let status = AccountStatus(rawValue: try row.decode(column: "status", as: String.self))
                else { throw RowError(column: "kind") }
                return StaffMember(profile: try row.staffRecord(), kind: kind, status: status)
            }
        }
    }

    public func directoryEntry(account: Account.ID) async throws -> (name: PersonName, role: StaffRole?, kind: AccountKind)? {
        try await read { db in
            guard
                let row = try await db.raw(
                    "SELECT s.*, a.kind FROM staff s JOIN accounts a ON a.id = s.account_id WHERE s.account_id = \(bind: account.description)"
                ).first()
            else { return nil }
            let staff = try row.staffRecord()
            return (staff.name, staff.role, AccountKind(rawValue: try row.decode(column: "kind", as: String.self)) ?? .clinician)
        }
    }

    public func role(forAccount account: Account.ID) async throws -> StaffRole? {
        try await read { db in
            try await db.raw("SELECT role FROM staff WHERE account_id = \(bind: account.description)").first()?
                .decode(column: "role", as: String?.self).flatMap(StaffRole.init(rawValue:))
        }
    }
}

// MARK: - SystemStore

extension SQLStores: SystemStore {
    public func migrate() async throws -> [Int] {
        try await backend.withMigrationLock { db in
            try await db.raw(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
            ).run()
            let applied = Set(
                try await db.raw("SELECT version FROM schema_migrations").all().map { Int(try $0.decode(column: "version", as: Int64.self)) })
            var done: [Int] = []
            for migration in Migrations.all where !applied.contains(migration.version) {
                try await runInTransaction(on: db) { db in
                    for statement in migration.statements { try await db.raw(SQLQueryString(statement)).run() }
                    try await db.raw(
                        """
                        INSERT INTO schema_migrations (version, name, applied_at)
                        VALUES (\(bind: Int64(migration.version)), \(bind: migration.name), \(bind: Date().epochMilliseconds))
                        """
                    ).run()
                }
                done.append(migration.version)
            }
            return done
        }
    }

    public func appliedMigrations() async throws -> [Int] {
        try await read { db in
            try await db.raw("SELECT version FROM schema_migrations ORDER BY version").all().map {
                Int(try $0.decode(column: "version", as: Int64.self))
            }
        }
    }

    public func ping() async throws {
        try await read { db in _ = try await db.raw("SELECT 1 AS one").first() }
    }

    public func shutdown() async throws { try await backend.shutdown() }
}

// MARK: - FactsStore

extension SQLStores: FactsStore {
    public func patientRecordFacts(_ id: Patient.ID) async throws -> ResourceFacts? {
        try await read { db in
            guard try await db.raw("SELECT id FROM patients WHERE id = \(bind: id.description)").first() != nil else { return nil }
            return ResourceFacts(resourceID: id.description, owningPatient: id)
        }
    }

    public func staffAccountFacts(_ account: Account.ID) async throws -> ResourceFacts? {
        try await read { db in
            guard try await db.raw("SELECT account_id FROM staff WHERE account_id = \(bind: account.description)").first() != nil
            else { return nil }
            return ResourceFacts(resourceID: account.description, account: account)
        }
    }
}

extension SQLStores {
    /// Runs one administrative statement (test schemas). Not reachable from HTTP.
    package func execute(_ statement: String) async throws {
        try await read { db in try await db.raw(SQLQueryString(statement)).run() }
    }
}
