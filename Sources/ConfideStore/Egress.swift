public import ConfideAudit
public import ConfideBreach
import ConfideCore
public import ConfidePolicy
public import Foundation
import Synchronization

/// What one request released: every item of patient data the gate allowed while the request ran.
/// The HTTP layer binds one ledger per request (a task local); the gate notes each allowed item in
/// it, and the egress guard checks them all before the response leaves.
public final class EgressLedger: Sendable {
    @TaskLocal public static var current: EgressLedger?

    let state = Mutex<(items: [ReleasedItem], seen: Set<ReleasedItem>)>(([], []))

    public init() {}

    /// Every item released so far, in the order the gate released them (each once).
    public var items: [ReleasedItem] { state.withLock { $0.items } }

    static func note(_ request: AccessRequest, facts: ResourceFacts) {
        guard let ledger = current, let id = facts.resourceID else { return }
        let item = ReleasedItem(
            resourceType: request.resource.rawValue, resourceID: id, action: request.action.rawValue,
            recordedPatient: facts.owningPatient?.description)
        ledger.state.withLock { s in
            if s.seen.insert(item).inserted { s.items.append(item) }
        }
    }
}

/// Something the detection raised for operators to look at: ids and metadata only, never
/// clinical content.
public struct IncidentRecord: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The egress guard withheld a response that carried another patient's data.
        case egressWithheld = "egress-withheld"
        /// The egress guard (observe-only) let such a response go.
        case egressObserved = "egress-observed"
        /// Someone accessed a canary patient (a synthetic record nobody has a reason to touch).
        case canaryAccess = "canary-access"
        /// A principal opened or played the records of more distinct patients in an hour than their role's limit.
        case spree
    }

    public enum Status: String, Sendable, CaseIterable {
        case open, acknowledged
    }

    public var id: String
    public var kind: Kind
    public var detectedAt: Date
    /// The principal whose response it was (`patient:<account>`).
    public var actor: String
    /// Whose data it really is (the ground truth), when it resolves to a patient.
    public var patient: String?
    /// The patient the object's own owner field names.
    public var recordedPatient: String?
    public var resourceType: String
    public var resourceID: String
    public var action: String
    public var requestID: String
    public var status: Status
    public var acknowledgedBy: String?
    public var acknowledgedAt: Date?

    public init(
        id: String, kind: Kind, detectedAt: Date, actor: String, patient: String?, recordedPatient: String?, resourceType: String,
        resourceID: String, action: String, requestID: String, status: Status = .open, acknowledgedBy: String? = nil,
        acknowledgedAt: Date? = nil
    ) {
        self.id = id
        self.kind = kind
        self.detectedAt = detectedAt
        self.actor = actor
        self.patient = patient
        self.recordedPatient = recordedPatient
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.action = action
        self.requestID = requestID
        self.status = status
        self.acknowledgedBy = acknowledgedBy
        self.acknowledgedAt = acknowledgedAt
    }
}

/// Where incidents are kept.
public protocol IncidentStore: Sendable {
    /// Records incidents with the audit entries that go with them, in one transaction (the
    /// detection's own path: it runs for every principal and is not a read of patient data).
    func raise(_ incidents: [IncidentRecord], audit entries: [AuditEntry]) async throws
    /// The incidents the scope admits, newest first, detected before `before` (ms) when given.
    func incidents(_ scope: Scope<IncidentResource>, status: IncidentRecord.Status?, before: Int64?, limit: Int) async throws
        -> [IncidentRecord]
    /// The canary patients (synthetic records watched for any access).
    func canaryPatients() async throws -> Set<String>
    /// Marks a patient record as a canary (the system path: `confide canary add`).
    func addCanary(_ patient: String, at: Date) async throws
        /// Whether an incident with this id exists (the gate's facts for one).
    func incidentExists(_ id: String) async throws -> Bool
    /// One incident.
    func incident(_ grant: Grant<IncidentResource>) async throws -> IncidentRecord?
        /// Acknowledges an open incident; `false` when it does not exist or is not open.
    func acknowledge(_ write: AuditedWrite<IncidentResource>, by: String, at: Date) async throws -> Bool
    /// Suspends the patient account behind an incident: in one transaction, the account is
    /// deactivated, its sessions revoked and the decision appended. `false` (nothing changed, no
    /// entry) when no active patient account has that id.
    func suspendPatientAccount(_ write: AuditedWrite<IncidentResource>, account: String, at: Date) async throws -> Bool
}
