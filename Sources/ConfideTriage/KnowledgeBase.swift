public import Foundation

/// How urgently a patient should act. Ordered from least to most urgent.
public enum Urgency: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case selfCare = "self_care"
    case routine
    case urgent
    case emergency

    var rank: Int {
        switch self {
        case .selfCare: 0
        case .routine: 1
        case .urgent: 2
        case .emergency: 3
        }
    }

    public static func < (lhs: Urgency, rhs: Urgency) -> Bool { lhs.rank < rhs.rank }
}

/// The patient's sex as it matters to prevalence (the knowledge base has female and male tables).
public enum Sex: String, Sendable, Hashable, Codable, CaseIterable {
    case female, male
}

/// One thing a patient can report: a symptom, a sign they can see, a history feature, a risk factor,
/// or a demographic fact set from their profile.
public struct Finding: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case symptom, sign, history
        case riskFactor = "risk_factor"
        case demographic
    }

    public var id: String
    public var name: String
    public var kind: Kind
    public var question: String?
    public var synonyms: [String]
    /// P(reported | a condition that does not list it).
    public var background: Double?
    public var source: String?
    public var redFlag: Bool?
    /// Broader findings this one entails: pain in the left lower tummy is tummy pain, a first seizure
    /// is a seizure. The engine and the evaluation harness both read a "yes" to this finding as a
    /// "yes" to each of them, and a "no" to one of them as a "no" to this.
    public var implies: [String]?
    /// Names no problem on its own ("tired", "feeling unwell", "started yesterday"): an opening with
    /// nothing more specific is asked to describe the problem first (C25). Risk factors and
    /// demographics never name one.
    public var general: Bool?

    /// Whether this finding, reported present, says what the problem is.
    public var namesProblem: Bool { kind != .riskFactor && kind != .demographic && general != true }

    enum CodingKeys: String, CodingKey {
        case id, name, kind, question, synonyms, background, source, implies, general
        case redFlag = "red_flag"
    }
}

/// Presentations per `per` primary-care contacts, by age band (0-4, 5-15, 16-44, 45-64, 65+) and sex.
public struct Prevalence: Sendable, Hashable, Codable {
    public var per: Double
    public var female: [Double]
    public var male: [Double]
    public var source: String
}

public struct ConditionFinding: Sendable, Hashable, Codable {
    public var id: String
    /// P(reported | condition).
    public var p: Double
    public var source: String?
}

public struct Condition: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var clinicalName: String?
    public var icd10: String
    public var system: String?
    public var synonyms: [String]
    public var urgency: Urgency
    public var mustNotMiss: Bool?
    public var prevalence: Prevalence
    public var findings: [ConditionFinding]
    public var findingsSource: String?
    public var redFlags: [String]?
    public var advice: String?

    enum CodingKeys: String, CodingKey {
        case id, name, icd10, system, synonyms, urgency, prevalence, findings, advice
        case clinicalName = "clinical_name"
        case mustNotMiss = "must_not_miss"
        case findingsSource = "findings_source"
        case redFlags = "red_flags"
    }
}

/// A rule that forces at least `disposition` whenever its findings are present, whatever the
/// probabilities say.
public struct RedFlagRule: Sendable, Hashable, Codable {
    public var id: String
    public var all: [String]
    public var any: [String]?
    public var minAge: Int?
    public var maxAge: Int?
    /// Fires only for a baby younger than this many months (`under_months`; 1-24).
    public var underMonths: Int?
    public var sex: Sex?
    public var disposition: Urgency
    public var reason: String
    public var source: String

    enum CodingKeys: String, CodingKey {
        case id, all, any, sex, disposition, reason, source
        case minAge = "min_age"
        case maxAge = "max_age"
        case underMonths = "under_months"
    }

    /// Whether the rule's age, month and sex limits admit this patient.
    public func applies(to profile: TriageProfile) -> Bool {
        if let minAge, profile.age < minAge { return false }
        if let maxAge, profile.age > maxAge { return false }
        if let underMonths, !profile.mayBeYoungerThan(months: underMonths) { return false }
        if let sex, sex != profile.sex { return false }
        return true
    }

    public init(
        id: String, all: [String], any: [String]? = nil, minAge: Int? = nil, maxAge: Int? = nil, underMonths: Int? = nil, sex: Sex? = nil,
        disposition: Urgency, reason: String, source: String
    ) {
        self.id = id
        self.all = all
        self.any = any
        self.minAge = minAge
        self.maxAge = maxAge
        self.underMonths = underMonths
        self.sex = sex
        self.disposition = disposition
        self.reason = reason
        self.source = source
    }
}

/// A knowledge-base problem, named by file, entry and field, so a bad edit stops the server with a
/// message a clinician-editor can act on.
public struct KnowledgeBaseError: Error, Sendable, Hashable, CustomStringConvertible {
    public var problems: [String]
    public var description: String {
        "the triage knowledge base is invalid:\n" + problems.map { "  - " + $0 }.joined(separator: "\n")
    }
}

/// The validated knowledge base: findings, conditions and red-flag rules, with a version.
public struct KnowledgeBase: Sendable {
    public let version: String
    public let findings: [Finding]
    public let conditions: [Condition]
    public let rules: [RedFlagRule]
    public let findingIndex: [String: Int]
    public let conditionIndex: [String: Int]
    /// Per finding (by index): every finding it implies, directly or through others (ascending).
    public let impliedBy: [[Int]]
    /// Per finding (by index): every finding that implies it, directly or through others (ascending).
    public let implying: [[Int]]

    private struct FindingsFile: Decodable { var findings: [Finding] }
    private struct ConditionsFile: Decodable { var conditions: [Condition] }
    private struct RulesFile: Decodable { var rules: [RedFlagRule] }
    private struct VersionFile: Decodable { var version: String }

    /// Builds the knowledge base from named JSON files (`findings-*.json`, `conditions-*.json`,
    /// `red-flags-*.json`, `version.json`) and validates it.
    public init(files: [(name: String, data: Data)]) throws {
        var problems: [String] = []
        var findings: [Finding] = []
        var conditions: [Condition] = []
        var rules: [RedFlagRule] = []
        var version: String?
        let decoder = JSONDecoder()
        for file in files.sorted(by: { $0.name < $1.name }) {
            do {
                if file.name.hasPrefix("findings-") {
                    findings += try decoder.decode(FindingsFile.self, from: file.data).findings
                } else if file.name.hasPrefix("conditions-") {
                    conditions += try decoder.decode(ConditionsFile.self, from: file.data).conditions
                } else if file.name.hasPrefix("red-flags-") {
                    rules += try decoder.decode(RulesFile.self, from: file.data).rules
                } else if file.name == "version.json" {
                    version = try decoder.decode(VersionFile.self, from: file.data).version
                }
            } catch {
                problems.append("\(file.name): not valid JSON for its kind (\(Self.describe(error)))")
            }
        }
        if version == nil { problems.append("version.json: missing") }
        self.version = version ?? "unknown"
        self.findings = findings
        self.conditions = conditions
        self.rules = rules
        var findingIndex: [String: Int] = [:]
        for (i, finding) in findings.enumerated() {
            if findingIndex[finding.id] != nil { problems.append("finding \(finding.id): duplicate id") }
            findingIndex[finding.id] = i
        }
        var conditionIndex: [String: Int] = [:]
        for (i, condition) in conditions.enumerated() {
            if conditionIndex[condition.id] != nil { problems.append("condition \(condition.id): duplicate id") }
            conditionIndex[condition.id] = i
        }
        self.findingIndex = findingIndex
        self.conditionIndex = conditionIndex
        problems += Self.validate(findings: findings, conditions: conditions, rules: rules, findingIndex: findingIndex)
        let closure = Self.implications(findings, findingIndex: findingIndex)
        problems += closure.problems
        self.impliedBy = closure.implied
        self.implying = closure.implying
        if !problems.isEmpty { throw KnowledgeBaseError(problems: problems) }
    }

    /// The transitive closure of `implies`, with a problem for an unknown id, a demographic finding on
    /// either side, or a cycle (a finding that ends up implying itself).
    static func implications(_ findings: [Finding], findingIndex: [String: Int]) -> (implied: [[Int]], implying: [[Int]], problems: [String]) {
        var problems: [String] = []
        var direct = [[Int]](repeating: [], count: findings.count)
        for (i, finding) in findings.enumerated() {
            for id in finding.implies ?? [] {
                guard let j = findingIndex[id] else {
                    problems.append("finding \(finding.id): implies unknown finding \(id)")
                    continue
                }
                if finding.kind == .demographic || findings[j].kind == .demographic {
                    problems.append("finding \(finding.id): demographic findings take no part in implies")
                }
                direct[i].append(j)
            }
        }
        var implied = [[Int]](repeating: [], count: findings.count)
        for start in findings.indices where !direct[start].isEmpty {
            var seen = Set<Int>()
            var stack = direct[start]
            while let next = stack.popLast() {
                guard seen.insert(next).inserted else { continue }
                stack += direct[next]
            }
            if seen.contains(start) { problems.append("finding \(findings[start].id): implies itself through a cycle") }
            seen.remove(start)
            implied[start] = seen.sorted()
        }
        var implying = [[Int]](repeating: [], count: findings.count)
        for (i, targets) in implied.enumerated() { for j in targets { implying[j].append(i) } }
        return (implied, implying, problems)
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "missing \(key.stringValue) at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            "bad value at \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: "unreadable"
        }
    }

    private static func validate(
        findings: [Finding], conditions: [Condition], rules: [RedFlagRule], findingIndex: [String: Int]
    ) -> [String] {
        var problems: [String] = []
        func hasSource(_ s: String?) -> Bool { !(s ?? "").trimmingCharacters(in: .whitespaces).isEmpty }
        var synonymOwner: [String: String] = [:]
        for finding in findings {
            let here = "finding \(finding.id)"
            if finding.id.isEmpty || !finding.id.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" }) {
                problems.append("\(here): id must be snake_case")
            }
            if finding.kind != .demographic {
                if !(finding.question ?? "").hasSuffix("?") { problems.append("\(here): question must be a question") }
                if finding.synonyms.count < 3 { problems.append("\(here): needs at least 3 synonyms") }
                guard let b = finding.background, b >= 0.0005, b <= 0.5 else {
                    problems.append("\(here): background must be in 0.0005...0.5")
                    continue
                }
                if !hasSource(finding.source) { problems.append("\(here): background has no source") }
            }
            for synonym in finding.synonyms {
                let key = TextMatcher.normalise(synonym).joined(separator: " ")
                if key.isEmpty { problems.append("\(here): empty synonym"); continue }
                if let owner = synonymOwner[key], owner != finding.id {
                    problems.append("\(here): synonym '\(synonym)' also belongs to \(owner)")
                }
                synonymOwner[key] = finding.id
            }
        }
        for condition in conditions {
            let here = "condition \(condition.id)"
            let icd = condition.icd10
            if icd.range(of: #"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$"#, options: .regularExpression) == nil {
                problems.append("\(here): icd10 '\(icd)' is not an ICD-10 code")
            }
            let p = condition.prevalence
            if p.female.count != 5 || p.male.count != 5 || (p.female + p.male).contains(where: { $0 < 0 || !$0.isFinite }) || p.per <= 0 {
                problems.append("\(here): prevalence needs 5 non-negative numbers per sex and a positive `per`")
            }
            if (p.female + p.male).allSatisfy({ $0 == 0 }) { problems.append("\(here): prevalence is zero everywhere") }
            if !hasSource(p.source) { problems.append("\(here): prevalence has no source") }
            if condition.findings.count < 5 { problems.append("\(here): needs at least 5 findings") }
            var seen = Set<String>()
            for entry in condition.findings {
                if findingIndex[entry.id] == nil { problems.append("\(here): unknown finding \(entry.id)") }
                if !seen.insert(entry.id).inserted { problems.append("\(here): finding \(entry.id) listed twice") }
                if !(entry.p >= 0.005 && entry.p <= 0.995) { problems.append("\(here): p of \(entry.id) must be in 0.005...0.995") }
                if !hasSource(entry.source) && !hasSource(condition.findingsSource) {
                    problems.append("\(here): finding \(entry.id) has no source")
                }
            }
            for flag in condition.redFlags ?? [] where !seen.contains(flag) {
                problems.append("\(here): red flag \(flag) is not among its findings")
            }
        }
        for rule in rules {
            let here = "red-flag rule \(rule.id)"
            if rule.all.isEmpty && (rule.any ?? []).isEmpty { problems.append("\(here): has no findings") }
            for id in rule.all + (rule.any ?? []) where findingIndex[id] == nil {
                problems.append("\(here): unknown finding \(id)")
            }
            if rule.disposition < .urgent { problems.append("\(here): must force urgent or emergency") }
            if let months = rule.underMonths, !(1...24).contains(months) { problems.append("\(here): under_months must be 1-24") }
            if !hasSource(rule.source) { problems.append("\(here): has no source") }
        }
        return problems
    }

    /// The knowledge base bundled with this target (`Resources/kb`).
    public static func bundled() throws -> KnowledgeBase {
        try KnowledgeBase(directory: Self.bundledDirectory(named: "kb"))
    }

    /// Loads every `.json` file in `directory`.
    public init(directory: URL) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
        try self.init(files: try names.map { (name: $0, data: try Data(contentsOf: directory.appendingPathComponent($0))) })
    }

    /// A folder of bundled resources (`kb` or `vignettes`).
    public static func bundledDirectory(named name: String) -> URL {
        Bundle.module.resourceURL!.appendingPathComponent(name, isDirectory: true)
    }

    public func finding(_ id: String) -> Finding? { findingIndex[id].map { findings[$0] } }
    public func condition(_ id: String) -> Condition? { conditionIndex[id].map { conditions[$0] } }
}
