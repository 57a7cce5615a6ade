import Foundation

/// A clinical vignette (the format `confide triage eval` reads).
public struct Vignette: Sendable, Hashable, Codable {
    public var id: String
    public var age: Int
    public var sex: Sex
    public var presentingComplaint: String
    public var findings: [String]
    public var absentFindings: [String]
    public var correctDiagnosis: String
    public var acceptableDiagnoses: [String]
    public var triage: Urgency
    public var triageAcceptable: [Urgency]

    enum CodingKeys: String, CodingKey {
        case id, age, sex, findings, triage
        case presentingComplaint = "presenting_complaint"
        case absentFindings = "absent_findings"
        case correctDiagnosis = "correct_diagnosis"
        case acceptableDiagnoses = "acceptable_diagnoses"
        case triageAcceptable = "triage_acceptable"
    }
}

/// One vignette's outcome.
public struct CaseResult: Sendable, Hashable, Codable {
    public var id: String
    public var correctDiagnosis: String
    public var resolvedDiagnosis: String?
    public var rank: Int?
    public var top: [String]
    public var expectedTriage: Urgency
    public var disposition: Urgency
    public var triageCorrect: Bool
    public var underTriage: Bool
    public var overTriage: Bool
    public var questions: Int
    public var stopReason: StopReason
    public var firedRules: [String]
    public var maxTurnMicroseconds: Double
    /// The same turn costs in this thread's CPU time (wall time less any time the thread was not
    /// running: a preemption on a shared machine is not the engine's cost).
    public var maxTurnCPUMicroseconds: Double = 0
    /// The findings asked, in order (for clinical review of the questioning); `describe` first when
    /// the patient was asked to describe the problem.
    public var asked: [String] = []
    /// Every turn's time (not encoded: the report summarises them).
    public var turnMicroseconds: [Double] = []
    public var turnCPUMicroseconds: [Double] = []

    enum CodingKeys: String, CodingKey {
        case id, rank, top, disposition, questions, asked
        case correctDiagnosis = "correct_diagnosis"
        case resolvedDiagnosis = "resolved_diagnosis"
        case expectedTriage = "expected_triage"
        case triageCorrect = "triage_correct"
        case underTriage = "under_triage"
        case overTriage = "over_triage"
        case stopReason = "stop_reason"
        case firedRules = "fired_rules"
        case maxTurnMicroseconds = "max_turn_us"
        case maxTurnCPUMicroseconds = "max_turn_cpu_us"
    }
}

/// The figures `confide triage eval --json` prints.
public struct EvaluationReport: Sendable, Codable {
    public var cases: Int
    public var top1: Double
    public var top3: Double
    public var top10: Double
    public var triageAccuracy: Double
    public var underTriage: Double
    public var overTriage: Double
    public var emergenciesMissed: Int
    public var meanQuestions: Double
    public var medianQuestions: Double
    /// Turn times over every turn of every case (one turn = one `assess`: inference, red flags,
    /// question choice, ranking with explanations).
    public var turnMicrosecondsP50: Double
    public var turnMicrosecondsP99: Double
    public var maxTurnMicroseconds: Double
    /// The same in thread CPU time (the engine's own cost, without preemption by other processes).
    public var turnCPUMicrosecondsP99: Double = 0
    public var maxTurnCPUMicroseconds: Double = 0
    /// The baseline measured in the same run: one inference pass (the posterior) alone.
    public var posteriorMicrosecondsP50: Double
    public var knowledgeBaseVersion: String
    public var unresolvedDiagnoses: [String]
    public var casesDetail: [CaseResult]

    enum CodingKeys: String, CodingKey {
        case cases, top1, top3, top10
        case triageAccuracy = "triage_accuracy"
        case underTriage = "under_triage"
        case overTriage = "over_triage"
        case emergenciesMissed = "emergencies_missed"
        case meanQuestions = "mean_questions"
        case medianQuestions = "median_questions"
        case turnMicrosecondsP50 = "turn_us_p50"
        case turnMicrosecondsP99 = "turn_us_p99"
        case maxTurnMicroseconds = "max_turn_us"
        case turnCPUMicrosecondsP99 = "turn_cpu_us_p99"
        case maxTurnCPUMicroseconds = "max_turn_cpu_us"
        case posteriorMicrosecondsP50 = "posterior_us_p50"
        case knowledgeBaseVersion = "knowledge_base_version"
        case unresolvedDiagnoses = "unresolved_diagnoses"
        case casesDetail = "cases_detail"
    }
}

/// Plays each vignette as the patient: it opens with the presenting complaint, then answers "yes"
/// when one of the vignette's findings names the asked finding (through the same synonyms and
/// negation as the chat), "no" when an absent finding does, and "don't know" otherwise.
public struct Evaluator: Sendable {
    public let engine: TriageEngine
    private let names: [String: String]

    public init(engine: TriageEngine) {
        self.engine = engine
        var names: [String: String] = [:]
        for condition in engine.knowledge.conditions {
            for name in [condition.name, condition.clinicalName ?? "", condition.icd10, condition.id.replacingOccurrences(of: "_", with: " ")]
                + condition.synonyms
            {
                let key = Self.key(name)
                if !key.isEmpty && names[key] == nil { names[key] = condition.id }
            }
        }
        self.names = names
    }

    static func key(_ name: String) -> String { TextMatcher.normalise(name).joined(separator: " ") }

    /// The knowledge-base condition a vignette names (by name, clinical name, synonym or ICD-10 code;
    /// a parenthesised part is tried on its own too).
    public func resolve(_ name: String) -> String? {
        if let id = names[Self.key(name)] { return id }
        var parts = [name]
        if let open = name.firstIndex(of: "("), let close = name.lastIndex(of: ")"), open < close {
            parts.append(String(name[..<open]))
            parts.append(String(name[name.index(after: open)..<close]))
        }
        parts += name.components(separatedBy: " / ")
        for part in parts { if let id = names[Self.key(part)] { return id } }
        return nil
    }

    public func run(_ vignettes: [Vignette]) -> EvaluationReport {
        engine.warmUp()
        let results = vignettes.map(play)
        let n = Double(max(results.count, 1))
        func fraction(_ predicate: (CaseResult) -> Bool) -> Double { Double(results.filter(predicate).count) / n }
        let questions = results.map(\.questions).sorted()
        let median: Double =
            questions.isEmpty ? 0
            : questions.count % 2 == 1 ? Double(questions[questions.count / 2])
            : Double(questions[questions.count / 2 - 1] + questions[questions.count / 2]) / 2
        return EvaluationReport(
            cases: results.count,
            top1: fraction { ($0.rank ?? 99) <= 1 },
            top3: fraction { ($0.rank ?? 99) <= 3 },
            top10: fraction { ($0.rank ?? 99) <= 10 },
            triageAccuracy: fraction(\.triageCorrect),
            underTriage: fraction(\.underTriage),
            overTriage: fraction(\.overTriage),
            emergenciesMissed: results.filter { $0.expectedTriage == .emergency && $0.disposition < .emergency }.count,
            meanQuestions: Double(questions.reduce(0, +)) / n,
            medianQuestions: median,
            turnMicrosecondsP50: Self.percentile(results.flatMap(\.turnMicroseconds), 0.5),
            turnMicrosecondsP99: Self.percentile(results.flatMap(\.turnMicroseconds), 0.99),
            maxTurnMicroseconds: results.map(\.maxTurnMicroseconds).max() ?? 0,
            turnCPUMicrosecondsP99: Self.percentile(results.flatMap(\.turnCPUMicroseconds), 0.99),
            maxTurnCPUMicroseconds: results.map(\.maxTurnCPUMicroseconds).max() ?? 0,
            posteriorMicrosecondsP50: posteriorBaseline(vignettes),
            knowledgeBaseVersion: engine.knowledge.version,
            unresolvedDiagnoses: results.filter { $0.resolvedDiagnosis == nil }.map(\.correctDiagnosis),
            casesDetail: results)
    }

    /// How the simulated patient answers: "yes" to the findings the case names, "no" to those it names
    /// as absent (or negated), "don't know" to everything else.
    struct CaseAnswers {
        var yes = Set<String>()
        var no = Set<String>()

        /// The evidence an answer to `finding` adds; `nil` for "don't know".
        func evidence(_ finding: String) -> Evidence? {
            yes.contains(finding) ? Evidence(finding: finding, present: true) : no.contains(finding) ? Evidence(finding: finding, present: false) : nil
        }
    }

    func caseAnswers(_ vignette: Vignette) -> CaseAnswers {
        var answers = CaseAnswers()
        for text in vignette.findings {
            for item in engine.matcher.extract(text) {
                if item.present { answers.yes.insert(item.finding) } else { answers.no.insert(item.finding) }
            }
        }
        for text in vignette.absentFindings { for item in engine.matcher.extract(text) { answers.no.insert(item.finding) } }
        // What the case's findings entail (a case with pain in the left lower tummy has tummy pain),
        // read the way the engine reads a patient's answers.
        let stated = answers.yes.sorted().map { Evidence(finding: $0, present: true) } + answers.no.subtracting(answers.yes).sorted().map {
            Evidence(finding: $0, present: false)
        }
        for item in engine.entailed(stated) where answers.evidence(item.finding) == nil {
            if item.present { answers.yes.insert(item.finding) } else { answers.no.insert(item.finding) }
        }
        return answers
    }

    /// What the simulated patient says when asked to describe the problem: their first two findings,
    /// as a patient names the main complaint in a few words.
    static func description(_ vignette: Vignette) -> String { vignette.findings.prefix(2).joined(separator: ", ") }

    func describe(_ vignette: Vignette) -> [Evidence] { engine.extract(Self.description(vignette)) }

    /// One vignette's conversation, turn by turn (for reviewing a case): what the opening message
    /// gave, each question with the simulated answer, and the final ranking.
    public func trace(_ vignette: Vignette) -> [String] {
        var lines: [String] = []
        let opening = engine.extract(vignette.presentingComplaint)
        lines.append("opening: " + opening.map { ($0.present ? "+" : "-") + $0.finding }.joined(separator: " "))
        let answers = caseAnswers(vignette)
        lines.append("case findings read as: +" + answers.yes.sorted().joined(separator: " +") + "  -" + answers.no.sorted().joined(separator: " -"))
        let unread = (vignette.findings + vignette.absentFindings).filter { engine.matcher.extract($0).isEmpty }
        if !unread.isEmpty { lines.append("case strings that name no finding: " + unread.map { "\"\($0)\"" }.joined(separator: ", ")) }
        let profile = TriageProfile(age: vignette.age, sex: vignette.sex)
        var evidence = opening
        var asked: [String] = []
        var described = false
        while true {
            let a = engine.assess(profile: profile, evidence: evidence, asked: asked)
            // The description is asked for once (C25), before a question or after `describeAfter`.
            if !described, engine.asksForDescription(profile: profile, evidence: evidence, asked: asked.count, first: a) {
                described = true
                let merged = TriageEngine.adding(describe(vignette), to: evidence)
                let changed = merged.filter { !evidence.contains($0) }
                lines.append("  describe -> \"\(Self.description(vignette))\": " + changed.map { ($0.present ? "+" : "-") + $0.finding }.joined(separator: " "))
                evidence = merged
                continue
            }
            guard let q = a.question else {
                lines.append("stop: \(a.stopReason?.rawValue ?? "?") disposition \(a.disposition.rawValue) rules \(a.firedRules.map(\.id))")
                for c in a.conditions { lines.append(String(format: "  %.3f %@ [%@] +%@ -%@", c.probability, c.id, c.urgency.rawValue, c.raisedBy.joined(separator: ","), c.loweredBy.joined(separator: ","))) }
                return lines
            }
            asked.append(q.id)
            let given = answers.evidence(q.id)
            let answer = given.map { $0.present ? "yes" : "no" } ?? "?"
            if let given { evidence.append(given) }
            lines.append("  Q \(q.id) -> \(answer)   (top: \(a.conditions.prefix(3).map { "\($0.id) \(String(format: "%.2f", $0.probability))" }.joined(separator: ", ")))")
        }
    }

    static func percentile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
    }

    /// The median time of one posterior over each vignette's opening evidence (the baseline).
    func posteriorBaseline(_ vignettes: [Vignette]) -> Double {
        var times: [Double] = []
        for v in vignettes {
            let evidence = engine.extract(v.presentingComplaint)
            let profile = TriageProfile(age: v.age, sex: v.sex)
            for _ in 0..<5 {
                let start = DispatchTime.now().uptimeNanoseconds
                let p = engine.posterior(profile: profile, evidence: evidence)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1000)
                precondition(!p.isEmpty)
            }
        }
        return Self.percentile(times, 0.5)
    }

    public func play(_ vignette: Vignette) -> CaseResult {
        let profile = TriageProfile(age: vignette.age, sex: vignette.sex)
        let answers = caseAnswers(vignette)
        var evidence = engine.extract(vignette.presentingComplaint)
        var asked: [String] = []
        // The questions as the patient saw them: `describe` where the patient was asked to describe
        // the problem (once, C25: before the first question or after `describeAfter`).
        var shown: [String] = []
        var slowest = 0.0
        var turns: [Double] = []
        var cpuTurns: [Double] = []
        var assessment: Assessment
        while true {
            let cpuStart = Self.threadCPUNanoseconds()
            let start = DispatchTime.now().uptimeNanoseconds
            assessment = engine.assess(profile: profile, evidence: evidence, asked: asked)
            let took = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000
            cpuTurns.append(Double(Self.threadCPUNanoseconds() &- cpuStart) / 1000)
            turns.append(took)
            slowest = max(slowest, took)
            if !shown.contains("describe"), engine.asksForDescription(profile: profile, evidence: evidence, asked: asked.count, first: assessment) {
                shown.append("describe")
                evidence = TriageEngine.adding(describe(vignette), to: evidence)
                continue
            }
            guard let question = assessment.question else { break }
            asked.append(question.id)
            shown.append(question.id)
            if let given = answers.evidence(question.id) { evidence.append(given) }
        }
        let target = resolve(vignette.correctDiagnosis)
        let rank = target.flatMap { id in assessment.conditions.firstIndex { $0.id == id }.map { $0 + 1 } }
        let acceptable = vignette.triageAcceptable.isEmpty ? [vignette.triage] : vignette.triageAcceptable
        let disposition = assessment.disposition
        return CaseResult(
            id: vignette.id, correctDiagnosis: vignette.correctDiagnosis, resolvedDiagnosis: target, rank: rank,
            top: assessment.conditions.prefix(3).map(\.id), expectedTriage: vignette.triage, disposition: disposition,
            triageCorrect: acceptable.contains(disposition),
            underTriage: acceptable.allSatisfy { disposition < $0 },
            overTriage: acceptable.allSatisfy { disposition > $0 },
            questions: shown.count, stopReason: assessment.stopReason ?? .questionLimit,
            firedRules: assessment.firedRules.map(\.id), maxTurnMicroseconds: slowest, maxTurnCPUMicroseconds: cpuTurns.max() ?? 0,
            asked: shown, turnMicroseconds: turns, turnCPUMicroseconds: cpuTurns)
    }

    /// This thread's CPU time in nanoseconds.
    static func threadCPUNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
