public import ConfideAudit
public import ConfideCore
public import ConfidePolicy

/// Non-clinical facts the gate loads before a decision.
public protocol FactsStore: Sendable {
    /// Facts of a patient record (its owner), or `nil` when it does not exist.
    func patientRecordFacts(_ id: Patient.ID) async throws -> ResourceFacts?
    /// Facts of an audit entry (the patient it is about), or `nil` when it does not exist.
    func auditEntryFacts(_ index: UInt64) async throws -> ResourceFacts?
    /// Facts of a staff account, or `nil` when it does not exist or is not a staff account.
    func staffAccountFacts(_ account: Account.ID) async throws -> ResourceFacts?
}

/// Where the gate writes every decision. The tamper-evident audit log implements this in a
/// later issue; until then decisions go to the structured log with identifiers only.
public protocol DecisionRecorder: Sendable {
    func record(_ request: AccessRequest, facts: ResourceFacts, decision: Decision, outcome: GateOutcome, requestID: String) async throws
    /// The entry `record` would append, for a write that appends it in its own transaction.
    func entry(_ request: AccessRequest, facts: ResourceFacts, decision: Decision, outcome: GateOutcome, requestID: String) throws
        -> AuditEntry
    /// Appends entries durably (one batch: one transaction).
    func append(_ entries: [AuditEntry]) async throws
}

/// What the gate concluded, as the audit log records it.
public enum GateOutcome: String, Sendable, Hashable {
    case allowed, denied
    /// The resource did not exist (recorded apart from a denial, answered the same outside).
    case notFound = "not-found"
    /// Allowed, but the stored state refused the write; nothing changed.
    case refused
}

/// The one gate every entry point uses: it loads facts, decides, records the decision, and
/// returns a capability or throws `AccessDenied`.
public struct AccessGate: Sendable {
    let engine: PolicyEngine
    let facts: any FactsStore
    let recorder: any DecisionRecorder

    public init(engine: PolicyEngine = PolicyEngine(), facts: any FactsStore, recorder: any DecisionRecorder) {
        self.engine = engine
        self.facts = facts
        self.recorder = recorder
    }

    /// A grant for one existing patient record.
    /// - Throws: `AccessDenied.notFound` or `.denied`; store errors.
    public func patientRecord(
        _ id: Patient.ID, _ action: Action, by principal: Principal, purpose: String, requestID: String
    ) async throws -> Grant<PatientRecordResource> {
        let request = AccessRequest(principal: principal, action: action, resource: .patientRecord, purpose: purpose)
        return try await grant(request, facts: try await facts.patientRecordFacts(id), id: id.description, requestID: requestID)
    }

    /// A grant to create a new patient record whose identity the server chose.
    public func createPatientRecord(_ id: Patient.ID, by principal: Principal, purpose: String, requestID: String) async throws
        -> Grant<PatientRecordResource>
    {
        let request = AccessRequest(principal: principal, action: .create, resource: .patientRecord, purpose: purpose)
        let facts = ResourceFacts(resourceID: id.description, owningPatient: id, serverAssignedOwner: true)
        return try await grant(request, facts: facts, id: id.description, requestID: requestID)
    }

    /// A grant for one existing staff account.
    public func staffAccount(
        _ account: Account.ID, _ action: Action, by principal: Principal, purpose: String, requestID: String
    ) async throws -> Grant<StaffAccountResource> {
        let request = AccessRequest(principal: principal, action: action, resource: .staffAccount, purpose: purpose)
        return try await grant(request, facts: try await facts.staffAccountFacts(account), id: account.description, requestID: requestID)
    }

    /// A grant to create a new staff account whose identity the server chose.
    public func createStaffAccount(_ account: Account.ID, by principal: Principal, purpose: String, requestID: String) async throws
        -> Grant<StaffAccountResource>
    {
        let request = AccessRequest(principal: principal, action: .create, resource: .staffAccount, purpose: purpose)
        let facts = ResourceFacts(resourceID: account.description, account: account, serverAssignedOwner: true)
        return try await grant(request, facts: facts, id: account.description, requestID: requestID)
    }

    /// A grant to read one audit entry (a patient: an entry about their own data).
    public func auditEntry(_ index: UInt64, by principal: Principal, purpose: String, requestID: String) async throws
        -> Grant<AuditEntryResource>
    {
        let request = AccessRequest(principal: principal, action: .read, resource: .auditEntry, purpose: purpose)
        return try await grant(request, facts: try await facts.auditEntryFacts(index), id: String(index), requestID: requestID)
    }

    /// The list scope of patient records for a principal.
    public func patientRecords(by principal: Principal, purpose: String, requestID: String) async throws -> Scope<PatientRecordResource> {
        try await scope(by: principal, purpose: purpose, requestID: requestID)
    }

    /// The list scope of staff accounts for a principal (operators see all).
    public func staffAccounts(by principal: Principal, purpose: String, requestID: String) async throws -> Scope<StaffAccountResource> {
        try await scope(by: principal, purpose: purpose, requestID: requestID)
    }

    /// The scope of audit entries a principal may list (a patient: the entries about their data).
    public func auditEntries(by principal: Principal, purpose: String, requestID: String) async throws -> Scope<AuditEntryResource> {
        try await scope(by: principal, purpose: purpose, requestID: requestID)
    }

    /// Notes for the egress guard each access-log entry a list shows: before the response leaves
    /// for a patient, each must be about that patient as the log itself records it. The list's
    /// decision is in the log already; the entries shown are not appended one by one, since each
    /// would then appear in the next read of the same log, without end.
    public func noteShown(_ entries: [(LogIndex, AuditEntry)], in scope: Scope<AuditEntryResource>) {
        let request = AccessRequest(principal: scope.principal, action: scope.action, resource: .auditEntry)
        for (index, entry) in entries {
            EgressLedger.note(
                request, facts: ResourceFacts(resourceID: String(index.rawValue), owningPatient: entry.patientID.flatMap { Patient.ID(string: $0) }))
        }
    }

    func grant<R: PolicyResource>(_ request: AccessRequest, facts: ResourceFacts?, id: String, requestID: String) async throws -> Grant<R> {
        guard let facts else {
            let missing = ResourceFacts(resourceID: id)
            try await recorder.record(
                request, facts: missing, decision: .resourceMissing, outcome: .notFound,
                requestID: requestID)
            throw AccessDenied.notFound
        }
        let (decision, grant) = engine.authorize(request, facts: facts, as: R.self)
        try await recorder.record(request, facts: facts, decision: decision, outcome: grant == nil ? .denied : .allowed, requestID: requestID)
        guard let grant else { throw AccessDenied.denied(decision) }
        EgressLedger.note(request, facts: facts)
        return grant
    }
}
