import ConfideCore
import ConfidePolicy
import PropertyBased
import Testing

/// Random worlds for the property checks (the library's generator drives `World.random`).
let worldGenerator = Generator<World, Shrink.None<World>>(run: { rng in World.random(using: &rng) })

/// Break-glass reasons a request may carry: none, a real one, and blank ones that must not count.
let breakGlassReasons: [String?] = [nil, "patient unconscious, allergies unknown", "", " \t\n"]

extension PolicyEngine {
    /// The list (or other) scope's row predicate for any resource kind.
    func rowPredicate(_ request: AccessRequest) -> RowPredicate {
        switch request.resource {
        case .patientRecord: scope(request, as: PatientRecordResource.self).1.predicate
        case .consultation: scope(request, as: ConsultationResource.self).1.predicate
        case .recording: scope(request, as: RecordingResource.self).1.predicate
        case .recordingConsent: scope(request, as: RecordingConsentResource.self).1.predicate
        case .playbackSwitch: scope(request, as: PlaybackSwitchResource.self).1.predicate
        case .incident: scope(request, as: IncidentResource.self).1.predicate
        case .breachNotice: scope(request, as: BreachNoticeResource.self).1.predicate
        case .note: scope(request, as: NoteResource.self).1.predicate
        case .prescription: scope(request, as: PrescriptionResource.self).1.predicate
        case .document: scope(request, as: DocumentResource.self).1.predicate
        case .triageSession: scope(request, as: TriageSessionResource.self).1.predicate
        case .message: scope(request, as: MessageResource.self).1.predicate
        case .auditEntry: scope(request, as: AuditEntryResource.self).1.predicate
        case .staffAccount: scope(request, as: StaffAccountResource.self).1.predicate
        case .practice: scope(request, as: PracticeResource.self).1.predicate
        case .availability: scope(request, as: AvailabilityResource.self).1.predicate
        case .careConsent: scope(request, as: CareConsentResource.self).1.predicate
        }
    }
}

/// One request of a world on which two deciders differ.
struct Disagreement: CustomStringConvertible {
    let principal: Principal
    let action: Action
    let resource: WorldResource
    let reason: String?
    let expected: Bool
    let actual: Bool
    var description: String {
        "\(principal) \(action.rawValue) \(resource)\(reason.map { " reason=\($0.debugDescription)" } ?? ""): "
            + "expected \(expected ? "allow" : "deny"), got \(actual ? "allow" : "deny")"
    }
}

/// The disagreements that are not known ones (see `KnownDisagreement`).
func unexplained(_ disagreements: [Disagreement], in world: World) -> [Disagreement] {
    disagreements.filter {
        KnownDisagreement.classify(world, $0.principal, $0.action, $0.resource, oracleAllows: $0.expected, engineAllows: $0.actual) == nil
    }
}

@Suite("policy against the reference oracle")
struct OraclePropertyTests {
    let engine = PolicyEngine()

    /// Every question a world can pose, grouped by principal and resource (whose facts are
    /// loaded once): each action (creations only with `create`); reads also with each break-glass
    /// reason (a real one and blank ones), updates also with a real one (break-glass is read only).
    func questions(_ world: World) -> [(Principal, WorldResource, [(Action, String?)])] {
        var out: [(Principal, WorldResource, [(Action, String?)])] = []
        for principal in world.principals {
            for resource in world.storedResources + world.creations {
                var asks: [(Action, String?)] = []
                for action in resource.isNew ? [Action.create] : Action.allCases {
                    let reasons: [String?] = action == .read ? breakGlassReasons : action == .update ? [nil, breakGlassReasons[1]] : [nil]
                    for reason in reasons { asks.append((action, reason)) }
                }
                out.append((principal, resource, asks))
            }
        }
        return out
    }

    @Test("decide, on facts loaded from a random world, agrees with the reference oracle")
    func engineMatchesOracle() async {
        await propertyCheck(count: 10, input: worldGenerator) { world in
            var disagreements: [Disagreement] = []
            for (principal, resource, asks) in questions(world) {
                let facts = world.facts(of: resource, for: principal)
                for (action, reason) in asks {
                    let request = AccessRequest(principal: principal, action: action, resource: resource.kind, breakGlassReason: reason)
                    // A resource without facts does not exist: the gate answers "not found", a deny.
                    let engineAllows = facts.map { engine.decide(request, $0).isAllowed } ?? false
                    let oracleAllows = oracle(world, principal, action, resource, breakGlassReason: reason)
                    if engineAllows != oracleAllows {
                        disagreements.append(
                            Disagreement(
                                principal: principal, action: action, resource: resource, reason: reason, expected: oracleAllows,
                                actual: engineAllows))
                    }
                }
            }
            disagreements = unexplained(disagreements, in: world)
            #expect(
                disagreements.isEmpty,
                "\(disagreements.count) disagreements, e.g.:\n\(disagreements.prefix(8).map(\.description).joined(separator: "\n"))\n\(world)")
        }
    }

    @Test("the differential questions reach every rule of the policy (fixed full-size worlds)")
    func worldsReachEveryRule() {
        var seen = Set<RuleID>()
        for seed in [UInt64(1), 2, 3] {
            var rng = SplitMix64(seed: seed)
            let world = World.random(using: &rng, size: World.Size(exact: true))
            for (principal, resource, asks) in questions(world) {
                guard let facts = world.facts(of: resource, for: principal) else { continue }
                for (action, reason) in asks {
                    let request = AccessRequest(principal: principal, action: action, resource: resource.kind, breakGlassReason: reason)
                    let decision = engine.decide(request, facts)
                    seen.formUnion(decision.reasons)
                    let known = KnownDisagreement.classify(
                        world, principal, action, resource, oracleAllows: oracle(world, principal, action, resource, breakGlassReason: reason),
                        engineAllows: decision.isAllowed)
                    if known == nil {
                        #expect(
                            decision.isAllowed == oracle(world, principal, action, resource, breakGlassReason: reason),
                            "seed \(seed): \(principal) \(action.rawValue) \(resource) reason=\(reason ?? "-")")
                    }
                }
            }
        }
        let missing = Set(PolicySet.confide.rules.map(\.id)).subtracting(seen)
        #expect(missing.isEmpty, "rules no question of the worlds reaches: \(missing.map(\.value).sorted())")
    }

    @Test("for every principal and action, a scope admits exactly the rows decide allows (in memory)")
    func scopeMatchesDecide() async {
        await propertyCheck(count: 10, input: worldGenerator) { world in
            var disagreements: [Disagreement] = []
            let resources = world.storedResources
            for principal in world.principals {
                for kind in ResourceKind.allCases {
                    let rows = resources.filter { $0.kind == kind }.compactMap { row in world.facts(of: row, for: principal).map { (row, $0) } }
                    guard !rows.isEmpty else { continue }
                    for action in Action.allCases {
                        for reason in action == .read ? [nil, breakGlassReasons[1]] : [nil] {
                            let request = AccessRequest(principal: principal, action: action, resource: kind, breakGlassReason: reason)
                            let predicate = engine.rowPredicate(request)
                            for (row, facts) in rows {
                                let admitted = predicate.admits(facts)
                                let allowed = engine.decide(request, facts).isAllowed
                                if admitted != allowed {
                                    disagreements.append(
                                        Disagreement(
                                            principal: principal, action: action, resource: row, reason: reason, expected: allowed,
                                            actual: admitted))
                                }
                            }
                        }
                    }
                }
            }
            #expect(
                disagreements.isEmpty,
                "scope vs decide: \(disagreements.count) rows, e.g.:\n\(disagreements.prefix(8).map(\.description).joined(separator: "\n"))")
        }
    }

    @Test("list scopes admit exactly the rows the reference oracle allows to list")
    func listScopeMatchesOracle() async {
        await propertyCheck(count: 25, input: worldGenerator) { world in
            var disagreements: [Disagreement] = []
            for principal in world.principals {
                for kind in ResourceKind.allCases {
                    let predicate = engine.rowPredicate(AccessRequest(principal: principal, action: .list, resource: kind))
                    for row in world.storedResources where row.kind == kind {
                        guard let facts = world.facts(of: row, for: principal) else { continue }
                        let admitted = predicate.admits(facts)
                        let expected = oracle(world, principal, .list, row)
                        if admitted != expected {
                            disagreements.append(
                                Disagreement(principal: principal, action: .list, resource: row, reason: nil, expected: expected, actual: admitted))
                        }
                    }
                }
            }
            disagreements = unexplained(disagreements, in: world)
            #expect(
                disagreements.isEmpty,
                "list scope vs oracle: \(disagreements.count) rows, e.g.:\n\(disagreements.prefix(8).map(\.description).joined(separator: "\n"))")
        }
    }

    // MARK: known disagreements, by example

    func engineAllows(_ world: World, _ principal: Principal, _ action: Action, _ resource: WorldResource, reason: String? = nil) -> Bool {
        let request = AccessRequest(principal: principal, action: action, resource: resource.kind, breakGlassReason: reason)
        return world.facts(of: resource, for: principal).map { engine.decide(request, $0).isAllowed } ?? false
    }
}
