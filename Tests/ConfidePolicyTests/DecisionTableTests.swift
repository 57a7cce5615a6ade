import ConfideCore
import ConfidePolicy
import Foundation
import Testing

/// One row of `Fixtures/decisions.json`.
struct DecisionCase: Decodable, CustomTestStringConvertible, Sendable {
    struct Facts: Decodable, Sendable {
        var owningPatient: String?
        var account: String?
        var serverAssignedOwner: Bool?
    }
    let name: String
    let principal: String
    let action: String
    let resource: String
    let facts: Facts
    let expect: String
    let rules: [String]?
    let errors: Int?

    var testDescription: String { name }

    static let all: [DecisionCase] = {
        let url = Bundle.module.url(forResource: "decisions", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode([DecisionCase].self, from: Data(contentsOf: url))
    }()
}

/// Symbolic names in the fixtures ("A", "C") map to fixed identifiers.
enum Names {
    static let uuids = ["A", "B", "C", "D", "E"].enumerated().reduce(into: [String: UUID]()) { map, pair in
        map[pair.element] = UUID(uuidString: "00000000-0000-0000-0000-00000000000\(pair.offset)")!
    }
    static func patient(_ n: String) -> Patient.ID { Patient.ID(uuids[n]!) }
    static func account(_ n: String) -> Account.ID { Account.ID(uuids[n]!) }

    static func principal(_ spec: String) -> Principal {
        let parts = spec.split(separator: ":").map(String.init)
        switch parts[0] {
        case "anonymous": return .anonymous
        case "patient": return .patient(account: account(parts[1]), patient: patient(parts[1]))
        case "clinician": return .clinician(account: account(parts[1]), role: .gp)
        case "admin": return .admin(account: account(parts[1]))
        default: return .system(job: "test")
        }
    }
}

@Suite("policy decision tables")
struct DecisionTableTests {
    @Test("each fixture gets the expected decision", arguments: DecisionCase.all)
    func fixture(_ c: DecisionCase) throws {
        let engine = PolicyEngine()
        let request = AccessRequest(
            principal: Names.principal(c.principal), action: try #require(Action(rawValue: c.action)),
            resource: try #require(ResourceKind(rawValue: c.resource)))
        let facts = ResourceFacts(
            resourceID: "r", owningPatient: c.facts.owningPatient.map(Names.patient), account: c.facts.account.map(Names.account),
            serverAssignedOwner: c.facts.serverAssignedOwner ?? false)
        let decision = engine.decide(request, facts)
        #expect(decision.effect.rawValue == c.expect)
        if let rules = c.rules { #expect(decision.reasons.map(\.value) == rules) }
        if let errors = c.errors { #expect(decision.errors.count == errors) }
    }

    @Test("the table covers every rule of the policy")
    func coverage() {
        let engine = PolicyEngine()
        var seen = Set<String>()
        for c in DecisionCase.all {
            let request = AccessRequest(
                principal: Names.principal(c.principal), action: Action(rawValue: c.action)!, resource: ResourceKind(rawValue: c.resource)!)
            let facts = ResourceFacts(
                resourceID: "r", owningPatient: c.facts.owningPatient.map(Names.patient), account: c.facts.account.map(Names.account),
                serverAssignedOwner: c.facts.serverAssignedOwner ?? false)
            seen.formUnion(engine.decide(request, facts).reasons.map(\.value))
        }
        #expect(seen == Set(PolicySet.confide.rules.map(\.id.value)))
    }

    @Test("rule identifiers are unique")
    func uniqueRuleIDs() {
        let ids = PolicySet.confide.rules.map(\.id)
        #expect(Set(ids).count == ids.count)
    }
}
