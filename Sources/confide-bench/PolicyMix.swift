import ConfideCore
import ConfidePolicy
import Foundation

/// One request of the benchmark mix: the request and its precomputed facts (what the gate loads).
struct MixItem {
    let template: String
    let request: AccessRequest
    let facts: ResourceFacts
    /// JSON-ready description for scripts/bench_cedar.py.
    let json: [String: Any]
}

/// A deterministic generator (SplitMix64) so every run and the Cedar comparison see the same mix.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func pick(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// A small coherent world (patients, clinicians in practices and care teams, consents, practice
/// admins, operators) and a realistic mix of reads over it: mostly patients and assigned clinicians
/// opening consultations, a tail of care-team reads, break-glass, practice-admin appointment books
/// and operators (who are forbidden). The relation facts are computed from the world, so the Cedar
/// comparison can express the same world as entities and must reach the same decisions.
struct PolicyMix {
    /// (template, weight out of 100)
    static let templates: [(String, Int)] = [
        ("patient-own-consultation", 25),
        ("patient-other-consultation", 5),
        ("patient-own-record", 5),
        ("clinician-assigned-consultation", 25),
        ("clinician-assigned-note", 10),
        ("clinician-care-team", 12),
        ("clinician-break-glass", 2),
        ("practice-admin-consultation", 8),
        ("practice-admin-note", 3),
        ("operator-consultation", 5),
    ]

    let items: [MixItem]
    let world: [String: Any]

    init(count: Int, seed: UInt64 = 42) {
        var rng = SplitMix64(state: seed)
        let practices = (0..<5).map { _ in Practice.ID(Self.uuid(&rng)) }
        let teams = (0..<8).map { _ in CareTeam.ID(Self.uuid(&rng)) }
        let patients = (0..<200).map { _ in (account: Account.ID(Self.uuid(&rng)), patient: Patient.ID(Self.uuid(&rng))) }
        // Each patient consents to at most one care team (a third consent to none).
        let consents: [Int?] = patients.indices.map { _ in rng.pick(3) == 0 ? nil : rng.pick(teams.count) }
        let registered: [Int] = patients.indices.map { _ in rng.pick(practices.count) }
        let clinicians = (0..<40).map { _ in Account.ID(Self.uuid(&rng)) }
        func practiceOf(clinician c: Int) -> Int { c % practices.count }
        func teamOf(clinician c: Int) -> Int { c % teams.count }
        let practiceAdmins = (0..<5).map { _ in Account.ID(Self.uuid(&rng)) }  // admin a runs practice a
        let operators = (0..<2).map { _ in Account.ID(Self.uuid(&rng)) }

        let totalWeight = Self.templates.reduce(0) { $0 + $1.1 }
        var items: [MixItem] = []
        items.reserveCapacity(count)
        for i in 0..<count {
            var pick = rng.pick(totalWeight)
            var template = Self.templates[0].0
            for (name, weight) in Self.templates {
                if pick < weight { template = name; break }
                pick -= weight
            }
            let owner = rng.pick(patients.count)
            let assigned = rng.pick(clinicians.count)
            let practice = practiceOf(clinician: assigned)
            var resource = ResourceKind.consultation
            var signed: Bool? = nil
            var breakGlass: String?
            let principal: Principal
            var principalClinician: Int?
            var principalAdmin: Int?
            switch template {
            case "patient-own-consultation":
                principal = .patient(account: patients[owner].account, patient: patients[owner].patient)
            case "patient-other-consultation":
                let other = (owner + 1 + rng.pick(patients.count - 1)) % patients.count
                principal = .patient(account: patients[other].account, patient: patients[other].patient)
            case "patient-own-record":
                resource = .patientRecord
                principal = .patient(account: patients[owner].account, patient: patients[owner].patient)
            case "clinician-assigned-consultation":
                principalClinician = assigned
                principal = .clinician(account: clinicians[assigned], role: .gp)
            case "clinician-assigned-note":
                resource = .note
                signed = rng.pick(2) == 0
                principalClinician = assigned
                principal = .clinician(account: clinicians[assigned], role: .gp)
            case "clinician-care-team":
                // Any other clinician: allowed when the patient consented to the clinician's team.
                let c = (assigned + 1 + rng.pick(clinicians.count - 1)) % clinicians.count
                resource = rng.pick(2) == 0 ? .consultation : .note
                if resource == .note { signed = true }
                principalClinician = c
                principal = .clinician(account: clinicians[c], role: .nurse)
            case "clinician-break-glass":
                let c = (assigned + 1 + rng.pick(clinicians.count - 1)) % clinicians.count
                principalClinician = c
                breakGlass = "unconscious patient in A&E"
                principal = .clinician(account: clinicians[c], role: .gp)
            case "practice-admin-consultation":
                let a = rng.pick(4) == 0 ? rng.pick(practiceAdmins.count) : practice
                principalAdmin = a
                principal = .practiceAdmin(account: practiceAdmins[a])
            case "practice-admin-note":
                resource = .note
                signed = true
                principalAdmin = practice
                principal = .practiceAdmin(account: practiceAdmins[practice])
            default:  // operator-consultation
                principal = .admin(account: operators[rng.pick(operators.count)])
            }
            let resourcePractice = resource == .patientRecord ? registered[owner] : practice
            let consent = principalClinician.map { c in consents[owner] == teamOf(clinician: c) } ?? false
            let facts = ResourceFacts(
                resourceID: "r\(i)", owningPatient: patients[owner].patient, practice: practices[resourcePractice],
                assignedClinician: resource == .patientRecord ? nil : clinicians[assigned], signed: signed,
                careTeamConsent: consent, practiceAdmin: principalAdmin == resourcePractice,
                practiceMember: principalClinician.map { practiceOf(clinician: $0) == resourcePractice } ?? false)
            let request = AccessRequest(principal: principal, action: .read, resource: resource, breakGlassReason: breakGlass)
            var resourceJSON: [String: Any] = [
                "type": resource.rawValue, "id": "r\(i)", "patient": patients[owner].patient.description,
                "practice": practices[resourcePractice].description,
            ]
            if resource != .patientRecord { resourceJSON["clinician"] = clinicians[assigned].description }
            if let signed { resourceJSON["signed"] = signed }
            let principalJSON: [String: Any] =
                switch principal {
                case .patient(_, let p): ["type": "patient", "id": p.description]
                case .clinician(let a, _): ["type": "clinician", "id": a.description]
                case .practiceAdmin(let a): ["type": "practice-admin", "id": a.description]
                default: ["type": "operator", "id": principal.account?.description ?? "-"]
                }
            items.append(
                MixItem(
                    template: template, request: request, facts: facts,
                    json: ["template": template, "principal": principalJSON, "action": "read", "resource": resourceJSON,
                           "breakGlass": breakGlass != nil]))
        }
        self.items = items
        self.world = [
            "practices": practices.map(\.description),
            "careTeams": teams.map(\.description),
            "patients": patients.indices.map { p -> [String: Any] in
                ["id": patients[p].patient.description, "consentedTeams": consents[p].map { [teams[$0].description] } ?? []]
            },
            "clinicians": clinicians.indices.map { c -> [String: Any] in
                ["id": clinicians[c].description, "practice": practices[practiceOf(clinician: c)].description,
                 "careTeam": teams[teamOf(clinician: c)].description]
            },
            "practiceAdmins": practiceAdmins.indices.map { a -> [String: Any] in
                ["id": practiceAdmins[a].description, "administers": [practices[a].description]]
            },
            "operators": operators.map(\.description),
        ]
    }

    static func uuid(_ rng: inout SplitMix64) -> UUID {
        let a = rng.next(), b = rng.next()
        var bytes = [UInt8](repeating: 0, count: 16)
        for k in 0..<8 {
            bytes[k] = UInt8(truncatingIfNeeded: a >> (8 * k))
            bytes[8 + k] = UInt8(truncatingIfNeeded: b >> (8 * k))
        }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(
            uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                   bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
