public import ConfideAudit
public import ConfideBreach
public import ConfideCore
public import ConfidePolicy
public import Foundation
import Synchronization

/// Continuous detection on the gate's path (issue 8, item 3): every decision the gate records is
/// appended by the wrapped recorder first (durably; if that fails, the request fails closed), then
/// watched. An allowed access to a canary patient raises an incident at once; a principal who
/// opens or plays the records of more distinct patients within the window than their role's
/// limit raises one per window (lists do not count). Each instance watches its own traffic; the
/// `breach scan` command applies the same rule to the whole log.
public final class DetectingRecorder: DecisionRecorder {
    let inner: any DecisionRecorder
    let incidents: any IncidentStore
    let clock: any WallClock
    let alert: @Sendable (IncidentRecord) -> Void
    let detector: Mutex<SpreeDetector>
    /// The canary patients, reloaded at most every `canaryRefresh` seconds.
    let canaries = Mutex<(set: Set<String>, loaded: Date?)>(([], nil))
    let canaryRefresh: TimeInterval

    public init(
        inner: any DecisionRecorder, incidents: any IncidentStore, clock: any WallClock, rule: SpreeRule = .defaults, canaryRefresh: TimeInterval = 10,
        alert: @escaping @Sendable (IncidentRecord) -> Void
    ) {
        self.inner = inner
        self.incidents = incidents
        self.clock = clock
        self.alert = alert
        self.detector = Mutex(SpreeDetector(rule: rule))
        self.canaryRefresh = canaryRefresh
    }

    public func record(_ request: AccessRequest, facts: ResourceFacts, decision: Decision, outcome: GateOutcome, requestID: String) async throws {
        try await inner.record(request, facts: facts, decision: decision, outcome: outcome, requestID: requestID)
        if outcome == .allowed { try await watch([try inner.entry(request, facts: facts, decision: decision, outcome: outcome, requestID: requestID)]) }
    }

    public func entry(_ request: AccessRequest, facts: ResourceFacts, decision: Decision, outcome: GateOutcome, requestID: String) throws -> AuditEntry {
        try inner.entry(request, facts: facts, decision: decision, outcome: outcome, requestID: requestID)
    }

    public func append(_ entries: [AuditEntry]) async throws {
        try await inner.append(entries)
        try await watch(entries)
    }

    func canarySet() async throws -> Set<String> {
        let now = clock.now()
        if let cached = canaries.withLock({ c in c.loaded.map { now.timeIntervalSince($0) < canaryRefresh } == true ? c.set : nil }) {
            return cached
        }
        let fresh = try await incidents.canaryPatients()
        canaries.withLock { $0 = (fresh, now) }
        return fresh
    }

    func watch(_ entries: [AuditEntry]) async throws {
        let watched = entries.filter { $0.decision == .allowed && $0.patientID != nil }
        guard !watched.isEmpty else { return }
        let canary = CanaryWatch(canaries: try await canarySet())
        var raised: [IncidentRecord] = []
        let now = clock.now()
        func incident(_ kind: IncidentRecord.Kind, _ e: AuditEntry) -> IncidentRecord {
            IncidentRecord(
                id: UUID().uuidString.lowercased(), kind: kind, detectedAt: now, actor: e.actor, patient: e.patientID, recordedPatient: e.patientID,
                resourceType: e.resourceType, resourceID: e.resourceID, action: e.action, requestID: e.requestID)
        }
        for e in watched {
            // An audit entry about a canary (an operator's search) is not an access to the canary's data.
            if canary.touches(e), e.resourceType != "audit-entry" { raised.append(incident(.canaryAccess, e)) }
            if detector.withLock({ $0.add(e, index: 0) }) != nil { raised.append(incident(.spree, e)) }
        }
        guard !raised.isEmpty else { return }
        try await incidents.raise(raised, audit: [])
        for i in raised { alert(i) }
    }
}
