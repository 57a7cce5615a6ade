import ConfideTriage
import Foundation
import PropertyBased
import Testing

/// The bundled knowledge base and an engine over it, loaded once for the suite (a load failure
/// fails each test with the validator's message instead of crashing the run).
let engineResult = Result { TriageEngine(knowledge: try KnowledgeBase.bundled()) }

@Suite("triage knowledge base")
struct KnowledgeBaseTests {
    @Test("the bundled knowledge base loads, validates and has the size and emergencies the issue asks for")
    func bundledIsComplete() throws {
        let bundled = try engineResult.get().knowledge
        #expect(bundled.conditions.count >= 150)
        #expect(bundled.findings.count >= 400)
        // The emergencies that must never be missed, by ICD-10 code family.
        let mustHave = ["I21", "I64", "A41", "G03", "I26", "O00", "K35", "T78", "E10", "I60", "N44", "G83"]
        for code in mustHave {
            let condition = bundled.conditions.first { $0.icd10.hasPrefix(code) }
            #expect(condition != nil, "no condition with ICD-10 \(code)")
            #expect(condition?.mustNotMiss == true || condition?.urgency == .emergency, "\(code) is not treated as dangerous")
        }
        // Every number carries provenance (the validator enforces it; this checks the validator ran on real data).
        for c in bundled.conditions {
            #expect(!c.prevalence.source.isEmpty)
            for f in c.findings { #expect(!(f.source ?? c.findingsSource ?? "").isEmpty, "\(c.id).\(f.id) has no source") }
        }
        for f in bundled.findings where f.kind != .demographic {
            #expect(f.synonyms.count >= 3, "\(f.id) has too few synonyms")
            #expect(f.question?.hasSuffix("?") == true)
        }
    }

    @Test("a broken knowledge base is refused with the file, entry and field named")
    func invalidIsRefused() throws {
        let findings = #"{"findings": [{"id": "fever", "name": "Fever", "kind": "symptom", "question": "Fever?", "synonyms": ["fever", "temperature", "hot"], "background": 0.1, "source": "clinical estimate"}, {"id": "pyrexia", "name": "Pyrexia", "kind": "symptom", "question": "Hot?", "synonyms": ["fever", "a", "b"], "background": 0.1, "implies": ["chill", "ghost"]}, {"id": "chill", "name": "Chill", "kind": "symptom", "question": "Cold?", "synonyms": ["chill", "c", "d"], "background": 0.1, "source": "clinical estimate", "implies": ["pyrexia"]}]}"#
        let conditions = #"{"conditions": [{"id": "flu", "name": "Flu", "icd10": "nope", "synonyms": [], "urgency": "self_care", "prevalence": {"per": 10000, "female": [1, 1, 1, 1], "male": [1, 1, 1, 1, 1], "source": ""}, "findings": [{"id": "cough", "p": 1.5}], "red_flags": ["fever"]}]}"#
        let rules = #"{"rules": [{"id": "rf.x", "all": ["ghost"], "disposition": "routine", "reason": "x", "source": ""}, {"id": "rf.y", "all": ["fever"], "under_months": 30, "disposition": "urgent", "reason": "y", "source": "clinical estimate"}]}"#
        let files: [(name: String, data: Data)] = [
            ("findings-a.json", Data(findings.utf8)), ("conditions-a.json", Data(conditions.utf8)), ("red-flags-a.json", Data(rules.utf8)),
        ]
        let error = #expect(throws: KnowledgeBaseError.self) { try KnowledgeBase(files: files) }
        let text = error?.description ?? ""
        for expected in [
            "version.json: missing", "synonym 'fever' also belongs to fever", "finding pyrexia: background has no source",
            "condition flu: icd10 'nope'", "condition flu: prevalence needs 5", "condition flu: prevalence has no source",
            "condition flu: unknown finding cough", "p of cough must be in", "red flag fever is not among its findings",
            "red-flag rule rf.x: unknown finding ghost", "rf.x: must force urgent or emergency", "rf.y: under_months must be 1-24",
            "finding pyrexia: implies unknown finding ghost", "finding pyrexia: implies itself through a cycle",
            "finding chill: implies itself through a cycle",
        ] {
            #expect(text.contains(expected), "missing: \(expected)")
        }
        #expect(throws: KnowledgeBaseError.self) { try KnowledgeBase(files: [("conditions-b.json", Data("{".utf8))]) }
    }
}

/// What free text reads as: each finding found, present (true) or negated (false).
func read(_ text: String) -> [String: Bool] {
    guard let engine = try? engineResult.get() else { return [:] }
    return Dictionary(engine.matcher.extract(text).map { ($0.finding, $0.present) }, uniquingKeysWith: { a, _ in a })
}

@Suite("triage free text")
struct TextMatcherTests {

    @Test("lay phrases find their findings")
    func synonyms() {
        #expect(read("I've had a tummy ache since yesterday")["abdominal_pain"] == true)
        #expect(read("I can't catch my breath")["shortness_of_breath"] == true)
        #expect(read("Throwing up all night")["vomiting"] == true)
        #expect(read("Sore throat and a high temperature")["sore_throat"] == true)
        #expect(read("Sore throat and a high temperature")["fever"] == true)
        // Phrases the tuning sets showed missing (knowledge base 2026-11-27).
        #expect(read("I've been sick and there was a lot of blood in it")["vomiting_blood"] == true)
        #expect(read("there's jelly-like blood in his nappy")["redcurrant_jelly_stool"] == true)
        #expect(read("I took a lot of paracetamol about 3 hours ago")["took_overdose"] == true)
        #expect(read("my right eye is agony, theres rainbow rings round lights")["halos_around_lights"] == true)
        #expect(read("neck really stiff and little purple spots that don't go when i press a glass")["neck_stiffness"] == true)
        #expect(read("neck really stiff and little purple spots that don't go when i press a glass")["non_blanching_rash"] == true)
        // A longer phrase wins where two findings share words: chewing pain is the jaw of arteritis.
        #expect(read("my jaw aches when I chew")["jaw_claudication"] == true)
        #expect(read("my jaw aches when I chew")["pain_radiates_arm_or_jaw"] == nil)
        // "I don't want to hurt myself" is not self-harm.
        #expect(read("I don't want to hurt myself")["self_harm"] != true)
    }

    static let vitalFindings: Set<String> = [
        "fever", "low_temperature", "low_oxygen", "rapid_breathing", "tachycardia", "slow_pulse", "low_blood_pressure",
        "high_blood_pressure_reading", "low_blood_sugar_reading", "high_blood_sugar_reading",
    ]

    func engineResultFindings(_ text: String) -> [ExtractedFinding] { (try? engineResult.get())?.matcher.extract(text) ?? [] }

    @Test("measured values read at the guidance thresholds: temperature, oxygen, breathing and heart rate, blood pressure, blood sugar")
    func vitalSigns() throws {
        let cases: [(String, [String: Bool?])] = [
            ("temp 38.5 since last night", ["fever": true]),
            ("his temperature was 39.2c", ["fever": true]),
            ("temperature of 34.8 and shivering", ["low_temperature": true]),
            ("oxygen saturation 89% on air", ["low_oxygen": true]),
            ("my pulse ox says 91", ["low_oxygen": true]),
            ("breathing rate 28", ["rapid_breathing": true]),
            ("30 breaths a minute", ["rapid_breathing": true]),
            ("heart rate 110", ["tachycardia": true]),
            ("pulse over 100 all morning", ["tachycardia": true]),
            ("pulse is 44", ["slow_pulse": true]),
            ("my watch says 130 bpm", ["tachycardia": true]),
            ("blood pressure 88/52", ["low_blood_pressure": true]),
            ("bp 158/106 at the pharmacy", ["high_blood_pressure_reading": true]),
            ("blood sugar 2.8", ["low_blood_sugar_reading": true]),
            ("his sugar was under 4 and he is confused", ["low_blood_sugar_reading": true]),
            ("sugar is 24 and I feel awful", ["high_blood_sugar_reading": nil, "low_blood_sugar_reading": nil]),
            ("glucose 250", ["high_blood_sugar_reading": true]),
            ("glucose 50", ["low_blood_sugar_reading": true]),
            // A reading in range says nothing either way (a reading after paracetamol is one moment),
            // and is not read as the word "temperature" (a fever).
            ("temperature 36.1 despite the chest infection", ["fever": nil, "low_temperature": nil]),
            ("temp 35.8 on the forehead thermometer", ["low_temperature": nil, "fever": nil]),
            ("sats 97", ["low_oxygen": nil]),
            ("sats less than 95", ["low_oxygen": nil]),
            ("bp 120 over 80", ["high_blood_pressure_reading": nil, "low_blood_pressure": nil]),
            ("heart rate over 90 since the operation", ["tachycardia": nil]),
            ("blood sugar 30 and he is shaky", ["low_blood_sugar_reading": nil, "high_blood_sugar_reading": nil]),
            // What the patient says still counts beside a normal reading.
            ("temp 37.2 after Calpol, she was burning up last night", ["fever": true]),
            ("fever at 37 weeks pregnant with tummy pain", ["fever": true]),
            // Not readings.
            ("mum is confused, last BM was 3 days ago", ["low_blood_sugar_reading": nil]),
            ("breathing 45 bpm", ["slow_pulse": nil]),
        ]
        for (text, expected) in cases {
            let got = read(text)
            for (finding, present) in expected { #expect(got[finding] == present, "\(text): \(finding) read as \(String(describing: got[finding]))") }
            #expect(!engineResultFindings(text).contains { !$0.present && Self.vitalFindings.contains($0.finding) }, "\(text): a reading made something absent")
        }
        // A measured value is not negated by what came before; words around numbers are not readings.
        #expect(read("no cough, temperature 38.9")["fever"] == true)
        #expect(read("fever for 3 days")["fever"] == true)
        #expect(read("I'm 38 weeks pregnant")["fever"] == nil)
        #expect(read("blood pressure tablets 5mg")["low_blood_pressure"] == nil)
        #expect(read("aged 36. Then a fever")["fever"] == true)
        // Every finding the reader can name is in the knowledge base.
        let engine = try engineResult.get()
        for text in cases.map(\.0) {
            for item in engine.matcher.extract(text) { #expect(engine.knowledge.finding(item.finding) != nil, "\(item.finding)") }
        }
    }

    @Test("coordination: a synonym split by 'and' or 'or' and one word still reads, and the coordinated word is read on its own")
    func coordination() {
        #expect(read("throat feels scratchy and tight after lunch")["throat_tightness"] == true)
        let both = read("chest and back pain since this morning")
        #expect(both["chest_pain"] == true)
        #expect(both["back_pain"] == true)
        // No false readings from a split: "green poo and sick" is not green vomit; a rash on one side
        // of the neck and face is no facial weakness.
        #expect(read("baby has green poo and sick")["green_vomit"] == nil)
        #expect(read("shingles rash on one side of my neck and face")["facial_weakness"] == nil)
        #expect(read("my calf is tender and swollen")["calf_swelling_one_side"] == true)
        // Negation covers the coordinated reading.
        let neither = read("no chest or back pain")
        #expect(neither["chest_pain"] == false)
        #expect(neither["back_pain"] == false)
        // An outright synonym still wins, and a split needs a conjunction.
        #expect(read("chest pain and back pain")["chest_pain"] == true)
        #expect(read("chest really bad pain")["chest_pain"] == nil)
    }

    @Test("negation: no, not, without, denies, don't have, and lists")
    func negation() {
        #expect(read("no fever")["fever"] == false)
        #expect(read("I am not short of breath")["shortness_of_breath"] == false)
        #expect(read("headache without vomiting")["vomiting"] == false)
        #expect(read("headache without vomiting")["headache"] == true)
        #expect(read("Denies chest pain, has a cough")["chest_pain"] == false)
        #expect(read("Denies chest pain, has a cough")["cough"] == true)
        #expect(read("I don't have a fever but I have a cough")["fever"] == false)
        #expect(read("I don't have a fever but I have a cough")["cough"] == true)
        #expect(read("no fever, cough or rash")["rash"] == false)
        #expect(read("no fever, cough or rash")["cough"] == false)
        #expect(read("No fever. Vomiting since this morning.")["vomiting"] == true)
        #expect(read("I haven't got a temperature")["fever"] == false)
    }

    @Test("empty and huge text read as nothing, without crashing")
    func edges() throws {
        let engine = try engineResult.get()
        #expect(engine.matcher.extract("").isEmpty)
        #expect(engine.matcher.extract("   ,,, ... !!!").isEmpty)
        let huge = String(repeating: "blah ", count: 50_000) + "fever"
        #expect(read(huge)["fever"] == true)
    }
}

/// Random evidence over the knowledge base's askable findings (picks index into them, modulo).
let evidenceGen = Gen.int(in: 0...100_000).array(of: 0...12)
let presentGen = Gen.bool.array(of: 12...12)

func evidence(_ picks: [Int], _ present: [Bool], _ engine: TriageEngine) -> [Evidence] {
    let findingIDs = engine.knowledge.findings.filter { $0.kind != .demographic }.map(\.id)
    var seen = Set<String>()
    return picks.enumerated().compactMap { i, pick in
        let id = findingIDs[pick % findingIDs.count]
        guard seen.insert(id).inserted else { return nil }
        return Evidence(finding: id, present: present[i % present.count])
    }
}

/// The findings a red-flag rule or a condition's red flags name (never given an entailed absence).
func redFlags(of kb: KnowledgeBase) -> Set<String> {
    Set(kb.rules.flatMap { $0.all + ($0.any ?? []) } + kb.conditions.flatMap { $0.redFlags ?? [] })
}

@Suite("triage engine properties")
struct TriageEnginePropertyTests {
    @Test("the posterior is a probability distribution")
    func posteriorSumsToOne() async throws {
        let engine = try engineResult.get()
        await propertyCheck(count: 200, input: evidenceGen, presentGen, Gen.int(in: 0...100), Gen.bool) { picks, present, age, female in
            let p = engine.posterior(profile: TriageProfile(age: age, sex: female ? .female : .male), evidence: evidence(picks, present, engine))
            #expect(abs(p.reduce(0, +) - 1) < 1e-9)
            #expect(p.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
    }

    @Test("a red-flag rule that fires forces at least its disposition, whatever the probabilities")
    func redFlagsForce() async throws {
        let engine = try engineResult.get()
        let bundled = engine.knowledge
        await propertyCheck(count: 300, input: Gen.int(in: 0...(bundled.rules.count - 1)), evidenceGen, presentGen, Gen.int(in: 0...100)) {
            ruleIndex, picks, present, age in
            let rule = bundled.rules[ruleIndex]
            // The rule's findings present, plus random other evidence that could pull the probabilities anywhere.
            var items = evidence(picks, present, engine).filter { !rule.all.contains($0.finding) && !(rule.any ?? []).contains($0.finding) }
            items += rule.all.map { Evidence(finding: $0, present: true) }
            if let any = rule.any?.first { items.append(Evidence(finding: any, present: true)) }
            let profile = TriageProfile(age: max(rule.minAge ?? 0, min(age, rule.maxAge ?? 120)), sex: rule.sex ?? .female)
            let a = engine.assess(profile: profile, evidence: items, asked: [], finished: true)
            #expect(a.firedRules.contains { $0.id == rule.id })
            #expect(a.disposition >= rule.disposition)
        }
    }

    @Test("entailment (implies): closed, idempotent, never overrides what was said, and absences it adds never reach the posterior")
    func entailment() async throws {
        let engine = try engineResult.get()
        let kb = engine.knowledge
        #expect(kb.impliedBy.filter { !$0.isEmpty }.count >= 60)
        let redFlagged = redFlags(of: kb)
        await propertyCheck(count: 300, input: evidenceGen, presentGen, Gen.int(in: 0...100)) { picks, present, age in
            // Bias the picks towards findings that take part in implies.
            let linked = kb.findings.indices.filter { !kb.impliedBy[$0].isEmpty || !kb.implying[$0].isEmpty }
            var seen = Set<String>()
            let items = picks.enumerated().compactMap { i, pick -> Evidence? in
                let id = kb.findings[linked[pick % linked.count]].id
                return seen.insert(id).inserted ? Evidence(finding: id, present: present[i % present.count]) : nil
            }
            let all = engine.entailed(items)
            let stated = Dictionary(items.map { ($0.finding, $0.present) }, uniquingKeysWith: { first, _ in first })
            var reading: [String: Bool] = [:]
            for item in all {
                #expect(reading[item.finding] == nil, "\(item.finding) read twice")
                reading[item.finding] = item.present
            }
            #expect(Array(all.prefix(items.count)) == items)
            for (id, value) in stated { #expect(reading[id] == value, "\(id) overridden") }
            for item in all where item.present {
                for fj in kb.impliedBy[kb.findingIndex[item.finding]!] { #expect(reading[kb.findings[fj].id] != nil) }
            }
            for (id, value) in stated where !value {
                for fj in kb.implying[kb.findingIndex[id]!] {
                    let child = kb.findings[fj].id
                    // A red flag is never given an entailed absence: it is asked unless denied outright.
                    if redFlagged.contains(child) { #expect(stated[child] != nil || reading[child] != false) } else { #expect(reading[child] != nil) }
                }
            }
            #expect(engine.entailed(all) == all)
            let positive = engine.entailed(items, absences: false)
            #expect(positive.dropFirst(items.count).allSatisfy { $0.present })
            let profile = TriageProfile(age: age, sex: .female)
            let p = engine.posterior(profile: profile, evidence: items)
            #expect(zip(p, engine.posterior(profile: profile, evidence: positive)).allSatisfy { abs($0 - $1) < 1e-12 })

        }
    }

    @Test("a specific finding answers its broader one: no question about tummy pain after left lower tummy pain, none about kinds of chest pain after 'no chest pain'")
    func entailmentInConversation() throws {
        let engine = try engineResult.get()
        let profile = TriageProfile(age: 27, sex: .female)
        var items = engine.extract("sharp pain low down on the left of my tummy")
        #expect(items.contains(Evidence(finding: "llq_pain", present: true)))
        var asked: [String] = []
        var chest = [Evidence(finding: "chest_pain", present: false), Evidence(finding: "shortness_of_breath", present: true)]
        var chestAsked: [String] = []
        for _ in 0..<20 {
            if let q = engine.assess(profile: profile, evidence: items, asked: asked).question {
                asked.append(q.id)
                items.append(Evidence(finding: q.id, present: false))
            }
            if let q = engine.assess(profile: TriageProfile(age: 70, sex: .male), evidence: chest, asked: chestAsked).question {
                chestAsked.append(q.id)
                chest.append(Evidence(finding: q.id, present: false))
            }
        }
        #expect(!asked.isEmpty && !asked.contains("abdominal_pain") && !asked.contains("lower_abdominal_pain"))
        // A narrow denial in free text takes no red flag away: "no blurred vision" (read as no change in
        // vision) leaves a curtain over the vision and sudden loss of sight to be asked.
        let eye = engine.entailed(engine.extract("flashes and floaters in my right eye, no blurred vision"))
        #expect(eye.contains(Evidence(finding: "vision_change", present: false)))
        #expect(!eye.contains { ["curtain_over_vision", "sudden_vision_loss_one_eye"].contains($0.finding) })
        // Kinds of chest pain that are no red flag are not asked after "no chest pain"; red flags are.
        let kb = engine.knowledge
        let redFlagged = redFlags(of: kb)
        let chestKinds = kb.findings.filter { ($0.implies ?? []).contains("chest_pain") }.map(\.id)
        #expect(chestKinds.count >= 2)
        #expect(!chestAsked.isEmpty && Set(chestAsked).isDisjoint(with: chestKinds.filter { !redFlagged.contains($0) }))
        #expect(
            Set(engine.entailed([Evidence(finding: "chest_pain", present: false)]).dropFirst().map(\.finding))
                == Set(chestKinds.filter { !redFlagged.contains($0) }))
        // Left lower tummy pain counts as tummy pain for a condition that lists only tummy pain.
        let withBroad = engine.posterior(profile: profile, evidence: [Evidence(finding: "llq_pain", present: true)])
        let said = engine.posterior(
            profile: profile, evidence: [Evidence(finding: "llq_pain", present: true), Evidence(finding: "abdominal_pain", present: true)])
        #expect(zip(withBroad, said).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(withBroad != engine.posterior(profile: profile, evidence: [Evidence(finding: "lower_abdominal_pain", present: true)]))
        // An entailed absence stays out of the posterior; the same absence said outright counts.
        let older = TriageProfile(age: 70, sex: .male)
        let noTummy = [Evidence(finding: "abdominal_pain", present: false)]
        #expect(engine.posterior(profile: older, evidence: noTummy) == engine.posterior(profile: older, evidence: engine.entailed(noTummy, absences: false)))
        #expect(engine.entailed(noTummy).count >= 3)
        #expect(engine.posterior(profile: older, evidence: noTummy) != engine.posterior(profile: older, evidence: engine.entailed(noTummy)))
    }

    @Test("the same answers give the same question, ranking and advice")
    func deterministic() async throws {
        let engine = try engineResult.get()
        await propertyCheck(count: 100, input: evidenceGen, presentGen, Gen.int(in: 0...100)) { picks, present, age in
            let items = evidence(picks, present, engine)
            let profile = TriageProfile(age: age, sex: .male)
            let a = engine.assess(profile: profile, evidence: items, asked: items.map(\.finding))
            let b = TriageEngine(knowledge: engine.knowledge).assess(profile: profile, evidence: items, asked: items.map(\.finding))
            #expect(a == b)
        }
    }

    @Test("an asked question is never asked again, and the conversation always ends")
    func terminates() throws {
        let engine = try engineResult.get()
        for (age, sex, complaint) in [(30, Sex.female, "headache"), (70, .male, ""), (3, .female, "cough and fever"), (45, .male, "no pain")] {
            var items = engine.extract(complaint)
            var asked: [String] = []
            var turns = 0
            while let q = engine.assess(profile: TriageProfile(age: age, sex: sex), evidence: items, asked: asked).question {
                #expect(!asked.contains(q.id))
                asked.append(q.id)
                items.append(Evidence(finding: q.id, present: turns % 3 == 0))
                turns += 1
                // The limit, then at most the red-flag overtime.
                #expect(turns <= engine.settings.maxQuestions + engine.settings.screenOvertime)
                if turns > 50 { break }
            }
        }
    }
}

@Suite("triage scenarios")
struct TriageScenarioTests {
    func run(_ engine: TriageEngine, _ complaint: String, age: Int, sex: Sex, yes: Set<String>) -> Assessment {
        unanswered(engine, complaint, TriageProfile(age: age, sex: sex), yes: yes).last
    }

    @Test("thunderclap headache is an emergency at once, whatever else")
    func thunderclap() throws {
        let engine = try engineResult.get()
        let rule = try #require(engine.knowledge.rules.first { $0.id == "rf.thunderclap_headache" })
        #expect(rule.disposition == .emergency && rule.all == ["thunderclap_headache"])
        // A denied headache does not stop it (safety review of 2026-11-27.9).
        for text in ["I never get headaches but this is the worst headache of my life, it came on suddenly",
            "Not a migraine, it was a thunderclap headache that peaked within seconds"] {
            let a = engine.assess(profile: TriageProfile(age: 40, sex: .female), evidence: engine.extract(text), asked: [])
            #expect(a.disposition == .emergency, "\(text)")
        }
        let a = engine.assess(
            profile: TriageProfile(age: 40, sex: .female), evidence: [Evidence(finding: "thunderclap_headache", present: true)], asked: [])
        #expect(a.disposition == .emergency)
        #expect(a.question == nil)
        #expect(a.stopReason == .redFlag)
        // Any headache is asked about a thunderclap first (the question completes the rule, C02),
        // even when the opening is "one of my bad migraines".
        for text in ["i get migraines, this is one of my bad ones", "headache since this morning"] {
            let first = engine.assess(profile: TriageProfile(age: 40, sex: .female), evidence: engine.extract(text), asked: [])
            #expect(first.question?.id == "thunderclap_headache", "\(text)")
        }
    }

    @Test("C21: a fever under 3 months is at least urgent, and a child's non-blanching rash is an emergency")
    func infantFloor() throws {
        let engine = try engineResult.get()
        let fever = engine.extract("my baby has a high temperature")
        #expect(fever.contains(Evidence(finding: "fever", present: true)))
        func assess(_ evidence: [Evidence], age: Int, months: Int?) -> Assessment {
            engine.assess(profile: TriageProfile(age: age, sex: .female, ageMonths: months), evidence: evidence, asked: [], finished: true)
        }
        for months in [0, 1, 2] {
            let a = assess(fever, age: 0, months: months)
            #expect(a.firedRules.contains { $0.id == "rf.fever_under_3_months" }, "\(months) months")
            #expect(a.disposition >= .urgent)
        }
        // From 3 months the floor is off (other rules and the probabilities still apply).
        for months in [3, 6, 11] {
            #expect(!assess(fever, age: 0, months: months).firedRules.contains { $0.id == "rf.fever_under_3_months" }, "\(months) months")
        }
        #expect(!assess(fever, age: 2, months: 26).firedRules.contains { $0.id == "rf.fever_under_3_months" })
        // Months unknown (a vignette's whole years): a baby in the first year may be under 3 months.
        #expect(assess(fever, age: 0, months: nil).firedRules.contains { $0.id == "rf.fever_under_3_months" })
        #expect(!assess(fever, age: 1, months: nil).firedRules.contains { $0.id == "rf.fever_under_3_months" })

        let rash = engine.extract("a rash that doesn't fade when I press a glass on it")
        #expect(rash.contains(Evidence(finding: "non_blanching_rash", present: true)))
        for age in [0, 4, 15] {
            let a = assess(rash, age: age, months: nil)
            #expect(a.disposition == .emergency, "age \(age)")
            #expect(a.firedRules.contains { $0.id == "rf.non_blanching_rash_child" })
        }
        #expect(!assess(rash, age: 30, months: nil).firedRules.contains { $0.id == "rf.non_blanching_rash_child" })
    }

    @Test("everyday sentences fire no emergency rule from the opening message (review of the 2026-11-27 synonyms)")
    func noFalseEmergencies() throws {
        let engine = try engineResult.get()
        let everyday: [(String, Int)] = [
            ("blotchy skin on my face after a new cream", 30), ("I ate a whole packet of biscuits and feel sick", 30),
            ("I'm on too many tablets, can they be reviewed?", 70), ("IBS, jelly like stuff in my poo", 40), ("laryngitis and I can barely talk", 35),
            ("I can't find words to describe this back pain", 45), ("hurt my shoulder and can't lift my arm", 50),
            ("this sore throat is like nothing I've had before", 25), ("my hearing went muffled and it won't go back to normal", 60),
            ("toddler has a cold and is just not himself today", 2), ("I feel floppy and tired", 30),
            ("been sick with a cold for days and my chest is tight", 30), ("temperature and feel really sleepy", 30),
            ("All the family are fine, just me with a headache", 30), ("lifting a box and suddenly got pain between my shoulder blades", 40),
            ("used my inhaler 10 times this week, a bit wheezy", 30), ("tummy pain but no wind or vomiting", 30),
            ("chest tightness when I run for 20 mins", 30), ("diagnosed with cancer, getting my affairs in order", 70),
            ("had her first seizure last month, fine now", 30), ("The rash on my back has gone but I still have tingling in both legs", 40),
            ("my hernia is playing up again, same as usual", 60), ("I feel it doesn't matter anymore what I eat, I get heartburn", 50),
            // The review of the finding hierarchy, vital signs and coordination (knowledge base 2026-11-27.8).
            ("I've had a migraine for over an hour and feel sick and sweaty", 30), ("period pains lasted more than 20 minutes", 25),
            ("been vomiting all day, it hurts when I breathe in", 30), ("calf pain comes on with exercise, I get sweaty", 60),
            ("she has a fever and is not herself", 30), ("baby bumped her head on the cot, usual posseting", 0),
            ("baby has green poo and sick", 0), ("shingles rash on one side of my neck and face", 70),
            ("mum is confused, last BM was 3 days ago", 80), ("bp 120/80, temp 36.8, pulse 72", 40),
            // Knowledge base 2026-11-27.9: the birth, a swallowed medicine, sickness, discs, hot knees.
            ("had a baby 3 weeks ago, tired and my nipples are sore", 30), ("new mum, baby won't settle and I'm exhausted", 30),
            ("sickness and diarrhoea since yesterday", 30), ("I take my tablets from a pill box, can I take ibuprofen too", 70),
            ("slipped disc years ago, back is stiff this morning", 45), ("my knee is hot and swollen after gardening", 60),
            ("not herself since her operation", 75), ("sats 95% and breathing rate 18 after my walk", 60),
            // The safety review of 2026-11-27.9.
            ("I had a baby 3 weeks ago and I'm so paranoid about cot death I can't sleep", 30), ("can I give her extra paracetamol?", 3),
            ("I keep my pills in a pill box out of her reach", 3), ("might have swallowed some bath water", 2),
            ("Itchy rash in the middle of chest and I'm sweating", 30), ("bumped his head at school, there's a sickness bug going round", 8),
            ("Dad has dementia and is sundowning, he has a cold and a temperature", 85), ("I'm confused whether I should give Calpol for her fever", 3),
            ("I feel like being hit by a truck, aching all over with a fever", 30), ("I've got lower back pain. I drink a bit, not weed though", 40),
            ("Indigestion again after a curry, Gaviscon hasn't helped", 60), ("No fever since yesterday, just a runny nose and sneezing", 40),
            ("I haven't slept since the baby came, I'm exhausted and tearful", 29), ("I had a c-section 3 weeks ago and the wound is a bit sore", 31),
            ("I've had a slipped disc for years and my back has gone again after lifting", 50), ("I've had sickness and diarrhoea since last night after a takeaway", 30),
            ("I'm 9 weeks pregnant with bad morning sickness and a headache", 26), ("My knee is hot and swollen, I've had gout before", 67),
            ("I've got cellulitis on my leg again, same as last year", 45), ("My 3 year old has a fever, I gave her Calpol an hour ago", 3),
            ("I had an HIV test last week and now have a cold", 30), ("took 2 paracetamol for a headache", 30),
            // The review of the 2026-11-27.10 synonyms.
            ("Temperature 38.5, more sleepy than usual but wakes easily and is smiling", 2), ("Flu, sleepier than usual and a high temperature", 30),
            ("I don't know where I am supposed to get my prescription from", 75), ("She doesn't know where she is going to live after her discharge", 82),
            ("She doesn't know where she is in her cycle", 16), ("She's had jelly poo today, just clear slime no blood", 5),
            ("Hurt his eye, the eye ball is swollen and red", 30), ("Barking cough and he makes a horrible noise when he breathes in", 2),
        ]
        for (text, age) in everyday {
            let a = engine.assess(profile: TriageProfile(age: age, sex: .female), evidence: engine.extract(text), asked: [])
            #expect(!a.firedRules.contains { $0.disposition == .emergency }, "\(text): \(a.firedRules.map(\.id))")
        }
        // Readings the review found wrong: not pleurisy, not orthopnoea, not the testicles.
        #expect(read("Rattly chest when he breathes in")["pleuritic_chest_pain"] == nil)
        #expect(read("woke up gasping for breath, had to sit up")["pnd"] == true)
        #expect(read("Hurt his eye, the eye ball is swollen and red")["testicular_swelling"] == nil)
        // A testicle that looks swollen still reads as testicular pain too (its red flag for the young).
        #expect(read("His testicle looks swollen and it hurts a lot since this morning")["testicular_pain"] == true)
        // And a longer phrase must not hide a red flag: "fevers" is still a fever.
        let malaria = engine.assess(
            profile: TriageProfile(age: 30, sex: .male), evidence: engine.extract("Fevers and shakes since coming back from Nigeria"), asked: [])
        #expect(malaria.firedRules.contains { $0.id == "rf.fever_after_malaria_travel" })
    }

    @Test("C02: a question that would complete a red-flag rule comes first, before any screening question")
    func completingFirst() throws {
        let engine = try engineResult.get()
        let askable = Set(engine.knowledge.findings.filter { $0.question != nil && $0.kind != .demographic }.map(\.id))
        var checked = 0
        for rule in engine.knowledge.rules where rule.all.count == 2 && (rule.any ?? []).isEmpty && askable.contains(rule.all[1]) {
            let age = Swift.min(Swift.max(rule.minAge ?? 30, 0), rule.maxAge ?? 120)
            let profile = TriageProfile(age: age, sex: rule.sex ?? .female, ageMonths: rule.underMonths.map { _ in 0 })
            let evidence = [Evidence(finding: rule.all[0], present: true)]
            let a = engine.assess(profile: profile, evidence: evidence, asked: [])
            guard a.stopReason == nil else { continue }  // the first finding alone already fired an emergency rule
            // Every finding that would now complete some rule (a rule can be one step away in several ways).
            var completing = Set<String>()
            for other in engine.knowledge.rules where other.applies(to: profile) {
                let all = other.all, any = other.any ?? []
                guard (all + any).contains(rule.all[0]) else { continue }
                let missing = all.filter { $0 != rule.all[0] }
                let anyMet = any.isEmpty || any.contains(rule.all[0])
                if missing.count == 1, anyMet { completing.insert(missing[0]) }
                if missing.isEmpty, !anyMet { completing.formUnion(any) }
            }
            #expect(completing.contains(a.question?.id ?? "-"), "\(rule.id): asked \(a.question?.id ?? "nothing") first")
            checked += 1
        }
        #expect(checked >= 10)
    }

    @Test("no early stop while a red flag of a dangerous condition that explains the complaint is unasked")
    func redFlagScreen() throws {
        let engine = try engineResult.get()
        var off = TriageEngine.Settings()
        off.screenRedFlags = false
        let unscreened = TriageEngine(knowledge: engine.knowledge, settings: off)
        let complaints = [
            "bad headache, being sick, can't stand the light", "headache and a temperature", "tummy pain and being sick",
            "sharp chest pain when I breathe in", "back pain", "feel dizzy and faint", "my baby is not feeding", "sore throat and a fever",
        ]
        // Conversations where every question is answered "no"; at an early stop ("confident" or
        // "nothing to learn") but for a held emergency, the red flags of each emergency or
        // must-not-miss condition that lists a reported finding and keeps `screenFloor` of the
        // posterior must all have been asked.
        func violations(_ engine: TriageEngine) -> [String] {
            var found: [String] = []
            for complaint in complaints {
                let profile = TriageProfile(age: complaint.contains("baby") ? 0 : 30, sex: .female)
                let (last, items, asked) = unanswered(engine, complaint, profile, no: true)
                guard [.confident, .nothingToLearn].contains(last.stopReason),
                    !engine.emergencyHeld(profile: profile, evidence: items, asked: asked)
                else { continue }
                let p = engine.posterior(profile: profile, evidence: items)
                let present = Set(engine.entailed(items, absences: false).filter(\.present).map(\.finding))
                let known = Set(asked).union(engine.entailed(items).map(\.finding))
                for (ci, condition) in engine.knowledge.conditions.enumerated()
                where (condition.urgency == .emergency || condition.mustNotMiss == true) && p[ci] >= engine.settings.screenFloor
                    && condition.findings.contains(where: { present.contains($0.id) })
                {
                    for flag in condition.redFlags ?? [] where !known.contains(flag) {
                        guard let finding = engine.knowledge.findings.first(where: { $0.id == flag }), finding.question != nil,
                            finding.kind != .demographic
                        else { continue }
                        found.append("\(complaint): \(condition.id) \(flag)")
                    }
                }
            }
            return found
        }
        #expect(violations(engine) == [])
        // The check can fail: without the screen, early stops leave such red flags unasked.
        #expect(!violations(unscreened).isEmpty)

        // Answering yes to a stiff neck and a fever ends in the emergency.
        let yes = run(engine, "bad headache, being sick, can't stand the light", age: 19, sex: .female, yes: ["neck_stiffness", "fever"])
        #expect(yes.disposition == .emergency)
    }

    /// A conversation in which every question is answered "don't know", or "no" with `no` (and
    /// those in `yes` yes, those in `unknown` "don't know" still); asked to describe the problem
    /// (C25), the patient says `describing` when it is given.
    func unanswered(
        _ engine: TriageEngine, _ complaint: String, _ profile: TriageProfile, yes: Set<String> = [], no: Bool = false, unknown: Set<String> = [],
        describing: String? = nil
    ) -> (last: Assessment, items: [Evidence], asked: [String]) {
        var items = engine.extract(complaint)
        if let describing, engine.asksForDescription(profile: profile, evidence: items) {
            items = TriageEngine.adding(engine.extract(describing), to: items)
        }
        var asked: [String] = []
        while true {
            let a = engine.assess(profile: profile, evidence: items, asked: asked)
            guard let q = a.question else { return (a, items, asked) }
            asked.append(q.id)
            if yes.contains(q.id) || (no && !unknown.contains(q.id)) { items.append(Evidence(finding: q.id, present: yes.contains(q.id))) }
        }
    }

    @Test("a held emergency: no single answer to a question worth asking could lower it")
    func heldEmergencyProperty() throws {
        let engine = try engineResult.get()
        let complaints = [
            "My jaw and left arm have been aching for the last hour and I feel sweaty", "crushing chest pain and sweating",
            "Terrible pain in the top of my stomach going through to my back and I can't stop being sick", "he's sweaty and shaky, talking nonsense",
            "suddenly muddled since yesterday", "my face has dropped on one side", "tight chest and feel sick", "headache and a temperature",
            "my baby is floppy and not feeding", "tummy pain and being sick",
        ]
        let profiles = [TriageProfile(age: 72, sex: .female), TriageProfile(age: 55, sex: .male), TriageProfile(age: 1, sex: .female)]
        // The single answers that lower the advice, over what a condition keeping 0.001 of the
        // posterior lists, not yet asked or reported.
        func lowering(_ profile: TriageProfile, _ items: [Evidence], _ asked: [String]) -> [String] {
            let a = engine.assess(profile: profile, evidence: items, asked: asked, finished: true)
            let p = engine.posterior(profile: profile, evidence: items)
            let known = Set(asked).union(engine.entailed(items).map(\.finding))
            var open = Set<String>()
            for (ci, condition) in engine.knowledge.conditions.enumerated() where p[ci] >= 0.001 {
                for entry in condition.findings where !known.contains(entry.id) {
                    if let f = engine.knowledge.finding(entry.id), f.question != nil, f.kind != .demographic { open.insert(entry.id) }
                }
            }
            return open.sorted().flatMap { id in
                [true, false].compactMap { present in
                    let b = engine.assess(profile: profile, evidence: items + [Evidence(finding: id, present: present)], asked: asked + [id], finished: true)
                    return b.disposition < a.disposition ? "\(id) \(present ? "yes" : "no"): \(a.disposition) -> \(b.disposition)" : nil
                }
            }
        }
        var held = 0, notHeld = 0
        for complaint in complaints {
            for profile in profiles {
                for no in [false, true] {
                    var items = engine.extract(complaint)
                    var asked: [String] = []
                    while true {
                        let a = engine.assess(profile: profile, evidence: items, asked: asked)
                        if a.disposition == .emergency, a.firedRules.allSatisfy({ $0.disposition < .emergency }) {
                            if engine.emergencyHeld(profile: profile, evidence: items, asked: asked) {
                                held += 1
                                #expect(lowering(profile, items, asked) == [], "\(complaint) at \(profile.age) after \(asked)")
                            } else if notHeld < 5, !lowering(profile, items, asked).isEmpty {
                                notHeld += 1  // the check can fail: here one answer lowers it
                            }
                        }
                        guard let q = a.question else { break }
                        asked.append(q.id)
                        if no { items.append(Evidence(finding: q.id, present: false)) }
                    }
                }
            }
        }
        #expect(held >= 10, "only \(held) held emergencies")
        #expect(notHeld >= 1)
    }

    @Test("H15: an emergency that no single answer could lower is not held up by red-flag questions")
    func heldEmergency() throws {
        let engine = try engineResult.get()
        var old = TriageEngine.Settings()
        old.holdEmergency = false
        let before = TriageEngine(knowledge: engine.knowledge, settings: old)
        // Two ectopic pregnancies (tuning4 t4-010, tuning6 t6-007): "call 999" once no single answer
        // could lower it, not after more red-flag questions.
        let json = """
            [{"id": "t4-010", "age": 28, "sex": "female", "presenting_complaint": "sharp pain low down on my left side since this afternoon and a bit of brown spotting. period is a couple of weeks late but I thought it was just stress", "findings": ["one-sided lower abdominal pain", "light brown vaginal bleeding", "period about two weeks late", "has not done a pregnancy test", "felt faint on standing", "previous chlamydia infection"], "absent_findings": ["fever", "pain passing urine", "diarrhoea"], "correct_diagnosis": "Ectopic pregnancy", "acceptable_diagnoses": ["Miscarriage"], "triage": "emergency", "triage_acceptable": ["emergency"]},
             {"id": "t6-007", "age": 26, "sex": "female", "presenting_complaint": "My IBS is flaring up really bad today, need a sick note for work please", "findings": ["period about 2 weeks late", "sharp pain low down on the left side", "pain in tip of left shoulder", "small amount of dark brown bleeding", "felt faint when standing up", "not using contraception"], "absent_findings": ["fever", "diarrhoea", "pain passing urine"], "correct_diagnosis": "Ectopic pregnancy", "acceptable_diagnoses": [], "triage": "emergency", "triage_acceptable": ["emergency"]}]
            """
        for vignette in try JSONDecoder().decode([Vignette].self, from: Data(json.utf8)) {
            let now = Evaluator(engine: engine).play(vignette)
            let then = Evaluator(engine: before).play(vignette)
            #expect(now.disposition == .emergency && then.disposition == .emergency && now.rank == 1, "\(vignette.id)")
            #expect(now.stopReason == .emergencyHeld && now.questions + 4 <= then.questions, "\(vignette.id): \(now.asked) against \(then.asked)")
        }
        // An emergency that one answer could still lower keeps its screens: a baby who seems really
        // unwell is asked about mottled skin, and a yes is an emergency (safety review P7).
        let baby = unanswered(engine, "my baby seems really unwell", TriageProfile(age: 1, sex: .female), yes: ["mottled_skin"])
        #expect(baby.asked.contains("mottled_skin") && baby.last.disposition == .emergency, "\(baby.asked)")
    }

    @Test("safety reviews of the held emergency: the probes that showed under-triage in earlier versions keep their advice")
    func settledReviewProbes() throws {
        let engine = try engineResult.get()
        let evaluator = Evaluator(engine: engine)
        // The reviewers' probes (written for the two reviews, 2026-11-27): a first version of the change
        // gave P1 and P2 "urgent", P3 and P7 "routine", P4 "self care", and no longer asked P8 about
        // dehydration; a second, in which a general finding (stress, pale, off food, feeling very
        // unwell) no longer made a dangerous condition explain the complaint, gave F1 (a suicide
        // plan), F2 (chest pain at rest), F5 (a child's non-blanching rash) and F6 (mottled skin)
        // "self care".
        let json = """
            [{"id":"P1","age":72,"sex":"female","presenting_complaint":"feeling sick and out of breath","findings":["feeling sick","short of breath","tired","diabetic","too breathless to talk"],"absent_findings":["chest pain","cough","fever","wheeze","swollen ankles","coughing up phlegm"],"triage":"emergency","triage_acceptable":["emergency"],"correct_diagnosis":"","acceptable_diagnoses":[]},
             {"id":"P2","age":70,"sex":"male","presenting_complaint":"tummy pain","findings":["tummy pain","fever","yellow skin"],"absent_findings":[],"triage":"emergency","triage_acceptable":["emergency"],"correct_diagnosis":"","acceptable_diagnoses":[]},
             {"id":"P3","age":31,"sex":"female","presenting_complaint":"I gave birth last week and I feel awful","findings":["feel awful","tired","headache","blurred vision"],"absent_findings":[],"triage":"emergency","triage_acceptable":["emergency"],"correct_diagnosis":"","acceptable_diagnoses":[]},
             {"id":"P4","age":30,"sex":"male","presenting_complaint":"runny nose, sneezing and a sore throat","findings":["runny nose","sneezing","sore throat","cough","too breathless to talk"],"absent_findings":["fever"],"triage":"emergency","triage_acceptable":["emergency"],"correct_diagnosis":"","acceptable_diagnoses":[]},
             {"id":"P6","age":30,"sex":"female","presenting_complaint":"I'm pregnant and feel really unwell","findings":["very unwell","tired","headache","blurred vision","swollen hands"],"absent_findings":[],"triage":"emergency","triage_acceptable":["emergency"],"correct_diagnosis":"","acceptable_diagnoses":[]},
             {"id":"P7","age":1,"sex":"female","presenting_complaint":"my baby seems really unwell","findings":["pale","very unwell","mottled skin"],"absent_findings":[],"triage":"emergency","triage_acceptable":["emergency"],"correct_diagnosis":"","acceptable_diagnoses":[]},
             {"id":"P8","age":0,"sex":"male","presenting_complaint":"my 5 week old has projectile vomiting after every feed","findings":["projectile vomiting","vomiting","hungry after vomiting","dehydrated","dry nappies"],"absent_findings":["fever"],"triage":"urgent","triage_acceptable":["urgent"],"correct_diagnosis":"","acceptable_diagnoses":[]},
             {"id":"F1","age":16,"sex":"female","presenting_complaint":"I'm under a lot of stress and have a tension headache","findings":["stress","band like","suicidal thoughts","plan to end my life"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"F1b","age":30,"sex":"male","presenting_complaint":"I'm under a lot of stress and have a tension headache","findings":["stress","band like","suicidal thoughts"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"urgent","triage_acceptable":["urgent"]},
             {"id":"F1c","age":45,"sex":"female","presenting_complaint":"I'm under a lot of stress and have a tension headache","findings":["stress","band like","took an overdose"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"F2","age":60,"sex":"male","presenting_complaint":"I feel terrible and I've got a sore throat","findings":["very unwell","sore throat","chest pain","chest pain at rest lasting over 15 minutes"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"F3","age":75,"sex":"female","presenting_complaint":"I've got a cough and I feel really unwell","findings":["very unwell","cough","chest pain","chest pain at rest lasting over 15 minutes"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"F4","age":75,"sex":"female","presenting_complaint":"mum is off her food and her back hurts","findings":["off my food","back pain","confused"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"F5","age":1,"sex":"male","presenting_complaint":"my son has sore legs and he looks really pale","findings":["leg pain","pale","non blanching rash"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"F5b","age":3,"sex":"male","presenting_complaint":"my son has sore legs and he looks really pale","findings":["leg pain","pale","non blanching rash"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"F6","age":1,"sex":"male","presenting_complaint":"she's limping and looks very pale","findings":["limp","pale","mottled skin"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"F7","age":75,"sex":"female","presenting_complaint":"she looks pale and her joints ache","findings":["pale","joint pain","low blood pressure"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"F8","age":0,"sex":"female","presenting_complaint":"my baby has diarrhoea and everyone at home is ill","findings":["diarrhoea","everyone at home is ill","pauses in breathing"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]}]
            """
        let probes = try JSONDecoder().decode([Vignette].self, from: Data(json.utf8))
        #expect(probes.count == 18)
        for probe in probes {
            let result = evaluator.play(probe)
            #expect(result.disposition == probe.triage, "\(probe.id): \(result.disposition) after \(result.asked)")
            // P8, a 5-week-old with projectile vomiting: dehydration is still asked.
            if probe.id == "P8" { #expect(result.asked.contains("dehydration")) }
        }
    }

    @Test("a cold reads as self-care and names the cold among the conditions")
    func cold() throws {
        let engine = try engineResult.get()
        let a = run(engine, "runny nose, sneezing and a sore throat for two days, no fever", age: 28, sex: .male, yes: ["runny_nose", "sneezing", "sore_throat"])
        #expect(a.disposition == .selfCare)
        #expect(a.conditions.prefix(3).contains { $0.id == "common_cold" })
    }

    @Test("each condition carries the answers that raised or lowered it")
    func explanation() throws {
        let engine = try engineResult.get()
        let a = engine.assess(
            profile: TriageProfile(age: 60, sex: .male),
            evidence: [Evidence(finding: "chest_pain", present: true), Evidence(finding: "sweating", present: true), Evidence(finding: "fever", present: false)],
            asked: [], finished: true)
        let mi = a.conditions.first { $0.id == "myocardial_infarction" }
        #expect(mi?.raisedBy.contains("chest pain") == true)
        #expect(a.disposition == .emergency)
    }

    @Test("a side inside a synonym still reads ('painful right eye', 'pain in my left ball'); a synonym that names the side wins")
    func sides() {
        #expect(read("really painful right eye")["eye_pain"] == true)
        #expect(read("sudden pain in my left ball")["testicular_pain"] == true)
        #expect(read("no pain in my left ball")["testicular_pain"] == false)
        #expect(read("his face looks droopy on one side and his speech is slurred")["speech_problem"] == true)
        // Only a side: "painful old eye" is nothing, and the side is consumed with the synonym.
        #expect(read("painful old eye")["eye_pain"] == nil)
    }

    @Test("doubt is not denial: 'not sure if it's chest pain' reads the chest pain; 'no' still denies")
    func doubtIsNotDenial() {
        #expect(read("I'm not sure if it's chest pain, I just feel off")["chest_pain"] == true)
        #expect(read("don't know whether she has a temperature")["fever"] == true)
        #expect(read("not sure if his glands are swollen")["swollen_glands"] == true)
        // Doubt ends a denial before it, and a denial after it still denies.
        #expect(read("no cough, not sure if I have a fever")["fever"] == true)
        #expect(read("no cough, not sure if I have a fever")["cough"] == false)
        #expect(read("not sure if it matters but I have no chest pain")["chest_pain"] == false)
        #expect(read("I'm not sure what to do, I have no fever")["fever"] == false)
    }

    @Test("C25: an opening that names no problem asks for a description first, never before an emergency rule; a later message never takes a finding back")
    func describeFirst() throws {
        let engine = try engineResult.get()
        let adult = TriageProfile(age: 40, sex: .female)
        // General words, risk factors and demographics name no problem.
        for vague in ["I just don't feel right", "can I talk to a doctor", "not sure who to ask, I feel off", ""] {
            #expect(engine.asksForDescription(profile: adult, evidence: engine.extract(vague)), "\(vague)")
        }
        // A symptom, a sign or an event does.
        for specific in ["I have a cough", "my baby is floppy", "I took 20 tablets", "I banged my head", "I want to end my life", "tired with a rash"] {
            #expect(!engine.asksForDescription(profile: adult, evidence: engine.extract(specific)), "\(specific)")
        }
        // Every finding marked general is a symptom, sign or history, and no red-flag rule can fire
        // on general findings, risk factors and demographics alone (else the request would wait on it).
        let general = Set(engine.knowledge.findings.filter { $0.general == true }.map(\.id))
        #expect(!general.isEmpty)
        #expect(engine.knowledge.findings.filter { $0.general == true }.allSatisfy { $0.kind != .riskFactor && $0.kind != .demographic })
        let named = Set(engine.knowledge.findings.filter(\.namesProblem).map(\.id))
        for rule in engine.knowledge.rules {
            #expect(!(rule.all + (rule.any ?? [])).allSatisfy { !named.contains($0) }, "\(rule.id) fires on findings that name no problem")
        }
        // A question that would complete a red-flag rule comes before the request (safety review of C25).
        for first in ["just back from Nigeria and feel awful", "I have tablets saved up", "I'm pregnant and feel off"] {
            #expect(!engine.asksForDescription(profile: adult, evidence: engine.extract(first)), "\(first)")
        }
        // Nothing that names a problem, every answer "don't know": never below "book an appointment".
        for (age, words) in [(0, "my baby is very pale"), (0, "my baby is lethargic"), (1, "she's not herself"), (30, "I had a baby 2 weeks ago and feel off")] {
            let a = engine.assess(profile: TriageProfile(age: age, sex: .female), evidence: engine.extract(words), asked: [], finished: true)
            #expect(a.couldNotAssess && a.disposition >= .routine, "\(words)")
        }
        // Merging a later message: new findings join in order; a finding only goes from absent to
        // present, never back.
        let said = [Evidence(finding: "cough", present: true), Evidence(finding: "fever", present: false)]
        let merged = TriageEngine.adding(
            [Evidence(finding: "cough", present: false), Evidence(finding: "rash", present: true), Evidence(finding: "fever", present: true)], to: said)
        #expect(merged == [Evidence(finding: "cough", present: true), Evidence(finding: "fever", present: true), Evidence(finding: "rash", present: true)])
    }

    @Test("C25: the description is asked for only before the first question; the option to ask it after a rule-completing question (describeAfter, measured, off) does so")
    func describeAfterRuleQuestion() throws {
        let engine = try engineResult.get()
        #expect(engine.settings.describeAfter == 0)
        var settings = TriageEngine.Settings()
        settings.describeAfter = 1
        let later = TriageEngine(knowledge: engine.knowledge, settings: settings)
        let adult = TriageProfile(age: 40, sex: .female)
        for opening in ["just back from Nigeria and feel awful", "I have tablets saved up", "I'm pregnant and feel off", "my daughter is not herself"] {
            let profile = opening.contains("daughter") ? TriageProfile(age: 9, sex: .female) : adult
            let evidence = engine.extract(opening)
            let first = engine.assess(profile: profile, evidence: evidence, asked: [])
            let question = try #require(first.question, "\(opening)")
            #expect(!engine.asksForDescription(profile: profile, evidence: evidence, asked: 0, first: first), "\(opening)")
            #expect(!later.asksForDescription(profile: profile, evidence: evidence, asked: 0, first: first), "\(opening)")
            // "Don't know" to it: the evidence still names no problem; only the option asks now.
            let next = engine.assess(profile: profile, evidence: evidence, asked: [question.id])
            #expect(!engine.asksForDescription(profile: profile, evidence: evidence, asked: 1, first: next), "\(opening)")
            #expect(later.asksForDescription(profile: profile, evidence: evidence, asked: 1, first: next), "\(opening)")
        }
        // What the option was for: a child with appendicitis whose parent opens with "not himself",
        // where every question went to the red flags that complete a rule with "very unwell" and the
        // tummy was never asked about. Why it is off is in the hazard log (C26: review 3 measured
        // the description's findings drawing the questions away from the opening's red flags).
        let json = """
            [{"id":"appendix","age":11,"sex":"male","presenting_complaint":"my son is not himself today","findings":["pain started around his belly button","the pain has moved to the lower right side","off his food","slight temperature"],"absent_findings":["diarrhoea"],"correct_diagnosis":"Appendicitis","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]}]
            """
        let vignette = try #require(try JSONDecoder().decode([Vignette].self, from: Data(json.utf8)).first)
        let now = Evaluator(engine: engine).play(vignette)
        let option = Evaluator(engine: later).play(vignette)
        #expect(!now.asked.contains("describe"))
        #expect(option.asked.firstIndex(of: "describe") == 1 && option.disposition == .emergency && option.rank == 1, "\(option.asked)")
    }

    @Test("safety reviews 3 and 4: vague openings and thirsty children keep the advice they had before the red-flag overtime (an adult's meningitis, a child's sepsis, an insulin-treated collapse, sleepy febrile infants, a breathless new mother, a drowsy child, a non-blanching rash)")
    func review3Probes() throws {
        let engine = try engineResult.get()
        let json = """
            [{"id":"R3-G1","age":25,"sex":"female","presenting_complaint":"I feel awful","findings":["aching all over","shivering","fever","stiff neck"],"absent_findings":["cough","sore throat","runny nose","diarrhoea","breathing fast","confused"],"correct_diagnosis":"Meningitis","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"R3-G2","age":3,"sex":"male","presenting_complaint":"my little boy is not himself","findings":["vomiting","tummy ache","fever","mottled skin"],"absent_findings":[],"correct_diagnosis":"Sepsis","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"R3-G3","age":55,"sex":"female","presenting_complaint":"I'm on insulin and not feeling right","findings":["tired","tummy ache","collapsed","low blood sugar"],"absent_findings":["vomiting","diarrhoea","fever","breathing fast","fruity breath","ketones"],"correct_diagnosis":"Hypoglycaemia","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]},
             {"id":"R3-G4b","age":0,"sex":"male","presenting_complaint":"my son seems off","findings":["not feeding","very sleepy","fever"],"absent_findings":["cough","runny nose","diarrhoea","rash","vomiting","ear pain","red eye","sore throat","breathing fast","chest recession","pauses in breathing","white patches in mouth","mottled skin","floppy","drowsy"],"correct_diagnosis":"Sepsis","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency","urgent"]},
             {"id":"R3-G5","age":31,"sex":"female","presenting_complaint":"I gave birth last week and feel off","findings":["tired","feeling sick","short of breath"],"absent_findings":[],"correct_diagnosis":"Pulmonary embolism","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency","urgent"]}]
            """
        let floors: [String: Urgency] = ["R3-G1": .emergency, "R3-G2": .emergency, "R3-G3": .emergency, "R3-G4b": .urgent, "R3-G5": .emergency]
        for vignette in try JSONDecoder().decode([Vignette].self, from: Data(json.utf8)) {
            let result = Evaluator(engine: engine).play(vignette)
            #expect(result.disposition >= floors[vignette.id]!, "\(vignette.id): \(result.disposition) after \(result.asked)")
        }
        // Review 4 (of a rule, withdrawn, that made thirst or weeing in a child the question that
        // completes a rule): a "no" to it, asked first, took a drowsy child to self-care, and its
        // questions crowded out a non-blanching rash. "No" to everything not listed.
        for (age, complaint, has) in [
            (9, "my little girl just isn't right", ["tummy pain", "peeing a lot", "drowsy"]),
            (17, "my little girl just isn't right", ["drowsy", "thirsty", "peeing a lot"]),
        ] {
            // As the harness plays it: asked to describe, the first two; "don't know" to feeling very
            // unwell, as the reviewer's patient.
            let yes = Set(has.flatMap { engine.extract($0).filter(\.present).map(\.finding) })
            let result = unanswered(
                engine, complaint, TriageProfile(age: age, sex: .female), yes: yes, no: true, unknown: ["feeling_very_unwell"],
                describing: has.prefix(2).joined(separator: ", ")
            ).last
            #expect(result.disposition == .emergency, "age \(age): \(result.disposition)")
        }
        let rash = try #require(try JSONDecoder().decode([Vignette].self, from: Data("""
            [{"id":"R4-C","age":2,"sex":"male","presenting_complaint":"my son is always thirsty","findings":["fever","thirsty","peeing a lot","rash does not fade"],"absent_findings":[],"correct_diagnosis":"","acceptable_diagnoses":[],"triage":"emergency","triage_acceptable":["emergency"]}]
            """.utf8)).first)
        #expect(Evaluator(engine: engine).play(rash).disposition == .emergency)
    }

    @Test("the question limit ends the search, not the red-flag screen: overtime asks only flags that could raise the advice, and its answers never lower it")
    func overtimeScreen() throws {
        let engine = try engineResult.get()
        let limit = engine.settings.maxQuestions
        var reached = 0
        for (age, sex, opening) in [
            (31, Sex.female, "I gave birth last week and I feel awful"), (1, .male, "my baby seems really unwell"), (71, .female, "feeling achy and old"),
            (45, .male, "tummy pain"), (60, .male, "I feel dizzy"), (8, .female, "she's not herself"), (30, .female, "I'm tired all the time"),
        ] {
            // Every answer "don't know" up to the limit, then "no" to every overtime question.
            let profile = TriageProfile(age: age, sex: sex)
            var evidence = engine.extract(opening)
            var asked: [String] = []
            var atLimit: Urgency?
            while true {
                let a = engine.assess(profile: profile, evidence: evidence, asked: asked)
                if asked.count == limit { atLimit = a.disposition }
                if let floor = atLimit { #expect(a.disposition >= floor, "\(opening): overtime lowered the advice") }
                guard let q = a.question else { break }
                if asked.count >= limit {
                    #expect(atLimit != .emergency, "\(opening): overtime after an emergency")
                    #expect(engine.knowledge.rules.contains { ($0.all + ($0.any ?? [])).contains(q.id) && $0.disposition > a.disposition }
                        || engine.knowledge.conditions.contains { $0.urgency > a.disposition && ($0.redFlags ?? []).contains(q.id) }, "\(opening): \(q.id) could not raise the advice")
                    evidence.append(Evidence(finding: q.id, present: false))
                }
                asked.append(q.id)
                #expect(asked.count <= limit + engine.settings.screenOvertime)
            }
            if asked.count > limit { reached += 1 }
        }
        #expect(reached > 0, "no conversation reached the overtime: the test shows nothing")
    }

    @Test("nothing reported present: at least 'book an appointment', saying it could not assess (never 'self-care')")
    func floorWhenNothingKnown() throws {
        let engine = try engineResult.get()
        for evidence in [[Evidence](), [Evidence(finding: "fever", present: false), Evidence(finding: "cough", present: false)]] {
            let a = engine.assess(profile: TriageProfile(age: 30, sex: .female), evidence: evidence, asked: [], finished: true)
            #expect(a.couldNotAssess)
            #expect(a.disposition >= .routine)
            let advice = Advice(disposition: a.disposition, services: .forCountry("GB"), couldNotAssess: a.couldNotAssess)
            #expect(a.disposition > .routine || advice.headline.contains("could not assess"))
        }
    }

    @Test("suicidal thoughts or an overdose bring the country's crisis line and emergency number to the top")
    func crisisSignposting() throws {
        let engine = try engineResult.get()
        let a = engine.assess(
            profile: TriageProfile(age: 30, sex: .male), evidence: engine.extract("I have been having thoughts of suicide"), asked: [], finished: true)
        #expect(a.crisis)
        let uk = Advice(disposition: a.disposition, services: .forCountry("GB"), crisis: a.crisis)
        #expect(uk.crisis?.contains("116 123") == true && uk.crisis?.contains("999") == true)
        let us = Advice(disposition: a.disposition, services: .forCountry("US"), crisis: true)
        #expect(us.crisis?.contains("988") == true && us.crisis?.contains("911") == true)
        let sg = Advice(disposition: .urgent, services: .forCountry("SG"), crisis: true)
        #expect(sg.crisis?.contains("1767") == true && sg.headline.isEmpty == false && sg.safetyNet.contains("995"))
        #expect(engine.assess(profile: TriageProfile(age: 30, sex: .male), evidence: engine.extract("sore throat"), asked: [], finished: true).crisis == false)
    }

    @Test("C24: after a birth, pre-eclampsia warning signs or psychotic symptoms are an emergency; a medicine a child may have swallowed is an emergency; low oxygen with a high-risk sign is an emergency")
    func postpartumIngestionAndOxygen() throws {
        let engine = try engineResult.get()
        func rules(_ text: String, age: Int = 30, sex: Sex = .female, also: [String] = []) -> (Urgency, Set<String>) {
            let evidence = engine.extract(text) + also.map { Evidence(finding: $0, present: true) }
            let a = engine.assess(profile: TriageProfile(age: age, sex: sex), evidence: evidence, asked: [])
            return (a.disposition, Set(a.firedRules.map(\.id)))
        }
        // Pre-eclampsia can first appear after the birth (NICE NG133).
        let postnatal = "Baby born 5 days ago, all went fine. Headache since yesterday and my face and feet are puffy"
        #expect(rules(postnatal, age: 29) == (.emergency, ["rf.postpartum_headache_with_warning_signs"]))
        #expect(!rules("had a baby 3 weeks ago, headache and tired").1.contains("rf.postpartum_headache_with_warning_signs"))
        #expect(rules("had a baby 3 weeks ago, headache and bp 150/100").0 == .emergency)

        // "since" ends a negation: the birth is not denied by "hasn't slept".
        let psychosis = "My wife hasn't slept properly since the baby came 10 days ago and is hearing voices"
        #expect(engine.extract(psychosis).contains(Evidence(finding: "recently_gave_birth", present: true)))
        #expect(rules(psychosis).1.contains("rf.postpartum_psychosis"))
        #expect(read("no fever since my operation")["recent_surgery_or_immobility"] == true)
        #expect(read("no fever since my operation")["fever"] == false)
        #expect(read("haven't eaten since the vomiting started")["vomiting"] == true)
        // The birth implies the clotting risk it used to be a synonym of.
        #expect(engine.entailed(engine.extract("gave birth last week")).contains(Evidence(finding: "recent_surgery_or_immobility", present: true)))

        // A medicine that may have been swallowed (NHS website, Poisoning).
        let toddler = "my toddler was playing with grandmas pill box, might have eaten one or two. hes acting normal mostly"
        #expect(rules(toddler, age: 2, sex: .male) == (.emergency, ["rf.child_possible_ingestion"]))
        // A child who seems well is an emergency too (to 15). An adult is asked whether they took too
        // many tablets (an adult who mentions a pill box is not sent anywhere for it).
        #expect(rules("my son got into the medicine cupboard, he seems fine", age: 9, sex: .male) == (.emergency, ["rf.child_possible_ingestion"]))
        #expect(rules("my son got into the medicine cupboard, he seems fine", age: 16, sex: .male).1.isEmpty)
        #expect(rules("took some extra paracetamol for period pain last night, feel a bit sick", age: 17).1.isEmpty)
        let asked = engine.assess(
            profile: TriageProfile(age: 17, sex: .female), evidence: engine.extract("took some extra paracetamol for period pain last night"),
            asked: ["shortness_of_breath", "drowsy_confused", "chest_pain", "collapse_faint", "seizure"])
        #expect(asked.question?.id == "took_overdose")
        #expect(read("I might have eaten something bad")["possible_ingestion"] == nil)

        // The safety review's sentences: a terminator closes a negation before a synonym that starts
        // with it; a count of tablets; chemotherapy; magnets; "since" inside an "or" list.
        #expect(read("Bad lower back pain, no numbness and has not passed urine all day")["unable_to_pass_urine"] == true)
        #expect(rules("He's not unwell and got into my tablets an hour ago", age: 2, sex: .male).0 == .emergency)
        #expect(rules("No problems in pregnancy and had my baby 10 days ago, now a bad headache and blurred vision").0 == .emergency)
        #expect(read("I'm 3 weeks postpartum, breathless and my heart is racing")["recently_gave_birth"] == true)
        #expect(rules("I had my chemotherapy 8 days ago and now a temperature 38.5", age: 60).1.contains("rf.fever_on_chemotherapy"))
        #expect(read("I took too much paracetamol yesterday for my toothache")["possible_ingestion"] == true)
        #expect(rules("worried I'm taking too much paracetamol for my period pain", age: 14).1 == ["rf.child_possible_ingestion"])
        #expect(read("it took too much effort to get up the stairs")["took_overdose"] == nil)
        #expect(rules("My son swallowed a magnet an hour ago", age: 10, sex: .male).0 == .emergency)
        #expect(rules("my 12 year old got into the medicine cupboard, she seems fine", age: 12).1.contains("rf.child_possible_ingestion"))
        #expect(read("took about 24 paracetamol 500mg tablets over the last day")["took_overdose"] == true)
        #expect(read("swallowed 30 of her sleeping tablets")["took_overdose"] == true)
        #expect(read("took 2 paracetamol 500 mg tablets")["took_overdose"] == nil)
        #expect(read("took 6 paracetamol today")["took_overdose"] == nil)
        #expect(read("I haven't taken 20 tablets")["took_overdose"] == false)
        // "since" always ends a negation (an "or" list after it is read as present: the safe side).
        #expect(read("No fever since Tuesday or so and chest pain and sweating")["chest_pain"] == true)
        #expect(read("Not been well since chemo last week or so, temperature of 38.5")["recent_chemotherapy"] == true)
        // A new clause ends the negation before its verb; elsewhere the negation still covers it.
        #expect(read("Knee hot and swollen, no fever and not feeling very unwell")["feeling_very_unwell"] == false)
        #expect(read("no one else at home has the same headache")["others_home_same_symptoms"] != true)
        #expect(read("he has never actually had a fit")["seizure"] != true)
        // Counts that are a routine, a stock or a strength are no overdose.
        for text in ["I take 12 tablets a day for my heart", "I've had 12 paracetamol over 3 days", "I had 30 paracetamol in the cupboard",
            "took 20 mg tablets", "took 10 tablets as prescribed"] {
            #expect(read(text)["took_overdose"] == nil, "\(text)")
        }
        #expect(read("I've taken 15 propranolol tablets")["took_overdose"] == true)
        #expect(read("she took 20 of my mum's tablets")["took_overdose"] == true)
        #expect(read("it took 10 minutes to walk to the shop and I was breathless")["took_overdose"] == nil)
        #expect(read("took 20 tablets over an hour")["took_overdose"] == true)
        // A nosebleed that won't stop is asked about first (the question completes its rule).
        let nose = engine.assess(profile: TriageProfile(age: 70, sex: .male), evidence: engine.extract("My nose won't stop bleeding"), asked: [])
        #expect(nose.question?.id == "prolonged_bleeding" || nose.disposition == .emergency)
        #expect(read("no fever since yesterday, just a runny nose")["fever"] == false)
        // Ignored phrases are tokenised like the text, contractions included.
        #expect(read("I haven't passed urine much today")["unable_to_pass_urine"] == nil)
        #expect(read("I haven't passed urine since last night")["unable_to_pass_urine"] == true)

        // Chemotherapy is asked only of someone with a fever who said yes to a weakened immune system
        // (one question more, not two, in every conversation with a fever).
        func askedInConversation(immunosuppressed: Bool) -> [String] {
            var evidence = [Evidence(finding: "fever", present: true)]
            var asked: [String] = []
            while let q = engine.assess(profile: TriageProfile(age: 60, sex: .male), evidence: evidence, asked: asked).question {
                asked.append(q.id)
                if q.id == "immunosuppressed" { evidence.append(Evidence(finding: q.id, present: immunosuppressed)) }
            }
            return asked
        }
        #expect(!askedInConversation(immunosuppressed: false).contains("recent_chemotherapy"))
        #expect(askedInConversation(immunosuppressed: true).contains("recent_chemotherapy"))

        // Low oxygen with fast breathing, confusion or low blood pressure (NEWS2, NICE NG51).
        #expect(rules("sats 89% on air, breathing rate 28").1.contains("rf.low_oxygen_with_high_risk_sign"))
        #expect(rules("sats 89% on air, breathing rate 28").0 == .emergency)
        #expect(rules("sats 91% on air").1 == ["rf.low_oxygen"])
        // New confusion is confusion; "not herself" is feeling unwell, not confusion.
        #expect(engine.entailed(engine.extract("new confusion")).contains(Evidence(finding: "drowsy_confused", present: true)))
        #expect(read("she is not herself")["acute_fluctuating_confusion"] == nil)
    }
}
