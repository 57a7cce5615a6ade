public import ConfideCore
public import ConfidePolicy
public import Foundation

/// A symptom-checker conversation as stored. The patient is set by the server from the session's
/// principal at creation and never changes; `consultation` is set once, when the patient attaches
/// the finished session to a booking of their own.
public struct TriageSessionRecord: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        case open, finished
    }

    public var id: String
    public var patient: Patient.ID
    /// The practice whose country's services the advice names (the patient's registered practice, or
    /// the one they chose).
    public var practice: Practice.ID?
    public var country: String
    public var age: Int
    public var sex: String
    /// The opening complaint as typed (clinical free text: never logged).
    public var complaint: String
    /// The engine's conversation state as JSON (evidence, questions asked, the pending question).
    public var state: String
    public var status: Status
    public var disposition: String?
    /// The result shown to the patient and the clinician, as JSON.
    public var result: String?
    public var knowledgeVersion: String
    public var consultation: Consultation.ID?
    public var version: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, patient: Patient.ID, practice: Practice.ID?, country: String, age: Int, sex: String, complaint: String, state: String,
        status: Status, disposition: String?, result: String?, knowledgeVersion: String, consultation: Consultation.ID?, version: Int,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.patient = patient
        self.practice = practice
        self.country = country
        self.age = age
        self.sex = sex
        self.complaint = complaint
        self.state = state
        self.status = status
        self.disposition = disposition
        self.result = result
        self.knowledgeVersion = knowledgeVersion
        self.consultation = consultation
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Symptom-checker sessions: patient data, so every method takes a capability.
public protocol TriageStore: Sendable {
    /// Facts of a session: its patient, and (once attached) its consultation's clinician and relations.
    func triageSessionFacts(_ id: String, for principal: Principal) async throws -> ResourceFacts?
    /// Stores a new session; the patient is the write's (server-assigned) owner.
    func createTriageSession(_ session: TriageSessionRecord, write: AuditedWrite<TriageSessionResource>) async throws
    func triageSession(_ grant: Grant<TriageSessionResource>) async throws -> TriageSessionRecord?
    /// Replaces the conversation state when the stored version is `expectedVersion` (false otherwise).
    func updateTriageSession(_ session: TriageSessionRecord, expectedVersion: Int, write: AuditedWrite<TriageSessionResource>) async throws
        -> Bool
    /// Attaches a finished, unattached session to a consultation of the same patient (false otherwise).
    func attachTriageSession(consultation: Consultation.ID, at: Date, write: AuditedWrite<TriageSessionResource>) async throws -> Bool
    /// Sessions in scope, newest first; optionally only the one attached to `consultation`.
    func triageSessions(_ scope: Scope<TriageSessionResource>, consultation: Consultation.ID?, limit: Int) async throws
        -> [TriageSessionRecord]
}
