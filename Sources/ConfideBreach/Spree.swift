public import ConfideAudit

/// Detection (issue 8 item 3): a principal who opens or plays the records of more distinct patients
/// within a sliding window than their role's limit. List presentations do not count (a clinician's
/// day list shows many patients); only `read`, `play` and `download` that were allowed.
public struct SpreeRule: Sendable, Hashable {
    /// The sliding window, in milliseconds.
    public var windowMilliseconds: Int64
    /// The most distinct patients per window, by actor kind (`patient`, `clinician`, ...); kinds not
    /// named are not watched.
    public var limits: [String: Int]

    /// Defaults: a patient opens only their own record (1); a clinician 40 patients an hour (a busy
    /// clinic sees about 4 an hour; a care team reviewing results more); staff who may never open
    /// clinical content 0.
    public static let defaults = SpreeRule(
        windowMilliseconds: 3_600_000, limits: ["patient": 1, "clinician": 40, "practice-admin": 0, "admin": 0, "anonymous": 0])

    public init(windowMilliseconds: Int64, limits: [String: Int]) {
        self.windowMilliseconds = windowMilliseconds
        self.limits = limits
    }
}

/// One principal over the limit: who, how many distinct patients, and when.
public struct Spree: Sendable, Hashable, Codable {
    public var actor: String
    public var limit: Int
    public var patients: Int
    public var from: Int64
    public var to: Int64
    /// The index of the entry that crossed the limit.
    public var index: UInt64
}

/// Feeds entries in log order; reports each principal once per window in which they go over the limit.
public struct SpreeDetector: Sendable {
    let rule: SpreeRule
    private var recent: [String: [(time: Int64, patient: String)]] = [:]
    private var flaggedUntil: [String: Int64] = [:]

    public init(rule: SpreeRule = .defaults) { self.rule = rule }

    /// What counts as opening a patient's record: clinical content, media and the record itself. An
    /// appointment (a practice admin's book), an access-log entry, a consent or a breach notice does not.
    public static let contentKinds: Set<String> = ["patient-record", "note", "prescription", "document", "recording", "triage-session", "message"]

    public mutating func add(_ entry: AuditEntry, index: UInt64) -> Spree? {
        guard entry.decision == .allowed, ["read", "play", "download"].contains(entry.action), Self.contentKinds.contains(entry.resourceType),
            let patient = entry.patientID
        else { return nil }
        let kind = String(entry.actor.prefix { $0 != ":" })
        guard let limit = rule.limits[kind] else { return nil }
        var seen = recent[entry.actor, default: []]
        seen.append((entry.time, patient))
        seen.removeAll { $0.time <= entry.time - rule.windowMilliseconds }
        recent[entry.actor] = seen
        let distinct = Set(seen.map(\.patient))
        guard distinct.count > limit else { return nil }
        if let until = flaggedUntil[entry.actor], entry.time < until { return nil }
        flaggedUntil[entry.actor] = entry.time + rule.windowMilliseconds
        return Spree(actor: entry.actor, limit: limit, patients: distinct.count, from: seen.first?.time ?? entry.time, to: entry.time, index: index)
    }
}

/// Canary patients: synthetic records nobody has a reason to touch. Any allowed access to one (other
/// than the system creating it) is an incident at once.
public struct CanaryWatch: Sendable {
    public let canaries: Set<String>

    public init(canaries: Set<String>) { self.canaries = canaries }

    /// Whether the entry touches a canary.
    public func touches(_ entry: AuditEntry) -> Bool {
        guard entry.decision == .allowed, let patient = entry.patientID, canaries.contains(patient) else { return false }
        return !(entry.actor.hasPrefix("system:") && entry.action == "create")
    }
}
