import ConfideCore
import ConfidePolicy
import PropertyBased
import Testing

let principalNames = ["anonymous", "patient:A", "patient:B", "clinician:C", "admin:D", "system"]
let ownerNames = ["A", "B", "C", "D"]
/// Picks a principal by index (the generators of this library return optionals for `element`).
let principalIndex = Gen.int(in: 0...(principalNames.count - 1))

@Suite("policy properties")
struct PolicyPropertyTests {
    @Test("removing facts never turns a deny into an allow")
    func missingFactsOnlyDeny() async {
        let engine = PolicyEngine()
        await propertyCheck(
            count: 400, input: principalIndex, Gen<Action>.case, Gen<ResourceKind>.case,
            Gen.int(in: 0...3), Gen.bool
        ) { principal, action, resource, owner, serverAssigned in
            let request = AccessRequest(principal: Names.principal(principalNames[principal]), action: action, resource: resource)
            let full = ResourceFacts(
                resourceID: "r", owningPatient: Names.patient(ownerNames[owner]), account: Names.account(ownerNames[owner]), serverAssignedOwner: serverAssigned)
            var partial = full
            partial.owningPatient = nil
            partial.account = nil
            let withAll = engine.decide(request, full)
            let withFewer = engine.decide(request, partial)
            if withFewer.isAllowed { #expect(withAll.isAllowed) }
            // Only rules that do not need the removed facts may allow.
            if !withAll.isAllowed { #expect(!withFewer.isAllowed) }
        }
    }

    @Test("a forbid that matches always wins over any permit")
    func forbidWins() async {
        await propertyCheck(count: 300, input: principalIndex, Gen<Action>.case, Gen<ResourceKind>.case) {
            principal, action, resource in
            let forbid = Rule(
                id: "test.forbid", effect: .forbid, principals: Set(PrincipalKind.allCases), actions: [action], resources: [resource],
                rationale: "test")
            let engine = PolicyEngine(policy: PolicySet(version: "t", rules: PolicySet.confide.rules + [forbid]))
            let request = AccessRequest(principal: Names.principal(principalNames[principal]), action: action, resource: resource)
            let decision = engine.decide(
                request, ResourceFacts(resourceID: "r", owningPatient: Names.patient("A"), account: Names.account("A"), serverAssignedOwner: true))
            #expect(!decision.isAllowed)
            #expect(decision.reasons.contains("test.forbid"))
        }
    }

    @Test("a forbid rule that cannot be evaluated denies")
    func erroringForbidDenies() {
        let forbid = Rule(
            id: "test.forbid-owner", effect: .forbid, principals: [.patient], actions: [.read], resources: [.patientRecord],
            when: .not(.principalIsOwningPatient), rationale: "test")
        let engine = PolicyEngine(policy: PolicySet(version: "t", rules: PolicySet.confide.rules + [forbid]))
        let decision = engine.decide(
            AccessRequest(principal: Names.principal("patient:A"), action: .read, resource: .patientRecord), ResourceFacts(resourceID: "r"))
        #expect(!decision.isAllowed)
        #expect(!decision.errors.isEmpty)
    }

    @Test("an empty policy denies everything")
    func denyByDefault() async {
        let engine = PolicyEngine(policy: PolicySet(version: "empty", rules: []))
        await propertyCheck(input: principalIndex, Gen<Action>.case, Gen<ResourceKind>.case) { principal, action, resource in
            let decision = engine.decide(
                AccessRequest(principal: Names.principal(principalNames[principal]), action: action, resource: resource),
                ResourceFacts(resourceID: "r", owningPatient: Names.patient("A"), account: Names.account("A"), serverAssignedOwner: true))
            #expect(!decision.isAllowed)
            #expect(decision.reasons.isEmpty)
        }
    }

    @Test("a list scope admits exactly the rows a single decision would allow")
    func scopeMatchesDecide() async {
        let engine = PolicyEngine()
        await propertyCheck(count: 300, input: principalIndex, Gen.int(in: 0...2)) { principal, owner in
            let p = Names.principal(principalNames[principal])
            let (_, scope) = engine.scope(AccessRequest(principal: p, action: .read, resource: .patientRecord), as: PatientRecordResource.self)
            let facts = ResourceFacts(
                resourceID: "r", owningPatient: Names.patient(ownerNames[owner]), careTeamConsent: false, practiceAdmin: false,
                practiceMember: false)
            let single = engine.decide(AccessRequest(principal: p, action: .read, resource: .patientRecord), facts)
            #expect(scope.predicate.admits(facts) == single.isAllowed)
        }
    }

    @Test("grants are minted only on allow, for the right resource kind")
    func grants() {
        let engine = PolicyEngine()
        let a = Names.principal("patient:A")
        let (allow, grant) = engine.authorize(
            AccessRequest(principal: a, action: .read, resource: .patientRecord),
            facts: ResourceFacts(resourceID: "x", owningPatient: Names.patient("A")), as: PatientRecordResource.self)
        #expect(allow.isAllowed)
        #expect(grant?.resourceID == "x")
        let (_, none) = engine.authorize(
            AccessRequest(principal: a, action: .read, resource: .patientRecord),
            facts: ResourceFacts(resourceID: "x", owningPatient: Names.patient("B")), as: PatientRecordResource.self)
        #expect(none == nil)
        let (mismatch, wrongKind) = engine.authorize(
            AccessRequest(principal: a, action: .read, resource: .patientRecord),
            facts: ResourceFacts(resourceID: "x", owningPatient: Names.patient("A")), as: StaffAccountResource.self)
        #expect(wrongKind == nil)
        #expect(!mismatch.isAllowed)
    }
}
