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

/// A practice (not patient data).
public enum PracticeResource: PolicyResource {
    public static let kind = ResourceKind.practice
}

/// A clinician's availability and its slots (not patient data).
public enum AvailabilityResource: PolicyResource {
    public static let kind = ResourceKind.availability
}

/// A consultation: the appointment, its status and who takes part.
public enum ConsultationResource: PolicyResource {
    public static let kind = ResourceKind.consultation
}

/// A consultation note (clinical content).
public enum NoteResource: PolicyResource {
    public static let kind = ResourceKind.note
}

/// A prescription issued in a consultation (clinical content).
public enum PrescriptionResource: PolicyResource {
    public static let kind = ResourceKind.prescription
}

/// A referral, fit note or letter issued in a consultation (clinical content).
public enum DocumentResource: PolicyResource {
    public static let kind = ResourceKind.document
}

/// A patient's consent for a care team.
public enum CareConsentResource: PolicyResource {
    public static let kind = ResourceKind.careConsent
}

/// A recording of a consultation's call: metadata, segments and (sealed) media.
public enum RecordingResource: PolicyResource {
    public static let kind = ResourceKind.recording
}

/// A patient's consent (or refusal) to the recording of a consultation.
public enum RecordingConsentResource: PolicyResource {
    public static let kind = ResourceKind.recordingConsent
}

/// A symptom-checker conversation: the patient's complaint, answers and the engine's result.
public enum TriageSessionResource: PolicyResource {
    public static let kind = ResourceKind.triageSession
}

/// A chat line sent during a consultation's call (clinical content: it belongs to the
/// consultation's patient, and its relations are the consultation's).
public enum MessageResource: PolicyResource {
    public static let kind = ResourceKind.message
}

/// The platform-wide playback kill switch.
public enum PlaybackSwitchResource: PolicyResource {
    public static let kind = ResourceKind.playbackSwitch
}

/// An incident the detection raised.
public enum IncidentResource: PolicyResource {
    public static let kind = ResourceKind.incident
}

/// A breach notice (a patient's letter or the regulator summary).
public enum BreachNoticeResource: PolicyResource {
    public static let kind = ResourceKind.breachNotice
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

/// Permission to list resources of one kind, as a row predicate the adapters compile into SQL.
public struct Scope<Resource: PolicyResource>: Sendable {
    /// The rows the scope admits: exactly those for which `decide` allows the scope's action.
    public let predicate: RowPredicate
    public let principal: Principal
    public let action: Action
    /// The permit rules that can admit rows (recorded with each item a list presents).
    public let reasons: [RuleID]

    // INVARIANT: internal, so that only ConfidePolicy can mint a Scope.
    init(predicate: RowPredicate, principal: Principal, action: Action, reasons: [RuleID] = []) {
        self.predicate = predicate
        self.principal = principal
        self.action = action
        self.reasons = reasons
    }

    /// The decision recorded for each item a list presents.
    public var presentationDecision: Decision { Decision(effect: .allow, reasons: reasons, errors: []) }
}

/// A predicate over stored rows, compiled from the rules by `PolicyEngine.scope` and into SQL by
/// the adapters. Each leaf names a fact column of the row (or a relation through another table).
public indirect enum RowPredicate: Sendable, Hashable {
    case constant(Bool)
    /// The row belongs to this patient.
    case patientIs(Patient.ID)
    /// The row is this account (staff accounts) or is owned by it (availability).
    case accountIs(Account.ID)
    /// The row's consultation is assigned to this clinician.
    case clinicianIs(Account.ID)
    /// The row's patient has an active consent for a care team this account is in.
    case patientConsentedToTeamOf(Account.ID)
    /// The row's practice has this account as an admin.
    case practiceAdministeredBy(Account.ID)
    /// The row's practice has this account as a clinician.
    case practiceStaffedBy(Account.ID)
    /// The row's consultation has an accepted call invitation for this account.
    case callGuestIs(Account.ID)
    /// The row is signed.
    case signed
    /// The playback kill switch is engaged (a platform-wide fact; adapters with no column for it admit nothing).
    case playbackSuspended
    case and([RowPredicate])
    case or([RowPredicate])
    case not(RowPredicate)

    /// Evaluates the predicate against one row's facts with SQL's three-valued logic (a missing
    /// fact is NULL); a row is admitted only when the result is `true`.
    public func evaluate(_ f: ResourceFacts) -> Bool? {
        switch self {
        case .constant(let b): return b
        case .patientIs(let p): return f.owningPatient.map { $0 == p }
        case .accountIs(let a): return f.account.map { $0 == a }
        case .clinicianIs(let a): return f.assignedClinician.map { $0 == a }
        case .patientConsentedToTeamOf: return f.careTeamConsent
        case .practiceAdministeredBy: return f.practiceAdmin
        case .practiceStaffedBy: return f.practiceMember
        case .callGuestIs: return f.callGuest
        case .playbackSuspended: return f.playbackSuspended
        case .signed: return f.signed
        case .and(let ps):
            var unknown = false
            for p in ps {
                switch p.evaluate(f) {
                case .some(false): return false
                case .none: unknown = true
                case .some(true): continue
                }
            }
            return unknown ? nil : true
        case .or(let ps):
            var unknown = false
            for p in ps {
                switch p.evaluate(f) {
                case .some(true): return true
                case .none: unknown = true
                case .some(false): continue
                }
            }
            return unknown ? nil : false
        case .not(let p): return p.evaluate(f).map { !$0 }
        }
    }

    /// Whether a row with these facts is in the scope.
    public func admits(_ facts: ResourceFacts) -> Bool { evaluate(facts) == true }

    /// Folds constants away (`and` with `false` is `false`, ...).
    public var simplified: RowPredicate {
        switch self {
        case .and(let ps):
            var kept: [RowPredicate] = []
            for p in ps.map(\.simplified) {
                if p == .constant(false) { return .constant(false) }
                if p != .constant(true) { kept.append(p) }
            }
            return kept.isEmpty ? .constant(true) : kept.count == 1 ? kept[0] : .and(kept)
        case .or(let ps):
            var kept: [RowPredicate] = []
            for p in ps.map(\.simplified) {
                if p == .constant(true) { return .constant(true) }
                if p != .constant(false) { kept.append(p) }
            }
            return kept.isEmpty ? .constant(false) : kept.count == 1 ? kept[0] : .or(kept)
        case .not(let p):
            let inner = p.simplified
            if case .constant(let b) = inner { return .constant(!b) }
            return .not(inner)
        default:
            return self
        }
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

    /// Mints the list scope for a principal: the rows for which `decide` would allow the action.
    ///
    /// The predicate is compiled from the same rules `decide` evaluates: (any permit) and not
    /// (any forbid), each condition turned into a row predicate for this principal.
    /// INVARIANT: for every row, `scope.predicate.admits(facts(row))` equals
    /// `decide(request, facts(row)).isAllowed`; property tests check this in memory and against the
    /// SQL adapters.
    public func scope<Resource: PolicyResource>(
        _ request: AccessRequest, as _: Resource.Type = Resource.self
    ) -> (Decision, Scope<Resource>) {
        guard request.resource == Resource.kind else {
            return (Decision(effect: .deny, reasons: [], errors: []), Scope(predicate: .constant(false), principal: request.principal, action: request.action))
        }
        var permits: [RowPredicate] = []
        var forbids: [RowPredicate] = []
        var permitIDs: [RuleID] = []
        var forbidIDs: [RuleID] = []
        let kind = request.principal.kind
        for rule in policy.rules
        where rule.principals.contains(kind) && rule.actions.contains(request.action) && rule.resources.contains(request.resource) {
            let p = Self.rowPredicate(rule.condition, request).simplified
            if p == .constant(false) { continue }
            if rule.effect == .forbid { forbids.append(p); forbidIDs.append(rule.id) } else { permits.append(p); permitIDs.append(rule.id) }
        }
        let predicate = RowPredicate.and([.or(permits), .not(.or(forbids))]).simplified
        // The list decision itself: allowed when some rows can be admitted; its reasons are the rules involved.
        let decision: Decision
        if predicate == .constant(false) {
            decision = Decision(effect: .deny, reasons: forbidIDs, errors: [])
        } else {
            decision = Decision(effect: .allow, reasons: permitIDs, errors: [])
        }
        return (decision, Scope(predicate: predicate, principal: request.principal, action: request.action, reasons: decision.isAllowed ? permitIDs : []))
    }

    static func rowPredicate(_ c: Condition, _ r: AccessRequest) -> RowPredicate {
        let account = r.principal.account
        switch c {
        case .always: return .constant(true)
        // Stored rows never have a server-assigned owner pending: that fact is only true on create.
        case .ownerAssignedByServer: return .constant(false)
        case .principalIsOwningPatient:
            guard case .patient(_, let patient) = r.principal else { return .constant(false) }
            return .patientIs(patient)
        case .principalIsResourceAccount: return account.map(RowPredicate.accountIs) ?? .constant(false)
        case .principalIsAssignedClinician: return account.map(RowPredicate.clinicianIs) ?? .constant(false)
        case .principalInConsentedCareTeam: return account.map(RowPredicate.patientConsentedToTeamOf) ?? .constant(false)
        case .principalAdministersPractice: return account.map(RowPredicate.practiceAdministeredBy) ?? .constant(false)
        case .principalWorksAtPractice: return account.map(RowPredicate.practiceStaffedBy) ?? .constant(false)
        case .resourceIsSigned: return .signed
        case .principalInvitedToCall: return account.map(RowPredicate.callGuestIs) ?? .constant(false)
        case .breakGlassInvoked: return .constant(r.invokesBreakGlass)
        case .playbackSuspended: return .playbackSuspended
        case .all(let cs): return .and(cs.map { rowPredicate($0, r) })
        case .any(let cs): return .or(cs.map { rowPredicate($0, r) })
        case .not(let inner): return .not(rowPredicate(inner, r))
        }
    }
}
