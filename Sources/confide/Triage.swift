import ArgumentParser
import ConfideTriage
import Foundation

struct Triage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The symptom checker: check the knowledge base, run the vignette evaluation.",
        subcommands: [Check.self, Eval.self])

    static func knowledgeBase(_ directory: String?) throws -> KnowledgeBase {
        do {
            if let directory { return try KnowledgeBase(directory: URL(fileURLWithPath: directory)) }
            return try KnowledgeBase.bundled()
        } catch let error as KnowledgeBaseError {
            throw fail(error.description)
        } catch {
            throw fail("cannot read the knowledge base: \(error)")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load and validate the knowledge base; print its size.")
        @Option(help: "A knowledge-base folder instead of the bundled one.")
        var kb: String?

        func run() async throws {
            let knowledge = try Triage.knowledgeBase(kb)
            let emergencies = knowledge.conditions.filter { $0.urgency == .emergency }.count
            print(
                "knowledge base \(knowledge.version): \(knowledge.conditions.count) conditions (\(emergencies) emergencies), "
                    + "\(knowledge.findings.count) findings, \(knowledge.rules.count) red-flag rules: valid")
        }
    }

    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Play clinical vignettes through the engine and report diagnostic accuracy, triage safety and questions asked.",
            discussion: """
                FILE is a JSON list of vignettes (id, age, sex, presenting_complaint, findings, absent_findings, correct_diagnosis,
                acceptable_diagnoses, triage, triage_acceptable). The bundled sets are Sources/ConfideTriage/Resources/vignettes/
                train.json, tuning2.json to tuning7.json, and heldback.json to heldback8.json (the held-back splits are never used for tuning).
                """)
        @Argument(help: "The vignette file.")
        var file: String
        @Flag(help: "Print one JSON object (with a per-case list under cases_detail).")
        var json = false
        @Option(help: "A knowledge-base folder instead of the bundled one.")
        var kb: String?
        @Option(help: "Print one vignette's conversation, turn by turn, instead of the report.")
        var trace: String?
        @Option(help: ArgumentHelp("Override an engine setting for a tuning run (name=value).", visibility: .hidden))
        var setting: [String] = []

        func run() async throws {
            let knowledge = try Triage.knowledgeBase(kb)
            let vignettes: [Vignette]
            do {
                vignettes = try JSONDecoder().decode([Vignette].self, from: Data(contentsOf: URL(fileURLWithPath: file)))
            } catch let error as DecodingError {
                throw fail("\(file) is not a list of vignettes: \(Self.describe(error))")
            } catch {
                throw fail("cannot read \(file): \(error.localizedDescription)")
            }
            guard !vignettes.isEmpty else { throw fail("\(file) has no vignettes") }
            if let bad = vignettes.first(where: { !(0...120).contains($0.age) }) {
                throw fail("vignette \(bad.id): age \(bad.age) is out of range (0 to 120)")
            }
            var settings = TriageEngine.Settings()
            for item in setting {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let value = Double(parts[1]), settings.set(parts[0], value) else { throw fail("unknown setting \(item)") }
            }
            let evaluator = Evaluator(engine: TriageEngine(knowledge: knowledge, settings: settings))
            if let trace {
                guard let vignette = vignettes.first(where: { $0.id == trace }) else { throw fail("no vignette \(trace) in \(file)") }
                evaluator.trace(vignette).forEach { print($0) }
                return
            }
            let report = evaluator.run(vignettes)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
                return
            }
            func pct(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }
            print("\(report.cases) vignettes, knowledge base \(report.knowledgeBaseVersion)")
            print("diagnosis   top-1 \(pct(report.top1))   top-3 \(pct(report.top3))   top-10 \(pct(report.top10))")
            print(
                "triage      accuracy \(pct(report.triageAccuracy))   under-triage \(pct(report.underTriage))   over-triage \(pct(report.overTriage))"
            )
            print("emergencies missed \(report.emergenciesMissed)")
            print(String(format: "questions   mean %.1f   median %.1f", report.meanQuestions, report.medianQuestions))
            print(
                String(
                    format: "turn time   p50 %.0f µs   p99 %.0f µs   slowest %.0f µs   (one posterior alone: %.0f µs)", report.turnMicrosecondsP50,
                    report.turnMicrosecondsP99, report.maxTurnMicroseconds, report.posteriorMicrosecondsP50))
            if !report.unresolvedDiagnoses.isEmpty {
                print("diagnoses not found in the knowledge base: \(report.unresolvedDiagnoses.joined(separator: ", "))")
            }
            for item in report.casesDetail where !item.triageCorrect || (item.rank ?? 99) > 3 {
                print(
                    "  \(item.id): expected \(item.resolvedDiagnosis ?? item.correctDiagnosis) [\(item.expectedTriage.rawValue)], got "
                        + "\(item.top.joined(separator: ", ")) [\(item.disposition.rawValue)] rank \(item.rank.map(String.init) ?? "-") "
                        + "after \(item.questions) questions (\(item.stopReason.rawValue))")
            }
        }

        static func describe(_ error: DecodingError) -> String {
            switch error {
            case .keyNotFound(let key, let context):
                "missing \(key.stringValue) in item \(context.codingPath.first?.intValue.map(String.init) ?? "?")"
            case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
                "bad value at \(context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")): \(context.debugDescription)"
            @unknown default: "unreadable"
            }
        }
    }
}
