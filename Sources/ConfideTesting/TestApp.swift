public import ConfideAccounts
public import ConfideAudit
import Crypto
public import ConfideClinic
import ConfideCore
public import ConfideHTTP
import ConfidePolicy
public import ConfideStore
import Foundation
public import Hummingbird
import Logging
public import ConfideVault
import ConfideTriage
public import ConfideBreach
public import ConfideStoreSQL

/// Everything one test needs: fresh stores, the account service with a fixed clock and a cheap
/// bcrypt cost, the router, and the captured logs.
public struct TestWorld: Sendable {
    public let stores: ConfideStores
    public let accounts: AccountService
    public let clinic: ClinicService
    public let events: TestEvents
    public let clock: TestClock
    public let logs: LogCapture
    public let deps: ConfideHTTPDependencies
    /// Recordings over a vault in a temporary directory (`media`), with fresh keys.
    public let recordings: RecordingService
    public let vault: Vault
    /// The symptom checker over the bundled knowledge base (loaded once per test process).
    public let triage: TriageService
    /// The egress guard and its incidents (enforcing unless the test chose observe-only).
    public let incidents: IncidentService

    static let triageEngine: Result<TriageEngine, any Error> = Result { TriageEngine(knowledge: try KnowledgeBase.bundled()) }

    /// The Hummingbird application under test (in-process router or live socket).
    public func application() -> some ApplicationProtocol {
        let router = buildRouter(deps)
        return Application(
            router: router, server: httpServer(router), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: logs.logger())
    }

    /// The JSON routes the router serves, as `METHOD /path`.
    public func routeCensus() -> [String] { apiRouteCensus(buildRouter(deps)) }

    /// Fails when any captured log line contains personal data of the fixtures.
    public func logLinesWithPersonalData(extra: [String] = []) -> [String] {
        logs.lines(containingAnyOf: Fixtures.personalData + extra)
    }

    /// A second server instance on the same database (its own service objects and clock), as
    /// several `confide serve` processes share one PostgreSQL.
    public func sibling() throws -> TestWorld {
        let logger = logs.logger(label: "confide.test.sibling")
        let gate = AccessGate(facts: stores.facts, recorder: AuditLogRecorder(store: stores.audit, clock: clock))
        let accounts = AccountService(
            stores: stores, gate: gate, configuration: self.accounts.configuration, masterKey: self.accounts.masterKey, clock: clock,
            logger: logger)
        // The sibling listens on its own event channel, as another process would.
        let swapped = TestEvents(primary: events.sibling, sibling: events.primary, calls: events.siblingCalls, siblingCalls: events.calls)
        let clinic = Self.clinic(stores: stores, gate: gate, clock: clock, events: swapped.primary, accounts: accounts, logger: logger)
        let system = stores.system
        let recordings = RecordingService(
            clinic: clinic, vault: vault, remuxer: nil, configuration: self.recordings.configuration, alert: { _ in })
        let triage = TriageService(stores: stores, gate: gate, clock: clock, engine: try Self.triageEngine.get())
        let incidents = Self.incidents(stores: stores, gate: gate, clock: clock, mode: self.incidents.mode, logger: logger)
        let deps = ConfideHTTPDependencies(
            accounts: accounts, clinic: clinic, incidents: incidents, events: swapped.primary, settings: self.deps.settings,
            readiness: { try await system.ping() }, checkpoints: self.deps.checkpoints, consistency: self.deps.consistency, calls: swapped.calls,
            recordings: recordings, triage: triage)
        return TestWorld(
            stores: stores, accounts: accounts, clinic: clinic, events: swapped, clock: clock, logs: logs, deps: deps, recordings: recordings,
            vault: vault, triage: triage, incidents: incidents)
    }

    static func incidents(stores: ConfideStores, gate: AccessGate, clock: TestClock, mode: EgressMode, logger: Logger) -> IncidentService {
        IncidentService(
            stores: stores, gate: gate, clock: clock, mode: mode, logger: logger, auditKey: (auditSigner.verifier, "confide.test"), alert: { _ in })
    }

    /// The checkpoint key of every test world (the breach report verifies the log with it).
    public static let auditSigner: CheckpointSigner = {
        do { return try CheckpointSigner(keyName: "confide.test", privateKey: Curve25519.Signing.PrivateKey()) } catch { fatalError("\(error)") }
    }()

    static func clinic(
        stores: ConfideStores, gate: AccessGate, clock: TestClock, events: any EventChannel, accounts: AccountService, logger: Logger
    ) -> ClinicService {
        ClinicService(
            stores: stores, gate: gate, clock: clock, events: events, logger: logger,
            seal: { account, subject, body in try await accounts.sealedNotice(to: account, subject: subject, body: body) })
    }

    /// The queued emails with their bodies unsealed, as the delivery loop would send them.
    public func outbox(limit: Int = 50) async throws -> [OutgoingEmail] {
        try await stores.credentials.pendingEmails(limit: limit).map { try accounts.openOutgoing($0) }
    }

    /// Runs `body` in a fresh world and disposes of it.
    public static func with<R>(
        accountsConfiguration: AccountsConfiguration? = nil, secure: Bool = false, egress: EgressMode = .enforce,
        faults: InjectedFaults = .none, _ body: (TestWorld) async throws -> R
    ) async throws -> R {
        try await TestDatabase.withStoresAndEvents(faults: faults) { stores, events in
            let logs = LogCapture()
            let logger = logs.logger()
            let clock = TestClock(Date())
            // As in production: every decision is appended, then watched for canaries and sprees.
            let gate = AccessGate(
                facts: stores.facts,
                recorder: DetectingRecorder(
                    inner: AuditLogRecorder(store: stores.audit, clock: clock), incidents: stores.incidents, clock: clock, canaryRefresh: 0,
                    alert: { _ in }))
            let (key, _) = MasterKey.generate()
            let accounts = AccountService(
                stores: stores, gate: gate,
                configuration: accountsConfiguration ?? AccountsConfiguration(bcryptCost: 4, publicURL: "http://confide.test"),
                masterKey: key, clock: clock, logger: logger)
            let clinic = clinic(stores: stores, gate: gate, clock: clock, events: events.primary, accounts: accounts, logger: logger)
            var settings = HTTPSettings(maxBodyBytes: 64 * 1024, secure: secure)
            // Live streams end quickly in tests, so a client reading one to the end returns.
            settings.liveEventsLifetime = .seconds(1)
            let system = stores.system
            let media = FileManager.default.temporaryDirectory.appendingPathComponent("confide-media-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: media) }
            try FileManager.default.createDirectory(atPath: media, withIntermediateDirectories: true)
            let vault = Vault(
                keys: KeyRing(
                    current: try KeyEncryptionKey.generate(path: media + "/kek.key"), naming: try NamingKey.generate(path: media + "/naming.key")),
                store: try FileBlobStore(root: media + "/blobs"))
            let recordings = RecordingService(clinic: clinic, vault: vault, remuxer: nil, alert: { alert in
                logger.critical("recording invariant alert", metadata: ["recording": "\(alert.recording)"])
            })
            let triage = TriageService(stores: stores, gate: gate, clock: clock, engine: try triageEngine.get())
            let incidents = incidents(stores: stores, gate: gate, clock: clock, mode: egress, logger: logger)
            let deps = ConfideHTTPDependencies(
                accounts: accounts, clinic: clinic, incidents: incidents, events: events.primary, settings: settings, readiness: { try await system.ping() },
                checkpoints: { [audit = stores.audit] in
                    CheckpointFeed(
                        origin: "confide.test", verifierKey: "confide.test+00000000+AA==",
                        notes: try await audit.checkpointNotes().map { String(decoding: $0, as: UTF8.self) })
                },
                consistency: { [audit = stores.audit] from, to in try await audit.consistencyProof(from: from, to: to) }, calls: events.calls,
                recordings: recordings, triage: triage)
            return try await body(
                TestWorld(
                    stores: stores, accounts: accounts, clinic: clinic, events: events, clock: clock, logs: logs, deps: deps, recordings: recordings,
                    vault: vault, triage: triage, incidents: incidents))
        }
    }
}
