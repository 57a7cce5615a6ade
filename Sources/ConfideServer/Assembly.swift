public import ConfideAccounts
public import ConfideClinic
public import ConfideStore
import ConfideCore
import ConfideAudit
import ConfidePolicy
public import ConfideHTTP
public import Logging
import Prometheus
import ConfideTriage
import ConfideBreach
import Foundation

/// Wires the parts together: stores, the gate, the account service and the HTTP dependencies.
public struct ConfideAssembly: Sendable {
    public let stores: ConfideStores
    public let accounts: AccountService
    public let clinic: ClinicService
    public let events: any EventChannel
    public let http: ConfideHTTPDependencies
    /// Recordings; `nil` when no vault keys are configured (outside demo mode).
    public let recordings: RecordingService?
    /// The symptom checker over the bundled knowledge base (validated here: a bad file stops the server).
    public let triage: TriageService

    /// The checkpoint signing key; `nil` for commands that do not publish checkpoints.
    public let auditKey: AuditSigningKey?
    /// The egress guard, incidents, canaries and the operators' audit search.
    public let incidents: IncidentService
        /// The background verification of the audit log (`nil` without a signing key).
    public let auditHealth: AuditHealthMonitor?
    /// Emails operators about incidents (`--incident-email`; none configured: nothing is sent).
    public let incidentMailer: IncidentMailer

    public init(
        configuration: ServerConfiguration, stores: ConfideStores, events: any EventChannel, calls: any CallRelay = LocalCallRelay(),
        logger: Logger, withAuditKey: Bool = true
    ) throws {
        let auditKey = withAuditKey ? try configuration.auditSigningKey() : nil
        self.auditKey = auditKey
        self.stores = stores
        let metrics = PrometheusCollectorRegistry()
        let mailer = IncidentMailer(recipients: configuration.incidentEmails, publicURL: configuration.publicURL, logger: logger)
        self.incidentMailer = mailer
        let raised: @Sendable (IncidentRecord) -> Void = { incident in
            mailer.notify(incident)
            logger.critical("incident raised", metadata: ["incident": "\(incident.id)", "kind": "\(incident.kind.rawValue)", "request": "\(incident.requestID)"])
            metrics.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "confide", metricName: "incidents", unitName: "total",
                    helpText: "Incidents raised by detection: egress guard, canary accesses, sprees"),
                labels: [("kind", incident.kind.rawValue), ("resource", incident.resourceType)]
            ).increment()
        }
        // Every decision is appended, then watched for canary accesses and sprees.
        let recorder = DetectingRecorder(
            inner: AuditLogRecorder(store: stores.audit, clock: SystemWallClock()), incidents: stores.incidents, clock: SystemWallClock(),
            canaryRefresh: TimeInterval(ProcessInfo.processInfo.environment["CONFIDE_CANARY_REFRESH_SECONDS"] ?? "") ?? 10, alert: raised)
        let gate = AccessGate(engine: PolicyEngine(), facts: stores.facts, recorder: recorder)
        self.accounts = AccountService(
            stores: stores, gate: gate, configuration: configuration.accounts, masterKey: try configuration.masterKey(), logger: logger)
        let accounts = self.accounts
        mailer.bind { to, subject, body in try await accounts.enqueueOperatorEmail(to: to, subject: subject, body: body) }
        self.events = events
        var clinicConfiguration = ClinicConfiguration()
        clinicConfiguration.calls = configuration.calls
        self.clinic = ClinicService(
            stores: stores, gate: gate, clock: SystemWallClock(), events: events, configuration: clinicConfiguration, logger: logger,
            seal: { account, subject, body in try await accounts.sealedNotice(to: account, subject: subject, body: body) })
        let system = stores.system
        let clinic = self.clinic
        let recordings = try configuration.vault().map { vault in
            RecordingService(
                clinic: clinic, vault: vault, remuxer: configuration.remuxer(), configuration: configuration.recordings,
                alert: { alert in
                    logger.critical("recording invariant alert", metadata: ["recording": "\(alert.recording)", "check": "\(alert.what)"])
                    metrics.makeCounter(
                        descriptor: MetricNameDescriptor(
                            namespace: "confide", metricName: "recording_alerts", unitName: "total",
                            helpText: "Recording invariant checks that failed closed"),
                        labels: [("check", alert.what)]
                    ).increment()
                })
        }
        self.recordings = recordings
        let knowledge: KnowledgeBase
        do { knowledge = try KnowledgeBase.bundled() } catch let error as KnowledgeBaseError { throw ConfigurationError(error.description) }
        let engine = TriageEngine(knowledge: knowledge)
        engine.warmUp()
        let triage = TriageService(stores: stores, gate: gate, clock: SystemWallClock(), engine: engine)
        self.triage = triage
        if configuration.egress == .observe {
            logger.warning("the egress guard is observe-only: responses carrying another patient's data go out (drills only)")
        }
        let incidents = IncidentService(stores: stores, gate: gate, clock: SystemWallClock(), mode: configuration.egress, logger: logger,
            auditKey: auditKey.map { ($0.signer.verifier, $0.origin) }, alert: raised)
        self.incidents = incidents
        let health = auditKey.map { key in
            AuditHealthMonitor(audit: stores.audit, key: key, logger: logger) { valid in
                metrics.makeGauge(
                    descriptor: MetricNameDescriptor(
                        namespace: "confide", metricName: "audit_log_verified", unitName: "", helpText: "1 when the latest verification of the audit log found nothing")
                ).set(to: valid ? 1.0 : 0.0)
            }
        }
        self.auditHealth = health
        self.http = ConfideHTTPDependencies(
            accounts: accounts, clinic: clinic, incidents: incidents, events: events, settings: HTTPSettings(
                maxBodyBytes: configuration.maxBodyBytes, secure: configuration.tls != nil || configuration.publicURL.hasPrefix("https://"),
                trustedProxies: configuration.trustedProxies),
            readiness: { try await system.ping() },
            checkpoints: { [audit = stores.audit] in
                CheckpointFeed(
                    origin: auditKey?.origin ?? "", verifierKey: auditKey?.signer.verifierKey ?? "",
                    notes: try await audit.checkpointNotes().map { String(decoding: $0, as: UTF8.self) })
            },
            consistency: { [audit = stores.audit] from, to in try await audit.consistencyProof(from: from, to: to) }, metrics: metrics,
            calls: calls, recordings: recordings, triage: triage, auditHealth: { await health?.current() })
    }
}
