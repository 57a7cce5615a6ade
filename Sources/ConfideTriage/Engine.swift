import Foundation

/// What the patient says to one question.
public enum Answer: String, Sendable, Hashable, Codable, CaseIterable {
    case yes
    case no
    case unknown = "dont_know"
}

/// Age and sex: the only profile facts the engine uses (prevalence tables are by age band and sex).
public struct TriageProfile: Sendable, Hashable, Codable {
    public var age: Int
    public var sex: Sex
    public init(age: Int, sex: Sex) {
        self.age = age
        self.sex = sex
    }

    /// Index into the prevalence bands 0-4, 5-15, 16-44, 45-64, 65+.
    var band: Int {
        switch age {
        case ..<5: 0
        case 5...15: 1
        case 16...44: 2
        case 45...64: 3
        default: 4
        }
    }
}

/// One piece of evidence: a finding reported present or absent (from the opening text or an answer).
public struct Evidence: Sendable, Hashable, Codable {
    public var finding: String
    public var present: Bool
    public init(finding: String, present: Bool) {
        self.finding = finding
        self.present = present
    }
}

/// A condition in the ranked list, with why it moved.
public struct RankedCondition: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var icd10: String
    public var probability: Double
    public var urgency: Urgency
    /// Findings (names) that made it more likely, strongest first.
    public var raisedBy: [String]
    /// Findings (names) that made it less likely, strongest first.
    public var loweredBy: [String]

    enum CodingKeys: String, CodingKey {
        case id, name, icd10, probability, urgency
        case raisedBy = "raised_by"
        case loweredBy = "lowered_by"
    }
}

/// A red-flag rule that fired.
public struct FiredRule: Sendable, Hashable, Codable {
    public var id: String
    public var disposition: Urgency
    public var reason: String
}

/// Why the engine stopped asking.
public enum StopReason: String, Sendable, Hashable, Codable {
    case redFlag = "red-flag"
    case confident
    case nothingToLearn = "nothing-to-learn"
    case questionLimit = "question-limit"
    case patientFinished = "patient-finished"
}

/// The engine's answer after a turn: ask `question`, or stop with `result`.
public struct Assessment: Sendable, Hashable {
    public var question: Finding?
    public var disposition: Urgency
    public var conditions: [RankedCondition]
    public var firedRules: [FiredRule]
    public var stopReason: StopReason?
    /// No finding was reported present: the checker cannot assess, so the advice is at least
    /// "book an appointment" and says so (a floor, never a reassurance).
    public var couldNotAssess: Bool = false
    /// A finding of self-harm, suicidal thoughts or an overdose is present: the advice signposts
    /// crisis help at once, whatever else it says.
    public var crisis: Bool = false
}

/// The inference engine over a validated knowledge base (immutable; one instance is shared by every
/// request). Pure and deterministic: the same profile and
/// evidence give the same question and the same ranking, bit for bit.
///
/// - Inference: naive Bayes over mutually exclusive conditions with priors from the prevalence tables
///   (by age band and sex); a finding a condition does not list has its `background` probability.
///   Unknown answers contribute nothing.
/// - Questions: expected reduction of a danger-weighted entropy (must-not-miss and emergency
///   conditions weigh six times as much), plus top priority for the one finding that would complete
///   a red-flag rule.
/// - Disposition: the most urgent level whose probability mass passes its threshold, raised by any
///   red-flag rule that fired.
public final class TriageEngine: Sendable {
    public let knowledge: KnowledgeBase
    public let matcher: TextMatcher
    public let settings: Settings

    public struct Settings: Sendable, Hashable {
        public var maxQuestions = 20
        public var confidentTop = 0.85
        public var residualDanger = 0.02
        public var minimumGain = 0.004
        /// Probability mass at or above a level that selects it.
        public var emergencyMass = 0.08
        public var urgentMass = 0.2
        public var routineMass = 0.5
        public var dangerWeight = 6.0
        public init() {}

        /// Sets one setting by name (for tuning runs); false for an unknown name.
        public mutating func set(_ name: String, _ value: Double) -> Bool {
            switch name {
            case "maxQuestions": maxQuestions = Int(value)
            case "confidentTop": confidentTop = value
            case "residualDanger": residualDanger = value
            case "minimumGain": minimumGain = value
            case "emergencyMass": emergencyMass = value
            case "urgentMass": urgentMass = value
            case "routineMass": routineMass = value
            case "dangerWeight": dangerWeight = value
            default: return false
            }
            return true
        }
    }

    private let conditionCount: Int
    private let logPrior: [Double]  // [condition * 10 + band * 2 + sex]
    /// P(finding | condition) and its logs, finding-major (`[finding * conditionCount + condition]`):
    /// inference and question choice both walk one finding's row across all conditions in order.
    private let pYes: [Double]
    private let logYes: [Double]
    private let logNo: [Double]
    private let weights: [Double]
    private let listed: [[Int]]  // condition -> finding indices it lists
    private let askable: [Bool]
    private let ruleFindings: [[Int]]

    public init(knowledge: KnowledgeBase, settings: Settings = Settings()) {
        self.knowledge = knowledge
        self.matcher = TextMatcher(findings: knowledge.findings)
        self.settings = settings
        let c = knowledge.conditions.count
        let f = knowledge.findings.count
        conditionCount = c

        var logPrior = [Double](repeating: -.infinity, count: c * 10)
        var pYes = [Double](repeating: 0, count: f * c)
        var listed: [[Int]] = []
        var weights: [Double] = []
        for (ci, condition) in knowledge.conditions.enumerated() {
            for band in 0..<5 {
                for (si, table) in [condition.prevalence.female, condition.prevalence.male].enumerated() {
                    let value = table[band] / condition.prevalence.per
                    logPrior[ci * 10 + band * 2 + si] = value > 0 ? Foundation.log(value) : -.infinity
                }
            }
            for (fi, finding) in knowledge.findings.enumerated() {
                pYes[fi * c + ci] = finding.background ?? 0.01
            }
            var mine: [Int] = []
            for entry in condition.findings {
                guard let fi = knowledge.findingIndex[entry.id] else { continue }
                pYes[fi * c + ci] = entry.p
                mine.append(fi)
            }
            listed.append(mine.sorted())
            weights.append((condition.mustNotMiss ?? false) || condition.urgency == .emergency ? settings.dangerWeight : 1)
        }
        self.logPrior = logPrior
        self.pYes = pYes
        self.logYes = pYes.map { Foundation.log($0) }
        self.logNo = pYes.map { Foundation.log(1 - $0) }
        self.listed = listed
        self.weights = weights
        self.askable = knowledge.findings.map { $0.kind != .demographic && $0.question != nil }
        self.ruleFindings = knowledge.rules.map { rule in (rule.all + (rule.any ?? [])).compactMap { knowledge.findingIndex[$0] } }
    }

    /// Findings in the opening complaint (unknown words are ignored; demographic words too).
    public func extract(_ text: String) -> [Evidence] {
        matcher.extract(text).map { Evidence(finding: $0.finding, present: $0.present) }
    }

    /// The posterior over conditions (sums to 1).
    public func posterior(profile: TriageProfile, evidence: [Evidence]) -> [Double] {
        var logp = [Double](repeating: 0, count: conditionCount)
        let column = profile.band * 2 + (profile.sex == .female ? 0 : 1)
        for ci in 0..<conditionCount { logp[ci] = logPrior[ci * 10 + column] }
        for item in evidence {
            guard let fi = knowledge.findingIndex[item.finding], askable[fi] else { continue }
            let table = item.present ? logYes : logNo
            let row = fi * conditionCount
            for ci in 0..<conditionCount { logp[ci] += table[row + ci] }
        }
        return Self.normalise(logp)
    }

    static func normalise(_ logp: [Double]) -> [Double] {
        let top = logp.max() ?? 0
        guard top.isFinite else { return logp.map { _ in 1 / Double(max(logp.count, 1)) } }
        var p = logp.map { Foundation.exp($0 - top) }
        let sum = p.reduce(0, +)
        for i in p.indices { p[i] /= sum }
        return p
    }

    /// Red-flag rules whose findings are present (and within their age and sex limits).
    public func firedRules(profile: TriageProfile, evidence: [Evidence]) -> [FiredRule] {
        let present = Set(evidence.filter(\.present).map(\.finding))
        return knowledge.rules.filter { rule in
            if let minAge = rule.minAge, profile.age < minAge { return false }
            if let maxAge = rule.maxAge, profile.age > maxAge { return false }
            if let sex = rule.sex, sex != profile.sex { return false }
            guard rule.all.allSatisfy(present.contains) else { return false }
            let any = rule.any ?? []
            return any.isEmpty || any.contains(where: present.contains)
        }.map { FiredRule(id: $0.id, disposition: $0.disposition, reason: $0.reason) }
    }

    /// One turn: the next question, or the result when a stop rule holds.
    /// `asked` are findings already put to the patient (answered in any way, including "don't know").
    public func assess(profile: TriageProfile, evidence: [Evidence], asked: [String], finished: Bool = false) -> Assessment {
        let p = posterior(profile: profile, evidence: evidence)
        let fired = firedRules(profile: profile, evidence: evidence)
        let ranked = rank(p, profile: profile, evidence: evidence)
        var disposition = dispose(p, fired: fired)
        let couldNotAssess = !evidence.contains(where: \.present)
        if couldNotAssess && disposition < .routine { disposition = .routine }
        let crisis = evidence.contains { item in item.present && Self.crisisFindings.contains { item.finding.contains($0) } }
        func stop(_ reason: StopReason) -> Assessment {
            Assessment(
                question: nil, disposition: disposition, conditions: ranked, firedRules: fired, stopReason: reason, couldNotAssess: couldNotAssess,
                crisis: crisis)
        }
        if finished { return stop(.patientFinished) }
        if fired.contains(where: { $0.disposition == .emergency }) { return stop(.redFlag) }
        if asked.count >= settings.maxQuestions { return stop(.questionLimit) }
        if let top = p.indices.max(by: { p[$0] < p[$1] }), p[top] >= settings.confidentTop, asked.count >= 3 {
            let danger = p.indices.filter { $0 != top && weights[$0] > 1 }.reduce(0) { $0 + p[$1] }
            if danger < settings.residualDanger { return stop(.confident) }
        }
        var known = Set(asked.compactMap { knowledge.findingIndex[$0] })
        for item in evidence { if let fi = knowledge.findingIndex[item.finding] { known.insert(fi) } }
        guard let (best, gain) = bestQuestion(p, known: known, evidence: evidence, profile: profile), gain >= settings.minimumGain
        else { return stop(.nothingToLearn) }
        return Assessment(
            question: knowledge.findings[best], disposition: disposition, conditions: ranked, firedRules: fired, stopReason: nil,
            couldNotAssess: couldNotAssess, crisis: crisis)
    }

    /// Finding ids (parts of them) that signal a mental-health crisis or an overdose.
    static let crisisFindings = ["suicid", "self_harm", "overdose"]

    private func bestQuestion(_ p: [Double], known: Set<Int>, evidence: [Evidence], profile: TriageProfile) -> (Int, Double)? {
        // Candidates: what the plausible conditions list, plus what would complete a red-flag rule.
        var candidates = Set<Int>()
        for ci in 0..<conditionCount where p[ci] >= 0.001 {
            for fi in listed[ci] where askable[fi] && !known.contains(fi) { candidates.insert(fi) }
        }
        let present = Set(evidence.filter(\.present).compactMap { knowledge.findingIndex[$0.finding] })
        var completing = Set<Int>()
        for (ri, rule) in knowledge.rules.enumerated() {
            if let minAge = rule.minAge, profile.age < minAge { continue }
            if let maxAge = rule.maxAge, profile.age > maxAge { continue }
            if let sex = rule.sex, sex != profile.sex { continue }
            let all = rule.all.compactMap { knowledge.findingIndex[$0] }
            let any = (rule.any ?? []).compactMap { knowledge.findingIndex[$0] }
            let missingAll = all.filter { !present.contains($0) }
            let anyMet = any.isEmpty || any.contains(where: present.contains)
            // One step from firing, and at least one of its findings is already present.
            guard ruleFindings[ri].contains(where: present.contains) else { continue }
            if missingAll.count == 1, anyMet, !known.contains(missingAll[0]), askable[missingAll[0]] { completing.insert(missingAll[0]) }
            if missingAll.isEmpty, !anyMet { for fi in any where !known.contains(fi) && askable[fi] { completing.insert(fi) } }
        }
        candidates.formUnion(completing)
        guard !candidates.isEmpty else { return nil }
        // Only conditions that still carry probability take part (the rest change nothing measurable).
        let active = p.indices.filter { p[$0] > 1e-12 }
        let pa = active.map { p[$0] }
        let wa = active.map { weights[$0] }
        let logp = pa.map { Foundation.log($0) }
        var h0 = 0.0
        for k in active.indices { h0 -= wa[k] * pa[k] * logp[k] }
        // With y = p·l and n = p·(1 − l), the weighted entropy of y/py is
        //   −(Σ w·y·(log p + log l) − log(py)·Σ w·y) / py,
        // so the logs come from the tables: no logarithm per condition and candidate.
        var best: (Int, Double)?
        for fi in candidates.sorted() {
            var py = 0.0, wy = 0.0, ty = 0.0, pn = 0.0, wn = 0.0, tn = 0.0
            let row = fi * conditionCount
            for k in active.indices {
                let cell = row + active[k]
                let l = pYes[cell]
                let w = wa[k]
                let y = pa[k] * l
                let n = pa[k] - y
                py += y
                pn += n
                wy += w * y
                wn += w * n
                ty += w * y * (logp[k] + logYes[cell])
                tn += w * n * (logp[k] + logNo[cell])
            }
            guard py > 1e-12, pn > 1e-12 else { continue }
            let hy = -(ty - Foundation.log(py) * wy) / py
            let hn = -(tn - Foundation.log(pn) * wn) / pn
            var gain = h0 - (py * hy + pn * hn)
            if completing.contains(fi) { gain += 1 }
            if best == nil || gain > best!.1 + 1e-12 { best = (fi, gain) }
        }
        return best
    }

    private func dispose(_ p: [Double], fired: [FiredRule]) -> Urgency {
        var mass: [Urgency: Double] = [:]
        for (ci, condition) in knowledge.conditions.enumerated() { mass[condition.urgency, default: 0] += p[ci] }
        let emergency = mass[.emergency, default: 0]
        let urgent = emergency + mass[.urgent, default: 0]
        let routine = urgent + mass[.routine, default: 0]
        var level: Urgency =
            emergency >= settings.emergencyMass ? .emergency
            : urgent >= settings.urgentMass ? .urgent
            : routine >= settings.routineMass ? .routine : .selfCare
        for rule in fired where rule.disposition > level { level = rule.disposition }
        return level
    }

    /// The ten most likely conditions, each with the findings that raised or lowered it.
    private func rank(_ p: [Double], profile: TriageProfile, evidence: [Evidence]) -> [RankedCondition] {
        let order = p.indices.sorted { p[$0] != p[$1] ? p[$0] > p[$1] : $0 < $1 }.prefix(10)
        return order.map { ci in
            let condition = knowledge.conditions[ci]
            var moves: [(String, Double)] = []
            for item in evidence {
                guard let fi = knowledge.findingIndex[item.finding], askable[fi] else { continue }
                let finding = knowledge.findings[fi]
                let background = finding.background ?? 0.01
                let l = pYes[fi * conditionCount + ci]
                let shift = item.present ? Foundation.log(l / background) : Foundation.log((1 - l) / (1 - background))
                if abs(shift) >= 0.4 { moves.append(((item.present ? "" : "no ") + finding.name.lowercased(), shift)) }
            }
            return RankedCondition(
                id: condition.id, name: condition.name, icd10: condition.icd10, probability: p[ci], urgency: condition.urgency,
                raisedBy: moves.filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }.prefix(4).map(\.0),
                loweredBy: moves.filter { $0.1 < 0 }.sorted { $0.1 < $1.1 }.prefix(4).map(\.0))
        }
    }
}
