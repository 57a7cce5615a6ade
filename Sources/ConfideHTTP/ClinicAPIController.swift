import ConfideAccounts
import ConfideClinic
import ConfideCore
import ConfideStore
import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import ServiceLifecycle

// MARK: - request bodies

struct PracticeBody: APIInput {
    static let fields: Set<String> = ["name", "country", "region", "time_zone"]
    let name: String
    let country: String
    let region: String
    let time_zone: String
}

struct MemberBody: APIInput {
    static let fields: Set<String> = ["account_id", "role"]
    let account_id: String
    let role: String
}

struct CareTeamBody: APIInput {
    static let fields: Set<String> = ["name", "members"]
    let name: String
    let members: [String]
}

struct HolidaysBody: APIInput {
    static let fields: Set<String> = ["dates"]
    let dates: [String]
}

struct PracticeChoiceBody: APIInput {
    static let fields: Set<String> = ["practice_id"]
    let practice_id: String
}

struct ConsentBody: APIInput {
    static let fields: Set<String> = ["care_team_id"]
    let care_team_id: String
}

extension AvailabilityDocument: APIInput {
    static let fields: Set<String> = ["weekly", "exceptions"]
    static let windowFields: Set<String> = ["weekday", "start", "end", "slot_minutes", "modalities", "valid_from", "valid_until"]

    static func unknownNestedField(_ body: [String: Any]) -> String? {
        func unknown(_ items: Any?, _ allowed: Set<String>) -> String? {
            for item in (items as? [Any]) ?? [] {
                if let object = item as? [String: Any], let extra = Set(object.keys).subtracting(allowed).sorted().first { return extra }
            }
            return nil
        }
        if let extra = unknown(body["weekly"], windowFields) { return extra }
        if let extra = unknown(body["exceptions"], ["date", "windows"]) { return extra }
        for exception in (body["exceptions"] as? [Any]) ?? [] {
            if let extra = unknown((exception as? [String: Any])?["windows"], windowFields) { return extra }
        }
        return nil
    }
}

struct BookingBody: APIInput {
    static let fields: Set<String> = ["clinician_id", "start", "modality", "triage_session_id"]
    let clinician_id: String
    let start: String
    let modality: String
    /// A finished symptom check of the patient's, to attach for the clinician.
    let triage_session_id: String?
}

struct RescheduleBody: APIInput {
    static let fields: Set<String> = ["start", "modality"]
    let start: String
    let modality: String
}

struct TransitionBody: APIInput {
    static let fields: Set<String> = ["event"]
    let event: String
}

struct AllergyBody: APIInput {
    static let fields: Set<String> = ["substance", "reaction"]
    let substance: String
    let reaction: String?
}

struct MedicineBody: APIInput {
    static let fields: Set<String> = ["name", "dose"]
    let name: String
    let dose: String?
}

struct PrescriptionBody: APIInput {
    static let fields: Set<String> = ["medicine", "dose", "route", "frequency", "quantity", "pharmacy", "acknowledge_allergy"]
    let medicine: String
    let dose: String
    let route: String
    let frequency: String
    let quantity: Int
    let pharmacy: String
    let acknowledge_allergy: Bool?
}

struct DocumentBody: APIInput {
    static let fields: Set<String> = ["kind", "recipient", "urgency", "body", "valid_from", "valid_until"]
    let kind: String
    let recipient: String?
    let urgency: String?
    let body: String
    let valid_from: String?
    let valid_until: String?
}

struct CancelPrescriptionBody: APIInput {
    static let fields: Set<String> = ["prescription_id", "reason"]
    let prescription_id: String
    let reason: String
}

struct NoteBody: APIInput {
    static let fields: Set<String> = ["history", "examination", "assessment", "plan", "sign", "amendment_reason", "expected_version"]
    let history: String
    let examination: String
    let assessment: String
    let plan: String
    let sign: Bool?
    let amendment_reason: String?
    let expected_version: Int
}

// MARK: - responses

struct PracticeJSON: Encodable {
    let id: String
    let name: String
    let country: String
    let region: String
    let time_zone: String

    init(_ p: PracticeRecord) {
        id = p.id.description
        name = p.name
        country = p.country.value
        region = p.region
        time_zone = p.zone.identifier
    }
}

struct ConsultationJSON: Encodable {
    let id: String
    let status: String
    let modality: String
    let start: String
    let end: String
    /// The start on the practice's wall clock, e.g. "Mon 30 Mar 2026, 09:00 BST".
    let start_display: String
    let time_zone: String
    let practice_id: String
    let practice_name: String
    let clinician_id: String
    let clinician_name: String
    let clinician_role: String?
    let patient_id: String?
    /// Absent for practice admins: they see the appointment book, not who the patient is.
    let patient_name: String?

    init(_ v: ConsultationView, for principal: Principal) {
        let iso = ISO8601DateFormatter()
        id = v.record.id.description
        status = v.record.status.rawValue
        modality = v.record.modality.rawValue
        start = iso.string(from: v.record.start)
        end = iso.string(from: v.record.end)
        start_display = ZonedFormat.display(v.record.start, in: v.zone.timeZone)
        time_zone = v.zone.identifier
        practice_id = v.record.practice.description
        practice_name = v.practiceName
        clinician_id = v.record.clinician.description
        clinician_name = v.clinicianName.display
        clinician_role = v.clinicianRole?.rawValue
        if case .practiceAdmin = principal {
            patient_id = nil
            patient_name = nil
        } else {
            patient_id = v.record.patient.description
            patient_name = v.patientName.display
        }
    }
}

struct NoteVersionJSON: Encodable {
    let version: Int
    let status: String
    let history: String
    let examination: String
    let assessment: String
    let plan: String
    let author_id: String
    let amendment_reason: String?
    let signed_at: String?
    let saved_at: String

    init(_ v: NoteVersion) {
        let iso = ISO8601DateFormatter()
        version = v.version
        status = v.status.rawValue
        history = v.sections.history
        examination = v.sections.examination
        assessment = v.sections.assessment
        plan = v.sections.plan
        author_id = v.author.description
        amendment_reason = v.amendmentReason
        signed_at = v.signedAt.map(iso.string(from:))
        saved_at = iso.string(from: v.savedAt)
    }
}

/// Parses request values; a bad value is a 422 naming the field, never echoing it.
enum Parse {
    static func id<T>(_ raw: String?, _ field: String, as _: Identifier<T>.Type = Identifier<T>.self) throws -> Identifier<T> {
        guard let raw, let id = Identifier<T>(string: raw) else {
            throw Problem(.unprocessableContent, "invalid-value", "this identifier is not valid", field: field)
        }
        return id
    }

    /// A path identifier: anything that is not one is simply not found.
    static func pathID<T>(_ context: some RequestContext, _ name: String, as _: Identifier<T>.Type = Identifier<T>.self) throws -> Identifier<T> {
        guard let raw = context.parameters.get(name), let id = Identifier<T>(string: raw) else { throw Problem.notFound }
        return id
    }

    static func instant(_ raw: String?, _ field: String) throws -> Date {
        let f = ISO8601DateFormatter()
        guard let raw, let date = f.date(from: raw) else {
            throw Problem(.unprocessableContent, "invalid-value", "enter a time as ISO 8601, like 2026-12-01T09:00:00Z", field: field)
        }
        return date
    }

    static func modality(_ raw: String?, _ field: String = "modality") throws -> Modality {
        guard let raw, let m = Modality(rawValue: raw) else {
            throw Problem(.unprocessableContent, "invalid-value", "choose video, audio or in-person", field: field)
        }
        return m
    }
}

/// Runs a clinic service call and answers its `ClinicError` as problem+json (the one mapping every
/// controller uses).
func clinicCall<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let e as ClinicError { throw e.problem }
}

extension ClinicError {
    var problem: Problem {
        switch code {
        case .notFound: .notFound
        case .slotUnavailable, .outsideWindow, .notesNotOpen, .practiceRequired, .wrongAccountKind, .tooManyBookings:
            Problem(.unprocessableContent, code.rawValue, message)
        case .slotTaken, .transitionNotAllowed, .conflict, .amendmentRequired, .allergyWarning, .notAsked:
            Problem(.conflict, code.rawValue, message)
        case .tooManyRequests: Problem(.tooManyRequests, code.rawValue, message)
        case .validation:
            validation.map { Problem(.unprocessableContent, $0.code.rawValue, $0.message, field: $0.field) }
                ?? Problem(.unprocessableContent, "invalid-value", message)
        }
    }
}

/// The clinic's JSON API: practices, availability, slots, consultations, notes, live events.
struct ClinicAPIController {
    let clinic: ClinicService
    let triage: TriageService?
    let events: any EventChannel
    let settings: HTTPSettings

    func register(on router: Router<ConfideRequestContext>) {
        let api = router.group("api/v1").group(context: SignedInContext.self)
        api.get("practices", use: listPractices)
        api.post("practices", use: createPractice)
        api.get("practices/:practiceID", use: getPractice)
        api.post("practices/:practiceID/members", use: addMember)
        api.post("practices/:practiceID/care-teams", use: createCareTeam)
        api.put("practices/:practiceID/holidays", use: setHolidays)
        api.get("practices/:practiceID/clinicians/:accountID/availability", use: getAvailability)
        api.put("practices/:practiceID/clinicians/:accountID/availability", use: putAvailability)
        api.get("me/practice", use: getMyPractice)
        api.put("me/practice", use: putMyPractice)
        api.get("me/consents", use: listConsents)
        api.post("me/consents", use: grantConsent)
        api.delete("me/consents/:consentID", use: withdrawConsent)
        api.get("slots", use: searchSlots)
        api.get("consultations", use: listConsultations)
        api.post("consultations", use: book)
        api.get("consultations/:consultationID", use: getConsultation)
        api.post("consultations/:consultationID/transitions", use: transition)
        api.post("consultations/:consultationID/reschedule", use: reschedule)
        api.get("consultations/:consultationID/note", use: getNote)
        api.put("consultations/:consultationID/note", use: putNote)
        api.get("consultations/:consultationID/background", use: getBackground)
        api.post("consultations/:consultationID/allergies", use: addAllergy)
        api.post("consultations/:consultationID/medicines", use: addMedicine)
        api.get("consultations/:consultationID/prescriptions", use: listConsultationPrescriptions)
        api.post("consultations/:consultationID/prescriptions", use: prescribe)
        api.post("consultations/:consultationID/prescriptions/cancellations", use: cancelPrescription)
        api.get("me/prescriptions", use: myPrescriptions)
        api.get("consultations/:consultationID/documents", use: listConsultationDocuments)
        api.post("consultations/:consultationID/documents", use: issueDocument)
        api.get("me/documents", use: myDocuments)
        api.get("me/background", use: myBackground)
        api.get("waiting-room", use: waitingRoom)
        api.get("me/notifications", use: listNotifications)
        api.post("me/notifications/read", use: markNotificationsRead)
        api.get("events", use: eventStream)
    }

    func req(_ context: SignedInContext) -> ClinicRequest { ClinicRequest(principal: context.principal, requestID: context.meta.requestID) }

    /// A triage session id: a lower-case UUID, else 422 (it is a body field, not a path).
    static func triageID(_ raw: String) throws -> String {
        guard raw.count == 36, UUID(uuidString: raw) != nil, raw == raw.lowercased() else {
            throw Problem(.unprocessableContent, "invalid-value", "triage_session_id is not a session id", field: "triage_session_id")
        }
        return raw
    }

    // MARK: practices

    struct PracticeListJSON: Encodable { let practices: [PracticeJSON] }

    @Sendable func listPractices(_ request: Request, context: SignedInContext) async throws -> Response {
        try jsonResponse(PracticeListJSON(practices: try await clinicCall { try await clinic.practices(req(context)) }.map(PracticeJSON.init)))
    }

    @Sendable func createPractice(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let b = try await request.decodeStrict(PracticeBody.self, limit: settings.maxBodyBytes)
        let p = try await clinicCall { try await clinic.createPractice(name: b.name, country: b.country, region: b.region, zone: b.time_zone, req(context)) }
        return try jsonResponse(PracticeJSON(p), status: .created)
    }

    struct PracticeDetailJSON: Encodable {
        struct Member: Encodable {
            let account_id: String
            let role: String
            let name: String
            let staff_role: String?
        }
        struct Team: Encodable {
            let id: String
            let name: String
            let members: [String]
        }
        let practice: PracticeJSON
        let members: [Member]
        let care_teams: [Team]
        let holidays: [String]
    }

    @Sendable func getPractice(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Practice.ID = try Parse.pathID(context, "practiceID")
        let d = try await clinicCall { try await clinic.practice(id, req(context)) }
        return try jsonResponse(
            PracticeDetailJSON(
                practice: PracticeJSON(d.practice),
                members: d.members.map {
                    .init(account_id: $0.account.description, role: $0.role.rawValue, name: $0.name.display, staff_role: $0.staffRole?.rawValue)
                },
                care_teams: d.careTeams.map { .init(id: $0.id.description, name: $0.name, members: $0.members.map(\.description)) },
                holidays: d.holidays.sorted().map(\.description)))
    }

    @Sendable func addMember(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Practice.ID = try Parse.pathID(context, "practiceID")
        let b = try await request.decodeStrict(MemberBody.self, limit: settings.maxBodyBytes)
        guard let role = PracticeRole(rawValue: b.role) else {
            throw Problem(.unprocessableContent, "invalid-value", "choose `clinician` or `admin`", field: "role")
        }
        let account: Account.ID = try Parse.id(b.account_id, "account_id")
        try await clinicCall { try await clinic.addMember(practice: id, account: account, role: role, req(context)) }
        return Response(status: .noContent)
    }

    struct TeamJSON: Encodable {
        let id: String
        let name: String
        let members: [String]
    }

    @Sendable func createCareTeam(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Practice.ID = try Parse.pathID(context, "practiceID")
        let b = try await request.decodeStrict(CareTeamBody.self, limit: settings.maxBodyBytes)
        let members: [Account.ID] = try b.members.map { try Parse.id($0, "members") }
        let team = try await clinicCall { try await clinic.createCareTeam(practice: id, name: b.name, members: members, req(context)) }
        return try jsonResponse(TeamJSON(id: team.id.description, name: team.name, members: team.members.map(\.description)), status: .created)
    }

    @Sendable func setHolidays(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Practice.ID = try Parse.pathID(context, "practiceID")
        let b = try await request.decodeStrict(HolidaysBody.self, limit: settings.maxBodyBytes)
        try await clinicCall { try await clinic.setHolidays(practice: id, dates: b.dates, req(context)) }
        return Response(status: .noContent)
    }

    // MARK: availability

    @Sendable func getAvailability(_ request: Request, context: SignedInContext) async throws -> Response {
        let practice: Practice.ID = try Parse.pathID(context, "practiceID")
        let clinician: Account.ID = try Parse.pathID(context, "accountID")
        let plan = try await clinicCall { try await clinic.availability(clinician: clinician, practice: practice, req(context)) }
        return try jsonResponse(AvailabilityDocument(plan))
    }

    @Sendable func putAvailability(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let practice: Practice.ID = try Parse.pathID(context, "practiceID")
        let clinician: Account.ID = try Parse.pathID(context, "accountID")
        let document = try await request.decodeStrict(AvailabilityDocument.self, limit: settings.maxBodyBytes)
        let plan = try await clinicCall { try await clinic.setAvailability(clinician: clinician, practice: practice, document: document, req(context)) }
        return try jsonResponse(AvailabilityDocument(plan))
    }

    // MARK: the patient's practice and consents

    struct MyPracticeJSON: Encodable { let practice: PracticeJSON? }

    @Sendable func getMyPractice(_ request: Request, context: SignedInContext) async throws -> Response {
        try jsonResponse(MyPracticeJSON(practice: try await clinicCall { try await clinic.registeredPractice(req(context)) }.map(PracticeJSON.init)))
    }

    @Sendable func putMyPractice(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let b = try await request.decodeStrict(PracticeChoiceBody.self, limit: settings.maxBodyBytes)
        let id: Practice.ID = try Parse.id(b.practice_id, "practice_id")
        try await clinicCall { try await clinic.registerWithPractice(id, req(context)) }
        return Response(status: .noContent)
    }

    struct ConsentJSON: Encodable {
        let id: String
        let care_team_id: String
        let care_team_name: String
        let granted_at: String
        let withdrawn_at: String?

        init(_ c: CareConsentRecord) {
            let iso = ISO8601DateFormatter()
            id = c.id
            care_team_id = c.team.description
            care_team_name = c.teamName
            granted_at = iso.string(from: c.grantedAt)
            withdrawn_at = c.withdrawnAt.map(iso.string(from:))
        }
    }

    struct ConsentListJSON: Encodable { let consents: [ConsentJSON] }

    @Sendable func listConsents(_ request: Request, context: SignedInContext) async throws -> Response {
        try jsonResponse(ConsentListJSON(consents: try await clinicCall { try await clinic.consents(req(context)) }.map(ConsentJSON.init)))
    }

    @Sendable func grantConsent(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let b = try await request.decodeStrict(ConsentBody.self, limit: settings.maxBodyBytes)
        let team: CareTeam.ID = try Parse.id(b.care_team_id, "care_team_id")
        return try jsonResponse(ConsentJSON(try await clinicCall { try await clinic.grantConsent(team: team, req(context)) }), status: .created)
    }

    @Sendable func withdrawConsent(_ request: Request, context: SignedInContext) async throws -> Response {
        guard let id = context.parameters.get("consentID"), UUID(uuidString: id) != nil else { throw Problem.notFound }
        try await clinicCall { try await clinic.withdrawConsent(id.lowercased(), req(context)) }
        return Response(status: .noContent)
    }

    // MARK: slots and consultations

    struct SlotJSON: Encodable {
        let clinician_id: String
        let clinician_name: String
        let clinician_role: String?
        let practice_id: String
        let practice_name: String
        let time_zone: String
        let start: String
        let end: String
        let start_display: String
        let modalities: [String]
    }

    struct SlotListJSON: Encodable { let slots: [SlotJSON] }

    @Sendable func searchSlots(_ request: Request, context: SignedInContext) async throws -> Response {
        let q = request.uri.queryParameters
        var query = SlotQuery()
        if let raw = q["practice"].map(String.init) { query.practice = try Parse.id(raw, "practice") }
        if let raw = q["clinician"].map(String.init) { query.clinician = try Parse.id(raw, "clinician") }
        if let raw = q["role"].map(String.init) {
            guard let role = StaffRole(rawValue: raw) else {
                throw Problem(.unprocessableContent, "invalid-value", "choose one of gp, nurse, pharmacist, therapist", field: "role")
            }
            query.role = role
        }
        if let raw = q["modality"].map(String.init) { query.modality = try Parse.modality(raw) }
        if let raw = q["from"].map(String.init) { query.from = try Parse.instant(raw, "from") }
        if let raw = q["days"].map(String.init) {
            guard let days = Int(raw), (1...60).contains(days) else {
                throw Problem(.unprocessableContent, "invalid-value", "choose 1 to 60 days", field: "days")
            }
            query.days = days
        }
        if let raw = q["limit"].map(String.init) {
            guard let limit = Int(raw), (1...200).contains(limit) else {
                throw Problem(.unprocessableContent, "invalid-value", "choose a limit of 1 to 200", field: "limit")
            }
            query.limit = limit
        }
        let slots = try await clinicCall { try await clinic.searchSlots(query, req(context)) }
        let iso = ISO8601DateFormatter()
        return try jsonResponse(
            SlotListJSON(
                slots: slots.map {
                    SlotJSON(
                        clinician_id: $0.clinician.description, clinician_name: $0.clinicianName.display, clinician_role: $0.role?.rawValue,
                        practice_id: $0.practice.description, practice_name: $0.practiceName, time_zone: $0.zone.identifier,
                        start: iso.string(from: $0.start), end: iso.string(from: $0.end),
                        start_display: ZonedFormat.display($0.start, in: $0.zone.timeZone), modalities: $0.modalities.map(\.rawValue).sorted())
                }))
    }

    struct ConsultationListJSON: Encodable { let consultations: [ConsultationJSON] }

    @Sendable func listConsultations(_ request: Request, context: SignedInContext) async throws -> Response {
        let q = request.uri.queryParameters
        let from = try q["from"].map { try Parse.instant(String($0), "from") }
        let to = try q["to"].map { try Parse.instant(String($0), "to") }
        var statuses: Set<ConsultationStatus>?
        if let raw = q["status"] {
            var set = Set<ConsultationStatus>()
            for part in raw.split(separator: ",") {
                guard let s = ConsultationStatus(rawValue: String(part)) else {
                    throw Problem(.unprocessableContent, "invalid-value", "unknown status", field: "status")
                }
                set.insert(s)
            }
            statuses = set
        }
        let limit = try q["limit"].map { raw -> Int in
            guard let n = Int(String(raw)), (1...500).contains(n) else {
                throw Problem(.unprocessableContent, "invalid-value", "choose a limit of 1 to 500", field: "limit")
            }
            return n
        } ?? 100
        let mine = q["assigned"] == "me"
        let list = try await clinicCall {
            try await clinic.consultations(from: from, to: to, statuses: statuses, assignedOnly: mine, limit: limit, req(context))
        }
        return try jsonResponse(ConsultationListJSON(consultations: list.map { ConsultationJSON($0, for: context.principal) }))
    }

    @Sendable func book(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let b = try await request.decodeStrict(BookingBody.self, limit: settings.maxBodyBytes)
        let clinician: Account.ID = try Parse.id(b.clinician_id, "clinician_id")
        let start = try Parse.instant(b.start, "start")
        let modality = try Parse.modality(b.modality)
        let view = try await clinicCall {
            if let triage {
                return try await triage.book(
                    with: clinic, triage: try b.triage_session_id.map(Self.triageID), clinician: clinician, start: start, modality: modality,
                    req(context))
            }
            return try await clinic.book(clinician: clinician, start: start, modality: modality, req(context))
        }
        return try jsonResponse(ConsultationJSON(view, for: context.principal), status: .created)
    }

    /// A break-glass reason travels in a header (never in the URL, which proxies log).
    static func breakGlass(_ request: Request) -> String? {
        request.headers[.init("Confide-Break-Glass-Reason")!].map { String($0.prefix(500)) }
    }

    @Sendable func getConsultation(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let view = try await clinicCall { try await clinic.consultation(id, req(context), breakGlassReason: Self.breakGlass(request)) }
        return try jsonResponse(ConsultationJSON(view, for: context.principal))
    }

    @Sendable func transition(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let b = try await request.decodeStrict(TransitionBody.self, limit: settings.maxBodyBytes)
        guard let event = ConsultationEvent(rawValue: b.event), event != .reschedule, event != .sign else {
            throw Problem(.unprocessableContent, "invalid-value", "choose check-in, start, end, cancel or no-show", field: "event")
        }
        let view = try await clinicCall { try await clinic.transition(id, event, req(context)) }
        return try jsonResponse(ConsultationJSON(view, for: context.principal))
    }

    @Sendable func reschedule(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let b = try await request.decodeStrict(RescheduleBody.self, limit: settings.maxBodyBytes)
        let start = try Parse.instant(b.start, "start")
        let modality = try Parse.modality(b.modality)
        let view = try await clinicCall { try await clinic.reschedule(id, start: start, modality: modality, req(context)) }
        return try jsonResponse(ConsultationJSON(view, for: context.principal))
    }

    struct NoteJSON: Encodable {
        let consultation_id: String
        let versions: [NoteVersionJSON]
    }

    @Sendable func getNote(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let note = try await clinicCall { try await clinic.note(id, req(context), breakGlassReason: Self.breakGlass(request)) }
        return try jsonResponse(NoteJSON(consultation_id: id.description, versions: note.versions.map(NoteVersionJSON.init)))
    }

    @Sendable func putNote(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let b = try await request.decodeStrict(NoteBody.self, limit: settings.maxBodyBytes)
        guard b.expected_version >= 0 else {
            throw Problem(.unprocessableContent, "invalid-value", "expected_version is the version you edited (0 for none)", field: "expected_version")
        }
        let input = NoteInput(
            sections: NoteSections(history: b.history, examination: b.examination, assessment: b.assessment, plan: b.plan),
            sign: b.sign ?? false, amendmentReason: b.amendment_reason, expectedVersion: b.expected_version)
        let version = try await clinicCall { try await clinic.saveNote(id, input, req(context)) }
        return try jsonResponse(NoteVersionJSON(version), status: .created)
    }

    @Sendable func waitingRoom(_ request: Request, context: SignedInContext) async throws -> Response {
        let list = try await clinicCall { try await clinic.waitingRoom(req(context)) }
        return try jsonResponse(ConsultationListJSON(consultations: list.map { ConsultationJSON($0, for: context.principal) }))
    }

    // MARK: allergies, medicines, prescriptions

    struct BackgroundJSON: Encodable {
        struct Allergy: Encodable {
            let id: String
            let substance: String
            let reaction: String
            let recorded_at: String
        }
        struct Medicine: Encodable {
            let id: String
            let name: String
            let dose: String
            let recorded_at: String
        }
        let allergies: [Allergy]
        let medicines: [Medicine]

        init(_ b: ClinicalBackground) {
            let iso = ISO8601DateFormatter()
            allergies = b.allergies.map { .init(id: $0.id, substance: $0.substance, reaction: $0.reaction, recorded_at: iso.string(from: $0.recordedAt)) }
            medicines = b.medicines.map { .init(id: $0.id, name: $0.name, dose: $0.dose, recorded_at: iso.string(from: $0.recordedAt)) }
        }
    }

    struct PrescriptionJSON: Encodable {
        let id: String
        let consultation_id: String
        let medicine: String
        let dose: String
        let route: String
        let frequency: String
        let quantity: Int
        let pharmacy: String
        let status: String
        let allergy_override: String?
        let cancellation_reason: String?
        let issued_at: String

        init(_ p: PrescriptionRecord) {
            id = p.id
            consultation_id = p.consultation.description
            medicine = p.medicine
            dose = p.dose
            route = p.route
            frequency = p.frequency
            quantity = p.quantity
            pharmacy = p.pharmacy
            status = p.status
            allergy_override = p.allergyOverride
            cancellation_reason = p.cancellationReason
            issued_at = ISO8601DateFormatter().string(from: p.issuedAt)
        }
    }

    struct PrescriptionListJSON: Encodable { let prescriptions: [PrescriptionJSON] }

    @Sendable func getBackground(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        return try jsonResponse(BackgroundJSON(try await clinicCall { try await clinic.background(id, req(context)) }))
    }

    @Sendable func myBackground(_ request: Request, context: SignedInContext) async throws -> Response {
        try jsonResponse(BackgroundJSON(try await clinicCall { try await clinic.myBackground(req(context)) }))
    }

    @Sendable func addAllergy(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let b = try await request.decodeStrict(AllergyBody.self, limit: settings.maxBodyBytes)
        try await clinicCall { try await clinic.addAllergy(id, substance: b.substance, reaction: b.reaction ?? "", req(context)) }
        return Response(status: .noContent)
    }

    @Sendable func addMedicine(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let b = try await request.decodeStrict(MedicineBody.self, limit: settings.maxBodyBytes)
        try await clinicCall { try await clinic.addMedicine(id, name: b.name, dose: b.dose ?? "", req(context)) }
        return Response(status: .noContent)
    }

    @Sendable func listConsultationPrescriptions(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let list = try await clinicCall { try await clinic.prescriptions(id, req(context)) }
        return try jsonResponse(PrescriptionListJSON(prescriptions: list.map(PrescriptionJSON.init)))
    }

    @Sendable func cancelPrescription(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let b = try await request.decodeStrict(CancelPrescriptionBody.self, limit: settings.maxBodyBytes)
        guard UUID(uuidString: b.prescription_id) != nil else {
            throw Problem(.unprocessableContent, "invalid-value", "this identifier is not valid", field: "prescription_id")
        }
        try await clinicCall { try await clinic.cancelPrescription(id, prescription: b.prescription_id, reason: b.reason, req(context)) }
        return Response(status: .noContent)
    }

    @Sendable func myPrescriptions(_ request: Request, context: SignedInContext) async throws -> Response {
        let list = try await clinicCall { try await clinic.prescriptions(req(context)) }
        return try jsonResponse(PrescriptionListJSON(prescriptions: list.map(PrescriptionJSON.init)))
    }

    @Sendable func prescribe(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let b = try await request.decodeStrict(PrescriptionBody.self, limit: settings.maxBodyBytes)
        let input = PrescriptionInput(
            medicine: b.medicine, dose: b.dose, route: b.route, frequency: b.frequency, quantity: b.quantity, pharmacy: b.pharmacy,
            acknowledgeAllergy: b.acknowledge_allergy ?? false)
        let record = try await clinicCall { try await clinic.prescribe(id, input, req(context)) }
        return try jsonResponse(PrescriptionJSON(record), status: .created)
    }

    // MARK: referrals, fit notes, letters

    struct DocumentJSON: Encodable {
        let id: String
        let consultation_id: String
        let kind: String
        let recipient: String
        let urgency: String
        let body: String
        let valid_from: String?
        let valid_until: String?
        let issued_at: String

        init(_ d: DocumentRecord) {
            id = d.id
            consultation_id = d.consultation.description
            kind = d.kind.rawValue
            recipient = d.recipient
            urgency = d.urgency
            body = d.body
            valid_from = d.validFrom?.description
            valid_until = d.validUntil?.description
            issued_at = ISO8601DateFormatter().string(from: d.issuedAt)
        }
    }

    struct DocumentListJSON: Encodable { let documents: [DocumentJSON] }

    @Sendable func listConsultationDocuments(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let list = try await clinicCall { try await clinic.documents(id, req(context), breakGlassReason: Self.breakGlass(request)) }
        return try jsonResponse(DocumentListJSON(documents: list.map(DocumentJSON.init)))
    }

    @Sendable func myDocuments(_ request: Request, context: SignedInContext) async throws -> Response {
        let list = try await clinicCall { try await clinic.documents(req(context)) }
        return try jsonResponse(DocumentListJSON(documents: list.map(DocumentJSON.init)))
    }

    @Sendable func issueDocument(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let b = try await request.decodeStrict(DocumentBody.self, limit: settings.maxBodyBytes)
        guard let kind = DocumentKind(rawValue: b.kind) else {
            throw Problem(.unprocessableContent, "invalid-value", "choose referral, fit-note or letter", field: "kind")
        }
        let input = DocumentInput(
            kind: kind, recipient: b.recipient ?? "", urgency: b.urgency ?? "", body: b.body, validFrom: b.valid_from, validUntil: b.valid_until)
        let record = try await clinicCall { try await clinic.issueDocument(id, input, req(context)) }
        return try jsonResponse(DocumentJSON(record), status: .created)
    }

    // MARK: notifications

    struct NotificationJSON: Encodable {
        let id: String
        let kind: String
        let consultation_id: String?
        let text: String
        let created_at: String
        let read: Bool
    }

    struct NotificationListJSON: Encodable { let notifications: [NotificationJSON] }

    @Sendable func listNotifications(_ request: Request, context: SignedInContext) async throws -> Response {
        let iso = ISO8601DateFormatter()
        let list = try await clinicCall { try await clinic.notifications(req(context)) }
        return try jsonResponse(
            NotificationListJSON(
                notifications: list.map {
                    NotificationJSON(
                        id: $0.id, kind: $0.kind, consultation_id: $0.consultation?.description, text: $0.text,
                        created_at: iso.string(from: $0.createdAt), read: $0.readAt != nil)
                }))
    }

    @Sendable func markNotificationsRead(_ request: Request, context: SignedInContext) async throws -> Response {
        try await clinicCall { try await clinic.markNotificationsRead(req(context)) }
        return Response(status: .noContent)
    }

    // MARK: live events

    /// Events interleaved with heartbeats (`nil`), ending after `lifetime`: the browser then
    /// reconnects, and the session is checked again (a revoked session stops receiving).
    static func liveStream(_ events: AsyncStream<ClinicEvent>, heartbeat: Duration, lifetime: Duration) -> AsyncStream<ClinicEvent?> {
        AsyncStream<ClinicEvent?> { continuation in
            let forward = Task {
                for await event in events { continuation.yield(event) }
                continuation.finish()
            }
            let timer = Task {
                let clock = ContinuousClock()
                let end = clock.now.advanced(by: lifetime)
                while clock.now < end {
                    try? await Task.sleep(for: min(heartbeat, clock.now.duration(to: end)))
                    if Task.isCancelled { return }
                    if clock.now < end { continuation.yield(nil) }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in
                forward.cancel()
                timer.cancel()
            }
        }
    }

    /// Server-sent events for the caller's own topic: each event names only a consultation
    /// identifier; the page then reloads what changed through the gate.
    @Sendable func eventStream(_ request: Request, context: SignedInContext) async throws -> Response {
        let topic: String
        switch context.principal {
        case .patient(_, let patient): topic = "patient:\(patient)"
        case .clinician(let account, _): topic = "clinician:\(account)"
        default: throw Problem.notFound
        }
        // The subscription itself is a (non-patient-data) decision in the audit log.
        _ = try await clinicCall { try await clinic.subscribe(req(context)) }
        let stream = Self.liveStream(events.events(topic: topic), heartbeat: .seconds(20), lifetime: settings.liveEventsLifetime)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "retry: 3000\n: connected\n\n"))
                for await item in stream.cancelOnGracefulShutdown() {
                    if let event = item {
                        let payload = "{\"consultation\":\"\(event.consultation ?? "")\"}"
                        try await writer.write(ByteBuffer(string: "event: \(event.kind)\ndata: \(payload)\n\n"))
                    } else {
                        try await writer.write(ByteBuffer(string: ": heartbeat\n\n"))
                    }
                }
                try await writer.finish(nil)
            })
    }
}
