public import ConfideCore
public import ConfideStore
public import Foundation

/// Who asks, and for which request (recorded with every decision).
public struct ClinicRequest: Sendable {
    public let principal: Principal
    public let requestID: String

    public init(principal: Principal, requestID: String) {
        self.principal = principal
        self.requestID = requestID
    }
}

/// Settings of the clinic: time windows around an appointment.
public struct ClinicConfiguration: Sendable {
    /// How long before the start a patient may check in.
    public var checkInOpensMinutes: Int = 60
    /// How soon a slot may be booked (a slot starting sooner is not offered).
    public var bookingLeadMinutes: Int = 5
    /// The furthest ahead a search looks and a booking may be made.
    public var searchHorizonDays: Int = 60
    /// How many upcoming appointments one patient may hold at once.
    public var maxUpcomingBookings: Int = 10
    /// Join window, seat lease, ICE servers of calls.
    public var calls = CallConfiguration()

    public init() {}
}

/// A bookable slot in search results.
public struct OfferedSlot: Sendable, Hashable {
    public var clinician: Account.ID
    public var clinicianName: PersonName
    public var role: StaffRole?
    public var practice: Practice.ID
    public var practiceName: String
    public var zone: ZoneName
    public var start: Date
    public var end: Date
    public var modalities: Set<Modality>
}

/// What a slot search asks for.
public struct SlotQuery: Sendable {
    public var practice: Practice.ID?
    public var role: StaffRole?
    public var modality: Modality?
    public var clinician: Account.ID?
    public var from: Date?
    public var days: Int
    public var limit: Int

    public init(
        practice: Practice.ID? = nil, role: StaffRole? = nil, modality: Modality? = nil, clinician: Account.ID? = nil, from: Date? = nil,
        days: Int = 14, limit: Int = 50
    ) {
        self.practice = practice
        self.role = role
        self.modality = modality
        self.clinician = clinician
        self.from = from
        self.days = days
        self.limit = limit
    }
}

/// A practice with its members, care teams and holidays.
public struct PracticeDetail: Sendable {
    public var practice: PracticeRecord
    public var members: [PracticeMember]
    public var careTeams: [CareTeamRecord]
    public var holidays: Set<CalendarDate>
}

/// A consultation's note as the caller may see it: clinicians see every version, patients the
/// signed ones only.
public struct NoteView: Sendable {
    public var consultation: Consultation.ID
    public var versions: [NoteVersion]
    public var latest: NoteVersion? { versions.last }
}

/// Input of a note save.
public struct NoteInput: Sendable {
    public var sections: NoteSections
    /// Sign now (a draft becomes the signed note).
    public var sign: Bool
    /// Required to change a signed note.
    public var amendmentReason: String?
    /// The version the author edited (0 when there was none): a concurrent save is refused.
    public var expectedVersion: Int

    public init(sections: NoteSections, sign: Bool, amendmentReason: String?, expectedVersion: Int) {
        self.sections = sections
        self.sign = sign
        self.amendmentReason = amendmentReason
        self.expectedVersion = expectedVersion
    }
}

/// A prescription as the prescriber writes it.
public struct PrescriptionInput: Sendable {
    public var medicine: String
    public var dose: String
    public var route: String
    public var frequency: String
    public var quantity: Int
    public var pharmacy: String
    /// The prescriber has seen the allergy warning and prescribes anyway.
    public var acknowledgeAllergy: Bool

    public init(medicine: String, dose: String, route: String, frequency: String, quantity: Int, pharmacy: String, acknowledgeAllergy: Bool = false) {
        self.medicine = medicine
        self.dose = dose
        self.route = route
        self.frequency = frequency
        self.quantity = quantity
        self.pharmacy = pharmacy
        self.acknowledgeAllergy = acknowledgeAllergy
    }
}

/// A patient's allergies and current medicines, shown while prescribing.
public struct ClinicalBackground: Sendable {
    public var allergies: [AllergyRecord]
    public var medicines: [MedicineRecord]
}

/// A referral, fit note or letter as the clinician writes it.
public struct DocumentInput: Sendable {
    public var kind: DocumentKind
    public var recipient: String
    public var urgency: String
    public var body: String
    public var validFrom: String?
    public var validUntil: String?

    public init(kind: DocumentKind, recipient: String = "", urgency: String = "", body: String, validFrom: String? = nil, validUntil: String? = nil) {
        self.kind = kind
        self.recipient = recipient
        self.urgency = urgency
        self.body = body
        self.validFrom = validFrom
        self.validUntil = validUntil
    }
}
