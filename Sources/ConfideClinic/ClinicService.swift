public import ConfideCore
import ConfidePolicy
public import ConfideStore
public import Foundation
public import Logging

/// Practices, availability, booking, the consultation lifecycle and notes. Every method goes
/// through the gate: reads record their decision before they return, writes commit their audit
/// entry with the change, refusals by the stored state are recorded as `refused`.
public struct ClinicService: Sendable {
    let stores: ConfideStores
    let gate: AccessGate
    let clock: any WallClock
    let events: any EventChannel
    let configuration: ClinicConfiguration
    let logger: Logger
    /// Seals an email with no clinical content to an account for the outbox (the account
    /// service's sealing); `nil` for a missing or deactivated account.
    let seal: @Sendable (Account.ID, String, String) async throws -> OutgoingEmail?

    public init(
        stores: ConfideStores, gate: AccessGate, clock: any WallClock, events: any EventChannel, configuration: ClinicConfiguration = .init(),
        logger: Logger, seal: @escaping @Sendable (Account.ID, String, String) async throws -> OutgoingEmail?
    ) {
        self.stores = stores
        self.gate = gate
        self.clock = clock
        self.events = events
        self.configuration = configuration
        self.logger = logger
        self.seal = seal
    }

    var clinic: any ClinicStore { stores.clinic }
    var facts: any ClinicFactsStore { stores.clinicFacts }

    func validated<T>(_ body: () throws(ValidationError) -> T) throws(ClinicError) -> T {
        do { return try body() } catch { throw ClinicError(error) }
    }

    static func text(_ raw: String, field: String, max: Int, required: Bool = true) throws(ClinicError) -> String {
        let v = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if required && v.isEmpty { throw ClinicError(ValidationError(.invalidValue, field: field, message: "this field is required")) }
        // Characters as people count them, and bytes: one character may carry any number of
        // combining marks.
        guard v.count <= max, v.utf8.count <= max * 4 else {
            throw ClinicError(ValidationError(.invalidValue, field: field, message: "use at most \(max) characters"))
        }
        // Bidirectional overrides and isolates can reorder text on another person's page.
        guard !v.unicodeScalars.contains(where: { (0x202A...0x202E).contains($0.value) || (0x2066...0x2069).contains($0.value) }) else {
            throw ClinicError(ValidationError(.invalidValue, field: field, message: "remove text-direction control characters"))
        }
        guard !v.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" && $0 != "\r" })
        else { throw ClinicError(ValidationError(.invalidValue, field: field, message: "remove control characters")) }
        return v
    }

    /// Publishes change events; a failure to notify never fails the change (listeners reload).
    func announce(_ c: ConsultationRecord) async {
        for topic in ["clinician:\(c.clinician)", "patient:\(c.patient)", "practice:\(c.practice)"] {
            do {
                try await events.publish(ClinicEvent(topic: topic, kind: "consultation", consultation: c.id.description))
            } catch {
                logger.warning("event publish failed", metadata: ["consultation": "\(c.id)"])
            }
        }
    }

    // MARK: practices

    /// Opens a practice (operators).
    public func createPractice(name: String, country: String, region: String, zone: String, _ r: ClinicRequest) async throws -> PracticeRecord {
        let record = PracticeRecord(
            id: Practice.ID(), name: try Self.text(name, field: "name", max: 120),
            country: try validated { () throws(ValidationError) in try CountryCode(country) },
            region: try Self.text(region, field: "region", max: 80), zone: try validated { () throws(ValidationError) in try ZoneName(zone) },
            createdAt: clock.now())
        let write: AuditedWrite<PracticeResource> = try await gate.authorizeWrite(
            .create, record.id.description,
            facts: ResourceFacts(resourceID: record.id.description, serverAssignedOwner: true, practice: record.id),
            by: r.principal, purpose: "operations", requestID: r.requestID)
        try await clinic.createPractice(record, write: write)
        return record
    }

    public func practices(_ r: ClinicRequest) async throws -> [PracticeRecord] {
        let scope: Scope<PracticeResource> = try await gate.scope(by: r.principal, purpose: "directory", requestID: r.requestID)
        return try await clinic.practices(scope)
    }

    public func practice(_ id: Practice.ID, _ r: ClinicRequest) async throws -> PracticeDetail {
        let _: Grant<PracticeResource> = try await gate.authorize(
            .read, id.description, facts: try await facts.practiceFacts(id, for: r.principal), by: r.principal, purpose: "directory",
            requestID: r.requestID)
        guard let record = try await clinic.practice(id: id) else { throw ClinicError(.notFound, "no such practice") }
        return PracticeDetail(
            practice: record, members: try await clinic.members(practice: id), careTeams: try await clinic.careTeams(practice: id),
            holidays: try await clinic.holidays(practice: id))
    }

    func practiceWrite(_ id: Practice.ID, _ r: ClinicRequest) async throws -> AuditedWrite<PracticeResource> {
        try await gate.authorizeWrite(
            .update, id.description, facts: try await facts.practiceFacts(id, for: r.principal), by: r.principal, purpose: "operations",
            requestID: r.requestID)
    }

    /// Adds a clinician or a practice admin to a practice (operators, the practice's admins).
    public func addMember(practice: Practice.ID, account: Account.ID, role: PracticeRole, _ r: ClinicRequest) async throws {
        let write = try await practiceWrite(practice, r)
        guard let target = try await stores.credentials.account(id: account) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.notFound, "no such staff account")
        }
        let fits = (role == .clinician && target.kind == .clinician) || (role == .admin && target.kind == .practiceAdmin)
        guard fits else {
            try await gate.recordRefusal(write)
            throw ClinicError(.wrongAccountKind, role == .clinician ? "only a clinician account can be a practice's clinician"
                : "only a practice-admin account can administer a practice")
        }
        try await clinic.addMember(account, role: role, at: clock.now(), write: write)
    }

    /// Creates a care team of the practice's clinicians.
    public func createCareTeam(practice: Practice.ID, name: String, members: [Account.ID], _ r: ClinicRequest) async throws -> CareTeamRecord {
        let teamName = try Self.text(name, field: "name", max: 80)
        let write = try await practiceWrite(practice, r)
        let clinicians = Set(try await clinic.members(practice: practice).filter { $0.role == .clinician }.map(\.account))
        guard !members.isEmpty, members.count <= 100, Set(members).isSubset(of: clinicians) else {
            try await gate.recordRefusal(write)
            throw ClinicError(ValidationError(.invalidValue, field: "members", message: "choose clinicians of this practice"))
        }
        let team = CareTeamRecord(id: CareTeam.ID(), practice: practice, name: teamName, members: Array(Set(members)).sorted())
        try await clinic.createCareTeam(team, write: write)
        return team
    }

    /// Replaces the practice's holidays (days without slots).
    public func setHolidays(practice: Practice.ID, dates: [String], _ r: ClinicRequest) async throws {
        guard dates.count <= 400 else {
            throw ClinicError(ValidationError(.invalidValue, field: "holidays", message: "give at most 400 dates"))
        }
        var set = Set<CalendarDate>()
        for d in dates {
            guard let date = CalendarDate(iso8601: d) else {
                throw ClinicError(ValidationError(.invalidValue, field: "holidays", message: "enter dates as YYYY-MM-DD"))
            }
            set.insert(date)
        }
        try await clinic.setHolidays(set, write: try await practiceWrite(practice, r))
    }

    // MARK: patient registration and consents

    /// Registers the signed-in patient with a practice (a patient may move).
    public func registerWithPractice(_ practice: Practice.ID, _ r: ClinicRequest) async throws {
        guard case .patient(_, let patient) = r.principal else { throw ClinicError(.notFound, "only patients register with a practice") }
        guard try await clinic.practice(id: practice) != nil else { throw ClinicError(.notFound, "no such practice") }
        // Decided on the record as it is and as it will be: registered with the new practice, with
        // that practice's relations.
        let moved = try await facts.relationFacts(patient: patient, practice: practice, for: r.principal)
        let write: AuditedWrite<PatientRecordResource> = try await gate.authorizeWrite(
            .update, patient.description, stored: try await facts.patientRecordFacts(patient, for: r.principal), proposed: moved,
            by: r.principal, purpose: "self-service", requestID: r.requestID)
        try await clinic.setRegisteredPractice(practice, write: write)
    }

    public func registeredPractice(_ r: ClinicRequest) async throws -> PracticeRecord? {
        guard case .patient(_, let patient) = r.principal else { return nil }
        guard let id = try await clinic.registeredPractice(patient: patient) else { return nil }
        return try await clinic.practice(id: id)
    }

    /// The patient consents that a care team of their practice may read their record.
    public func grantConsent(team: CareTeam.ID, _ r: ClinicRequest) async throws -> CareConsentRecord {
        guard case .patient(_, let patient) = r.principal else { throw ClinicError(.notFound, "only patients give consent") }
        guard let record = try await clinic.careTeam(id: team), try await clinic.registeredPractice(patient: patient) == record.practice
        else { throw ClinicError(.notFound, "choose a care team of your practice") }
        let consent = CareConsentRecord(id: UUID().uuidString.lowercased(), patient: patient, team: team, teamName: record.name, grantedAt: clock.now())
        var f = try await facts.relationFacts(patient: patient, practice: record.practice, for: r.principal)
        f.resourceID = consent.id
        f.serverAssignedOwner = true
        let write: AuditedWrite<CareConsentResource> = try await gate.authorizeWrite(
            .create, consent.id, facts: f, by: r.principal, purpose: "consent", requestID: r.requestID)
        do {
            try await clinic.grantConsent(consent, write: write)
        } catch let e as StoreError where e.code == .conflict {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "you have already given this care team access")
        }
        return consent
    }

    /// Withdraws a consent; the team loses access at once.
    public func withdrawConsent(_ id: String, _ r: ClinicRequest) async throws {
        let write: AuditedWrite<CareConsentResource> = try await gate.authorizeWrite(
            .update, id, facts: try await facts.careConsentFacts(id, for: r.principal), by: r.principal, purpose: "consent",
            requestID: r.requestID)
        do {
            _ = try await clinic.withdrawConsent(at: clock.now(), write: write)
        } catch let e as StoreError where e.code == .conflict {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "this consent was already withdrawn")
        }
    }

    public func consents(_ r: ClinicRequest) async throws -> [CareConsentRecord] {
        let scope: Scope<CareConsentResource> = try await gate.scope(by: r.principal, purpose: "consent", requestID: r.requestID)
        let list = try await clinic.consents(scope)
        try await gate.recordPresented(scope, items: list.map { ($0.id, $0.patient) }, purpose: "consent", requestID: r.requestID)
        return list
    }

    // MARK: availability

    public func availability(clinician: Account.ID, practice: Practice.ID, _ r: ClinicRequest) async throws -> AvailabilityPlan {
        let grant: Grant<AvailabilityResource> = try await gate.authorize(
            .read, "\(clinician)/\(practice)", facts: try await facts.availabilityFacts(clinician: clinician, practice: practice, for: r.principal),
            by: r.principal, purpose: "scheduling", requestID: r.requestID)
        if let plan = try await clinic.availability(grant) { return plan }
        return try AvailabilityPlan(windows: [], holidays: try await clinic.holidays(practice: practice))
    }

    /// Publishes a clinician's availability at a practice, replacing the previous plan. Bookings
    /// already made stay.
    public func setAvailability(clinician: Account.ID, practice: Practice.ID, document: AvailabilityDocument, _ r: ClinicRequest) async throws
        -> AvailabilityPlan
    {
        let write: AuditedWrite<AvailabilityResource> = try await gate.authorizeWrite(
            .update, "\(clinician)/\(practice)",
            facts: try await facts.availabilityFacts(clinician: clinician, practice: practice, for: r.principal), by: r.principal,
            purpose: "scheduling", requestID: r.requestID)
        let holidays = try await clinic.holidays(practice: practice)
        let plan: AvailabilityPlan
        do {
            plan = try document.plan(holidays: holidays)
        } catch {
            try await gate.recordRefusal(write)
            throw ClinicError(error)
        }
        try await clinic.replaceAvailability(plan, at: clock.now(), write: write)
        return plan
    }

    /// Free slots, soonest first. Patients search their registered practice.
    public func searchSlots(_ query: SlotQuery, _ r: ClinicRequest) async throws -> [OfferedSlot] {
        var practice = query.practice
        if case .patient(_, let patient) = r.principal {
            guard let registered = try await clinic.registeredPractice(patient: patient) else {
                throw ClinicError(.practiceRequired, "choose your practice before booking")
            }
            practice = registered
        }
        // Searching every practice at once is not offered: it would cost the whole platform's plans.
        guard practice != nil || query.clinician != nil else {
            throw ClinicError(ValidationError(.invalidValue, field: "practice", message: "choose a practice (or a clinician) to search"))
        }
        let scope: Scope<AvailabilityResource> = try await gate.scope(.search, by: r.principal, purpose: "booking", requestID: r.requestID)
        let now = clock.now()
        let earliest = now.addingTimeInterval(Double(configuration.bookingLeadMinutes) * 60)
        let from = max(query.from ?? earliest, earliest)
        let days = min(max(query.days, 1), configuration.searchHorizonDays)
        let to = from.addingTimeInterval(Double(days) * 86_400)
        let limit = min(max(query.limit, 1), 200)
        var offered: [OfferedSlot] = []
        for p in try await clinic.publishedPlans(scope, practice: practice) {
            if let role = query.role, p.role != role { continue }
            if let clinician = query.clinician, p.clinician != clinician { continue }
            let taken = try await clinic.takenIntervals(clinician: p.clinician, from: from, to: to)
            for slot in SlotGenerator.slots(plan: p.plan, zone: p.practice.zone.timeZone, from: from, to: to) {
                if taken.contains(where: { $0.start < slot.end && $0.end > slot.start }) { continue }
                if let m = query.modality, !slot.modalities.contains(m) { continue }
                offered.append(
                    OfferedSlot(
                        clinician: p.clinician, clinicianName: p.clinicianName, role: p.role, practice: p.practice.id,
                        practiceName: p.practice.name, zone: p.practice.zone, start: slot.start, end: slot.end, modalities: slot.modalities))
            }
        }
        offered.sort { ($0.start, $0.clinician) < ($1.start, $1.clinician) }
        return Array(offered.prefix(limit))
    }

    /// The slot a clinician offers at `start`, if it is bookable now.
    func offeredSlot(clinician: Account.ID, practice: Practice.ID, start: Date, modality: Modality, _ r: ClinicRequest) async throws
        -> (Slot, PracticeRecord)?
    {
        let scope: Scope<AvailabilityResource> = try await gate.scope(.search, by: r.principal, purpose: "booking", requestID: r.requestID)
        guard let p = try await clinic.publishedPlans(scope, practice: practice).first(where: { $0.clinician == clinician }) else { return nil }
        let now = clock.now()
        let earliest = now.addingTimeInterval(Double(configuration.bookingLeadMinutes) * 60)
        let latest = now.addingTimeInterval(Double(configuration.searchHorizonDays) * 86_400)
        guard start >= earliest, start <= latest, let slot = SlotGenerator.offers(plan: p.plan, zone: p.practice.zone.timeZone, start: start, modality: modality)
        else { return nil }
        return (slot, p.practice)
    }

    // MARK: consultations

    /// Books a slot for the signed-in patient. The consultation's patient, clinician and practice
    /// come from the session and the clinician's published plan, never from anything else the
    /// client sends.
    public func book(clinician: Account.ID, start: Date, modality: Modality, _ r: ClinicRequest) async throws -> ConsultationView {
        guard case .patient(let account, let patient) = r.principal else { throw ClinicError(.notFound, "only patients book") }
        guard let practiceID = try await clinic.registeredPractice(patient: patient) else {
            throw ClinicError(.practiceRequired, "choose your practice before booking")
        }
        // Decide first, so that every refusal below (a slot not offered, a full diary) is audited.
        let id = Consultation.ID()
        var f = try await facts.relationFacts(patient: patient, practice: practiceID, for: r.principal)
        f.resourceID = id.description
        f.assignedClinician = clinician
        f.serverAssignedOwner = true
        let write: AuditedWrite<ConsultationResource> = try await gate.authorizeWrite(
            .create, id.description, facts: f, by: r.principal, purpose: "booking", requestID: r.requestID)
        guard let (slot, _) = try await offeredSlot(clinician: clinician, practice: practiceID, start: start, modality: modality, r) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.slotUnavailable, "this slot is not offered (it may be in the past or outside the clinician's hours)")
        }
        let now = clock.now()
        guard try await clinic.upcomingBookings(patient: patient, after: now) < configuration.maxUpcomingBookings else {
            try await gate.recordRefusal(write)
            throw ClinicError(.tooManyBookings, "you already have \(configuration.maxUpcomingBookings) upcoming appointments; cancel one to book another")
        }
        let record = ConsultationRecord(
            id: id, patient: patient, clinician: clinician, practice: practiceID, start: slot.start, end: slot.end,
            modality: modality, status: .booked, createdAt: now, updatedAt: now)
        do {
            try await clinic.book(record, write: write)
        } catch let e as StoreError where e.code == .slotTaken {
            try await gate.recordRefusal(write)
            throw ClinicError(.slotTaken, "someone has just booked this slot; please choose another")
        }
        await announce(record)
        do {
            try await clinic.addNotification(
                NotificationRecord(
                    id: UUID().uuidString.lowercased(), account: account, kind: "booked", consultation: record.id,
                    text: Self.Notice.booked, createdAt: now))
            if let email = try await seal(account, "Your Confide appointment is booked", Self.Notice.bookedEmail) {
                try await stores.credentials.enqueueEmail(email)
            }
        } catch {
            logger.warning("booking confirmation not queued", metadata: ["consultation": "\(record.id)"])
        }
        return try await consultation(record.id, r)
    }

    /// One consultation. A clinician outside the consultation's relations may read it with a
    /// break-glass reason (audited and flagged).
    public func consultation(_ id: Consultation.ID, _ r: ClinicRequest, breakGlassReason: String? = nil) async throws -> ConsultationView {
        let grant: Grant<ConsultationResource> = try await gate.authorize(
            .read, id.description, facts: try await facts.consultationFacts(id, for: r.principal), by: r.principal,
            purpose: breakGlassReason == nil ? "care" : "break-glass", requestID: r.requestID, breakGlassReason: breakGlassReason)
        try await keepBreakGlassReason(grant, breakGlassReason, r)
        guard let view = try await clinic.consultation(grant) else { throw ClinicError(.notFound, "no such consultation") }
        return view
    }

    /// Keeps the stated reason when a grant rests on break-glass (before any data is returned).
    func keepBreakGlassReason<R: PolicyResource>(_ grant: Grant<R>, _ reason: String?, _ r: ClinicRequest) async throws {
        guard let reason, grant.reasons.contains("clinician.break-glass.v1"), let account = r.principal.account else { return }
        try await clinic.recordBreakGlass(
            requestID: r.requestID, account: account, resourceType: R.kind.rawValue, resourceID: grant.resourceID, patient: grant.patient,
            reason: String(reason.prefix(500)), at: clock.now())
    }

    /// The consultations the caller may list, between `from` and `to`; each one presented is audited.
    public func consultations(
        from: Date?, to: Date?, statuses: Set<ConsultationStatus>? = nil, assignedOnly: Bool = false, limit: Int = 100, _ r: ClinicRequest
    ) async throws -> [ConsultationView] {
        let scope: Scope<ConsultationResource> = try await gate.scope(by: r.principal, purpose: "care", requestID: r.requestID)
        let list = try await clinic.consultations(
            scope, from: from, to: to, statuses: statuses, assignedTo: assignedOnly ? r.principal.account ?? Account.ID() : nil, limit: limit)
        try await gate.recordPresented(
            scope, items: list.map { ($0.record.id.description, $0.record.patient) }, purpose: "care", requestID: r.requestID)
        return list
    }

    /// Records the subscription to live events (they carry identifiers of the caller's own
    /// consultations only).
    public func subscribe(_ r: ClinicRequest) async throws {
        let _: Scope<ConsultationResource> = try await gate.scope(by: r.principal, purpose: "live-updates", requestID: r.requestID)
    }

    /// The clinician's waiting room: their consultations whose patient has checked in.
    public func waitingRoom(_ r: ClinicRequest) async throws -> [ConsultationView] {
        let now = clock.now()
        return try await consultations(
            from: now.addingTimeInterval(-86_400), to: now.addingTimeInterval(86_400), statuses: [.checkedIn, .inProgress], assignedOnly: true, r)
    }

    /// Applies a lifecycle step. Who may take it comes from the state machine; whether the caller
    /// may touch this consultation at all comes from the policy.
    public func transition(_ id: Consultation.ID, _ event: ConsultationEvent, _ r: ClinicRequest) async throws -> ConsultationView {
        guard event != .reschedule else { throw ClinicError(.transitionNotAllowed, "use reschedule with a new slot") }
        let write: AuditedWrite<ConsultationResource> = try await gate.authorizeWrite(
            .update, id.description, facts: try await facts.consultationFacts(id, for: r.principal), by: r.principal, purpose: "care",
            requestID: r.requestID)
        guard let current = try await clinic.consultation(write.grant) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.notFound, "no such consultation")
        }
        let actor: LifecycleActor
        switch r.principal {
        case .patient: actor = .patient
        case .clinician: actor = .clinician
        case .system: actor = .system
        default:
            try await gate.recordRefusal(write)
            throw ClinicError(.transitionNotAllowed, "this account cannot change a consultation")
        }
        let next: ConsultationStatus
        switch ConsultationLifecycle.next(from: current.record.status, on: event, by: actor) {
        case .success(let s): next = s
        case .failure(let e):
            try await gate.recordRefusal(write)
            throw ClinicError(.transitionNotAllowed, e.message)
        }
        let now = clock.now()
        let start = current.record.start
        let windowProblem: String? =
            switch event {
            case .checkIn where now < start.addingTimeInterval(-Double(configuration.checkInOpensMinutes) * 60):
                "check-in opens \(configuration.checkInOpensMinutes) minutes before the appointment"
            case .checkIn where now >= current.record.end: "this appointment is over; please book another"
            case .markNoShow where now < start: "a patient can only be marked as not attending after the start time"
            default: nil
            }
        if let windowProblem {
            try await gate.recordRefusal(write)
            throw ClinicError(.outsideWindow, windowProblem)
        }
        guard try await clinic.transition(from: current.record.status, to: next, event: event, at: now, write: write) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "the consultation changed meanwhile; reload and try again")
        }
        var record = current.record
        record.status = next
        await announce(record)
        var view = current
        view.record.status = next
        view.record.updatedAt = now
        return view
    }

    /// Moves a booked consultation to another slot of the same clinician.
    public func reschedule(_ id: Consultation.ID, start: Date, modality: Modality, _ r: ClinicRequest) async throws -> ConsultationView {
        let write: AuditedWrite<ConsultationResource> = try await gate.authorizeWrite(
            .update, id.description, facts: try await facts.consultationFacts(id, for: r.principal), by: r.principal, purpose: "booking",
            requestID: r.requestID)
        guard let current = try await clinic.consultation(write.grant) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.notFound, "no such consultation")
        }
        guard current.record.status == .booked else {
            try await gate.recordRefusal(write)
            throw ClinicError(.transitionNotAllowed, "only a booked consultation can be moved")
        }
        guard
            let (slot, _) = try await offeredSlot(
                clinician: current.record.clinician, practice: current.record.practice, start: start, modality: modality, r)
        else {
            try await gate.recordRefusal(write)
            throw ClinicError(.slotUnavailable, "this slot is not offered (it may be in the past or outside the clinician's hours)")
        }
        do {
            guard try await clinic.reschedule(start: slot.start, end: slot.end, modality: modality, at: clock.now(), write: write) else {
                try await gate.recordRefusal(write)
                throw ClinicError(.conflict, "the consultation changed meanwhile; reload and try again")
            }
        } catch let e as StoreError where e.code == .slotTaken {
            try await gate.recordRefusal(write)
            throw ClinicError(.slotTaken, "someone has just booked this slot; please choose another")
        }
        await announce(current.record)
        var view = current
        view.record.start = slot.start
        view.record.end = slot.end
        view.record.modality = modality
        return view
    }

    // MARK: allergies, medicines, prescriptions

    /// The routes a prescription may take.
    public static let routes: Set<String> = ["oral", "topical", "inhaled", "intramuscular", "subcutaneous", "intravenous", "rectal", "eye", "ear", "nasal", "vaginal", "transdermal"]

    /// The allergies and current medicines of the consultation's patient (same audience as its notes).
    public func background(_ consultation: Consultation.ID, _ r: ClinicRequest) async throws -> ClinicalBackground {
        let grant: Grant<NoteResource> = try await gate.authorize(
            .read, consultation.description, facts: try await facts.noteFacts(consultation, for: r.principal), by: r.principal,
            purpose: "care", requestID: r.requestID)
        guard case .clinician = r.principal else { throw AccessDenied.notFound }
        let b = try await clinic.background(consultation: grant)
        return ClinicalBackground(allergies: b.allergies, medicines: b.medicines)
    }

    /// The signed-in patient's own allergies and medicines.
    public func myBackground(_ r: ClinicRequest) async throws -> ClinicalBackground {
        guard case .patient(_, let patient) = r.principal else { throw AccessDenied.notFound }
        let grant: Grant<PatientRecordResource> = try await gate.authorize(
            .read, patient.description, facts: try await facts.patientRecordFacts(patient, for: r.principal), by: r.principal,
            purpose: "self-service", requestID: r.requestID)
        let b = try await clinic.background(patient: grant)
        return ClinicalBackground(allergies: b.allergies, medicines: b.medicines)
    }

    func backgroundWrite(_ consultation: Consultation.ID, _ r: ClinicRequest) async throws -> AuditedWrite<NoteResource> {
        try await gate.authorizeWrite(
            .update, consultation.description, facts: try await facts.noteFacts(consultation, for: r.principal), by: r.principal,
            purpose: "care", requestID: r.requestID)
    }

    /// Records an allergy on the record of the consultation's patient.
    public func addAllergy(_ consultation: Consultation.ID, substance: String, reaction: String, _ r: ClinicRequest) async throws {
        let s = try Self.text(substance, field: "substance", max: 120)
        let re = try Self.text(reaction, field: "reaction", max: 500, required: false)
        try await clinic.addAllergy(
            substance: s, reaction: re, id: UUID().uuidString.lowercased(), at: clock.now(), write: try await backgroundWrite(consultation, r))
    }

    /// Records a current medicine on the record of the consultation's patient.
    public func addMedicine(_ consultation: Consultation.ID, name: String, dose: String, _ r: ClinicRequest) async throws {
        let n = try Self.text(name, field: "name", max: 120)
        let d = try Self.text(dose, field: "dose", max: 120, required: false)
        try await clinic.addMedicine(name: n, dose: d, id: UUID().uuidString.lowercased(), at: clock.now(), write: try await backgroundWrite(consultation, r))
    }

    /// Issues a prescription in a consultation. A medicine matching a recorded allergy is refused
    /// with `allergy-warning` (naming the allergy) unless the prescriber acknowledges it; the
    /// override is kept with the prescription.
    public func prescribe(_ consultation: Consultation.ID, _ input: PrescriptionInput, _ r: ClinicRequest) async throws -> PrescriptionRecord {
        guard let author = r.principal.account else { throw AccessDenied.notFound }
        let medicine = try Self.text(input.medicine, field: "medicine", max: 120)
        let dose = try Self.text(input.dose, field: "dose", max: 80)
        let route = try Self.text(input.route, field: "route", max: 30).lowercased()
        guard Self.routes.contains(route) else {
            throw ClinicError(ValidationError(.invalidValue, field: "route", message: "choose a route such as oral, topical or inhaled"))
        }
        let frequency = try Self.text(input.frequency, field: "frequency", max: 80)
        let pharmacy = try Self.text(input.pharmacy, field: "pharmacy", max: 200)
        guard (1...1000).contains(input.quantity) else {
            throw ClinicError(ValidationError(.invalidValue, field: "quantity", message: "enter a quantity of 1 to 1000"))
        }
        let write: AuditedWrite<PrescriptionResource> = try await gate.authorizeWrite(
            .create, consultation.description, facts: try await facts.consultationFacts(consultation, for: r.principal), by: r.principal,
            purpose: "care", requestID: r.requestID)
        let readNotes: Grant<NoteResource> = try await gate.authorize(
            .read, consultation.description, facts: try await facts.noteFacts(consultation, for: r.principal), by: r.principal,
            purpose: "prescribing", requestID: r.requestID)
        try await requireStarted(consultation, refusing: write, purpose: "prescribing", "prescriptions can be issued once the consultation has started", r)
        let background = try await clinic.background(consultation: readNotes)
        let conflicts = AllergyCheck.conflicts(medicine: medicine, allergies: background.allergies.map(\.substance))
        if !conflicts.isEmpty && !input.acknowledgeAllergy {
            try await gate.recordRefusal(write)
            throw ClinicError(.allergyWarning, "recorded allergy: \(conflicts.joined(separator: ", ")); prescribe only if you are sure, and acknowledge it")
        }
        let record = PrescriptionRecord(
            id: UUID().uuidString.lowercased(), consultation: consultation, medicine: medicine, dose: dose, route: route, frequency: frequency,
            quantity: input.quantity, pharmacy: pharmacy, status: "issued",
            allergyOverride: conflicts.isEmpty ? nil : conflicts.joined(separator: ", "), issuedAt: clock.now(), author: author)
        try await clinic.issuePrescription(record, write: write)
        return record
    }

    /// Cancels an issued prescription of a consultation (its prescriber, with a reason).
    public func cancelPrescription(_ consultation: Consultation.ID, prescription: String, reason: String, _ r: ClinicRequest) async throws {
        let why = try Self.text(reason, field: "reason", max: 500)
        let write: AuditedWrite<PrescriptionResource> = try await gate.authorizeWrite(
            .update, consultation.description, facts: try await facts.consultationFacts(consultation, for: r.principal), by: r.principal,
            purpose: "care", requestID: r.requestID)
        guard try await clinic.cancelPrescription(id: prescription.lowercased(), reason: why, at: clock.now(), write: write) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "this prescription is not issued in this consultation (already cancelled?)")
        }
    }

    /// Refuses (and records the refusal of) a write on a consultation that has not started.
    func requireStarted<R: PolicyResource>(
        _ consultation: Consultation.ID, refusing write: AuditedWrite<R>, purpose: String, _ message: String, _ r: ClinicRequest
    ) async throws {
        let grant: Grant<ConsultationResource> = try await gate.authorize(
            .read, consultation.description, facts: try await facts.consultationFacts(consultation, for: r.principal), by: r.principal,
            purpose: purpose, requestID: r.requestID)
        guard let view = try await clinic.consultation(grant), [.inProgress, .ended, .documented].contains(view.record.status) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.notesNotOpen, message)
        }
    }

    /// A list through the gate: the scope's decision is recorded, the rows come from `fetch`
    /// (each with the patient it belongs to), and every row presented is recorded too.
    func presented<R: PolicyResource, T>(
        _ r: ClinicRequest, purpose: String = "care", _ fetch: (Scope<R>) async throws -> [(T, Patient.ID)],
        id: (T) -> String
    ) async throws -> [T] {
        let scope: Scope<R> = try await gate.scope(by: r.principal, purpose: purpose, requestID: r.requestID)
        let list = try await fetch(scope)
        try await gate.recordPresented(scope, items: list.map { (id($0.0), $0.1) }, purpose: purpose, requestID: r.requestID)
        return list.map(\.0)
    }

    /// The prescriptions of one consultation.
    public func prescriptions(_ consultation: Consultation.ID, _ r: ClinicRequest) async throws -> [PrescriptionRecord] {
        let grant: Grant<PrescriptionResource> = try await gate.authorize(
            .read, consultation.description, facts: try await facts.consultationFacts(consultation, for: r.principal), by: r.principal,
            purpose: "care", requestID: r.requestID)
        return try await clinic.prescriptions(consultation: grant)
    }

    /// Every prescription the caller may list (a patient: their own), newest first.
    public func prescriptions(_ r: ClinicRequest) async throws -> [PrescriptionRecord] {
        try await presented(r, { (scope: Scope<PrescriptionResource>) in try await clinic.prescriptions(scope, limit: 200) }, id: \.id)
    }

    // MARK: referrals, fit notes, letters

    /// Referral urgencies (the UK's "two-week wait" is the urgent suspected-cancer pathway).
    public static let urgencies: Set<String> = ["routine", "urgent", "two-week-wait"]

    /// Issues a referral, fit note or letter in a consultation that has started.
    public func issueDocument(_ consultation: Consultation.ID, _ input: DocumentInput, _ r: ClinicRequest) async throws -> DocumentRecord {
        guard let author = r.principal.account else { throw AccessDenied.notFound }
        var recipient = ""
        var urgency = ""
        var from: CalendarDate?
        var until: CalendarDate?
        let body: String
        switch input.kind {
        case .referral:
            recipient = try Self.text(input.recipient, field: "recipient", max: 200)
            urgency = input.urgency.lowercased()
            guard Self.urgencies.contains(urgency) else {
                throw ClinicError(ValidationError(.invalidValue, field: "urgency", message: "choose routine, urgent or two-week-wait"))
            }
            body = try Self.text(input.body, field: "body", max: 5_000)
        case .fitNote:
            body = try Self.text(input.body, field: "body", max: 500)
            guard let f = input.validFrom.flatMap(CalendarDate.init(iso8601:)), let u = input.validUntil.flatMap(CalendarDate.init(iso8601:)),
                f <= u, (f.adding(days: 92) ?? f) >= u
            else {
                throw ClinicError(
                    ValidationError(.invalidValue, field: "valid_until", message: "give the period as two dates, YYYY-MM-DD, at most 3 months apart"))
            }
            from = f
            until = u
        case .letter:
            recipient = try Self.text(input.recipient, field: "recipient", max: 200)
            body = try Self.text(input.body, field: "body", max: 20_000)
        }
        let write: AuditedWrite<DocumentResource> = try await gate.authorizeWrite(
            .create, consultation.description, facts: try await facts.consultationFacts(consultation, for: r.principal), by: r.principal,
            purpose: "care", requestID: r.requestID)
        try await requireStarted(consultation, refusing: write, purpose: "care", "documents can be issued once the consultation has started", r)
        let record = DocumentRecord(
            id: UUID().uuidString.lowercased(), consultation: consultation, kind: input.kind, recipient: recipient, urgency: urgency, body: body,
            validFrom: from, validUntil: until, issuedAt: clock.now(), author: author)
        try await clinic.issueDocument(record, write: write)
        return record
    }

    /// The documents of one consultation.
    public func documents(_ consultation: Consultation.ID, _ r: ClinicRequest, breakGlassReason: String? = nil) async throws -> [DocumentRecord] {
        let grant: Grant<DocumentResource> = try await gate.authorize(
            .read, consultation.description, facts: try await facts.consultationFacts(consultation, for: r.principal), by: r.principal,
            purpose: breakGlassReason == nil ? "care" : "break-glass", requestID: r.requestID, breakGlassReason: breakGlassReason)
        try await keepBreakGlassReason(grant, breakGlassReason, r)
        return try await clinic.documents(consultation: grant)
    }

    /// Every document the caller may list (a patient: their own), newest first.
    public func documents(_ r: ClinicRequest) async throws -> [DocumentRecord] {
        try await presented(r, { (scope: Scope<DocumentResource>) in try await clinic.documents(scope, limit: 200) }, id: \.id)
    }

    // MARK: notifications and reminders

    /// The texts of notices. INVARIANT: none carries clinical content, a name or a time: they
    /// only prompt the person to sign in.
    enum Notice {
        static let booked = "Your appointment is booked. Open My consultations for the time and how to join."
        static let bookedEmail = "Your appointment is booked. Sign in to Confide to see the time and how to join.\n\nThis email never contains clinical details."
        static func reminder(_ kind: String) -> String {
            kind == "10m"
                ? "Your appointment starts soon. Sign in to Confide and check in."
                : "Reminder: you have an appointment coming up. Sign in to Confide to see the time."
        }
    }

    /// The reminder kinds: when before the start each is sent.
    /// A day-before reminder goes out when the start is 20 to 24 hours away (a booking made at
    /// shorter notice gets only the 10-minute one); a rescheduled consultation gets new ones.
    public static let reminderKinds: [(kind: String, ahead: TimeInterval, notBefore: TimeInterval)] = [
        ("24h", 24 * 3600, 20 * 3600),
        ("10m", 10 * 60, 0),
    ]

    /// Sends the reminders now due, each exactly once across all instances (the database's
    /// claim decides which instance sends). Runs on the visibly separate system path: every
    /// consultation it looks at is an audited `list` by `system:reminders`.
    /// - Returns: how many reminders this call sent.
    @discardableResult
    public func sendDueReminders(requestID: String = "reminders") async throws -> Int {
        let now = clock.now()
        let principal = Principal.system(job: "reminders")
        var sent = 0
        for (kind, ahead, notBefore) in Self.reminderKinds {
            let from = now.addingTimeInterval(notBefore)
            let to = now.addingTimeInterval(ahead)
            guard try await clinic.dueReminderCount(kind: kind, from: from, to: to) > 0 else { continue }
            let scope: Scope<ConsultationResource> = try await gate.scope(by: principal, purpose: "reminders", requestID: requestID)
            let due = try await clinic.dueReminders(scope, kind: kind, from: from, to: to, limit: 200)
            try await gate.recordPresented(scope, items: due.map { ($0.consultation.description, $0.patient) }, purpose: "reminders", requestID: requestID)
            for d in due {
                let text = Notice.reminder(kind)
                let email = try await seal(d.patientAccount, "Confide appointment reminder", text + "\n\nThis email never contains clinical details.")
                let notification = NotificationRecord(
                    id: UUID().uuidString.lowercased(), account: d.patientAccount, kind: "reminder-\(kind)", consultation: d.consultation, text: text,
                    createdAt: now)
                if try await clinic.claimReminder(consultation: d.consultation, kind: kind, at: now, notification: notification, email: email) {
                    sent += 1
                }
            }
        }
        return sent
    }

    /// Runs `sendDueReminders` every `interval` until cancelled.
    public func runReminders(interval: Duration = .seconds(60)) async throws {
        while !Task.isCancelled {
            do {
                try await sendDueReminders()
            } catch is CancellationError {
                return
            } catch {
                logger.warning("reminder run failed", metadata: ["error.type": "\(type(of: error))"])
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    /// The signed-in account's notifications, newest first (not patient data: generic prompts).
    public func notifications(_ r: ClinicRequest, limit: Int = 50) async throws -> [NotificationRecord] {
        guard let account = r.principal.account else { return [] }
        return try await clinic.notifications(account: account, limit: limit)
    }

    public func markNotificationsRead(_ r: ClinicRequest) async throws {
        guard let account = r.principal.account else { return }
        try await clinic.markNotificationsRead(account: account, at: clock.now())
    }

    // MARK: notes

    /// The note of a consultation: every version for clinicians, the signed versions for the patient.
    public func note(_ consultation: Consultation.ID, _ r: ClinicRequest, breakGlassReason: String? = nil) async throws -> NoteView {
        let grant: Grant<NoteResource> = try await gate.authorize(
            .read, consultation.description, facts: try await facts.noteFacts(consultation, for: r.principal), by: r.principal,
            purpose: breakGlassReason == nil ? "care" : "break-glass", requestID: r.requestID, breakGlassReason: breakGlassReason)
        try await keepBreakGlassReason(grant, breakGlassReason, r)
        var versions = try await clinic.noteVersions(grant)
        if case .patient = r.principal { versions = versions.filter { $0.status == .signed } }
        return NoteView(consultation: consultation, versions: versions)
    }

    /// Saves the next version of a consultation's note: a draft, a signature (which documents an
    /// ended consultation), or an amendment of a signed note (with a reason).
    public func saveNote(_ consultation: Consultation.ID, _ input: NoteInput, _ r: ClinicRequest) async throws -> NoteVersion {
        guard let author = r.principal.account else { throw ClinicError(.notFound, "no such consultation") }
        let sections = NoteSections(
            history: try Self.text(input.sections.history, field: "history", max: 20_000, required: false),
            examination: try Self.text(input.sections.examination, field: "examination", max: 20_000, required: false),
            assessment: try Self.text(input.sections.assessment, field: "assessment", max: 20_000, required: false),
            plan: try Self.text(input.sections.plan, field: "plan", max: 20_000, required: false))
        let action: Action = input.expectedVersion == 0 ? .create : .update
        let write: AuditedWrite<NoteResource> = try await gate.authorizeWrite(
            action, consultation.description, facts: try await facts.noteFacts(consultation, for: r.principal), by: r.principal,
            purpose: "care", requestID: r.requestID)
        func refuse(_ error: ClinicError) async throws -> Never {
            try await gate.recordRefusal(write)
            throw error
        }
        guard let view = try await stores.clinic.consultation(try await gate.authorize(
            .read, consultation.description, facts: try await facts.consultationFacts(consultation, for: r.principal), by: r.principal,
            purpose: "care", requestID: r.requestID, as: ConsultationResource.self))
        else { try await refuse(ClinicError(.notFound, "no such consultation")) }
        guard [.inProgress, .ended, .documented].contains(view.record.status) else {
            try await refuse(ClinicError(.notesNotOpen, "notes can be written once the consultation has started"))
        }
        let versions = try await clinic.noteVersions(write.grant)
        let latest = versions.last
        guard (latest?.version ?? 0) == input.expectedVersion else {
            try await refuse(ClinicError(.conflict, "the note changed meanwhile; reload it and try again"))
        }
        let now = clock.now()
        var status: NoteStatus = input.sign ? .signed : .draft
        var reason: String?
        if latest?.status == .signed {
            // INVARIANT: a signed note is never edited in place; a change is a signed amendment with a reason.
            guard let raw = input.amendmentReason, !raw.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                try await refuse(ClinicError(.amendmentRequired, "a signed note changes only by an amendment: give the reason"))
            }
            reason = try Self.text(raw, field: "amendment_reason", max: 500)
            status = .signed
        }
        if status == .signed {
            let all = [sections.history, sections.examination, sections.assessment, sections.plan]
            guard all.contains(where: { !$0.isEmpty }) else {
                try await refuse(ClinicError(ValidationError(.invalidValue, field: "history", message: "write the note before signing it")))
            }
            guard view.record.status != .inProgress else {
                try await refuse(ClinicError(.transitionNotAllowed, "end the consultation before signing its notes"))
            }
        }
        let version = NoteVersion(
            consultation: consultation, version: input.expectedVersion + 1, sections: sections, status: status, author: author,
            amendmentReason: reason, signedAt: status == .signed ? now : nil, savedAt: now)
        guard try await clinic.saveNote(version, expectedVersion: input.expectedVersion, write: write) else {
            try await refuse(ClinicError(.conflict, "the note changed meanwhile; reload it and try again"))
        }
        if status == .signed && view.record.status == .ended {
            _ = try await transition(consultation, .sign, r)
        }
        return version
    }
}
