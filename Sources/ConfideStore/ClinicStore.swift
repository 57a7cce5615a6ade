public import ConfideAudit
public import ConfideCore
public import ConfidePolicy
public import Foundation

/// An allowed write and its audit entry. The store appends `entry` in the same transaction as the
/// change, so a change without its entry (or an entry for a change that did not happen) cannot
/// be committed. Only the gate mints one.
public struct AuditedWrite<Resource: PolicyResource>: Sendable {
    public let grant: Grant<Resource>
    public let entry: AuditEntry

    // INVARIANT: internal, so that only the gate (ConfideStore) can mint an AuditedWrite.
    init(grant: Grant<Resource>, entry: AuditEntry) {
        self.grant = grant
        self.entry = entry
    }
}

/// A clinician's published availability in one practice, for slot search (not patient data).
public struct PublishedPlan: Sendable, Hashable {
    public var clinician: Account.ID
    public var clinicianName: PersonName
    public var role: StaffRole?
    public var practice: PracticeRecord
    public var plan: AvailabilityPlan

    public init(clinician: Account.ID, clinicianName: PersonName, role: StaffRole?, practice: PracticeRecord, plan: AvailabilityPlan) {
        self.clinician = clinician
        self.clinicianName = clinicianName
        self.role = role
        self.practice = practice
        self.plan = plan
    }
}

/// Practices, care teams, consents, availability, consultations and notes. Every method that
/// returns or changes patient data takes a capability; directory lookups (practices, members,
/// which slot starts are taken) carry no patient data.
public protocol ClinicStore: Sendable {
    // MARK: practices (not patient data)
    func createPractice(_ practice: PracticeRecord, write: AuditedWrite<PracticeResource>) async throws
    func practice(id: Practice.ID) async throws -> PracticeRecord?
    func practices(_ scope: Scope<PracticeResource>) async throws -> [PracticeRecord]
    /// Adds a member (idempotent).
    func addMember(_ account: Account.ID, role: PracticeRole, at: Date, write: AuditedWrite<PracticeResource>) async throws
    func members(practice: Practice.ID) async throws -> [PracticeMember]
    func memberships(account: Account.ID) async throws -> [PracticeMembership]
    func createCareTeam(_ team: CareTeamRecord, write: AuditedWrite<PracticeResource>) async throws
    func careTeams(practice: Practice.ID) async throws -> [CareTeamRecord]
    func careTeam(id: CareTeam.ID) async throws -> CareTeamRecord?
    /// Sets the practice holidays (dates without slots), replacing the previous list.
    func setHolidays(_ dates: Set<CalendarDate>, write: AuditedWrite<PracticeResource>) async throws
    func holidays(practice: Practice.ID) async throws -> Set<CalendarDate>

    // MARK: a patient's registration with a practice
    func registeredPractice(patient: Patient.ID) async throws -> Practice.ID?
    /// Registers the patient the write names with `practice` (a patient may move).
    func setRegisteredPractice(_ practice: Practice.ID, write: AuditedWrite<PatientRecordResource>) async throws

    // MARK: care-team consents (patient data)
    /// - Throws: `StoreError(.conflict)` when an active consent for that team exists.
    func grantConsent(_ consent: CareConsentRecord, write: AuditedWrite<CareConsentResource>) async throws
    /// Withdraws the consent the write names; `false` when it was already withdrawn.
    func withdrawConsent(at: Date, write: AuditedWrite<CareConsentResource>) async throws -> Bool
    func consents(_ scope: Scope<CareConsentResource>) async throws -> [CareConsentRecord]

    // MARK: availability (not patient data)
    func availability(_ grant: Grant<AvailabilityResource>) async throws -> AvailabilityPlan?
    func replaceAvailability(_ plan: AvailabilityPlan, at: Date, write: AuditedWrite<AvailabilityResource>) async throws
    /// Every published plan in the scope, optionally of one practice.
    func publishedPlans(_ scope: Scope<AvailabilityResource>, practice: Practice.ID?) async throws -> [PublishedPlan]
    /// Times already held by an active booking of this clinician (no patient identifiers).
    func takenIntervals(clinician: Account.ID, from: Date, to: Date) async throws -> [DateInterval]
    /// How many active bookings a patient holds after `after` (a count only).
    func upcomingBookings(patient: Patient.ID, after: Date) async throws -> Int

    // MARK: consultations (patient data)
    /// Books a slot: the record's patient, clinician and practice were set by the server.
    /// - Throws: `StoreError(.slotTaken)` when an active booking of the clinician overlaps it.
    func book(_ consultation: ConsultationRecord, write: AuditedWrite<ConsultationResource>) async throws
    func consultation(_ grant: Grant<ConsultationResource>) async throws -> ConsultationView?
    /// The consultations in the scope between `from` and `to` (by start), soonest first.
    func consultations(
        _ scope: Scope<ConsultationResource>, from: Date?, to: Date?, statuses: Set<ConsultationStatus>?, assignedTo: Account.ID?, limit: Int
    ) async throws -> [ConsultationView]
    /// Moves the consultation from `from` to `to`, only if it is still in `from` (a concurrent
    /// change wins otherwise: `false`, nothing written).
    func transition(
        from: ConsultationStatus, to: ConsultationStatus, event: ConsultationEvent, at: Date, write: AuditedWrite<ConsultationResource>
    ) async throws -> Bool
    /// Moves a booked consultation to another slot of the same clinician; `false` when it is no
    /// longer booked. - Throws: `StoreError(.slotTaken)`.
    func reschedule(start: Date, end: Date, modality: Modality, at: Date, write: AuditedWrite<ConsultationResource>) async throws -> Bool

    // MARK: notes (clinical content)
    /// Every version of the note of the consultation the grant names, oldest first.
    func noteVersions(_ grant: Grant<NoteResource>) async throws -> [NoteVersion]
    /// Stores the next version of a note, only if the latest stored version is `expectedVersion`
    /// (0: no note yet); `false` when another save came first.
    func saveNote(_ version: NoteVersion, expectedVersion: Int, write: AuditedWrite<NoteResource>) async throws -> Bool

    // MARK: allergies, medicines, prescriptions (clinical content)
    /// The allergies and current medicines of the patient of the consultation the grant names
    /// (resolved through the consultation, never through the caller).
    func background(consultation grant: Grant<NoteResource>) async throws -> (allergies: [AllergyRecord], medicines: [MedicineRecord])
    /// The patient's own allergies and medicines.
    func background(patient grant: Grant<PatientRecordResource>) async throws -> (allergies: [AllergyRecord], medicines: [MedicineRecord])
    /// Records an allergy or a medicine for the patient of the consultation the write names.
    func addAllergy(substance: String, reaction: String, id: String, at: Date, write: AuditedWrite<NoteResource>) async throws
    func addMedicine(name: String, dose: String, id: String, at: Date, write: AuditedWrite<NoteResource>) async throws
    /// Issues a prescription in the consultation the write names.
    func issuePrescription(_ prescription: PrescriptionRecord, write: AuditedWrite<PrescriptionResource>) async throws
    /// Cancels an issued prescription of the consultation the write names; `false` when it is not
    /// (or no longer) issued.
    func cancelPrescription(id: String, reason: String, at: Date, write: AuditedWrite<PrescriptionResource>) async throws -> Bool
    /// The prescriptions of the consultation the grant names.
    func prescriptions(consultation grant: Grant<PrescriptionResource>) async throws -> [PrescriptionRecord]
    /// The prescriptions in the scope (a patient: their own).
    func prescriptions(_ scope: Scope<PrescriptionResource>, limit: Int) async throws -> [(PrescriptionRecord, Patient.ID)]

    // MARK: referrals, fit notes, letters (clinical content)
    /// Issues a document in the consultation the write names.
    func issueDocument(_ document: DocumentRecord, write: AuditedWrite<DocumentResource>) async throws
    /// The documents of the consultation the grant names.
    func documents(consultation grant: Grant<DocumentResource>) async throws -> [DocumentRecord]
    /// The documents in the scope (a patient: their own), newest first, with their patient.
    func documents(_ scope: Scope<DocumentResource>, limit: Int) async throws -> [(DocumentRecord, Patient.ID)]

    // MARK: break-glass
    /// Keeps the stated reason of a break-glass access for review.
    func recordBreakGlass(
        requestID: String, account: Account.ID, resourceType: String, resourceID: String, patient: Patient.ID?, reason: String, at: Date
    ) async throws

    // MARK: reminders and notifications
    /// How many active consultations start in (`from`, `to`] without a reminder of `kind` yet
    /// (a count only: the job asks the gate for more when it is not zero).
    func dueReminderCount(kind: String, from: Date, to: Date) async throws -> Int
    /// The due reminders in the scope (the system job's scope).
    func dueReminders(_ scope: Scope<ConsultationResource>, kind: String, from: Date, to: Date, limit: Int) async throws -> [DueReminder]
    /// Claims a reminder and stores its notification and email in one transaction; `false` when
    /// another instance claimed it first (then nothing is stored).
    func claimReminder(
        consultation: Consultation.ID, kind: String, at: Date, notification: NotificationRecord, email: OutgoingEmail?
    ) async throws -> Bool
    /// Stores an in-app notification.
    func addNotification(_ notification: NotificationRecord) async throws
    /// The account's notifications, newest first.
    func notifications(account: Account.ID, limit: Int) async throws -> [NotificationRecord]
    /// Marks every notification of the account read.
    func markNotificationsRead(account: Account.ID, at: Date) async throws
}

/// A staff member's role at a practice.
public struct PracticeMembership: Sendable, Hashable {
    public var practice: Practice.ID
    public var role: PracticeRole

    public init(practice: Practice.ID, role: PracticeRole) {
        self.practice = practice
        self.role = role
    }
}

/// Non-clinical facts of the resources of the clinic, relative to the principal asking.
public protocol ClinicFactsStore: Sendable {
    func practiceFacts(_ id: Practice.ID, for principal: Principal) async throws -> ResourceFacts?
    func availabilityFacts(clinician: Account.ID, practice: Practice.ID, for principal: Principal) async throws -> ResourceFacts?
    func consultationFacts(_ id: Consultation.ID, for principal: Principal) async throws -> ResourceFacts?
    /// Facts of the note of a consultation (the note's identifier is its consultation's).
    func noteFacts(_ consultation: Consultation.ID, for principal: Principal) async throws -> ResourceFacts?
    func careConsentFacts(_ id: String, for principal: Principal) async throws -> ResourceFacts?
    /// Facts of a patient record with the principal's relations to it (care team, practice).
    func patientRecordFacts(_ id: Patient.ID, for principal: Principal) async throws -> ResourceFacts?
    /// The relation facts for a resource that does not exist yet (a booking): the principal's
    /// relations to this patient and practice.
    func relationFacts(patient: Patient.ID?, practice: Practice.ID?, for principal: Principal) async throws -> ResourceFacts
}
