/// What one affected patient's letter says, gathered from the findings about their data while the
/// report streams: per record, how often it was shown in a list, opened and played, and when first
/// and last. Bounded by the records concerned, never by the number of entries.
public struct PatientExposure: Sendable, Hashable {
    public struct Record: Sendable, Hashable {
        public var resourceType: String
        public var resourceID: String
        public var presented = 0
        public var opened = 0
        public var played = 0
        public var changed = 0
        public var first: Int64
        public var last: Int64
        public var ranges: [String] = []
    }

    public let patient: String
    public private(set) var records: [String: Record] = [:]
    public private(set) var viewers: Set<String> = []

    public init(patient: String) { self.patient = patient }

    public mutating func add(_ f: BreachFinding) {
        let key = f.resourceType + ":" + f.resourceID
        var r = records[key] ?? Record(resourceType: f.resourceType, resourceID: f.resourceID, first: f.time, last: f.time)
        switch f.exposure {
        case .presented: r.presented += 1
        case .opened: r.opened += 1
        case .played:
            r.played += 1
            if let d = f.detail, r.ranges.count < 10, !r.ranges.contains(d) { r.ranges.append(d) }
        case .changed, .other: r.changed += 1
        }
        r.first = min(r.first, f.time)
        r.last = max(r.last, f.time)
        records[key] = r
        viewers.insert(f.actor)
    }
}

/// A drafted notice (subject and body), for an operator to review, edit and send.
public struct NoticeDraft: Sendable, Hashable {
    public var patient: String?
    public var subject: String
    public var body: String
}

/// Drafts the letters and the regulator summary. Plain language; says what happened, what was seen
/// (by kind of record, and whether it was only listed, opened or played), what we did and whom to
/// contact. Never clinical content, never another person's identity.
public enum NoticeDrafter {
    static let nouns: [String: String] = [
        "recording": "a recording of one of your consultations", "consultation": "the details of one of your appointments",
        "note": "the notes of one of your consultations", "prescription": "a prescription issued to you",
        "document": "a letter, referral or fit note issued to you", "recording-consent": "your answer to a request to record a consultation",
        "triage-session": "a symptom check you did", "patient-record": "your registration details (name, date of birth, contact details)",
        "care-consent": "a care-team consent you gave", "message": "a line of the chat written during one of your consultations", "audit-entry": "an entry of your access log",
    ]

    /// Lines such as "shown in a list 2 times, opened once" for one record.
    static func what(_ r: PatientExposure.Record) -> String {
        func times(_ n: Int) -> String { n == 1 ? "once" : "\(n) times" }
        var parts: [String] = []
        if r.presented > 0 { parts.append("shown in another person's list \(times(r.presented)) (not opened)") }
        if r.opened > 0 { parts.append("opened \(times(r.opened))") }
        if r.played > 0 { parts.append("played \(times(r.played))") }
        if r.changed > 0 { parts.append("accessed in another way \(times(r.changed))") }
        if r.opened == 0 && r.played == 0 && r.presented > 0 { parts[0] = "shown in another person's list \(times(r.presented)); it was not opened" }
        return parts.joined(separator: ", ")
    }

    /// The letter to one affected patient.
    public static func letter(_ e: PatientExposure, from: String, to: String, contact: String, time: (Int64) -> String) -> NoticeDraft {
        let people = e.viewers.count == 1 ? "one other person" : "\(e.viewers.count) other people"
        let lines = e.records.values.sorted { ($0.first, $0.resourceID) < ($1.first, $1.resourceID) }.map { r in
            "- \(nouns[r.resourceType] ?? "a record of yours") (reference \(r.resourceID.prefix(8))): \(what(r)), between \(time(r.first)) and \(time(r.last))."
        }
        let anyOpened = e.records.values.contains { $0.opened > 0 || $0.played > 0 }
        let body = """
            Dear patient,

            We are writing to tell you about a fault in our service that let \(people) using Confide see some of your information. We are sorry.

            What happened
            Between \(from) and \(to), a fault in Confide showed some of your records to \(people) who should not have seen them.

            What was seen
            \(lines.joined(separator: "\n"))
            \(anyOpened ? "At least one record was opened, so its content may have been seen." : "Your records were only shown in a list; none was opened.")

            What we have done
            We stopped the fault, checked every access to patient data in our tamper-evident audit log, and identified everyone affected. We have told the data protection regulator.

            What you can do
            You can see everyone who has accessed your data in your account, under Who has seen my data. You do not need to do anything else.

            Whom to contact
            \(contact)
            """
        return NoticeDraft(patient: e.patient, subject: "Important: a problem with how your information was shown", body: body)
    }

    /// The summary for the regulator (GDPR Article 33 items).
    public static func regulatorSummary(_ s: BreachSummary, contact: String) -> NoticeDraft {
        let kinds = s.byResourceType.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        let exposures = s.byExposure.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        let body = """
            Personal data breach notification (draft)

            Window: \(s.from) to \(s.to)
            Nature of the breach: \(s.nature)
            Categories of data: health data (special category). Accesses by record type: \(kinds.isEmpty ? "none" : kinds).
            How the data was exposed: \(exposures.isEmpty ? "none" : exposures).
            Data subjects concerned: \(s.patientsAffected) patients (data opened or played for \(s.patientsWhoseDataWasOpened)).
            Records concerned: \(s.recordsConcerned). Accounts that saw them: \(s.actors).
            How this was established: every access in the window was re-checked against the ground truth with an independent check, after the tamper-evident audit log was verified (\(s.accessesChecked) accesses to patient data checked).
            Likely consequences: \(s.likelyConsequences)
            Measures taken or proposed: \(s.measuresTaken)
            Contact point: \(contact)
            """
        return NoticeDraft(patient: nil, subject: "Personal data breach notification, \(s.from) to \(s.to)", body: body)
    }
}
