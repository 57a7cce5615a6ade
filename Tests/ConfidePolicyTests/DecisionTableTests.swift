import ConfideCore
import ConfidePolicy
import Foundation
import Testing

/// One row of `Fixtures/decisions.json`.
struct DecisionCase: Decodable, CustomTestStringConvertible, Sendable {
    /// Facts by symbolic name; an absent key is a missing fact.
    struct Facts: Decodable, Sendable {
        var owningPatient: String?
        var account: String?
        var serverAssignedOwner: Bool?
        var practice: String?
        var assignedClinician: String?
        var signed: Bool?
        var careTeamConsent: Bool?
        var practiceAdmin: Bool?
        var practiceMember: Bool?
        var callGuest: Bool?
        var playbackSuspended: Bool?
    }
    let name: String
    let principal: String
    let action: String
    let resource: String
    let facts: Facts
    /// The break-glass reason the request carries, if any.
    let breakGlassReason: String?
    let expect: String
    let rules: [String]?
    let errors: Int?

    var testDescription: String { name }

    /// The request the row describes (`nil` when the action or resource kind is unknown).
    var request: AccessRequest? {
        guard let action = Action(rawValue: action), let resource = ResourceKind(rawValue: resource) else { return nil }
        return AccessRequest(principal: Names.principal(principal), action: action, resource: resource, breakGlassReason: breakGlassReason)
    }

    var resourceFacts: ResourceFacts {
        ResourceFacts(
            resourceID: "r", owningPatient: facts.owningPatient.map(Names.patient), account: facts.account.map(Names.account),
            serverAssignedOwner: facts.serverAssignedOwner ?? false, practice: facts.practice.map(Names.practice),
            assignedClinician: facts.assignedClinician.map(Names.account), signed: facts.signed, careTeamConsent: facts.careTeamConsent,
            practiceAdmin: facts.practiceAdmin, practiceMember: facts.practiceMember, callGuest: facts.callGuest,
            playbackSuspended: facts.playbackSuspended)
    }

    static let all: [DecisionCase] = {
        let url = Bundle.module.url(forResource: "decisions", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode([DecisionCase].self, from: Data(contentsOf: url))
    }()
}

/// Symbolic names in the fixtures ("A", "C", "P") map to fixed identifiers.
enum Names {
    static let uuids = ["A", "B", "C", "D", "E", "F", "G", "P", "Q"].enumerated().reduce(into: [String: UUID]()) { map, pair in
        map[pair.element] = UUID(uuidString: "00000000-0000-0000-0000-\(String(format: "%012x", pair.offset))")!
    }
    static func patient(_ n: String) -> Patient.ID { Patient.ID(uuids[n]!) }
    static func account(_ n: String) -> Account.ID { Account.ID(uuids[n]!) }
    static func practice(_ n: String) -> Practice.ID { Practice.ID(uuids[n]!) }

    static func principal(_ spec: String) -> Principal {
        let parts = spec.split(separator: ":").map(String.init)
        switch parts[0] {
        case "anonymous": return .anonymous
        case "patient": return .patient(account: account(parts[1]), patient: patient(parts[1]))
        case "clinician": return .clinician(account: account(parts[1]), role: .gp)
        case "admin": return .admin(account: account(parts[1]))
        case "practice-admin": return .practiceAdmin(account: account(parts[1]))
        default: return .system(job: "test")
        }
    }
}

@Suite("policy decision tables")
struct DecisionTableTests {
    @Test("each fixture gets the expected decision", arguments: DecisionCase.all)
    func fixture(_ c: DecisionCase) throws {
        let decision = PolicyEngine().decide(try #require(c.request), c.resourceFacts)
        #expect(decision.effect.rawValue == c.expect)
        if let rules = c.rules { #expect(decision.reasons.map(\.value) == rules) }
        if let errors = c.errors { #expect(decision.errors.count == errors) }
    }

    @Test("the table covers every rule of the policy")
    func coverage() {
        let engine = PolicyEngine()
        var seen = Set<String>()
        for c in DecisionCase.all {
            guard let request = c.request else { continue }
            seen.formUnion(engine.decide(request, c.resourceFacts).reasons.map(\.value))
        }
        let missing = Set(PolicySet.confide.rules.map(\.id.value)).subtracting(seen)
        #expect(missing.isEmpty, "rules no decision of the table names: \(missing.sorted())")
        #expect(seen.isSubset(of: Set(PolicySet.confide.rules.map(\.id.value))))
    }

    @Test("the table names no rule the policy does not have, and no two rows share a name")
    func tableIsWellFormed() {
        let ids = Set(PolicySet.confide.rules.map(\.id.value))
        let named = Set(DecisionCase.all.flatMap { $0.rules ?? [] })
        #expect(named.subtracting(ids).isEmpty, "unknown rules: \(named.subtracting(ids).sorted())")
        let names = DecisionCase.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(DecisionCase.all.allSatisfy { $0.request != nil && ["allow", "deny"].contains($0.expect) })
        // Every principal spec is one `Names.principal` knows (an unknown one would silently be `system`).
        let kinds: Set<String> = ["anonymous", "system", "patient", "clinician", "admin", "practice-admin"]
        for c in DecisionCase.all {
            let parts = c.principal.split(separator: ":").map(String.init)
            #expect(kinds.contains(parts[0]) && (parts.count == 2) != ["anonymous", "system"].contains(parts[0]), "\(c.name)")
            if parts.count == 2 { #expect(Names.uuids[parts[1]] != nil, "\(c.name)") }
        }
    }

    @Test("rule identifiers are unique")
    func uniqueRuleIDs() {
        let ids = PolicySet.confide.rules.map(\.id)
        #expect(Set(ids).count == ids.count)
    }
}
