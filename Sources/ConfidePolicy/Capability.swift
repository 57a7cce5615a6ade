public import ConfideCore

/// A marker for a resource type that store ports accept capabilities for.
public protocol PolicyResource: Sendable {
    /// The kind the engine decides about.
    static var kind: ResourceKind { get }
}

/// A patient's record: demographics now, clinical data in later issues.
public enum PatientRecordResource: PolicyResource {
    public static let kind = ResourceKind.patientRecord
}

/// An entry of the audit log about a patient's data ("who has seen my data").
public enum AuditEntryResource: PolicyResource {
    public static let kind = ResourceKind.auditEntry
}

/// A staff account (clinician or admin).
public enum StaffAccountResource: PolicyResource {
    public static let kind = ResourceKind.staffAccount
}

/// Permission to perform one action on one resource, minted only by the policy engine after an
/// allow decision. Store ports that touch patient data take a `Grant`, never a bare identifier.
public struct Grant<Resource: PolicyResource>: Sendable {
    /// The stored identifier of the resource.
    public let resourceID: String
    /// The patient the resource belongs to, when it belongs to one.
    public let patient: Patient.ID?
    /// The permitted action.
    public let action: Action
    /// Who acts.
    public let principal: Principal
    /// The rules that allowed it.
    public let reasons: [RuleID]

    // INVARIANT: internal, so that only ConfidePolicy can mint a Grant.
    init(resourceID: String, patient: Patient.ID?, action: Action, principal: Principal, reasons: [RuleID]) {
        self.resourceID = resourceID
        self.patient = patient
        self.action = action
        self.principal = principal
        self.reasons = reasons
    }
}

/// Permission to list resources of one kind, as a predicate the adapters compile into SQL.
public struct Scope<Resource: PolicyResource>: Sendable {
    /// The rows a scope admits.
    public enum Filter: Sendable, Hashable {
        /// No rows at all.
        case nothing
        /// Rows owned by this patient.
        case ownedBy(Patient.ID)
        /// Every row (operators listing staff accounts).
        case everything
    }

    public let filter: Filter
    public let principal: Principal
    public let action: Action

    // INVARIANT: internal, so that only ConfidePolicy can mint a Scope.
    init(filter: Filter, principal: Principal, action: Action) {
        self.filter = filter
        self.principal = principal
        self.action = action
    }
}

extension PolicyEngine {
    /// Decides and, on allow, mints a grant for one resource.
    /// - Parameters:
    ///   - request: the request; its `resource` must be `Resource.kind`.
    ///   - facts: the resource's facts; `resourceID` must be set.
    /// - Returns: the decision and, when allowed, the grant.
    public func authorize<Resource: PolicyResource>(
        _ request: AccessRequest, facts: ResourceFacts, as _: Resource.Type = Resource.self
    ) -> (Decision, Grant<Resource>?) {
        guard request.resource == Resource.kind, let id = facts.resourceID else {
            let decision = Decision(
                effect: .deny, reasons: [],
                errors: [EvaluationError(rule: "engine", message: "resource kind or identifier missing")])
            return (decision, nil)
        }
        let decision = decide(request, facts)
        guard decision.isAllowed else { return (decision, nil) }
        let grant = Grant<Resource>(
            resourceID: id, patient: facts.owningPatient, action: request.action, principal: request.principal,
            reasons: decision.reasons)
        return (decision, grant)
    }

    /// Mints the list scope for a principal: the rows for which `decide` would allow `action`.
    ///
    /// INVARIANT: for every row, `scope.admits(row)` equals `decide(request, facts(row)).isAllowed`;
    /// a property test checks this against the SQL adapters.
    public func scope<Resource: PolicyResource>(
        _ request: AccessRequest, as _: Resource.Type = Resource.self
    ) -> (Decision, Scope<Resource>) {
        let filter: Scope<Resource>.Filter
        switch (Resource.kind, request.principal) {
        case (.patientRecord, .patient(_, let patient)):
            let d = decide(request, ResourceFacts(owningPatient: patient))
            filter = d.isAllowed ? .ownedBy(patient) : .nothing
            return (d, Scope(filter: filter, principal: request.principal, action: request.action))
        case (.auditEntry, .patient(_, let patient)):
            let d = decide(request, ResourceFacts(owningPatient: patient))
            filter = d.isAllowed ? .ownedBy(patient) : .nothing
            return (d, Scope(filter: filter, principal: request.principal, action: request.action))
        case (.staffAccount, .admin), (.staffAccount, .system):
            // Operators list every staff account; the decision is taken for an arbitrary account.
            let d = decide(request, ResourceFacts(account: Account.ID()))
            filter = d.isAllowed ? .everything : .nothing
            return (d, Scope(filter: filter, principal: request.principal, action: request.action))
        default:
            let d = Decision(effect: .deny, reasons: [], errors: [])
            return (d, Scope(filter: .nothing, principal: request.principal, action: request.action))
        }
    }
}

extension Scope.Filter {
    /// Whether a row with this owner is in the scope (the reference the SQL must agree with).
    public func admits(owner: Patient.ID?) -> Bool {
        switch self {
        case .nothing: false
        case .everything: true
        case .ownedBy(let p): owner == p
        }
    }
}
