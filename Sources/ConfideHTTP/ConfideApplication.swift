public import ConfideAccounts
public import ConfideClinic
public import ConfideStore
import ConfideCore
public import Foundation
public import Hummingbird
import Logging
public import Prometheus

/// HTTP-level settings, validated by the executable's configuration.
public struct HTTPSettings: Sendable {
    /// Largest accepted request body.
    public var maxBodyBytes: Int
    /// Whether browsers reach the service over https, because this server speaks TLS or because
    /// a TLS proxy in front of it does (the public URL is https). Then cookies are `Secure` with
    /// the `__Host-` prefix (no subdomain can plant them) and responses carry HSTS.
    public var secure: Bool
    /// Reverse proxies whose `X-Forwarded-For` is believed for the client address (throttling).
    public var trustedProxies: [IPNetwork]

    /// How long one live-event stream (server-sent events) stays open before the browser
    /// reconnects and its session is checked again.
    public var liveEventsLifetime: Duration = .seconds(300)

    public init(maxBodyBytes: Int = 1 << 20, secure: Bool = false, trustedProxies: [IPNetwork] = []) {
        self.maxBodyBytes = maxBodyBytes
        self.secure = secure
        self.trustedProxies = trustedProxies
    }

    /// The session cookie's name.
    public var sessionCookieName: String { secure ? "__Host-confide_session" : "confide_session" }
    /// The anonymous anti-forgery cookie's name.
    public var csrfCookieName: String { secure ? "__Host-confide_csrf" : "confide_csrf" }

    func sessionCookie(_ token: String) -> Cookie {
        Cookie(name: sessionCookieName, value: token, path: "/", secure: secure, httpOnly: true, sameSite: .lax)
    }

    func expiredSessionCookie() -> Cookie {
        Cookie(name: sessionCookieName, value: "", maxAge: 0, path: "/", secure: secure, httpOnly: true, sameSite: .lax)
    }

    func csrfCookie(_ token: String) -> Cookie {
        Cookie(name: csrfCookieName, value: token, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }
}

/// The published checkpoint history of the audit log (public: no personal data).
/// The latest background verification of the audit log (for the operators' audit page).
public struct AuditHealth: Sendable, Hashable {
    public var at: Date
    public var entries: UInt64
    public var checkpoints: Int
    public var valid: Bool
    public var firstBadIndex: UInt64?
    public var firstBadCheckpoint: Int?
    public var uncheckpointed: UInt64

    public init(at: Date, entries: UInt64, checkpoints: Int, valid: Bool, firstBadIndex: UInt64?, firstBadCheckpoint: Int?, uncheckpointed: UInt64) {
        self.at = at
        self.entries = entries
        self.checkpoints = checkpoints
        self.valid = valid
        self.firstBadIndex = firstBadIndex
        self.firstBadCheckpoint = firstBadCheckpoint
        self.uncheckpointed = uncheckpointed
    }
}

public struct CheckpointFeed: Sendable {
    public let origin: String
    /// The note verifier key (`name+keyid+base64`), to check the signatures offline.
    public let verifierKey: String
    /// Signed checkpoint notes, oldest first.
    public let notes: [String]

    public init(origin: String, verifierKey: String, notes: [String]) {
        self.origin = origin
        self.verifierKey = verifierKey
        self.notes = notes
    }
}

/// Everything the HTTP layer needs from the rest of the system. No handler receives a store:
/// patient data is reached only through `AccountService`, which goes through the gate.
public struct ConfideHTTPDependencies: Sendable {
    public let accounts: AccountService
    public let clinic: ClinicService
    /// Live updates (waiting room, my consultations) across instances.
    public let events: any EventChannel
    /// Call signalling across instances.
    public let calls: any CallRelay
    /// Recordings: consent, upload, playback, erasure (`nil`: the routes answer 503).
    public let recordings: RecordingService?
    /// The symptom checker (`nil`: its routes answer 503).
    public let triage: TriageService?
    /// The egress guard and the incidents it raises (always present: there is no way to run without it).
    public let incidents: IncidentService
    public let settings: HTTPSettings
    /// Throws when the database is unreachable (`/readyz`).
    public let readiness: @Sendable () async throws -> Void
    public let metrics: PrometheusCollectorRegistry
    /// The audit log's published checkpoints.
    public let checkpoints: @Sendable () async throws -> CheckpointFeed
    /// A consistency proof between two tree sizes (hex hashes); `nil` when a size is out of range.
    public let consistency: @Sendable (UInt64, UInt64) async throws -> [String]?
    /// The latest background verification of the audit log (`nil` before the first run).
    public let auditHealth: @Sendable () async -> AuditHealth?

    public init(
        accounts: AccountService, clinic: ClinicService, incidents: IncidentService, events: any EventChannel, settings: HTTPSettings,
        readiness: @escaping @Sendable () async throws -> Void,
        checkpoints: @escaping @Sendable () async throws -> CheckpointFeed,
        consistency: @escaping @Sendable (UInt64, UInt64) async throws -> [String]?,
        metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), calls: any CallRelay = LocalCallRelay(),
        recordings: RecordingService? = nil, triage: TriageService? = nil, auditHealth: @escaping @Sendable () async -> AuditHealth? = { nil }
    ) {
        self.auditHealth = auditHealth
        self.incidents = incidents
        self.triage = triage
        self.calls = calls
        self.recordings = recordings
        self.consistency = consistency
        self.accounts = accounts
        self.clinic = clinic
        self.events = events
        self.settings = settings
        self.readiness = readiness
        self.checkpoints = checkpoints
        self.metrics = metrics
    }
}

/// Builds the router: middleware first (they apply only to routes added after them), then the
/// operations endpoints, the JSON API and the web pages.
public func buildRouter(_ deps: ConfideHTTPDependencies) -> Router<ConfideRequestContext> {
    let router = Router(context: ConfideRequestContext.self)
    router.addMiddleware {
        ObservabilityMiddleware(registry: deps.metrics)
        SecurityHeadersMiddleware(tls: deps.settings.secure)
        ProblemMiddleware()
        SessionMiddleware(accounts: deps.accounts, settings: deps.settings)
        EgressGuardMiddleware(incidents: deps.incidents)
    }
    OperationsController(
        readiness: deps.readiness, registry: deps.metrics, checkpoints: deps.checkpoints, consistency: deps.consistency
    ).register(on: router)
    APIController(accounts: deps.accounts, settings: deps.settings).register(on: router)
    ClinicAPIController(clinic: deps.clinic, triage: deps.triage, events: deps.events, settings: deps.settings).register(on: router)
    WebController(accounts: deps.accounts, settings: deps.settings).register(on: router)
    let pages = ClinicWebController(clinic: deps.clinic, triage: deps.triage, settings: deps.settings)
    pages.register(on: router)
    IncidentController(
        accounts: deps.accounts, incidents: deps.incidents, recordings: deps.recordings, pages: pages, checkpoints: deps.checkpoints, auditHealth: deps.auditHealth
    ).register(on: router)
    BreachReportController(incidents: deps.incidents, pages: pages, settings: deps.settings).register(on: router)
    NoticeController(notices: NoticeService(clinic: deps.clinic), pages: pages, settings: deps.settings).register(on: router)
    CallController(accounts: deps.accounts, clinic: deps.clinic, relay: deps.calls, settings: deps.settings, incidents: deps.incidents)
        .register(on: router)
    RecordingController(recordings: deps.recordings, relay: deps.calls, settings: deps.settings).register(on: router)
    TriageController(triage: deps.triage, settings: deps.settings).register(on: router)
    return router
}

/// The JSON routes the router serves, as `METHOD /path` with `{param}` placeholders, for the
/// OpenAPI census test.
public func apiRouteCensus(_ router: Router<ConfideRequestContext>) -> [String] {
    router.routes.compactMap { route in
        let path = "/" + route.path.components.map { component -> String in
            let text = component.description
            return text.hasPrefix(":") ? "{\(text.dropFirst())}" : text
        }.joined(separator: "/")
        return "\(route.method.rawValue) \(path)"
    }.sorted()
}
