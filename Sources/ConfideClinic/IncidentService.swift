public import ConfideAudit
public import ConfideBreach
public import ConfideCore
import ConfidePolicy
public import ConfideStore
public import Foundation
public import Logging

/// The egress guard in service and the incidents it raises. The guard runs for every response to
/// a patient: each item of patient data the gate released during the request is resolved through
/// the ground-truth chain, and an item that is not the requester's own withholds the response
/// (enforce) or is only reported (observe-only, for drills). Either way the event is audited,
/// kept as an incident for operators, and reported to `alert` (metrics, the log).
public struct IncidentService: Sendable {
    let stores: ConfideStores
    let gate: AccessGate
    let clock: any WallClock
    let logger: Logger
    public let mode: EgressMode
    let alert: @Sendable (IncidentRecord) -> Void
    /// The breach report, when the server has the checkpoint key to verify the log with.
    let reporter: BreachReporter?
    /// Runs of the breach report (each verifies the whole log) one operator may start in an hour.
    public let breachReportsPerHour: Int

    public init(
        stores: ConfideStores, gate: AccessGate, clock: any WallClock, mode: EgressMode, logger: Logger,
        auditKey: (verifier: CheckpointVerifier, origin: String)? = nil, breachReportsPerHour: Int = 20,
        alert: @escaping @Sendable (IncidentRecord) -> Void
    ) {
        self.breachReportsPerHour = breachReportsPerHour
        self.reporter = auditKey.map { BreachReporter(stores: stores, verifier: $0.verifier, origin: $0.origin) }
        self.stores = stores
        self.gate = gate
        self.clock = clock
        self.mode = mode
        self.logger = logger
        self.alert = alert
    }

    /// Whether the response that released `items` may leave for `principal`. Only patients are
    /// screened (the guard's rule is "it must be the requester's own"; staff access is the policy's
    /// and the breach report's to judge).
    /// - Throws: when the ground truth cannot be read or the incident cannot be recorded (the caller
    ///   fails closed).
    public func screen(_ items: [ReleasedItem], for principal: Principal, requestID: String) async throws -> Bool {
        guard case .patient(_, let patient) = principal, !items.isEmpty else { return true }
        let violations = try await EgressGuard(evidence: stores.breach).violations(of: items, for: patient.description)
        guard !violations.isEmpty else { return true }
        let enforced = mode == .enforce
        let at = clock.now()
        let incidents = violations.map { v in
            IncidentRecord(
                id: UUID().uuidString.lowercased(), kind: enforced ? .egressWithheld : .egressObserved, detectedAt: at,
                actor: principal.description, patient: v.owner, recordedPatient: v.item.recordedPatient, resourceType: v.item.resourceType,
                resourceID: v.item.resourceID, action: v.item.action, requestID: requestID)
        }
        try await stores.incidents.raise(
            incidents, audit: try gate.egressEntries(violations, principal: principal, enforced: enforced, requestID: requestID))
        for incident in incidents {
            logger.critical(
                "egress guard: a response carried another patient's data",
                metadata: [
                    "incident": "\(incident.id)", "kind": "\(incident.kind.rawValue)", "resource": "\(incident.resourceType)",
                    "request": "\(requestID)",
                ])
            alert(incident)
        }
        return !enforced
    }

    // MARK: operators

    /// The incidents, newest first (operators; the list decision is audited).
    public func incidents(status: IncidentRecord.Status?, before: Date?, limit: Int, _ r: ClinicRequest) async throws -> [IncidentRecord] {
        // Like every operator route, the list is not there at all for anyone else.
        let scope = try await gate.visibleScope(.list, by: r.principal, purpose: "incidents", requestID: r.requestID, as: IncidentResource.self)
        return try await stores.incidents.incidents(scope, status: status, before: before?.epochMilliseconds, limit: min(max(limit, 1), 500))
    }

    /// One incident (operators; audited).
    public func incident(_ id: String, _ r: ClinicRequest) async throws -> IncidentRecord {
        let exists = try await stores.incidents.incidentExists(id)
        let grant: Grant<IncidentResource> = try await gate.authorize(
            .read, id, facts: exists ? ResourceFacts(resourceID: id) : nil, by: r.principal, purpose: "incidents", requestID: r.requestID)
        guard let found = try await stores.incidents.incident(grant) else { throw ClinicError(.notFound, "no such incident") }
        return found
    }

    /// Acknowledges an open incident (operators; audited with the change).
    public func acknowledge(_ id: String, _ r: ClinicRequest) async throws {
        let write = try await gate.authorizeWrite(
            .update, id, facts: ResourceFacts(resourceID: id), by: r.principal, purpose: "incidents", requestID: r.requestID,
            as: IncidentResource.self)
        guard try await stores.incidents.acknowledge(write, by: r.principal.description, at: clock.now()) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.notFound, "no such open incident")
        }
    }

    /// What is behind an incident's actor, for suspending it.
    public enum SuspendOutcome: Sendable, Equatable {
        /// The patient account was suspended (or already was: nothing changed).
        case patientSuspended(changed: Bool)
        /// A staff account: the caller deactivates it through the staff administration.
        case staff(Account.ID)
        /// Not an account (a system job, an anonymous caller).
        case notAnAccount
    }

    /// Suspends the account behind an incident (a patient whose response carried another patient's
    /// data, or who touched a canary): it can no longer sign in, and its sessions end at once.
    /// Operators only: the decision is an update of the incident (`operator.incidents.v1`, purpose
    /// `suspend-actor`), appended in the same transaction as the change; anyone else gets "not found".
    /// A staff actor is handed back for the staff administration to deactivate.
    public func suspendActor(_ id: String, _ r: ClinicRequest) async throws -> SuspendOutcome {
        let found = try await incident(id, r)
        let parts = found.actor.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let account = Account.ID(string: parts[1]) else { return .notAnAccount }
        switch parts[0] {
        case "clinician", "practice-admin", "admin": return .staff(account)
        case "patient": break
        default: return .notAnAccount
        }
        let write = try await gate.authorizeWrite(
            .update, id, facts: ResourceFacts(resourceID: id), by: r.principal, purpose: "suspend-actor", requestID: r.requestID,
            as: IncidentResource.self)
        let changed = try await stores.incidents.suspendPatientAccount(write, account: account.description, at: clock.now())
        if changed {
            logger.warning("a patient account behind an incident was suspended", metadata: ["incident": "\(id)"])
        } else {
            try await gate.recordRefusal(write)
        }
        return .patientSuspended(changed: changed)
    }

    /// The operators' audit search, newest first (identifiers and metadata; entries never hold
    /// clinical text). The search is audited and so is each entry it shows. Anyone else: not found.
    public func searchAudit(_ filter: AuditSearchFilter, before: UInt64?, limit: Int, _ r: ClinicRequest) async throws
        -> (entries: [(LogIndex, AuditEntry)], next: UInt64?)
    {
        let scope: Scope<AuditEntryResource> = try await gate.visibleScope(.search, by: r.principal, purpose: "audit-search", requestID: r.requestID)
        let found = try await stores.audit.searchEntries(scope, filter: filter, before: before, limit: limit, scanLimit: 20_000)
        try await gate.recordPresented(
            scope, items: found.entries.map { (String($0.0.rawValue), $0.1.patientID.flatMap { Patient.ID(string: $0) }) }, purpose: "audit-search",
            requestID: r.requestID)
        return (found.entries, found.scannedTo)
    }

    /// Marks a patient record as a canary: a synthetic record nobody has a reason to touch, so any
    /// access to it is an incident at once. The system path only (`confide canary create`, the demo).
    public func markCanary(_ patient: Patient.ID, _ r: ClinicRequest) async throws {
        guard case .system = r.principal else { throw AccessDenied.notFound }
        try await stores.incidents.addCanary(patient.description, at: clock.now())
    }
}
