public import ConfideAudit
public import ConfideBreach
public import ConfideCore
public import ConfidePolicy

/// The gate for the clinic's resources. Reads record their decision before they return; allowed
/// writes come back as an `AuditedWrite` whose entry the store commits with the change.
extension AccessGate {
    /// A grant for an existing resource whose facts the caller loaded from a facts port.
    /// - Throws: `AccessDenied.notFound` when `facts` is `nil`, `.denied` otherwise.
    public func authorize<R: PolicyResource>(
        _ action: Action, _ id: String, facts: ResourceFacts?, by principal: Principal, purpose: String, requestID: String,
        breakGlassReason: String? = nil, as _: R.Type = R.self
    ) async throws -> Grant<R> {
        let request = AccessRequest(principal: principal, action: action, resource: R.kind, purpose: purpose, breakGlassReason: breakGlassReason)
        return try await grant(request, facts: facts, id: id, requestID: requestID)
    }

    /// An allowed write, not yet recorded: the store appends its entry in the write's transaction.
    /// A denial is recorded at once and thrown.
    public func authorizeWrite<R: PolicyResource>(
        _ action: Action, _ id: String, facts: ResourceFacts?, by principal: Principal, purpose: String, requestID: String,
        as _: R.Type = R.self
    ) async throws -> AuditedWrite<R> {
        let request = AccessRequest(principal: principal, action: action, resource: R.kind, purpose: purpose)
        guard let facts else {
            try await recorder.record(request, facts: ResourceFacts(resourceID: id), decision: .resourceMissing, outcome: .notFound, requestID: requestID)
            throw AccessDenied.notFound
        }
        let (decision, grant) = engine.authorize(request, facts: facts, as: R.self)
        guard let grant else {
            try await recorder.record(request, facts: facts, decision: decision, outcome: .denied, requestID: requestID)
            throw AccessDenied.denied(decision)
        }
        let entry = try recorder.entry(request, facts: facts, decision: decision, outcome: .allowed, requestID: requestID)
        EgressLedger.note(request, facts: facts)
        return AuditedWrite(grant: grant, entry: entry)
    }

    /// A write decided twice: against the stored state (may the principal change this object as it
    /// is?) and against the proposed state (may the principal hold the object as it will be, e.g. a
    /// session once linked to a consultation takes that consultation's relations). Both must allow.
    /// The proposed facts come from the server's own records of the target, never from the client;
    /// `nil` (the target is not there) is not found. A denial on either side is recorded with that
    /// side's facts, so an attempt to move data towards another patient names that patient; an
    /// allowed write's one entry carries the rules of both decisions.
    public func authorizeWrite<R: PolicyResource>(
        _ action: Action, _ id: String, stored: ResourceFacts?, proposed: ResourceFacts?, by principal: Principal, purpose: String,
        requestID: String, as _: R.Type = R.self
    ) async throws -> AuditedWrite<R> {
        let first: AuditedWrite<R> = try await authorizeWrite(action, id, facts: stored, by: principal, purpose: purpose, requestID: requestID)
        let request = AccessRequest(principal: principal, action: action, resource: R.kind, purpose: purpose)
        guard var proposed else {
            // The object exists (the first decision allowed it); what it would be joined to does not.
            try await recorder.record(
                request, facts: ResourceFacts(resourceID: id, owningPatient: stored?.owningPatient), decision: .control("gate.proposed-target-missing.v1", allow: false),
                outcome: .notFound, requestID: requestID)
            throw AccessDenied.notFound
        }
        proposed.resourceID = id
        let (decision, grant) = engine.authorize(request, facts: proposed, as: R.self)
        guard grant != nil else {
            try await recorder.record(request, facts: proposed, decision: decision, outcome: .denied, requestID: requestID)
            throw AccessDenied.denied(decision)
        }
        EgressLedger.note(request, facts: proposed)
        let rules = first.entry.ruleIDs + decision.reasons.map(\.value).filter { !first.entry.ruleIDs.contains($0) }
        return AuditedWrite(grant: first.grant, entry: try first.entry.with(ruleIDs: rules))
    }

    /// Records that an allowed write was refused by the stored state (nothing changed).
    public func recordRefusal<R: PolicyResource>(_ write: AuditedWrite<R>) async throws {
        try await recorder.append([try write.entry.with(decision: .refused)])
    }

    /// The list scope of a resource kind for a principal (the list decision is recorded).
    public func scope<R: PolicyResource>(
        _ action: Action = .list, by principal: Principal, purpose: String, requestID: String, as _: R.Type = R.self
    ) async throws -> Scope<R> {
        let request = AccessRequest(principal: principal, action: action, resource: R.kind, purpose: purpose)
        let (decision, scope) = engine.scope(request, as: R.self)
        try await recorder.record(
            request, facts: ResourceFacts(), decision: decision, outcome: decision.isAllowed ? .allowed : .denied, requestID: requestID)
        return scope
    }

    /// A list scope for a list that is not there at all for principals no rule lets list it (the
    /// operators' lists): a scope that admits nothing is "not found", as a denial is. The decision is
    /// recorded either way.
    /// - Throws: `AccessDenied.notFound` when the scope admits nothing.
    public func visibleScope<R: PolicyResource>(
        _ action: Action = .list, by principal: Principal, purpose: String, requestID: String, as _: R.Type = R.self
    ) async throws -> Scope<R> {
        let scope: Scope<R> = try await self.scope(action, by: principal, purpose: purpose, requestID: requestID)
        guard scope.predicate != .constant(false) else { throw AccessDenied.notFound }
        return scope
    }

    /// Records each item a list presented: one entry per item, appended in one batch before the
    /// response leaves (a list shows patient data as surely as opening it does).
    public func recordPresented<R: PolicyResource>(_ scope: Scope<R>, items: [(id: String, patient: Patient.ID?)], purpose: String, requestID: String)
        async throws
    {
        guard !items.isEmpty else { return }
        let request = AccessRequest(principal: scope.principal, action: scope.action, resource: R.kind, purpose: purpose)
        var entries: [AuditEntry] = []
        entries.reserveCapacity(items.count)
        for item in items {
            let facts = ResourceFacts(resourceID: item.id, owningPatient: item.patient)
            EgressLedger.note(request, facts: facts)
            entries.append(
                try recorder.entry(request, facts: facts, decision: scope.presentationDecision, outcome: .allowed, requestID: requestID))
        }
        try await recorder.append(entries)
    }

    /// The audit entries of an egress-guard event, one per item: the patient is the item's real
    /// owner (the ground truth); enforced, the entry is a denial (the response was withheld),
    /// observe-only an allowance (it went out).
    public func egressEntries(_ violations: [EgressViolation], principal: Principal, enforced: Bool, requestID: String) throws -> [AuditEntry] {
        let decision = Decision.control(enforced ? "egress-guard.withheld.v1" : "egress-guard.observed.v1", allow: !enforced)
        return try violations.map { v in
            let request = AccessRequest(
                principal: principal, action: Action(rawValue: v.item.action) ?? .read,
                resource: ResourceKind(rawValue: v.item.resourceType) ?? .patientRecord, purpose: "egress-guard")
            let facts = ResourceFacts(resourceID: v.item.resourceID, owningPatient: v.owner.flatMap { Patient.ID(string: $0) })
            return try recorder.entry(request, facts: facts, decision: decision, outcome: enforced ? .denied : .allowed, requestID: requestID)
        }
    }
}
