public import ConfideAudit
import Foundation

/// What the ground truth says about one resource: whose it is, through the chain the server built
/// (a recording -> its consultation -> the patient who booked it), never through a copy of the owner
/// kept on the object itself.
public struct GroundTruth: Sendable, Hashable {
    /// The patient whose data it is; `nil` when the resource is not patient data or is gone.
    public var patient: String?
    /// The consultation it belongs to, and that consultation's clinician and practice.
    public var consultation: String?
    public var clinician: String?
    public var practice: String?

    public init(patient: String?, consultation: String? = nil, clinician: String? = nil, practice: String? = nil) {
        self.patient = patient
        self.consultation = consultation
        self.clinician = clinician
        self.practice = practice
    }
}

/// The database facts the breach check needs, read with queries of its own (not the policy's
/// scopes or facts loaders), so a bug there cannot hide itself here.
extension GroundTruth {
    /// The key of an item in `BreachEvidence.groundTruths`.
    public static func key(resourceType: String, resourceID: String) -> String { resourceType + "\u{0}" + resourceID }
}

public protocol BreachEvidence: Sendable {
    /// Whose data `resourceID` of `resourceType` is, through the ground-truth chain.
    func groundTruth(resourceType: String, resourceID: String) async throws -> GroundTruth
    /// The ground truth of many items at once (a list response), keyed by
    /// `GroundTruth.key(resourceType:resourceID:)`; each the same as `groundTruth` would say.
    func groundTruths(_ items: [(resourceType: String, resourceID: String)]) async throws -> [String: GroundTruth]
    /// The patient record of a patient account.
    func patient(ofAccount account: String) async throws -> String?
    /// Whether `account` was in a care team to which `patient` had consented at `time` (ms).
    func careTeamConsent(account: String, patient: String, at time: Int64) async throws -> Bool
    /// Whether a break-glass reason was recorded for this request by this account.
    func breakGlass(requestID: String, account: String) async throws -> Bool
    /// Whether `account` is an admin of `practice`.
    func practiceAdmin(account: String, practice: String) async throws -> Bool
    /// Whether `account` had an accepted invitation into the consultation's call.
    func callGuest(account: String, consultation: String, at time: Int64) async throws -> Bool
    /// Whether an account with this id exists.
    func accountExists(_ account: String) async throws -> Bool
}

/// How an access showed patient data.
public enum Exposure: String, Sendable, Hashable, Codable, CaseIterable {
    /// The item appeared in a list (seen in the list, never opened).
    case presented
    /// Opened (read) on its own.
    case opened
    /// Media played or downloaded (with byte ranges).
    case played
    /// Changed or created.
    case changed
    /// Anything else (joining a call, searching).
    case other
}

/// One allowed access that the independent check does not justify.
public struct BreachFinding: Sendable, Hashable, Codable {
    public var index: UInt64
    public var time: Int64
    /// Whose data it was (the ground truth).
    public var patient: String
    /// The patient the entry recorded (differs when the data was bound to the wrong patient).
    public var recordedPatient: String?
    /// Who saw it (the audit actor: kind and account).
    public var actor: String
    public var action: String
    public var resourceType: String
    public var resourceID: String
    public var exposure: Exposure
    /// For playback: the byte ranges (`segment=N:bytes=a-b`).
    public var detail: String?
    public var why: String

    enum CodingKeys: String, CodingKey {
        case index, time, patient, actor, action, exposure, detail, why
        case recordedPatient = "recorded_patient"
        case resourceType = "resource_type"
        case resourceID = "resource_id"
    }
}

/// The purpose of the egress guard's audit entries.
public let egressGuardPurpose = "egress-guard"

/// The key of an access within its request: the guard's entry for a withheld item names the same.
public func accessKey(_ entry: AuditEntry) -> String {
    entry.requestID + "\u{0}" + entry.resourceType + "\u{0}" + entry.resourceID
}

/// The resource kinds that are patient data (the only ones a breach can be about).
public let patientDataKinds: Set<String> = [
    "patient-record", "consultation", "note", "prescription", "document", "recording", "recording-consent", "triage-session",
    "care-consent", "message", "audit-entry", "breach-notice",
]

/// Kinds whose ground truth is a consultation (its clinician is the assigned one).
let consultationKinds: Set<String> = [
    "consultation", "note", "prescription", "document", "recording", "recording-consent", "triage-session", "message",
]

/// The independent relationship check of one audit entry. Written from the English rules, not from
/// the policy engine: patient-of, clinician of the consultation, a call guest joining, a care team
/// with the patient's consent at the time, a call guest in the call's chat, break-glass with a recorded reason, practice admins
/// seeing their practice's appointment book, the system's jobs on recordings and consultations, and
/// operators erasing a recording. Everything else that showed patient data is a finding.
public struct BreachChecker: Sendable {
    let evidence: any BreachEvidence

    public init(evidence: any BreachEvidence) { self.evidence = evidence }

    public static func exposure(action: String) -> Exposure {
        switch action {
        case "list", "search": .presented
        case "read": .opened
        case "play", "download": .played
        case "create", "update", "delete", "record": .changed
        default: .other
        }
    }

    /// The finding for an entry, or `nil` when the access is justified (or not an exposure at all).
    public func check(_ entry: AuditEntry, index: UInt64) async throws -> BreachFinding? {
        guard entry.decision == .allowed, patientDataKinds.contains(entry.resourceType) else { return nil }
        // The egress guard's own entries record what became of a response whose accesses the
        // gate already recorded; they are not accesses of their own.
        guard entry.purpose != egressGuardPurpose else { return nil }
        // Scope decisions (a list's own entry, not an item) name no resource.
        guard entry.resourceID != "-" else { return nil }
        let truth: GroundTruth
        if entry.resourceType == "audit-entry" {
            truth = GroundTruth(patient: entry.patientID)
        } else {
            truth = try await evidence.groundTruth(resourceType: entry.resourceType, resourceID: entry.resourceID)
        }
        guard let owner = truth.patient ?? entry.patientID else { return nil }
        let exposure = Self.exposure(action: entry.action)
        func finding(_ why: String) -> BreachFinding {
            BreachFinding(
                index: index, time: entry.time, patient: owner, recordedPatient: entry.patientID, actor: entry.actor, action: entry.action,
                resourceType: entry.resourceType, resourceID: entry.resourceID, exposure: exposure,
                detail: entry.purpose.hasPrefix("playback:") ? String(entry.purpose.dropFirst("playback:".count)) : nil, why: why)
        }
        let parts = entry.actor.split(separator: ":", maxSplits: 1).map(String.init)
        let kind = parts.first ?? ""
        let account = parts.count > 1 ? parts[1] : ""
        switch kind {
        case "patient":
            if try await evidence.patient(ofAccount: account) == owner { return nil }
            return finding(
                truth.patient != nil && entry.patientID != nil && entry.patientID != owner
                    ? "another patient's data, recorded as the viewer's own (bound to the wrong patient)" : "another patient's data")
        case "clinician":
            if consultationKinds.contains(entry.resourceType), let clinician = truth.clinician, clinician == account { return nil }
            // A call guest joins the call and takes part in its chat; nothing else of the consultation opens to them.
            if entry.action == "join" || entry.resourceType == "message", let consultation = truth.consultation,
                try await evidence.callGuest(account: account, consultation: consultation, at: entry.time)
            {
                return nil
            }
            // A care team and break-glass never open the call's chat.
            if ["read", "list", "play"].contains(entry.action), entry.resourceType != "message",
                try await evidence.careTeamConsent(account: account, patient: owner, at: entry.time)
            {
                return nil
            }
            if entry.purpose == "break-glass", entry.action == "read", !["recording", "message"].contains(entry.resourceType),
                try await evidence.breakGlass(requestID: entry.requestID, account: account)
            {
                return nil
            }
            return finding("no relation between the clinician and the patient (not their consultation, no consented care team, no break-glass)")
        case "practice-admin":
            if entry.resourceType == "consultation", ["read", "list"].contains(entry.action), let practice = truth.practice,
                try await evidence.practiceAdmin(account: account, practice: practice)
            {
                return nil
            }
            return finding("a practice admin saw clinical data")
        case "admin":
            if entry.resourceType == "recording", entry.action == "delete" { return nil }
            // Operators review and send the breach notices (what was seen and when, no clinical content).
            if entry.resourceType == "breach-notice", ["list", "read", "update"].contains(entry.action) { return nil }
            // Operators search the audit log: identifiers and metadata, never clinical text.
            if entry.resourceType == "audit-entry", ["search", "read"].contains(entry.action) { return nil }
            return finding("a platform operator saw clinical data")
        case "system":
            if entry.resourceType == "recording", ["list", "update", "delete"].contains(entry.action) { return nil }
            if entry.resourceType == "consultation", ["list", "update"].contains(entry.action) { return nil }
            if entry.resourceType == "patient-record", entry.action == "create" { return nil }
            if entry.resourceType == "breach-notice", entry.action == "create" { return nil }
            return finding("a system job touched patient data outside its jobs")
        default:
            if entry.resourceType == "patient-record", entry.action == "create" { return nil }  // self-registration
            return finding("an unauthenticated caller saw patient data")
        }
    }
}

/// The regulator's summary of a report (GDPR Art. 33(3): nature, categories and numbers of people
/// and records, likely consequences, measures taken).
public struct BreachSummary: Sendable, Codable {
    public var from: String
    public var to: String
    public var entriesExamined: Int
    public var accessesChecked: Int
    public var findings: Int
    public var patientsAffected: Int
    public var patientsWhoseDataWasOpened: Int
    public var recordsConcerned: Int
    public var actors: Int
    public var byExposure: [String: Int]
    public var byResourceType: [String: Int]
    public var nature: String
    public var likelyConsequences: String
    public var measuresTaken: String

    enum CodingKeys: String, CodingKey {
        case from, to, findings, actors, nature
        case entriesExamined = "entries_examined"
        case accessesChecked = "accesses_checked"
        case patientsAffected = "patients_affected"
        case patientsWhoseDataWasOpened = "patients_whose_data_was_opened"
        case recordsConcerned = "records_concerned"
        case byExposure = "by_exposure"
        case byResourceType = "by_resource_type"
        case likelyConsequences = "likely_consequences"
        case measuresTaken = "measures_taken"
    }
}

/// Accumulates findings into the summary without keeping them (the report streams).
public struct BreachTally: Sendable {
    public private(set) var entriesExamined = 0
    public private(set) var accessesChecked = 0
    public private(set) var findings = 0
    var patients = Set<String>()
    var openedPatients = Set<String>()
    var records = Set<String>()
    var actors = Set<String>()
    var byExposure: [String: Int] = [:]
    var byType: [String: Int] = [:]

    public init() {}

    public mutating func examined(_ entry: AuditEntry) {
        entriesExamined += 1
        if entry.decision == .allowed && patientDataKinds.contains(entry.resourceType) && entry.resourceID != "-" { accessesChecked += 1 }
    }

    public mutating func add(_ f: BreachFinding) {
        findings += 1
        patients.insert(f.patient)
        if f.exposure == .opened || f.exposure == .played { openedPatients.insert(f.patient) }
        records.insert(f.resourceType + "/" + f.resourceID)
        actors.insert(f.actor)
        byExposure[f.exposure.rawValue, default: 0] += 1
        byType[f.resourceType, default: 0] += 1
    }

    public func summary(from: String, to: String, measures: String) -> BreachSummary {
        let nature =
            findings == 0
            ? "No access in the window failed the independent relationship check."
            : "Confidentiality: \(findings) accesses in the window showed patient data to people with no relation to the patient "
                + "(\(byExposure["presented", default: 0]) presented in a list, \(byExposure["opened", default: 0]) opened, "
                + "\(byExposure["played", default: 0]) media playbacks, \(byExposure["changed", default: 0]) changes)."
        let consequences =
            findings == 0
            ? "None identified."
            : "Health information of \(patients.count) patients was disclosed to \(actors.count) other users; for \(openedPatients.count) of them it was opened or played, not only listed. Possible distress and loss of confidentiality about their health."
        return BreachSummary(
            from: from, to: to, entriesExamined: entriesExamined, accessesChecked: accessesChecked, findings: findings,
            patientsAffected: patients.count, patientsWhoseDataWasOpened: openedPatients.count, recordsConcerned: records.count,
            actors: actors.count, byExposure: byExposure, byResourceType: byType, nature: nature, likelyConsequences: consequences,
            measuresTaken: measures)
    }

    /// The affected patients, sorted (for the notices).
    public var affectedPatients: [String] { patients.sorted() }
}
