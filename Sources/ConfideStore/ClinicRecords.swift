public import ConfideCore
public import Foundation

/// A practice (a GP surgery or clinic). Not patient data.
public struct PracticeRecord: Sendable, Hashable {
    public var id: Practice.ID
    public var name: String
    public var country: CountryCode
    /// A region within the country ("England", "Ontario", "New York").
    public var region: String
    public var zone: ZoneName
    public var createdAt: Date

    public init(id: Practice.ID, name: String, country: CountryCode, region: String, zone: ZoneName, createdAt: Date) {
        self.id = id
        self.name = name
        self.country = country
        self.region = region
        self.zone = zone
        self.createdAt = createdAt
    }
}

/// What a staff member is at a practice.
public enum PracticeRole: String, Sendable, Hashable, CaseIterable {
    case clinician
    /// practice-admin-of.
    case admin
}

/// A staff member of a practice, for directories (not patient data).
public struct PracticeMember: Sendable, Hashable {
    public var account: Account.ID
    public var role: PracticeRole
    public var name: PersonName
    public var staffRole: StaffRole?

    public init(account: Account.ID, role: PracticeRole, name: PersonName, staffRole: StaffRole?) {
        self.account = account
        self.role = role
        self.name = name
        self.staffRole = staffRole
    }
}

/// A care team of a practice: the clinicians a patient can consent to share their record with.
public struct CareTeamRecord: Sendable, Hashable {
    public var id: CareTeam.ID
    public var practice: Practice.ID
    public var name: String
    public var members: [Account.ID]

    public init(id: CareTeam.ID, practice: Practice.ID, name: String, members: [Account.ID]) {
        self.id = id
        self.practice = practice
        self.name = name
        self.members = members
    }
}

/// A patient's consent that a care team may read their record. Withdrawal keeps the row.
public struct CareConsentRecord: Sendable, Hashable {
    public var id: String
    public var patient: Patient.ID
    public var team: CareTeam.ID
    public var teamName: String
    public var grantedAt: Date
    public var withdrawnAt: Date?

    public init(id: String, patient: Patient.ID, team: CareTeam.ID, teamName: String, grantedAt: Date, withdrawnAt: Date? = nil) {
        self.id = id
        self.patient = patient
        self.team = team
        self.teamName = teamName
        self.grantedAt = grantedAt
        self.withdrawnAt = withdrawnAt
    }
}

/// A consultation as stored. `patient`, `clinician` and `practice` are set by the server at
/// booking from the slot and the signed-in patient, and never change.
public struct ConsultationRecord: Sendable, Hashable {
    public var id: Consultation.ID
    public var patient: Patient.ID
    public var clinician: Account.ID
    public var practice: Practice.ID
    public var start: Date
    public var end: Date
    public var modality: Modality
    public var status: ConsultationStatus
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: Consultation.ID, patient: Patient.ID, clinician: Account.ID, practice: Practice.ID, start: Date, end: Date,
        modality: Modality, status: ConsultationStatus, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.patient = patient
        self.clinician = clinician
        self.practice = practice
        self.start = start
        self.end = end
        self.modality = modality
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A consultation with the names people need to see it (joined from the directory and the
/// patient record, within the same grant or scope).
public struct ConsultationView: Sendable, Hashable {
    public var record: ConsultationRecord
    public var patientName: PersonName
    public var clinicianName: PersonName
    public var clinicianRole: StaffRole?
    public var practiceName: String
    public var zone: ZoneName

    public init(
        record: ConsultationRecord, patientName: PersonName, clinicianName: PersonName, clinicianRole: StaffRole?, practiceName: String,
        zone: ZoneName
    ) {
        self.record = record
        self.patientName = patientName
        self.clinicianName = clinicianName
        self.clinicianRole = clinicianRole
        self.practiceName = practiceName
        self.zone = zone
    }
}

/// The structured sections of a consultation note (SOAP-like).
public struct NoteSections: Sendable, Hashable {
    public var history: String
    public var examination: String
    public var assessment: String
    public var plan: String

    public init(history: String, examination: String, assessment: String, plan: String) {
        self.history = history
        self.examination = examination
        self.assessment = assessment
        self.plan = plan
    }
}

/// Whether a note is still being written or has been signed.
public enum NoteStatus: String, Sendable, Hashable {
    case draft, signed
}

/// One version of a consultation note. Signed versions are never changed: an amendment is a new
/// version with a reason, and the history keeps every version.
public struct NoteVersion: Sendable, Hashable {
    public var consultation: Consultation.ID
    public var version: Int
    public var sections: NoteSections
    public var status: NoteStatus
    public var author: Account.ID
    /// Why a signed note was amended (required for an amendment).
    public var amendmentReason: String?
    public var signedAt: Date?
    public var savedAt: Date

    public init(
        consultation: Consultation.ID, version: Int, sections: NoteSections, status: NoteStatus, author: Account.ID,
        amendmentReason: String?, signedAt: Date?, savedAt: Date
    ) {
        self.consultation = consultation
        self.version = version
        self.sections = sections
        self.status = status
        self.author = author
        self.amendmentReason = amendmentReason
        self.signedAt = signedAt
        self.savedAt = savedAt
    }
}

/// An in-app notification. Like an email, it carries no clinical content: it only says that
/// something awaits the person in their account.
public struct NotificationRecord: Sendable, Hashable {
    public var id: String
    public var account: Account.ID
    public var kind: String
    public var consultation: Consultation.ID?
    public var text: String
    public var createdAt: Date
    public var readAt: Date?

    public init(id: String, account: Account.ID, kind: String, consultation: Consultation.ID?, text: String, createdAt: Date, readAt: Date? = nil) {
        self.id = id
        self.account = account
        self.kind = kind
        self.consultation = consultation
        self.text = text
        self.createdAt = createdAt
        self.readAt = readAt
    }
}

/// A consultation whose reminder of some kind is due (the job's view: identifiers only).
public struct DueReminder: Sendable, Hashable {
    public var consultation: Consultation.ID
    public var patient: Patient.ID
    public var patientAccount: Account.ID
    public var start: Date

    public init(consultation: Consultation.ID, patient: Patient.ID, patientAccount: Account.ID, start: Date) {
        self.consultation = consultation
        self.patient = patient
        self.patientAccount = patientAccount
        self.start = start
    }
}

/// An allergy recorded on a patient's record (clinical content).
public struct AllergyRecord: Sendable, Hashable {
    public var id: String
    public var patient: Patient.ID
    public var substance: String
    public var reaction: String
    public var recordedAt: Date
    public var recordedBy: Account.ID

    public init(id: String, patient: Patient.ID, substance: String, reaction: String, recordedAt: Date, recordedBy: Account.ID) {
        self.id = id
        self.patient = patient
        self.substance = substance
        self.reaction = reaction
        self.recordedAt = recordedAt
        self.recordedBy = recordedBy
    }
}

/// A medicine the patient currently takes (clinical content).
public struct MedicineRecord: Sendable, Hashable {
    public var id: String
    public var patient: Patient.ID
    public var name: String
    public var dose: String
    public var recordedAt: Date
    public var recordedBy: Account.ID

    public init(id: String, patient: Patient.ID, name: String, dose: String, recordedAt: Date, recordedBy: Account.ID) {
        self.id = id
        self.patient = patient
        self.name = name
        self.dose = dose
        self.recordedAt = recordedAt
        self.recordedBy = recordedBy
    }
}

/// A prescription issued in a consultation. Its patient is its consultation's patient.
public struct PrescriptionRecord: Sendable, Hashable {
    public var id: String
    public var consultation: Consultation.ID
    public var medicine: String
    public var dose: String
    public var route: String
    public var frequency: String
    public var quantity: Int
    public var pharmacy: String
    public var status: String
    /// The recorded allergies the prescriber was warned about and chose to override.
    public var allergyOverride: String?
    /// Why it was cancelled (status `cancelled`).
    public var cancellationReason: String?
    public var issuedAt: Date
    public var author: Account.ID

    public init(
        id: String, consultation: Consultation.ID, medicine: String, dose: String, route: String, frequency: String, quantity: Int,
        pharmacy: String, status: String, allergyOverride: String?, issuedAt: Date, author: Account.ID, cancellationReason: String? = nil
    ) {
        self.cancellationReason = cancellationReason
        self.id = id
        self.consultation = consultation
        self.medicine = medicine
        self.dose = dose
        self.route = route
        self.frequency = frequency
        self.quantity = quantity
        self.pharmacy = pharmacy
        self.status = status
        self.allergyOverride = allergyOverride
        self.issuedAt = issuedAt
        self.author = author
    }
}

/// The kinds of document a clinician issues in a consultation.
public enum DocumentKind: String, Sendable, Hashable, CaseIterable {
    case referral
    /// A statement of fitness for work.
    case fitNote = "fit-note"
    case letter
}

/// A referral, fit note or letter issued in a consultation. Its patient is its consultation's.
public struct DocumentRecord: Sendable, Hashable {
    public var id: String
    public var consultation: Consultation.ID
    public var kind: DocumentKind
    /// Referral: the service or clinician referred to; letter: the addressee; fit note: empty.
    public var recipient: String
    /// Referral: routine, urgent or two-week-wait; otherwise empty.
    public var urgency: String
    /// Referral: the reason; fit note: the condition; letter: the text.
    public var body: String
    /// Fit note: the period it covers.
    public var validFrom: CalendarDate?
    public var validUntil: CalendarDate?
    public var issuedAt: Date
    public var author: Account.ID

    public init(
        id: String, consultation: Consultation.ID, kind: DocumentKind, recipient: String, urgency: String, body: String,
        validFrom: CalendarDate?, validUntil: CalendarDate?, issuedAt: Date, author: Account.ID
    ) {
        self.id = id
        self.consultation = consultation
        self.kind = kind
        self.recipient = recipient
        self.urgency = urgency
        self.body = body
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.issuedAt = issuedAt
        self.author = author
    }
}
