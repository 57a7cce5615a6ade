import ConfideAccounts
import ConfideBreach
import ConfideClinic
import ConfideCore
import ConfideHTTP
import ConfideStore
import ConfideStoreSQL
import ConfideStoreSQLite
import ConfideTesting
import Foundation
import Logging

/// One consultation ready to be joined: its identifier and both participants' bearer tokens.
struct Room: Sendable {
    let consultation: String
    let patientToken: String
    let clinicianToken: String
}

/// An in-process Confide instance for the benchmark, built like `TestWorld.with` but with a
/// join window wide enough for every consultation at one clock time and a quiet logger (captured
/// log lines would count as connection memory).
struct CallWorld: Sendable {
    let stores: ConfideStores
    let recorder: AuditLogRecorder
    let accounts: AccountService
    let clinic: ClinicService
    let deps: ConfideHTTPDependencies
    let clock: TestClock

    static let clinicianSlots = 10

    /// A world on a fresh SQLite file (as `confide serve` keeps its data; an in-memory database would
    /// count the audit log's growth as connection memory), or on PostgreSQL when
    /// `CONFIDE_TEST_DATABASE_URL` is set (a schema of its own, with the NOTIFY relay).
    static func with<R>(logger: Logger, _ body: (CallWorld) async throws -> R) async throws -> R {
        if let url = ProcessInfo.processInfo.environment["CONFIDE_TEST_DATABASE_URL"], !url.isEmpty {
            return try await TestDatabase.withStoresAndEvents { stores, events in
                try await body(make(stores: stores, events: events.primary, calls: events.calls, logger: logger))
            }
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("confide-callbench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let quiet = Logger(label: "confide.callbench.sqlite", factory: { _ in SwiftLogNoOpLogHandler() })
        let stores = SQLStores(backend: try await SQLiteBackend.open(path: directory.appendingPathComponent("confide.sqlite").path, logger: quiet))
            .stores
        let events = LocalEventChannel()
        let calls = LocalCallRelay()
        do {
            _ = try await stores.system.migrate()
            let result = try await body(make(stores: stores, events: events, calls: calls, logger: logger))
            await events.shutdown()
            await calls.shutdown()
            try await stores.system.shutdown()
            return result
        } catch {
            await events.shutdown()
            await calls.shutdown()
            try? await stores.system.shutdown()
            throw error
        }
    }

    static func make(stores: ConfideStores, events: any EventChannel, calls: any CallRelay, logger: Logger) -> CallWorld {
        let clock = TestClock(ClinicFixture.monday0800)
        let recorder = AuditLogRecorder(store: stores.audit, clock: clock)
        let gate = AccessGate(facts: stores.facts, recorder: recorder)
        let (key, _) = MasterKey.generate()
        let accounts = AccountService(
            stores: stores, gate: gate, configuration: AccountsConfiguration(bcryptCost: 4, publicURL: "http://confide.bench"),
            masterKey: key, clock: clock, logger: logger)
        var configuration = ClinicConfiguration()
        // Every consultation of the day is joinable at 08:00 (the default opens 15 minutes before).
        configuration.calls.opensMinutesBefore = 24 * 60
        let clinic = ClinicService(
            stores: stores, gate: gate, clock: clock, events: events, configuration: configuration, logger: logger,
            seal: { account, subject, body in try await accounts.sealedNotice(to: account, subject: subject, body: body) })
        let system = stores.system
        let incidents = IncidentService(stores: stores, gate: gate, clock: clock, mode: .enforce, logger: logger, alert: { _ in })
        let deps = ConfideHTTPDependencies(
            accounts: accounts, clinic: clinic, incidents: incidents, events: events, settings: HTTPSettings(maxBodyBytes: 64 * 1024),
            readiness: { try await system.ping() },
            checkpoints: { CheckpointFeed(origin: "confide.bench", verifierKey: "confide.bench+00000000+AA==", notes: []) },
            consistency: { _, _ in nil }, calls: calls)
        return CallWorld(stores: stores, recorder: recorder, accounts: accounts, clinic: clinic, deps: deps, clock: clock)
    }

    /// `count` consultations on Monday 30 November 2026 (09:00 onwards, 10-minute slots), each with its
    /// own patient; a clinician holds `clinicianSlots` of them. Everyone signs in for a bearer token
    /// (clinicians with TOTP). The clock stays at 08:00 (booking needs a 5-minute lead).
    func rooms(_ count: Int) async throws -> [Room] {
        let system = ClinicRequest(principal: .system(job: "bench"), requestID: "bench")
        let practice = try await clinic.createPractice(name: "Bench Surgery", country: "GB", region: "England", zone: "Europe/London", system)
        let clinicians = (count + Self.clinicianSlots - 1) / Self.clinicianSlots
        let weekly = ["monday"].map {
            AvailabilityDocument.Window(
                weekday: $0, start: "09:00", end: "12:00", slot_minutes: 10, modalities: ["video"], valid_from: nil, valid_until: nil)
        }
        var staff: [(account: Account.ID, token: String)] = []
        for index in 0..<clinicians {
            let email = Fixtures.email("clinician\(index)")
            let (account, uri) = try await accounts.createStaffWithCredentials(
                StaffInput(
                    email: email, givenName: "Clinician", familyName: "Bench", kind: .clinician, role: "gp",
                    registrationNumber: "REG-\(10000 + index)"),
                password: Fixtures.password, job: "bench")
            try await clinic.addMember(practice: practice.id, account: account, role: .clinician, system)
            _ = try await clinic.setAvailability(
                clinician: account, practice: practice.id, document: AvailabilityDocument(weekly: weekly, exceptions: nil),
                ClinicRequest(principal: .clinician(account: account, role: .gp), requestID: "bench"))
            let secret = URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value ?? ""
            guard let totp = TOTP(base32: secret) else { throw BenchError("no TOTP secret for a clinician") }
            let signedIn = try await accounts.signIn(
                email: email, password: Fixtures.password, totp: totp.code(step: TOTP.step(at: clock.now())), kind: .bearer,
                meta: RequestMeta(requestID: "bench", clientAddress: Self.address(index)))
            staff.append((account, signedIn.token))
        }
        let staffList = staff
        // Patients in parallel (the database serialises writes anyway; this overlaps the bcrypt hashing).
        return try await withThrowingTaskGroup(of: (Int, Room).self) { group in
            var rooms = [Room?](repeating: nil, count: count)
            var next = 0
            func add(_ index: Int) {
                group.addTask {
                    let (clinician, clinicianToken) = staffList[index / Self.clinicianSlots]
                    let room = try await self.room(
                        index, practice: practice.id, clinician: clinician, clinicianToken: clinicianToken)
                    return (index, room)
                }
            }
            while next < min(count, 8) {
                add(next)
                next += 1
            }
            while let (index, room) = try await group.next() {
                rooms[index] = room
                if next < count {
                    add(next)
                    next += 1
                }
            }
            return rooms.compactMap { $0 }
        }
    }

    func room(_ index: Int, practice: Practice.ID, clinician: Account.ID, clinicianToken: String) async throws -> Room {
        let email = Fixtures.email("patient\(index)")
        let profile = try await accounts.seedPatient(
            RegistrationInput(email: email, password: Fixtures.password, givenName: "Patient", familyName: "Bench", birthDate: "1980-01-01"),
            job: "bench")
        guard let patientID = profile.patient else { throw BenchError("no patient record") }
        let patient = Principal.patient(account: profile.account, patient: patientID)
        try await clinic.registerWithPractice(practice, .by(patient))
        let start = ClinicFixture.monday0800.addingTimeInterval(3600 + Double((index % Self.clinicianSlots) * 600))
        let consultation = try await clinic.book(clinician: clinician, start: start, modality: .video, .by(patient)).record
        let signedIn = try await accounts.signIn(
            email: email, password: Fixtures.password, totp: nil, kind: .bearer,
            meta: RequestMeta(requestID: "bench", clientAddress: Self.address(100_000 + index)))
        return Room(consultation: consultation.id.description, patientToken: signedIn.token, clinicianToken: clinicianToken)
    }

    /// A distinct client address per sign-in, so the per-address throttle never sees a crowd.
    static func address(_ n: Int) -> String { "10.\((n >> 16) & 255).\((n >> 8) & 255).\(n & 255)" }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
