import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Testing

/// One conformance suite for every store adapter: it runs on SQLite, and on PostgreSQL when
/// `CONFIDE_TEST_DATABASE_URL` is set (scripts/test runs it both ways).
@Suite("store conformance")
struct StoreConformanceTests {
    let engine = PolicyEngine()
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func account(_ email: String, kind: AccountKind = .patient) throws -> AccountRecord {
        AccountRecord(id: Account.ID(), email: try EmailAddress(email), passwordHash: "$2b$04$hash", kind: kind, createdAt: now)
    }

    /// Registers a patient through the engine, as the service does.
    func registerPatient(_ stores: ConfideStores, email: String, given: String = "Test") async throws -> (AccountRecord, PatientRecord) {
        let acct = try account(email)
        let record = PatientRecord(
            id: Patient.ID(), account: acct.id, name: try PersonName(given: given, family: "Patient"),
            birthDate: CalendarDate(year: 1990, month: 1, day: 2)!, createdAt: now, updatedAt: now)
        let (_, grant) = engine.authorize(
            AccessRequest(principal: .system(job: "test"), action: .create, resource: .patientRecord),
            facts: ResourceFacts(resourceID: record.id.description, owningPatient: record.id, serverAssignedOwner: true),
            as: PatientRecordResource.self)
        try await stores.patients.createPatientAccount(acct, record: record, grant: try #require(grant))
        return (acct, record)
    }

    func grant(_ action: Action, _ record: Patient.ID, by principal: Principal) throws -> Grant<PatientRecordResource> {
        let (_, grant) = engine.authorize(
            AccessRequest(principal: principal, action: action, resource: .patientRecord),
            facts: ResourceFacts(resourceID: record.description, owningPatient: record), as: PatientRecordResource.self)
        return try #require(grant)
    }

    @Test("migrations are recorded and re-running them applies nothing")
    func migrations() async throws {
        try await TestDatabase.withStores { stores in
            #expect(try await stores.system.appliedMigrations() == Array(1...17))
            #expect(try await stores.system.migrate() == [])
            try await stores.system.ping()
        }
    }

    @Test("emails are unique case-insensitively")
    func uniqueEmail() async throws {
        try await TestDatabase.withStores { stores in
            _ = try await registerPatient(stores, email: "Dup@Example.com")
            await #expect(throws: StoreError(.duplicateEmail)) {
                _ = try await registerPatient(stores, email: "dup@example.COM")
            }
            // The failed registration left no half-created patient behind.
            let found = try await stores.credentials.account(email: try EmailAddress("DUP@example.com"))
            #expect(found != nil)
        }
    }

    @Test("a patient record is read and updated only with a grant that fits")
    func grants() async throws {
        try await TestDatabase.withStores { stores in
            let (acct, record) = try await registerPatient(stores, email: "grant@example.com")
            let me = Principal.patient(account: acct.id, patient: record.id)
            let read = try grant(.read, record.id, by: me)
            #expect(try await stores.patients.read(read)?.name.given == "Test")
            await #expect(throws: StoreError(.capabilityMismatch)) {
                _ = try await stores.patients.updateName(try PersonName(given: "X", family: "Y"), at: now, grant: read)
            }
            let update = try grant(.update, record.id, by: me)
            let updated = try await stores.patients.updateName(try PersonName(given: "Renamed", family: "Person"), at: now, grant: update)
            #expect(updated?.name.given == "Renamed")
            #expect(try await stores.patients.patientID(forAccount: acct.id) == record.id)
        }
    }

    @Test("list scopes are compiled into the query and return exactly what decide allows")
    func scopeDifferential() async throws {
        try await TestDatabase.withStores { stores in
            var people: [(AccountRecord, PatientRecord)] = []
            for i in 0..<6 { people.append(try await registerPatient(stores, email: "scope\(i)@example.com")) }
            let principals: [Principal] =
                people.map { Principal.patient(account: $0.0.id, patient: $0.1.id) } + [
                    .anonymous, .admin(account: Account.ID()), .clinician(account: Account.ID(), role: .gp), .system(job: "t"),
                    .patient(account: Account.ID(), patient: Patient.ID()),
                ]
            for principal in principals {
                let request = AccessRequest(principal: principal, action: .read, resource: .patientRecord)
                let (_, scope) = engine.scope(request, as: PatientRecordResource.self)
                let listed = Set(try await stores.patients.list(scope).map(\.id))
                let allowed = Set(
                    people.map(\.1.id).filter {
                        engine.decide(request, ResourceFacts(resourceID: $0.description, owningPatient: $0)).isAllowed
                    })
                #expect(listed == allowed, "scope for \(principal)")
            }
        }
    }

    @Test("sessions are stored by digest, touched and revoked")
    func sessions() async throws {
        try await TestDatabase.withStores { stores in
            let (acct, _) = try await registerPatient(stores, email: "session@example.com")
            let s = SessionRecord(
                tokenHash: "h1", account: acct.id, kind: .cookie, csrfToken: "c", mfaSatisfied: true, createdAt: now, lastSeenAt: now,
                absoluteExpiresAt: now.addingTimeInterval(3600))
            try await stores.credentials.insertSession(s)
            var other = s
            other.tokenHash = "h2"
            try await stores.credentials.insertSession(other)
            try await stores.credentials.touchSession(tokenHash: "h1", at: now.addingTimeInterval(120))
            #expect(try await stores.credentials.session(tokenHash: "h1")?.lastSeenAt == now.addingTimeInterval(120))
            try await stores.credentials.revokeSessions(account: acct.id, keeping: "h1", at: now)
            #expect(try await stores.credentials.session(tokenHash: "h1")?.revokedAt == nil)
            #expect(try await stores.credentials.session(tokenHash: "h2")?.revokedAt != nil)
            try await stores.credentials.revokeSession(tokenHash: "h1", at: now)
            #expect(try await stores.credentials.session(tokenHash: "h1")?.revokedAt != nil)
        }
    }

    @Test("a TOTP step advances only forwards, also under concurrent use")
    func totpSteps() async throws {
        try await TestDatabase.withStores { stores in
            let (acct, _) = try await registerPatient(stores, email: "totp@example.com")
            #expect(try await stores.credentials.advanceTOTPStep(account: acct.id, to: 100))
            #expect(try await !stores.credentials.advanceTOTPStep(account: acct.id, to: 100))
            #expect(try await !stores.credentials.advanceTOTPStep(account: acct.id, to: 99))
            let credentials = stores.credentials
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 { group.addTask { try await credentials.advanceTOTPStep(account: acct.id, to: 101) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
        }
    }

    @Test("one-time tokens work once and not after expiry")
    func oneTimeTokens() async throws {
        try await TestDatabase.withStores { stores in
            let (acct, _) = try await registerPatient(stores, email: "ott@example.com")
            try await stores.credentials.insertOneTimeToken(hash: "t1", account: acct.id, purpose: .resetPassword, expiresAt: now.addingTimeInterval(60))
            #expect(try await stores.credentials.consumeOneTimeToken(hash: "t1", purpose: .verifyEmail, at: now) == nil)
            #expect(try await stores.credentials.consumeOneTimeToken(hash: "t1", purpose: .resetPassword, at: now) == acct.id)
            #expect(try await stores.credentials.consumeOneTimeToken(hash: "t1", purpose: .resetPassword, at: now) == nil)
            try await stores.credentials.insertOneTimeToken(hash: "t2", account: acct.id, purpose: .resetPassword, expiresAt: now)
            #expect(try await stores.credentials.consumeOneTimeToken(hash: "t2", purpose: .resetPassword, at: now) == nil)
        }
    }

    @Test("recovery codes are used once and replaced as a set")
    func recoveryCodes() async throws {
        try await TestDatabase.withStores { stores in
            let (acct, _) = try await registerPatient(stores, email: "rc@example.com")
            try await stores.credentials.replaceRecoveryCodes(account: acct.id, hashes: ["a", "b"])
            #expect(try await stores.credentials.consumeRecoveryCode(account: acct.id, hash: "a", at: now))
            #expect(try await !stores.credentials.consumeRecoveryCode(account: acct.id, hash: "a", at: now))
            try await stores.credentials.replaceRecoveryCodes(account: acct.id, hashes: ["c"])
            #expect(try await !stores.credentials.consumeRecoveryCode(account: acct.id, hash: "b", at: now))
            #expect(try await stores.credentials.consumeRecoveryCode(account: acct.id, hash: "c", at: now))
        }
    }

    @Test("login failures are counted within the window and cleared")
    func throttling() async throws {
        try await TestDatabase.withStores { stores in
            for i in 0..<3 {
                try await stores.credentials.recordLoginFailure(key: "k", attempt: "a\(i)", at: now.addingTimeInterval(Double(i * 100)))
            }
            #expect(try await stores.credentials.loginFailures(key: "k", since: now.addingTimeInterval(50)) == 2)
            #expect(try await stores.credentials.loginFailures(key: "other", since: now) == 0)
            try await stores.credentials.removeLoginAttempt("a2")
            #expect(try await stores.credentials.loginFailures(key: "k", since: now.addingTimeInterval(50)) == 1)
            try await stores.credentials.clearLoginFailures(key: "k")
            #expect(try await stores.credentials.loginFailures(key: "k", since: now) == 0)
        }
    }

    @Test("an outbox email is claimed by exactly one sender, and a released claim is retried")
    func outbox() async throws {
        try await TestDatabase.withStores { stores in
            try await stores.credentials.enqueueEmail(
                OutgoingEmail(id: "m1", to: try EmailAddress("x@example.com"), subject: "s", body: "b", createdAt: now))
            #expect(try await stores.credentials.pendingEmails(limit: 10).map(\.id) == ["m1"])
            let credentials = stores.credentials
            let claims = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 { group.addTask { try await credentials.claimEmail(id: "m1", at: now) } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(claims == 1)
            #expect(try await stores.credentials.pendingEmails(limit: 10).isEmpty)
            try await stores.credentials.releaseEmail(id: "m1")
            #expect(try await stores.credentials.pendingEmails(limit: 10).map(\.id) == ["m1"])
        }
    }

    @Test("facts exist only for existing resources")
    func facts() async throws {
        try await TestDatabase.withStores { stores in
            let (_, record) = try await registerPatient(stores, email: "facts@example.com")
            #expect(try await stores.facts.patientRecordFacts(record.id)?.owningPatient == record.id)
            #expect(try await stores.facts.patientRecordFacts(Patient.ID()) == nil)
            #expect(try await stores.facts.staffAccountFacts(Account.ID()) == nil)
        }
    }
}
