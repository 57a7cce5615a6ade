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
    /// Whole months of age when the birth date is known (the service computes it); rules about
    /// young babies use it. `nil` (an evaluation vignette gives whole years): a child in their first
    /// year counts as possibly under any month limit, the safe side.
    public var ageMonths: Int?
    public init(age: Int, sex: Sex, ageMonths: Int? = nil) {
        self.age = age
        self.sex = sex
        self.ageMonths = ageMonths
    }

    /// Whether the patient is, or may be, younger than `months`.
    func mayBeYoungerThan(months: Int) -> Bool {
        if let ageMonths { return ageMonths < months }
        return age * 12 < months
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
    /// The advice is an emergency that no single answer could lower (H15: asking on only delays).
    case emergencyHeld = "emergency-held"
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
        /// A dangerous condition that explains a reported finding must have its red flags asked before
        /// the engine stops early (0 turns the screen off, for comparison runs).
        public var screenRedFlags = true
        /// Posterior below which a dangerous condition is not screened.
        public var screenFloor = 1e-5
        /// Posterior from which a dangerous condition that explains a reported finding has its red
        /// flags asked before any other question (above 1: never first, only before an early stop).
        public var screenFirstFloor = 0.01
        /// Whether an emergency that no single answer could lower is held: the red-flag screens stop
        /// (no flag could raise it; asking them only delays the patient, H15) and the conversation
        /// ends after `heldEmergencyStopsAfter` questions (false: both go on, for comparison runs).
        public var holdEmergency = true
        /// A held emergency ends the questions once this many were asked (as `confident` needs 3).
        public var heldEmergencyStopsAfter = 3
        /// Off (0, the default): the description is asked for only before the first question (C25).
        /// n > 0: a conversation whose evidence still names no problem asks for it at the first turn
        /// whose question would not complete a red-flag rule, and at the latest after n questions.
        /// Measured and not taken (safety review 3, 2026-11-27): it found a child's appendicitis, but
        /// the description's findings drew the questions away from the red flags of the opening's
        /// general findings (an adult's meningitis, a child's sepsis, an insulin-treated collapse
        /// given lower advice).
        public var describeAfter = 0
        /// The question limit ends the search, not the red-flag screen: at the limit, red flags still
        /// unasked of a dangerous condition that explains a reported finding and carries this much of
        /// the posterior are asked (as before any other stop, though from a higher floor: the patient
        /// has answered the limit already), up to `screenOvertime` more questions; their answers can
        /// raise the advice, never lower it. 0 overtime: the limit ends everything (the old behaviour).
        public var limitScreenFloor = 1e-3
        public var screenOvertime = 10
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
            case "screenRedFlags": screenRedFlags = value != 0
            case "screenFloor": screenFloor = value
            case "screenFirstFloor": screenFirstFloor = value
            case "holdEmergency": holdEmergency = value != 0
            case "heldEmergencyStopsAfter": heldEmergencyStopsAfter = Int(value)
            case "describeAfter": describeAfter = Int(value)
            case "limitScreenFloor": limitScreenFloor = value
            case "screenOvertime": screenOvertime = Int(value)
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
    private let emergency: [Bool]  // condition -> whether its urgency is emergency
    private let listed: [[Int]]  // condition -> finding indices it lists
    private let redFlagFindings: [[Int]]  // condition -> its red-flag finding indices (askable ones)
    private let askable: [Bool]
    private let ruleFindings: [[Int]]
    private let ruleAll: [[Int]]
    private let ruleAny: [[Int]]
    /// For the question choice, per finding: the conditions that list it (`fCond[fStart[fi]..<fStart[fi + 1]]`,
    /// ascending), with `l − b` and `e(l) − e(b)` for each, where `l` is P(yes | condition), `b` the
    /// finding's background (what every other condition says) and `e(x) = x·log x + (1 − x)·log(1 − x)`.
    private let fStart: [Int]
    private let fCond: [Int]
    private let fDl: [Double]
    private let fDe: [Double]
    private let background: [Double]
    private let eBackground: [Double]
    /// Findings a red-flag rule or a condition's red flags name (never given an entailed absence).
    private let redFlagged: [Bool]

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
        self.emergency = knowledge.conditions.map { $0.urgency == .emergency }
        let askable = knowledge.findings.map { $0.kind != .demographic && $0.question != nil }
        self.askable = askable
        let redFlagFindings = knowledge.conditions.map { condition in
            (condition.redFlags ?? []).compactMap { knowledge.findingIndex[$0] }.filter { askable[$0] }
        }
        self.redFlagFindings = redFlagFindings
        let ruleFindings = knowledge.rules.map { rule in (rule.all + (rule.any ?? [])).compactMap { knowledge.findingIndex[$0] } }
        self.ruleFindings = ruleFindings
        // Every finding but a demographic one is askable (the loader requires its question), and
        // demographic findings take no part in `implies`, so the askable red flags are all that matter.
        var redFlagged = [Bool](repeating: false, count: f)
        for fi in (ruleFindings + redFlagFindings).joined() { redFlagged[fi] = true }
        self.redFlagged = redFlagged
        self.ruleAll = knowledge.rules.map { rule in rule.all.compactMap { knowledge.findingIndex[$0] } }
        self.ruleAny = knowledge.rules.map { rule in (rule.any ?? []).compactMap { knowledge.findingIndex[$0] } }
        func e(_ x: Double) -> Double { x * Foundation.log(x) + (1 - x) * Foundation.log(1 - x) }
        let background = knowledge.findings.map { $0.background ?? 0.01 }
        var byFinding = [[Int]](repeating: [], count: f)
        for (ci, mine) in listed.enumerated() { for fi in Set(mine).sorted() { byFinding[fi].append(ci) } }
        var fStart = [0]
        var fCond: [Int] = []
        var fDl: [Double] = []
        var fDe: [Double] = []
        for fi in 0..<f {
            for ci in byFinding[fi] {
                let l = pYes[fi * c + ci]
                fCond.append(ci)
                fDl.append(l - background[fi])
                fDe.append(e(l) - e(background[fi]))
            }
            fStart.append(fCond.count)
        }
        self.fStart = fStart
        self.fCond = fCond
        self.fDl = fDl
        self.fDe = fDe
        self.background = background
        self.eBackground = background.map(e)
    }

    /// Runs a few untimed turns so that the first patient's turn does not pay for cold caches and
    /// lazy set-up (0.5–0.9 ms measured on a first turn, against about 0.1 ms after). The server
    /// calls it at start, and the evaluator before it times anything.
    public func warmUp() {
        for text in ["headache and a temperature", "chest pain", "tummy ache and being sick"] {
            for profile in [TriageProfile(age: 30, sex: .female), TriageProfile(age: 70, sex: .male)] {
                _ = assess(profile: profile, evidence: extract(text), asked: [])
            }
        }
    }

    /// Findings in the opening complaint (unknown words are ignored; demographic words too).
    public func extract(_ text: String) -> [Evidence] {
        matcher.extract(text).map { Evidence(finding: $0.finding, present: $0.present) }
    }

    /// Whether the evidence names no problem yet: nothing present but general findings, risk factors
    /// and demographics ("I just don't feel right", "I'm pregnant and feel off"). Questions chosen
    /// from nothing go round the whole knowledge base, so the conversation first asks the patient to
    /// describe the problem in their own words, once (C25).
    public func needsDescription(_ evidence: [Evidence]) -> Bool {
        !evidence.contains { $0.present && knowledge.finding($0.finding)?.namesProblem == true }
    }

    /// Whether a conversation that starts from `evidence` asks for a description first: it names no
    /// problem, no red-flag rule has fired on it, and the first question would not complete one
    /// (C02: that question comes first; "just back from Nigeria and feel awful" is asked about a
    /// fever, "I have tablets saved up" about suicidal thoughts).
    public func asksForDescription(profile: TriageProfile, evidence: [Evidence]) -> Bool {
        needsDescription(evidence) && asksForDescription(profile: profile, evidence: evidence, first: assess(profile: profile, evidence: evidence, asked: []))
    }

    /// Whether a conversation not yet asked to describe the problem asks now, given `next`, the
    /// assessment of `evidence` after `asked` questions: the evidence names no problem, no red-flag
    /// rule has fired, and the next question would not complete one, or `Settings.describeAfter`
    /// questions were asked already (so rule-completing questions for a general finding, "not herself
    /// today", do not take every turn while the complaint itself is never heard).
    public func asksForDescription(profile: TriageProfile, evidence: [Evidence], asked: Int = 0, first next: Assessment) -> Bool {
        guard needsDescription(evidence), next.firedRules.isEmpty else { return false }
        if asked > 0 {
            guard settings.describeAfter > 0 else { return false }
            if asked >= settings.describeAfter { return true }
        }
        guard let question = next.question else { return true }
        return firedRules(profile: profile, evidence: evidence + [Evidence(finding: question.id, present: true)]).isEmpty
    }

    /// `evidence` with what a later message says: the items of `added` whose finding it does not
    /// mention yet join in their order, and a finding it has as absent that the message reports
    /// present becomes present. A finding only ever goes from absent to present: a later message
    /// never takes one back ("no chest pain ... actually pain in my chest" is chest pain; "chest pain
    /// ... no chest pain" stays chest pain; a correction can take one back, under its own rules).
    public static func adding(_ added: [Evidence], to evidence: [Evidence]) -> [Evidence] {
        var merged = evidence
        var position = [String: Int]()
        for (i, item) in evidence.enumerated() where position[item.finding] == nil { position[item.finding] = i }
        for item in added {
            if let i = position[item.finding] {
                if item.present { merged[i].present = true }
            } else {
                position[item.finding] = merged.count
                merged.append(item)
            }
        }
        return merged
    }

    /// The evidence with what it entails (the knowledge base's `implies`): a finding reported present
    /// makes every finding it implies present, and (with `absences`) one reported absent makes every
    /// finding that implies it absent. What was reported outright is never overridden, and a present
    /// reading wins over an absent one that only follows. Idempotent; the order is the input's, then
    /// the additions.
    ///
    /// The posterior takes only the present ones. An entailed absence is true but not independent:
    /// "no chest pain" counted again as "no central chest pain", "no chest pain at rest" and so on
    /// would multiply one answer into several and bury a heart attack that presents without chest
    /// pain. Entailed absences only stop the engine asking what it already knows, and never for a
    /// finding that a red-flag rule or a condition's red flags name: a denial in free text may be
    /// narrower than its finding ("no blurred vision" is read as no change in vision), so a red flag
    /// is asked unless the patient denied it outright.
    public func entailed(_ evidence: [Evidence], absences: Bool = true) -> [Evidence] {
        let (present, absent) = entailment(evidence)
        return absences ? present + absent : present
    }

    /// `entailed` in two parts: the evidence with the findings its present items entail, and the
    /// absences its absent items entail (after the first part, never contradicting it).
    private func entailment(_ evidence: [Evidence]) -> (present: [Evidence], absent: [Evidence]) {
        var stated = [Bool?](repeating: nil, count: knowledge.findings.count)
        for item in evidence {
            if let fi = knowledge.findingIndex[item.finding], stated[fi] == nil { stated[fi] = item.present }
        }
        var out = evidence
        var added = stated
        for item in evidence where item.present {
            guard let fi = knowledge.findingIndex[item.finding], stated[fi] == true else { continue }
            for fj in knowledge.impliedBy[fi] where added[fj] == nil {
                added[fj] = true
                out.append(Evidence(finding: knowledge.findings[fj].id, present: true))
            }
        }
        var absent: [Evidence] = []
        for item in evidence where !item.present {
            guard let fi = knowledge.findingIndex[item.finding], stated[fi] == false else { continue }
            for fj in knowledge.implying[fi] where added[fj] == nil && !redFlagged[fj] {
                added[fj] = false
                absent.append(Evidence(finding: knowledge.findings[fj].id, present: false))
            }
        }
        return (out, absent)
    }

    /// The posterior over conditions (sums to 1), from the evidence and the findings its present
    /// ones entail.
    public func posterior(profile: TriageProfile, evidence: [Evidence]) -> [Double] {
        posterior(profile: profile, entailed: entailed(evidence, absences: false))
    }

    private func posterior(profile: TriageProfile, entailed evidence: [Evidence]) -> [Double] {
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
        firedRules(profile: profile, entailed: entailed(evidence, absences: false))
    }

    private func firedRules(profile: TriageProfile, entailed evidence: [Evidence]) -> [FiredRule] {
        let present = Set(evidence.filter(\.present).map(\.finding))
        return knowledge.rules.filter { rule in
            guard rule.applies(to: profile) else { return false }
            guard rule.all.allSatisfy(present.contains) else { return false }
            let any = rule.any ?? []
            return any.isEmpty || any.contains(where: present.contains)
        }.map { FiredRule(id: $0.id, disposition: $0.disposition, reason: $0.reason) }
    }

    /// One turn: the next question, or the result when a stop rule holds.
    /// `asked` are findings already put to the patient (answered in any way, including "don't know").
    public func assess(profile: TriageProfile, evidence reported: [Evidence], asked: [String], finished: Bool = false) -> Assessment {
        // Entailed once per turn: the present part drives the posterior and the rules; the entailed
        // absences only mark findings as known.
        let (evidence, entailedAbsences) = entailment(reported)
        let p = posterior(profile: profile, entailed: evidence)
        let fired = firedRules(profile: profile, entailed: evidence)
        let ranked = rank(p, profile: profile, evidence: evidence)
        var disposition = dispose(p, fired: fired)
        // Past the question limit only red flags are asked (`screenOvertime`): their answers may raise
        // the advice, never take it below what it was at the limit (a "no" to a red flag asked only
        // because the limit came first is not a reason to advise less).
        if asked.count > settings.maxQuestions {
            let overtime = Set(asked[settings.maxQuestions...])
            let (atLimit, _) = entailment(reported.filter { !overtime.contains($0.finding) })
            var floor = dispose(posterior(profile: profile, entailed: atLimit), fired: firedRules(profile: profile, entailed: atLimit))
            if needsDescription(atLimit) { floor = max(floor, .routine) }
            disposition = max(disposition, floor)
        }
        // Nothing that names a problem (general findings and risk factors do not): never below
        // "book an appointment" (C25: "my baby is very pale" with every answer "don't know").
        let couldNotAssess = needsDescription(evidence)
        if couldNotAssess && disposition < .routine { disposition = .routine }
        let crisis = Self.signalsCrisis(evidence)
        func stop(_ reason: StopReason) -> Assessment {
            Assessment(
                question: nil, disposition: disposition, conditions: ranked, firedRules: fired, stopReason: reason, couldNotAssess: couldNotAssess,
                crisis: crisis)
        }
        if finished { return stop(.patientFinished) }
        if fired.contains(where: { $0.disposition == .emergency }) { return stop(.redFlag) }
        let (known, present) = knownAndPresent(evidence + entailedAbsences, asked: asked)
        func ask(_ fi: Int) -> Assessment {
            Assessment(
                question: knowledge.findings[fi], disposition: disposition, conditions: ranked, firedRules: fired, stopReason: nil,
                couldNotAssess: couldNotAssess, crisis: crisis)
        }
        if asked.count >= settings.maxQuestions {
            // Overtime answers never lower the advice, so only a flag whose "yes" could raise it is
            // worth the patient's time: none once the advice is an emergency (H15).
            guard settings.screenRedFlags, asked.count < settings.maxQuestions + settings.screenOvertime, disposition < .emergency
            else { return stop(.questionLimit) }
            // A question that would complete a rule advising more comes first, whatever the
            // probabilities (a stiff neck once a fever is confirmed).
            let remaining = unscreenedRedFlags(p, known: known, present: present, floor: settings.limitScreenFloor)
                .filter { couldRaise($0, above: disposition) }
            let completing = completingQuestions(known: known, present: present, profile: profile, above: disposition)
            guard !remaining.isEmpty || !completing.isEmpty else { return stop(.questionLimit) }
            return ask(bestQuestion(p, known: known, present: present, profile: profile, only: remaining, ruleAbove: disposition)?.0 ?? completing.first ?? remaining[0])
        }
        // An emergency that no single answer could lower is held: its red flags could only confirm it,
        // and asking them only delays the patient (H15), so the screens are skipped, and after
        // `heldEmergencyStopsAfter` questions the conversation ends.
        let held =
            settings.holdEmergency && disposition == .emergency
            && emergencyHeld(p, known: known, present: present, evidence: evidence, profile: profile)
        func unscreened(floor: Double) -> [Int] {
            settings.screenRedFlags && !held ? unscreenedRedFlags(p, known: known, present: present, floor: floor) : []
        }
        // Red-flag screening. The red flags of a plausible (posterior >= screenFirstFloor) emergency or
        // must-not-miss condition that explains something reported come before anything else, as a
        // clinician rules out the dangerous causes of a complaint first (a question that completes a
        // red-flag rule still comes first of all).
        let first = unscreened(floor: settings.screenFirstFloor)
        if !first.isEmpty, let (flag, _) = bestQuestion(p, known: known, present: present, profile: profile, only: first) { return ask(flag) }
        var confident = false
        if let top = p.indices.max(by: { p[$0] < p[$1] }), p[top] >= settings.confidentTop, asked.count >= 3 {
            let danger = p.indices.filter { $0 != top && weights[$0] > 1 }.reduce(0) { $0 + p[$1] }
            confident = danger < settings.residualDanger
        }
        let stopHeld = held && asked.count >= settings.heldEmergencyStopsAfter
        if !confident, !stopHeld, let (best, gain) = bestQuestion(p, known: known, present: present, profile: profile), gain >= settings.minimumGain {
            return ask(best)
        }
        // Never stop early with a red flag of a dangerous, explaining condition unasked: ask the most
        // informative of them first.
        let remaining = unscreened(floor: settings.screenFloor)
        guard !remaining.isEmpty else { return stop(confident ? .confident : stopHeld ? .emergencyHeld : .nothingToLearn) }
        return ask(bestQuestion(p, known: known, present: present, profile: profile, only: remaining)?.0 ?? remaining[0])
    }

    /// Whether a "yes" to red flag `fi` could raise the advice above `level`: a rule with it advises
    /// more, or a dangerous condition that has it as a red flag warrants more.
    private func couldRaise(_ fi: Int, above level: Urgency) -> Bool {
        for (ri, rule) in knowledge.rules.enumerated() where rule.disposition > level && ruleFindings[ri].contains(fi) { return true }
        for ci in 0..<conditionCount where knowledge.conditions[ci].urgency > level && redFlagFindings[ci].contains(fi) { return true }
        return false
    }

    /// Finding ids (parts of them) that signal a mental-health crisis or an overdose.
    static let crisisFindings = ["suicid", "self_harm", "overdose"]

    /// Whether a present finding signals a mental-health crisis or an overdose (C20).
    public static func signalsCrisis(_ evidence: [Evidence]) -> Bool {
        evidence.contains { item in item.present && crisisFindings.contains { item.finding.contains($0) } }
    }

    /// Red-flag findings not yet asked of each emergency or must-not-miss condition that lists a
    /// finding the patient has and still carries `floor` of the posterior (ascending indices).
    private func unscreenedRedFlags(_ p: [Double], known: [Bool], present: [Bool], floor: Double) -> [Int] {
        var flags = Set<Int>()
        for ci in 0..<conditionCount where weights[ci] > 1 && p[ci] >= floor {
            guard listed[ci].contains(where: { present[$0] }) else { continue }
            for fi in redFlagFindings[ci] where !known[fi] { flags.insert(fi) }
        }
        return flags.sorted()
    }

    /// The findings worth asking: what the plausible conditions list, plus what would complete a
    /// red-flag rule (`completing`).
    private func candidates(_ p: [Double], known: [Bool], present: [Bool], profile: TriageProfile, only: [Int]? = nil, ruleAbove: Urgency? = nil)
        -> (isCandidate: [Bool], completing: [Bool], any: Bool)
    {
        let f = askable.count
        var isCandidate = [Bool](repeating: false, count: f)
        var completing = [Bool](repeating: false, count: f)
        var any = false
        if let only {
            for fi in only { isCandidate[fi] = true }
            any = !only.isEmpty
        }
        for ci in 0..<conditionCount where only == nil && p[ci] >= 0.001 {
            for fi in listed[ci] where askable[fi] && !known[fi] {
                isCandidate[fi] = true
                any = true
            }
        }
        // (Also with `only`: a question that completes a red-flag rule always comes first.)
        for fi in completingQuestions(known: known, present: present, profile: profile, above: ruleAbove) {
            completing[fi] = true
            isCandidate[fi] = true
            any = true
        }
        return (isCandidate, completing, any)
    }

    /// Unasked findings that would complete a red-flag rule (one step from firing, with one of its
    /// findings present already), of rules that advise more than `above` when it is given.
    private func completingQuestions(known: [Bool], present: [Bool], profile: TriageProfile, above: Urgency? = nil) -> [Int] {
        var completes: [Int] = []
        for (ri, rule) in knowledge.rules.enumerated() {
            guard rule.applies(to: profile), above.map({ rule.disposition > $0 }) ?? true else { continue }
            guard ruleFindings[ri].contains(where: { present[$0] }) else { continue }
            let missingAll = ruleAll[ri].filter { !present[$0] }
            let anyMet = ruleAny[ri].isEmpty || ruleAny[ri].contains(where: { present[$0] })
            if missingAll.count == 1, anyMet, !known[missingAll[0]], askable[missingAll[0]] { completes.append(missingAll[0]) }
            if missingAll.isEmpty, !anyMet { completes += ruleAny[ri].filter { !known[$0] && askable[$0] } }
        }
        return completes
    }

    /// Which findings are known (asked, reported or entailed) and which are present.
    private func knownAndPresent(_ items: [Evidence], asked: [String]) -> (known: [Bool], present: [Bool]) {
        var known = [Bool](repeating: false, count: askable.count)
        var present = [Bool](repeating: false, count: askable.count)
        for id in asked { if let fi = knowledge.findingIndex[id] { known[fi] = true } }
        for item in items {
            guard let fi = knowledge.findingIndex[item.finding] else { continue }
            known[fi] = true
            if item.present { present[fi] = true }
        }
        return (known, present)
    }

    /// Whether the advice is an emergency on the probabilities that no single answer, "yes" or "no",
    /// to a question worth asking could lower: the emergency conditions keep `emergencyMass` after
    /// each. A "yes" brings what it implies (C22) as the engine would: every implied finding not
    /// already in the entailed `evidence` counts with it. (For tests and traces.)
    public func emergencyHeld(profile: TriageProfile, evidence reported: [Evidence], asked: [String]) -> Bool {
        let (evidence, entailedAbsences) = entailment(reported)
        let p = posterior(profile: profile, entailed: evidence)
        guard dispose(p, fired: []) == .emergency else { return false }
        let (known, present) = knownAndPresent(evidence + entailedAbsences, asked: asked)
        return emergencyHeld(p, known: known, present: present, evidence: evidence, profile: profile)
    }

    private func emergencyHeld(_ p: [Double], known: [Bool], present: [Bool], evidence: [Evidence], profile: TriageProfile) -> Bool {
        let (isCandidate, _, _) = candidates(p, known: known, present: present, profile: profile)
        var stated = [Bool](repeating: false, count: askable.count)
        for item in evidence { if let fi = knowledge.findingIndex[item.finding] { stated[fi] = true } }
        let c = conditionCount
        var total = 0.0, emergencyTotal = 0.0
        for ci in 0..<c {
            total += p[ci]
            if emergency[ci] { emergencyTotal += p[ci] }
        }
        for fi in 0..<askable.count where isCandidate[fi] {
            // As in `bestQuestion`: every condition that does not list fi says its background, so each
            // "yes" sum is its value at the background plus a correction over those that list it; a
            // "no" takes the rest.
            var py = background[fi] * total
            var ey = background[fi] * emergencyTotal
            for j in fStart[fi]..<fStart[fi + 1] {
                let ci = fCond[j]
                py += p[ci] * fDl[j]
                if emergency[ci] { ey += p[ci] * fDl[j] }
            }
            let pn = total - py
            let en = emergencyTotal - ey
            let brought = knowledge.impliedBy[fi].filter { !stated[$0] }
            if !brought.isEmpty {
                // A "yes" that brings implied findings multiplies their likelihoods in, for every condition.
                py = 0
                ey = 0
                let row = fi * c
                for ci in 0..<c {
                    var y = p[ci] * pYes[row + ci]
                    for fj in brought { y *= pYes[fj * c + ci] }
                    if emergency[ci] { ey += y }
                    py += y
                }
            }
            if py > 1e-12, ey < settings.emergencyMass * py { return false }
            if pn > 1e-12, en < settings.emergencyMass * pn { return false }
        }
        return true
    }

    private func bestQuestion(_ p: [Double], known: [Bool], present: [Bool], profile: TriageProfile, only: [Int]? = nil, ruleAbove: Urgency? = nil)
        -> (Int, Double)?
    {
        let f = askable.count
        let (isCandidate, completing, any) = candidates(p, known: known, present: present, profile: profile, only: only, ruleAbove: ruleAbove)
        guard any else { return nil }
        // The weighted expected information gain of asking finding fi, over the conditions that still
        // carry probability (p > 1e-12; the rest change nothing measurable). With y = p·l, n = p·(1 − l),
        // py = Σ y, pn = Σ n and the weighted sums wy, wn, the gain
        //   h0 − py·H(y/py) − pn·H(n/pn) = Σ w·p·e(l) − wy·log py − wn·log pn.
        // Every condition that does not list fi says l = b (the finding's background), so each sum is
        // its value at l = b plus a correction over the few conditions that list fi: a turn costs the
        // knowledge base's entries, not findings × conditions.
        var pz = [Double](repeating: 0, count: conditionCount)
        var wpz = [Double](repeating: 0, count: conditionCount)
        var total = 0.0, weighted = 0.0
        for ci in 0..<conditionCount where p[ci] > 1e-12 {
            pz[ci] = p[ci]
            wpz[ci] = weights[ci] * p[ci]
            total += pz[ci]
            weighted += wpz[ci]
        }
        var best: (Int, Double)?
        for fi in 0..<f where isCandidate[fi] {
            var dy = 0.0, dwy = 0.0, ds = 0.0
            for j in fStart[fi]..<fStart[fi + 1] {
                let ci = fCond[j]
                dy += pz[ci] * fDl[j]
                dwy += wpz[ci] * fDl[j]
                ds += wpz[ci] * fDe[j]
            }
            let py = background[fi] * total + dy
            let wy = background[fi] * weighted + dwy
            let pn = total - py
            let wn = weighted - wy
            guard py > 1e-12, pn > 1e-12 else { continue }
            var gain = eBackground[fi] * weighted + ds - wy * Foundation.log(py) - wn * Foundation.log(pn)
            if completing[fi] { gain += 1 }
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
