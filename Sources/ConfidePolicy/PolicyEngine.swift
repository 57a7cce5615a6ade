public import ConfideCore

/// The pure, deny-by-default policy engine. No I/O: given a request and facts it returns a
/// decision with reasons.
///
/// ```swift
/// let engine = PolicyEngine()
/// let decision = engine.decide(
///     AccessRequest(principal: .patient(account: a, patient: p), action: .read, resource: .patientRecord),
///     ResourceFacts(owningPatient: p))
/// ```
public struct PolicyEngine: Sendable {
    /// The rule set in force.
    public let policy: PolicySet

    /// - Parameter policy: the rules; defaults to `PolicySet.confide`.
    public init(policy: PolicySet = .confide) { self.policy = policy }

    /// Decides a request.
    /// - Returns: allow when at least one permit rule matches and no forbid rule matches.
    public func decide(_ request: AccessRequest, _ facts: ResourceFacts) -> Decision {
        var permits: [RuleID] = []
        var forbids: [RuleID] = []
        var errors: [EvaluationError] = []
        let kind = request.principal.kind
        for rule in policy.rules
        where rule.principals.contains(kind) && rule.actions.contains(request.action)
            && rule.resources.contains(request.resource)
        {
            switch Self.evaluate(rule.condition, request, facts) {
            case .success(true):
                if rule.effect == .forbid { forbids.append(rule.id) } else { permits.append(rule.id) }
            case .success(false):
                break
            case .failure(let message):
                // INVARIANT: a rule that cannot be evaluated is skipped. A skipped permit cannot allow;
                // a skipped forbid turns the whole decision into deny (errors deny).
                errors.append(EvaluationError(rule: rule.id, message: message.text))
                if rule.effect == .forbid { forbids.append(rule.id) }
            }
        }
        if !forbids.isEmpty { return Decision(effect: .deny, reasons: forbids, errors: errors) }
        if !permits.isEmpty { return Decision(effect: .allow, reasons: permits, errors: errors) }
        return Decision(effect: .deny, reasons: [], errors: errors)
    }

    struct Failure: Error { let text: String }

    static func evaluate(_ c: Condition, _ r: AccessRequest, _ f: ResourceFacts) -> Result<Bool, Failure> {
        switch c {
        case .always:
            return .success(true)
        case .ownerAssignedByServer:
            return .success(f.serverAssignedOwner)
        case .principalIsOwningPatient:
            guard let owner = f.owningPatient else { return .failure(Failure(text: "missing fact `owningPatient`")) }
            guard case .patient(_, let patient) = r.principal else { return .success(false) }
            return .success(patient == owner)
        case .principalIsResourceAccount:
            guard let account = f.account else { return .failure(Failure(text: "missing fact `account`")) }
            return .success(r.principal.account == account)
        case .principalIsAssignedClinician:
            guard let clinician = f.assignedClinician else { return .failure(Failure(text: "missing fact `assignedClinician`")) }
            return .success(r.principal.account == clinician)
        case .principalInConsentedCareTeam:
            guard let consent = f.careTeamConsent else { return .failure(Failure(text: "missing fact `careTeamConsent`")) }
            return .success(consent)
        case .principalAdministersPractice:
            guard let admin = f.practiceAdmin else { return .failure(Failure(text: "missing fact `practiceAdmin`")) }
            return .success(admin)
        case .principalWorksAtPractice:
            guard let member = f.practiceMember else { return .failure(Failure(text: "missing fact `practiceMember`")) }
            return .success(member)
        case .resourceIsSigned:
            guard let signed = f.signed else { return .failure(Failure(text: "missing fact `signed`")) }
            return .success(signed)
        case .principalInvitedToCall:
            guard let guest = f.callGuest else { return .failure(Failure(text: "missing fact `callGuest`")) }
            return .success(guest)
        case .breakGlassInvoked:
            return .success(r.invokesBreakGlass)
        case .playbackSuspended:
            guard let suspended = f.playbackSuspended else { return .failure(Failure(text: "missing fact `playbackSuspended`")) }
            return .success(suspended)
        case .all(let cs):
            // A false child makes the whole false whatever the others say (as SQL's AND does with
            // NULL), so the result never depends on the order of the children.
            var firstError: Failure?
            for c in cs {
                switch evaluate(c, r, f) {
                case .success(true): continue
                case .success(false): return .success(false)
                case .failure(let e): firstError = firstError ?? e
                }
            }
            if let firstError { return .failure(firstError) }
            return .success(true)
        case .any(let cs):
            var firstError: Failure?
            for c in cs {
                switch evaluate(c, r, f) {
                case .success(true): return .success(true)
                case .success(false): continue
                case .failure(let e): firstError = firstError ?? e
                }
            }
            if let firstError { return .failure(firstError) }
            return .success(false)
        case .not(let inner):
            // INVARIANT: not(error) is an error, never `true`.
            return evaluate(inner, r, f).map { !$0 }
        }
    }
}

extension Principal {
    /// The kind of principal, as rules name it.
    public var kind: PrincipalKind {
        switch self {
        case .anonymous: .anonymous
        case .patient: .patient
        case .clinician: .clinician
        case .admin: .admin
        case .practiceAdmin: .practiceAdmin
        case .system: .system
        }
    }
}
