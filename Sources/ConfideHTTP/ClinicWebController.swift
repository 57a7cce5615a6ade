import ConfideAccounts
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import Foundation
import Hummingbird
import Logging

/// The clinic's server-rendered pages: booking and consultations for patients, availability,
/// day list, waiting room and notes for clinicians, practices for practice admins and operators.
///
/// Like `WebController`, it holds no authorization logic: every read and change goes through
/// `ClinicService` (and so through the policy gate and the audit log). A denial renders the same
/// "not found" page as a missing object. Every page is behind `SignedInPageContext`; every form
/// posts the anti-forgery token.
struct ClinicWebController {
    let clinic: ClinicService
    let triage: TriageService?
    let settings: HTTPSettings

    func register(on router: Router<ConfideRequestContext>) {
        StaticAssets.register(on: router)
        let pages = router.group("clinic").group(context: SignedInPageContext.self)
        // Patients.
        pages.get("practice", use: choosePracticePage)
        pages.post("practice", use: choosePracticeSubmit)
        pages.get("book", use: bookPage)
        pages.post("book", use: bookSubmit)
        pages.get("consultations", use: consultationsPage)
        pages.get("consultations/:consultationID", use: consultationPage)
        pages.post("consultations/:consultationID/transition", use: transitionSubmit)
        pages.get("consultations/:consultationID/reschedule", use: reschedulePage)
        pages.post("consultations/:consultationID/reschedule", use: rescheduleSubmit)
        pages.post("consultations/:consultationID/note", use: noteSubmit)
        pages.post("consultations/:consultationID/allergies", use: allergySubmit)
        pages.post("consultations/:consultationID/medicines", use: medicineSubmit)
        pages.post("consultations/:consultationID/prescriptions", use: prescriptionSubmit)
        pages.post("consultations/:consultationID/prescriptions/cancel", use: prescriptionCancelSubmit)
        pages.post("consultations/:consultationID/documents", use: documentSubmit)
        pages.get("records", use: recordsPage)
        pages.get("care-team", use: careTeamPage)
        pages.post("care-team", use: careTeamGrant)
        pages.post("care-team/:consentID/withdraw", use: careTeamWithdraw)
        // Clinicians (and practice admins for their clinicians' availability).
        pages.get("availability", use: availabilityPage)
        pages.post("availability", use: availabilitySubmit)
        pages.get("day", use: dayPage)
        pages.get("waiting-room", use: waitingRoomPage)
        // Practice admins and operators.
        pages.get("practices", use: practicesPage)
        pages.post("practices", use: createPracticeSubmit)
        pages.get("practices/:practiceID", use: practicePage)
        pages.post("practices/:practiceID/members", use: addMemberSubmit)
        pages.post("practices/:practiceID/care-teams", use: createCareTeamSubmit)
        pages.post("practices/:practiceID/holidays", use: holidaysSubmit)
        pages.get("practices/:practiceID/appointments", use: appointmentsPage)
    }

    // MARK: - shared

    func req(_ c: SignedInPageContext) -> ClinicRequest { ClinicRequest(principal: c.auth.principal, requestID: c.meta.requestID) }

    func render(
        _ c: SignedInPageContext, title: String, body: String, scripts: [String] = [], wide: Bool = false, status: HTTPResponse.Status = .ok
    ) -> Response {
        Layout.response(
            Layout.page(
                title: title, signedIn: true, csrf: c.csrfToken, body: body, links: ClinicNav.links(for: c.auth.principal),
                scripts: ["/static/local-time.js"] + scripts, wide: wide),
            status: status)
    }

    /// One page for "missing" and "not yours": the answer never tells them apart.
    func notFound(_ c: SignedInPageContext) -> Response {
        ClinicNav.notFoundPage(for: c.auth.principal, csrf: c.csrfToken)
    }

    func errorPage(_ c: SignedInPageContext, _ message: String, status: HTTPResponse.Status) -> Response {
        render(
            c, title: "Something is not right",
            body: """
                <h1>Something is not right</h1>
                \(Layout.alert(message))
                <p><a href="\(esc(ClinicNav.home(for: c.auth.principal)))">Go to my clinic pages</a></p>
                """,
            status: status)
    }

    /// Runs a page body; denials and missing objects become the not-found page, other clinic
    /// errors a readable message (never a stack trace or an internal value).
    func guarded(_ c: SignedInPageContext, _ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch is AccessDenied {
            return notFound(c)
        } catch let e as ClinicError where e.code == .notFound {
            return notFound(c)
        } catch let p as Problem where p.status == .notFound {
            return notFound(c)
        } catch let e as ClinicError {
            return errorPage(c, ClinicHTML.sentence(e.message), status: e.problem.status)
        } catch let e as ValidationError {
            return errorPage(c, ClinicHTML.sentence(e.message), status: .unprocessableContent)
        }
    }

    /// The urlencoded form of a page post; any other body type is refused (415).
    func form(_ request: inout Request) async throws -> FormData {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            throw Problem(.unsupportedMediaType, "unsupported-media-type", "send the form as `application/x-www-form-urlencoded`")
        }
        return FormData(try await request.collectBody(upTo: settings.maxBodyBytes))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    static func query(_ request: Request, _ name: String) -> String? {
        request.uri.queryParameters[Substring(name)].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Fixed notices picked by a key in the query (no free text from the URL reaches the page).
    static let notices: [String: String] = [
        "incident-acknowledged": "The incident is acknowledged.",
        "notices-drafted": "The breach report drafted a letter for each affected patient and a summary for the regulator: review, edit and send them below.",
        "no-notices-drafted": "The breach report found no affected patient in that window, so there is nothing to draft.",
        "actor-suspended": "The account is suspended: it can no longer sign in, and its sessions have ended.",
        "notice-saved": "The draft is saved.",
        "notice-sent": "The notice is sent.",
        "playback-suspended": "Playback of all recordings is suspended on every server until you allow it again.",
        "playback-allowed": "Playback is allowed again.",
        "registered": "You are registered with your practice. You can now book an appointment.",
        "booked": "Your appointment is booked. We have sent you an email (it never contains clinical details).",
        "checked-in": "You are checked in. Your clinician will start the consultation shortly.",
        "cancelled": "The appointment is cancelled.",
        "rescheduled": "The appointment has moved to the new time.",
        "started": "The consultation has started.",
        "ended": "The consultation has ended. Write and sign the notes below.",
        "no-show": "The patient is marked as not attending.",
        "note-saved": "Draft saved. Only clinicians see drafts.",
        "note-signed": "Notes signed. The patient can now read them.",
        "note-amended": "Amendment signed. The earlier versions are kept in the history.",
        "consent-granted": "The care team can now see your record.",
        "consent-withdrawn": "Access withdrawn. The care team can no longer see your record.",
        "availability-saved": "Availability saved. Patients can book the new slots now; bookings already made stay.",
        "practice-created": "The practice is open.",
        "member-added": "The member is added.",
        "care-team-created": "The care team is created.",
        "holidays-saved": "Holidays saved.",
        "choose-first": "Choose your practice before booking.",
        "allergy-recorded": "Allergy recorded.",
        "medicine-recorded": "Current medicine recorded.",
        "prescribed": "Prescription issued. The patient can see it now.",
        "prescription-cancelled": "Prescription cancelled. The patient sees it as cancelled.",
        "document-issued": "Document issued. The patient can see it now.",
    ]

    static func notice(_ request: Request) -> String? {
        query(request, "notice").flatMap { notices[$0] }
    }

    /// Whether check-in is open now for a booked consultation, and when it opens.
    static func checkIn(_ r: ConsultationRecord, now: Date = Date()) -> (open: Bool, opens: Date) {
        let opens = r.start.addingTimeInterval(-Double(ClinicConfiguration().checkInOpensMinutes) * 60)
        return (r.status == .booked && now >= opens && now < r.end, opens)
    }

    // MARK: - patients: choose a practice

    @Sendable func choosePracticePage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            guard case .patient = context.auth.principal else { return Self.redirect(ClinicNav.home(for: context.auth.principal)) }
            return try await choosePracticeHTML(context, notice: Self.notice(request))
        }
    }

    func choosePracticeHTML(_ c: SignedInPageContext, notice: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok)
        async throws -> Response
    {
        let r = req(c)
        let current = try await clinic.registeredPractice(r)
        let practices = try await clinic.practices(r).sorted { $0.name < $1.name }
        let intro =
            current.map {
                "<p>You are registered with <strong>\(esc($0.name))</strong> (\(esc($0.region)), \(esc($0.country.value))). You can move to another practice below.</p>"
            } ?? "<p>Choose the practice you want to be registered with. You book appointments with its clinicians.</p>"
        let choices = practices.map { p in
            let id = "practice-\(p.id)"
            return """
                <div class="choice"><input type="radio" id="\(id)" name="practice_id" value="\(p.id)"\(p.id == current?.id ? " checked" : "")>\
                <label for="\(id)">\(esc(p.name)) · \(esc(p.region)), \(esc(p.country.value)) <span class="muted">(\(esc(p.zone.identifier)))</span></label></div>
                """
        }.joined(separator: "\n")
        let title = current == nil ? "Choose your practice" : "My practice"
        let body = """
            <h1>\(title)</h1>
            \(Layout.notice(notice))\(Layout.alert(error))
            \(intro)
            <form method="post" action="/clinic/practice">
            \(Layout.csrfField(c.csrfToken))
            <fieldset><legend>Practices</legend>
            \(choices.isEmpty ? "<p>No practice is open yet.</p>" : choices)
            </fieldset>
            <button type="submit">Register with this practice</button>
            </form>
            """
        return render(c, title: title, body: body, status: status)
    }

    @Sendable func choosePracticeSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            guard case .patient = context.auth.principal else { return notFound(context) }
            guard let id = form["practice_id"].flatMap(Practice.ID.init(string:)) else {
                return try await choosePracticeHTML(context, error: "Choose a practice from the list.", status: .unprocessableContent)
            }
            do {
                try await clinic.registerWithPractice(id, req(context))
            } catch let e as ClinicError where e.code == .notFound {
                return try await choosePracticeHTML(context, error: "Choose a practice from the list.", status: .unprocessableContent)
            }
            return Self.redirect("/clinic/book?notice=registered")
        }
    }

    // MARK: - patients: book

    /// What the patient searched for (kept across a failed booking).
    struct SlotSearch {
        var role: StaffRole?
        var modality: Modality?
        var from: CalendarDate?
        var after: Date?
        /// A finished symptom check to attach to the booking (a lower-case UUID, else ignored).
        var triage: String?

        init(role: String?, modality: String?, from: String?, after: String? = nil, triage: String? = nil) {
            self.triage = triage.flatMap { $0.count == 36 && UUID(uuidString: $0) != nil && $0 == $0.lowercased() ? $0 : nil }
            self.role = role.flatMap(StaffRole.init(rawValue:))
            self.modality = modality.flatMap(Modality.init(rawValue:))
            self.from = from.flatMap(CalendarDate.init(iso8601:))
            self.after = ClinicHTML.parseISO(after)
        }

        var hiddenFields: [(String, String)] {
            [("q_role", role?.rawValue ?? ""), ("q_modality", modality?.rawValue ?? ""), ("q_from", from?.description ?? ""), ("triage", triage ?? "")]
        }

        func link(after: Date) -> String {
            var parts: [String] = []
            if let role { parts.append("role=\(role.rawValue)") }
            if let modality { parts.append("modality=\(modality.rawValue)") }
            if let triage { parts.append("triage=\(triage)") }
            parts.append("after=\(ClinicHTML.iso(after).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")")
            return "/clinic/book?" + parts.joined(separator: "&")
        }
    }

    @Sendable func bookPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            guard case .patient = context.auth.principal else { return Self.redirect(ClinicNav.home(for: context.auth.principal)) }
            let search = SlotSearch(
                role: Self.query(request, "role"), modality: Self.query(request, "modality"), from: Self.query(request, "from"),
                after: Self.query(request, "after"), triage: Self.query(request, "triage"))
            var error: String?
            if Self.query(request, "from") != nil, search.from == nil { error = "Enter the date as YYYY-MM-DD." }
            return try await bookHTML(context, search, notice: Self.notice(request), error: error)
        }
    }

    func bookHTML(_ c: SignedInPageContext, _ s: SlotSearch, notice: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok)
        async throws -> Response
    {
        let r = req(c)
        guard let practice = try await clinic.registeredPractice(r) else { return Self.redirect("/clinic/practice?notice=choose-first") }
        var query = SlotQuery(role: s.role, modality: s.modality, days: 14, limit: 20)
        if let after = s.after {
            query.from = after
        } else if let day = s.from, let midnight = LocalTime(hour: 0, minute: 0) {
            query.from = ZonedFormat.instant(day, midnight, in: practice.zone.timeZone)
        }
        let slots = try await clinic.searchSlots(query, r)
        let roles: [(value: String, label: String)] =
            [("", "Any clinician")] + StaffRole.allCases.map { ($0.rawValue, ClinicHTML.role($0)) }
        let modalities: [(value: String, label: String)] =
            [("", "Any way")] + ClinicHTML.modalities.map { ($0.rawValue, ClinicHTML.modality($0)) }
        let items = slots.enumerated().map { i, slot in
            let offered = ClinicHTML.modalities.filter { slot.modalities.contains($0) && (s.modality == nil || s.modality == $0) }
            let buttons = offered.map { m in
                #"<button type="submit" name="modality" value="\#(m.rawValue)" aria-describedby="slot-\#(i)">Book \#(esc(ClinicHTML.modality(m).lowercased()))</button>"#
            }.joined(separator: " ")
            let hidden = ([("clinician_id", slot.clinician.description), ("start", ClinicHTML.iso(slot.start))] + s.hiddenFields)
                .map { #"<input type="hidden" name="\#($0.0)" value="\#(esc($0.1))">"# }.joined()
            let minutes = Int(slot.end.timeIntervalSince(slot.start) / 60)
            return """
                <li><p id="slot-\(i)"><strong>\(ClinicHTML.time(slot.start, slot.zone))</strong> · \(esc(slot.clinicianName.display)) \
                (\(esc(ClinicHTML.role(slot.role)))) · \(minutes) minutes</p>
                <form method="post" action="/clinic/book" class="actions">\(Layout.csrfField(c.csrfToken))\(hidden)\(buttons)</form></li>
                """
        }.joined(separator: "\n")
        let results =
            slots.isEmpty
            ? "<p>No free appointments in the next 14 days match. Try another type of clinician, another way to meet or a later date.</p>"
            : """
                <p class="muted">Soonest first. Times are shown in your time zone.</p>
                <ol class="cards" id="slots">\(items)</ol>
                \(slots.count == query.limit ? #"<p><a href="\#(esc(s.link(after: slots.last!.start.addingTimeInterval(60))))">Later appointments</a></p>"# : "")
                """
        let body = """
            <h1>Book an appointment</h1>
            \(Layout.notice(notice))\(Layout.alert(error))
            <p>At <strong>\(esc(practice.name))</strong>. <a href="/clinic/practice">Change practice</a></p>
            <form method="get" action="/clinic/book">
            <div class="grid">
            \(ClinicHTML.select("role", label: "Who would you like to see?", roles, selected: s.role?.rawValue ?? ""))
            \(ClinicHTML.select("modality", label: "How would you like to meet?", modalities, selected: s.modality?.rawValue ?? ""))
            \(Layout.field("from", label: "From date (optional)", type: "date", value: s.from?.description ?? "", required: false))
            </div>
            \(s.triage.map { #"<input type="hidden" name="triage" value="\#($0)"><p class="notice" id="triage-attached">Your symptom check will be attached to this appointment, for your clinician to read.</p>"# } ?? "")
            <button type="submit">Find appointments</button>
            </form>
            <h2>Available appointments</h2>
            \(results)
            """
        return render(c, title: "Book an appointment", body: body, status: status)
    }

    @Sendable func bookSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            guard case .patient = context.auth.principal else { return notFound(context) }
            let search = SlotSearch(role: form["q_role"], modality: form["q_modality"], from: form["q_from"], triage: form["triage"])
            func fail(_ message: String, _ status: HTTPResponse.Status) async throws -> Response {
                try await bookHTML(context, search, error: message, status: status)
            }
            guard let clinician = form["clinician_id"].flatMap(Account.ID.init(string:)), let start = ClinicHTML.parseISO(form["start"]) else {
                return try await fail("This appointment could not be read. Please choose one from the list.", .unprocessableContent)
            }
            guard let modality = form["modality"].flatMap(Modality.init(rawValue:)) else {
                return try await fail("Choose video, phone (audio) or in person.", .unprocessableContent)
            }
            do {
                let view =
                    if let triage {
                        try await triage.book(with: clinic, triage: search.triage, clinician: clinician, start: start, modality: modality, req(context))
                    } else {
                        try await clinic.book(clinician: clinician, start: start, modality: modality, req(context))
                    }
                return Self.redirect("/clinic/consultations/\(view.record.id)?notice=booked")
            } catch let e as ClinicError where e.code != .notFound {
                return try await fail(ClinicHTML.sentence(e.message), e.problem.status)
            }
        }
    }

    // MARK: - patients: my consultations

    @Sendable func consultationsPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            guard case .patient = context.auth.principal else { return Self.redirect(ClinicNav.home(for: context.auth.principal)) }
            return try await consultationsHTML(context, notice: Self.notice(request))
        }
    }

    func consultationsHTML(_ c: SignedInPageContext, notice: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok)
        async throws -> Response
    {
        let list = try await clinic.consultations(from: nil, to: nil, limit: 500, req(c))
        let upcoming = list.filter { $0.record.status.isActiveBooking }.sorted { $0.record.start < $1.record.start }
        let past = list.filter { !$0.record.status.isActiveBooking }.sorted { $0.record.start > $1.record.start }
        func card(_ v: ConsultationView) -> String {
            let r = v.record
            return """
                <li data-consultation="\(r.id)"><p id="c-\(r.id)"><strong>\(ClinicHTML.time(r.start, v.zone))</strong> with \
                \(esc(v.clinicianName.display)) (\(esc(ClinicHTML.role(v.clinicianRole))))</p>
                <p>\(esc(ClinicHTML.modality(r.modality))) · <span class="badge">\(esc(ClinicHTML.status(r.status)))</span> · \(esc(v.practiceName))</p>
                <div class="actions"><a href="/clinic/consultations/\(r.id)" aria-describedby="c-\(r.id)">Details and notes</a>
                \(patientActions(v, csrf: c.csrfToken, back: "list"))</div></li>
                """
        }
        let body = """
            <h1>My consultations</h1>
            \(Layout.notice(notice))\(Layout.alert(error))
            <p><a href="/clinic/book">Book an appointment</a> · <a href="/clinic/records">My records: prescriptions, documents, allergies</a></p>
            <h2>Upcoming</h2>
            \(upcoming.isEmpty ? "<p>You have no upcoming appointments.</p>" : #"<ol class="cards" id="upcoming">\#(upcoming.map(card).joined())</ol>"#)
            <h2>Past and cancelled</h2>
            \(past.isEmpty ? "<p>Nothing here yet.</p>" : #"<ol class="cards" id="past">\#(past.map(card).joined())</ol>"#)
            """
        return render(c, title: "My consultations", body: body, status: status)
    }

    /// Check in, reschedule and cancel, as the patient's state allows.
    /// The link into the call of a video or phone consultation while it can be joined; before
    /// that, when it opens.
    func callLink(_ v: ConsultationView, label: String, now: Date = Date()) -> String? {
        let r = v.record
        guard r.modality != .inPerson, [.booked, .checkedIn, .inProgress].contains(r.status) else { return nil }
        let calls = clinic.callConfiguration
        let opens = r.start.addingTimeInterval(-Double(calls.opensMinutesBefore) * 60)
        let closes = r.start.addingTimeInterval(Double(calls.closesMinutesAfter) * 60)
        if r.status == .inProgress || (now >= opens && now <= closes) {
            return #"<a class="button" href="/clinic/consultations/\#(r.id)/call" aria-describedby="c-\#(r.id)">\#(label)</a>"#
        }
        guard now < opens else { return nil }
        return #"<span class="muted">The call opens \#(ClinicHTML.time(opens, v.zone))</span>"#
    }

    func patientActions(_ v: ConsultationView, csrf: String, back: String) -> String {
        let r = v.record
        let path = "/clinic/consultations/\(r.id)"
        var out: [String] = []
        if let call = callLink(v, label: r.modality == .audio ? "Join phone call" : "Join video call") { out.append(call) }
        let checkIn = Self.checkIn(r)
        if checkIn.open {
            out.append(ClinicHTML.button(action: path + "/transition", csrf: csrf, label: "Check in", fields: [("event", "check-in"), ("back", back)],
                describedBy: "c-\(r.id)"))
        } else if r.status == .booked, Date() < checkIn.opens {
            out.append(#"<span class="muted">Check-in opens \#(ClinicHTML.time(checkIn.opens, v.zone))</span>"#)
        }
        if r.status == .booked {
            out.append(#"<a href="\#(path)/reschedule" aria-describedby="c-\#(r.id)">Change time</a>"#)
        }
        if r.status == .booked || r.status == .checkedIn {
            out.append(ClinicHTML.button(action: path + "/transition", csrf: csrf, label: "Cancel appointment",
                fields: [("event", "cancel"), ("back", back)], style: "secondary", describedBy: "c-\(r.id)"))
        }
        return out.joined(separator: "\n")
    }

    // MARK: - one consultation

    @Sendable func consultationPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            let id: Consultation.ID = try Parse.pathID(context, "consultationID")
            return try await consultationHTML(context, id, notice: Self.notice(request))
        }
    }

    /// What the notes form held when a save failed (so nothing typed is lost).
    struct NoteDraft {
        var sections: NoteSections
        var reason: String
        var field: String?
    }

    func consultationHTML(
        _ c: SignedInPageContext, _ id: Consultation.ID, notice: String? = nil, error: String? = nil, draft: NoteDraft? = nil,
        record: RecordDraft? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let r = req(c)
        let view = try await clinic.consultation(id, r)
        let rec = view.record
        var rows = """
            <dt>When</dt><dd>\(ClinicHTML.time(rec.start, view.zone)) (\(Int(rec.end.timeIntervalSince(rec.start) / 60)) minutes)</dd>
            """
        var sections = ""
        var scripts: [String] = []
        switch c.auth.principal {
        case .patient:
            rows += "<dt>With</dt><dd>\(esc(view.clinicianName.display)) (\(esc(ClinicHTML.role(view.clinicianRole))))</dd>"
            sections += #"<div class="actions" id="c-\#(rec.id)-actions">\#(patientActions(view, csrf: c.csrfToken, back: "page"))</div>"#
            if rec.status == .documented {
                sections += try await patientNotes(view, r)
            } else if rec.status == .ended {
                sections += "<h2>Notes</h2><p>Your clinician is writing the notes of this consultation. They appear here once signed.</p>"
            }
            if Self.started.contains(rec.status) {
                sections += try await patientIssued(view, r)
            }
            sections += try await triageSection(rec.id, r)
            if rec.status != .cancelled {
                sections += Self.recordingsSection(rec.id)
                scripts.append("/static/recordings.js")
            }
        case .clinician(let me, _):
            rows += "<dt>Patient</dt><dd>\(esc(view.patientName.display))</dd>"
            rows += "<dt>Clinician</dt><dd>\(esc(view.clinicianName.display)) (\(esc(ClinicHTML.role(view.clinicianRole))))</dd>"
            if rec.clinician == me {
                sections += clinicianActions(view, csrf: c.csrfToken)
                if [.inProgress, .ended, .documented].contains(rec.status) {
                    sections += noteEditor(view, note: try await clinic.note(id, r), csrf: c.csrfToken, draft: draft)
                } else {
                    sections += "<h2>Notes</h2><p>Notes can be written once the consultation has started.</p>"
                }
                sections += try await clinicalRecordSections(view, r, csrf: c.csrfToken, own: true, draft: record)
            } else {
                sections += try await careTeamNotes(view, r)
                sections += try await clinicalRecordSections(view, r, csrf: c.csrfToken, own: false, draft: nil)
            }
            sections += try await triageSection(rec.id, r)
            if rec.status != .cancelled {
                sections += Self.recordingsSection(rec.id)
                scripts.append("/static/recordings.js")
            }
        case .practiceAdmin:
            sections += #"<p class="muted">The appointment book shows times and status only: never who the patient is or any clinical details.</p>"#
        case .admin, .anonymous, .system:
            return notFound(c)
        }
        rows += "<dt>Practice</dt><dd>\(esc(view.practiceName))</dd>"
        rows += "<dt>How</dt><dd>\(esc(ClinicHTML.modality(rec.modality)))</dd>"
        rows += #"<dt>Status</dt><dd><span class="badge" id="consultation-status">\#(esc(ClinicHTML.status(rec.status)))</span></dd>"#
        let back: String =
            switch c.auth.principal {
            case .patient: #"<p><a href="/clinic/consultations">All my consultations</a></p>"#
            case .clinician: #"<p><a href="/clinic/day?date=\#(ZonedFormat.localDate(rec.start, in: view.zone.timeZone))">Day list</a> · <a href="/clinic/waiting-room">Waiting room</a></p>"#
            default: #"<p><a href="/clinic/practices/\#(rec.practice)/appointments?date=\#(ZonedFormat.localDate(rec.start, in: view.zone.timeZone))">Appointment book</a></p>"#
            }
        let body = """
            <h1>Consultation</h1>
            \(Layout.notice(notice))\(Layout.alert(error))
            <dl id="c-\(rec.id)">\(rows)</dl>
            \(sections)
            \(back)
            """
        return render(c, title: "Consultation", body: body, scripts: scripts, wide: true, status: status)
    }

    /// The symptom check the patient attached when booking (gated and audited as a list of one).
    func triageSection(_ id: Consultation.ID, _ r: ClinicRequest) async throws -> String {
        guard let triage, let view = try await triage.sessions(consultation: id, limit: 1, r).first else { return "" }
        return ClinicHTML.triageSummary(view)
    }

    /// The recordings of a consultation: /static/recordings.js lists and plays them.
    static func recordingsSection(_ id: Consultation.ID) -> String {
        """
        <section id="recordings" data-consultation="\(id)" aria-labelledby="recordings-h"><h2 id="recordings-h">Recordings</h2>\
        <p class="muted" id="recordings-loading">Loading the recordings of this consultation…</p>\
        <noscript><p>Playing recordings needs JavaScript enabled in your browser.</p></noscript></section>
        """
    }

    static let sectionNames: [(key: String, label: String)] = [
        ("history", "History"), ("examination", "Examination"), ("assessment", "Assessment"), ("plan", "Plan"),
    ]

    static func value(_ s: NoteSections, _ key: String) -> String {
        switch key {
        case "history": s.history
        case "examination": s.examination
        case "assessment": s.assessment
        default: s.plan
        }
    }

    static func noteText(_ s: NoteSections, headingLevel: Int = 3) -> String {
        sectionNames.compactMap { section in
            let text = value(s, section.key)
            guard !text.isEmpty else { return nil }
            return #"<h\#(headingLevel)>\#(section.label)</h\#(headingLevel)><div class="note-section" data-section="\#(section.key)">\#(esc(text))</div>"#
        }.joined()
    }

    /// The signed notes, for the patient (the service returns signed versions only to patients).
    func patientNotes(_ view: ConsultationView, _ r: ClinicRequest) async throws -> String {
        let note: NoteView
        do {
            note = try await clinic.note(view.record.id, r)
        } catch is AccessDenied {
            return ""
        }
        guard let latest = note.latest else { return "" }
        var out = #"<section id="notes" aria-labelledby="notes-h"><h2 id="notes-h">Notes from your consultation</h2>"#
        out += #"<p class="muted">Signed by \#(esc(view.clinicianName.display)) on \#(ClinicHTML.time(latest.signedAt ?? latest.savedAt, view.zone)).</p>"#
        if let reason = latest.amendmentReason {
            out += #"<p>These notes were amended. Reason: \#(esc(reason))</p>"#
        }
        out += Self.noteText(latest.sections)
        return out + "</section>"
    }

    /// The prescriptions and documents of a consultation, for its patient (read-only).
    func patientIssued(_ view: ConsultationView, _ r: ClinicRequest) async throws -> String {
        func when(_ d: Date) -> String { ClinicHTML.time(d, view.zone) }
        var out = ""
        if let list = try await ifAllowed({ try await clinic.prescriptions(view.record.id, r) }) {
            out += """
                <section id="prescriptions" aria-labelledby="prescriptions-h"><h2 id="prescriptions-h">Prescriptions from this consultation</h2>
                \(Self.prescriptionList(list, id: "prescription-list", when: when))</section>
                """
        }
        if let list = try await ifAllowed({ try await clinic.documents(view.record.id, r) }) {
            out += """
                <section id="documents" aria-labelledby="documents-h"><h2 id="documents-h">Referrals, fit notes and letters</h2>
                \(Self.documentList(list, id: "document-list", when: when))</section>
                """
        }
        return out
    }

    // MARK: - patients: my records

    @Sendable func recordsPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            guard case .patient = context.auth.principal else { return Self.redirect(ClinicNav.home(for: context.auth.principal)) }
            let r = req(context)
            let zone = try await clinic.registeredPractice(r)?.zone
            func when(_ d: Date) -> String { zone.map { ClinicHTML.time(d, $0) } ?? esc(ClinicHTML.iso(d)) }
            let background = try await clinic.myBackground(r)
            let prescriptions = try await clinic.prescriptions(r).sorted { $0.issuedAt > $1.issuedAt }
            let documents = try await clinic.documents(r).sorted { $0.issuedAt > $1.issuedAt }
            let body = """
                <h1>My records</h1>
                <p>What your clinicians recorded and issued for you. <a href="/clinic/consultations">My consultations</a></p>
                <section id="background" aria-labelledby="background-h"><h2 id="background-h">Allergies and current medicines</h2>
                <h3>Allergies</h3>\(Self.allergyList(background.allergies))
                <h3>Current medicines</h3>\(Self.medicineList(background.medicines))
                <p class="muted">If something here is wrong or missing, tell your clinician at your next consultation.</p></section>
                <section id="prescriptions" aria-labelledby="prescriptions-h"><h2 id="prescriptions-h">Prescriptions</h2>
                \(Self.prescriptionList(prescriptions, id: "prescription-list", when: when, link: true))</section>
                <section id="documents" aria-labelledby="documents-h"><h2 id="documents-h">Referrals, fit notes and letters</h2>
                \(Self.documentList(documents, id: "document-list", when: when, link: true))</section>
                """
            return render(context, title: "My records", body: body, wide: true)
        }
    }

    /// A care-team member's read-only view (allowed by the patient's consent, audited by the gate).
    func careTeamNotes(_ view: ConsultationView, _ r: ClinicRequest) async throws -> String {
        let note: NoteView
        do {
            note = try await clinic.note(view.record.id, r)
        } catch is AccessDenied {
            return ""
        }
        guard let latest = note.latest else { return "<h2>Notes</h2><p>No notes yet.</p>" }
        return """
            <section id="notes" aria-labelledby="notes-h"><h2 id="notes-h">Notes</h2>
            <p class="muted">Version \(latest.version), \(latest.status == .signed ? "signed" : "draft"). You see them as a member of a care team the patient chose.</p>
            \(Self.noteText(latest.sections))</section>
            """
    }

    func clinicianActions(_ view: ConsultationView, csrf: String) -> String {
        let rec = view.record
        let path = "/clinic/consultations/\(rec.id)/transition"
        let events = ConsultationLifecycle.allowedEvents(from: rec.status, by: .clinician).filter { $0 != .sign && $0 != .reschedule }
        let buttons = events.map { event -> String in
            let (label, style): (String, String?) =
                switch event {
                case .start: ("Start consultation", nil)
                case .end: ("End consultation", nil)
                case .markNoShow: ("Mark as did not attend", "secondary")
                case .cancel: ("Cancel appointment", "secondary")
                case .checkIn, .sign, .reschedule: (event.rawValue, nil)
                }
            return ClinicHTML.button(action: path, csrf: csrf, label: label, fields: [("event", event.rawValue)], style: style)
        }
        let call = callLink(view, label: rec.modality == .audio ? "Open phone call" : "Open video call").map { [$0] } ?? []
        guard !buttons.isEmpty || !call.isEmpty else { return "" }
        var extra = ""
        if rec.status == .booked {
            extra = #"<p class="hint">The patient has not checked in yet. You can still start the consultation, for example after a phone call.</p>"#
        }
        return #"<div class="actions" id="consultation-actions">\#((call + buttons).joined(separator: "\n"))</div>\#(extra)"#
    }

    func noteEditor(_ view: ConsultationView, note: NoteView, csrf: String, draft: NoteDraft?) -> String {
        let rec = view.record
        let latest = note.latest
        let signed = latest?.status == .signed
        let current = draft?.sections ?? latest?.sections ?? NoteSections(history: "", examination: "", assessment: "", plan: "")
        let state: String =
            switch latest {
            case nil: "No notes yet."
            case let v? where v.status == .signed: "Signed (version \(v.version)). A change is a signed amendment with a reason."
            case let v?: "Draft (version \(v.version)), not visible to the patient until you sign it."
            }
        func err(_ key: String) -> String? { draft?.field == key ? "Check this section." : nil }
        let fields = Self.sectionNames.map { section in
            ClinicHTML.textarea(section.key, label: section.label, value: Self.value(current, section.key), rows: 4, error: err(section.key))
        }.joined(separator: "\n")
        let buttons: String
        if signed {
            buttons = """
                \(ClinicHTML.textarea("amendment_reason", label: "Reason for the amendment", value: draft?.reason ?? "", rows: 2,
                    hint: "Required: say why the signed note changes.", error: draft?.field == "amendment_reason" ? "Give the reason for the amendment." : nil))
                <div class="actions"><button type="submit" name="action" value="amend">Sign amendment</button></div>
                """
        } else {
            let hint = rec.status == .inProgress ? #"<p class="hint">End the consultation before signing the notes.</p>"# : ""
            buttons = """
                \(hint)<div class="actions"><button type="submit" name="action" value="draft" class="secondary">Save draft</button>
                <button type="submit" name="action" value="sign">Sign notes</button></div>
                """
        }
        let history = note.versions.reversed().map { v -> String in
            let author = v.author == rec.clinician ? view.clinicianName.display : "another clinician"
            let reason = v.amendmentReason.map { #"<p>Reason for the amendment: \#(esc($0))</p>"# } ?? ""
            return """
                <li data-version="\(v.version)"><p><strong>Version \(v.version)</strong> · <span class="badge">\(v.status == .signed ? "Signed" : "Draft")</span> · \
                saved \(ClinicHTML.time(v.savedAt, view.zone)) by \(esc(author))</p>\(reason)
                <details><summary>Show version \(v.version)</summary>\(Self.noteText(v.sections, headingLevel: 4))</details></li>
                """
        }.joined()
        return """
            <section id="notes" aria-labelledby="notes-h"><h2 id="notes-h">Notes</h2>
            <p id="note-state">\(esc(state))</p>
            <form method="post" action="/clinic/consultations/\(rec.id)/note" id="note-form" novalidate>
            \(Layout.csrfField(csrf))
            <input type="hidden" name="expected_version" value="\(latest?.version ?? 0)">
            \(fields)
            \(buttons)
            </form>
            \(note.versions.isEmpty ? "" : #"<h3>Version history</h3><ol class="cards" id="note-history">\#(history)</ol>"#)
            </section>
            """
    }

    @Sendable func transitionSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            let id: Consultation.ID = try Parse.pathID(context, "consultationID")
            let toList = form["back"] == "list"
            func fail(_ message: String, _ status: HTTPResponse.Status) async throws -> Response {
                toList
                    ? try await consultationsHTML(context, error: message, status: status)
                    : try await consultationHTML(context, id, error: message, status: status)
            }
            guard let event = form["event"].flatMap(ConsultationEvent.init(rawValue:)), event != .sign, event != .reschedule else {
                return try await fail("Choose check in, start, end, cancel or did not attend.", .unprocessableContent)
            }
            do {
                _ = try await clinic.transition(id, event, req(context))
            } catch let e as ClinicError where e.code != .notFound {
                return try await fail(ClinicHTML.sentence(e.message), e.problem.status)
            }
            let notice: String =
                switch event {
                case .checkIn: "checked-in"
                case .start: "started"
                case .end: "ended"
                case .cancel: "cancelled"
                case .markNoShow: "no-show"
                case .sign, .reschedule: "started"
                }
            return Self.redirect(toList ? "/clinic/consultations?notice=\(notice)" : "/clinic/consultations/\(id)?notice=\(notice)")
        }
    }

    @Sendable func noteSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            let id: Consultation.ID = try Parse.pathID(context, "consultationID")
            let sections = NoteSections(
                history: form.string("history"), examination: form.string("examination"), assessment: form.string("assessment"),
                plan: form.string("plan"))
            let action = form["action"] ?? "draft"
            let reason = form.string("amendment_reason")
            guard let expected = Int(form.string("expected_version")), expected >= 0 else {
                return try await consultationHTML(
                    context, id, error: "The form is out of date. Copy your text, reload the page and try again.",
                    draft: NoteDraft(sections: sections, reason: reason), status: .unprocessableContent)
            }
            let input = NoteInput(
                sections: sections, sign: action == "sign" || action == "amend", amendmentReason: action == "amend" ? reason : nil,
                expectedVersion: expected)
            do {
                let version = try await clinic.saveNote(id, input, req(context))
                let notice = version.status == .draft ? "note-saved" : version.amendmentReason == nil ? "note-signed" : "note-amended"
                return Self.redirect("/clinic/consultations/\(id)?notice=\(notice)#notes")
            } catch let e as ClinicError where e.code != .notFound {
                let field = e.validation?.field ?? (e.code == .amendmentRequired ? "amendment_reason" : nil)
                return try await consultationHTML(
                    context, id, error: ClinicHTML.sentence(e.message), draft: NoteDraft(sections: sections, reason: reason, field: field),
                    status: e.problem.status)
            }
        }
    }

    // MARK: - reschedule

    @Sendable func reschedulePage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            let id: Consultation.ID = try Parse.pathID(context, "consultationID")
            return try await rescheduleHTML(context, id)
        }
    }

    func rescheduleHTML(_ c: SignedInPageContext, _ id: Consultation.ID, error: String? = nil, status: HTTPResponse.Status = .ok)
        async throws -> Response
    {
        switch c.auth.principal {
        case .patient, .clinician: break
        case .practiceAdmin, .admin, .anonymous, .system: return notFound(c)
        }
        let r = req(c)
        let view = try await clinic.consultation(id, r)
        let rec = view.record
        guard rec.status == .booked else {
            return try await consultationHTML(c, id, error: "Only a booked appointment can be moved.", status: .conflict)
        }
        let slots = try await clinic.searchSlots(SlotQuery(clinician: rec.clinician, days: 14, limit: 20), r).filter { $0.start != rec.start }
        let items = slots.enumerated().map { i, slot in
            let offered = ClinicHTML.modalities.filter { slot.modalities.contains($0) }.sorted { a, _ in a == rec.modality }
            let buttons = offered.map { m in
                #"<button type="submit" name="modality" value="\#(m.rawValue)" aria-describedby="slot-\#(i)">Move here, \#(esc(ClinicHTML.modality(m).lowercased()))</button>"#
            }.joined(separator: " ")
            return """
                <li><p id="slot-\(i)"><strong>\(ClinicHTML.time(slot.start, slot.zone))</strong> · \(esc(slot.clinicianName.display))</p>
                <form method="post" action="/clinic/consultations/\(rec.id)/reschedule" class="actions">\(Layout.csrfField(c.csrfToken))\
                <input type="hidden" name="start" value="\(ClinicHTML.iso(slot.start))">\(buttons)</form></li>
                """
        }.joined(separator: "\n")
        let body = """
            <h1>Change the time</h1>
            \(Layout.alert(error))
            <p>Your appointment with \(esc(view.clinicianName.display)) is now at <strong>\(ClinicHTML.time(rec.start, view.zone))</strong>. Choose a new time:</p>
            \(slots.isEmpty ? "<p>No other free times in the next 14 days.</p>" : #"<ol class="cards" id="slots">\#(items)</ol>"#)
            <p><a href="/clinic/consultations/\(rec.id)">Keep the current time</a></p>
            """
        return render(c, title: "Change the time", body: body, status: status)
    }

    @Sendable func rescheduleSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            let id: Consultation.ID = try Parse.pathID(context, "consultationID")
            guard let start = ClinicHTML.parseISO(form["start"]), let modality = form["modality"].flatMap(Modality.init(rawValue:)) else {
                return try await rescheduleHTML(context, id, error: "Choose a new time from the list.", status: .unprocessableContent)
            }
            do {
                _ = try await clinic.reschedule(id, start: start, modality: modality, req(context))
            } catch let e as ClinicError where e.code != .notFound {
                return try await rescheduleHTML(context, id, error: ClinicHTML.sentence(e.message), status: e.problem.status)
            }
            return Self.redirect("/clinic/consultations/\(id)?notice=rescheduled")
        }
    }

    // MARK: - patients: care team access

    @Sendable func careTeamPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            guard case .patient = context.auth.principal else { return Self.redirect(ClinicNav.home(for: context.auth.principal)) }
            return try await careTeamHTML(context, notice: Self.notice(request))
        }
    }

    func careTeamHTML(_ c: SignedInPageContext, notice: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok)
        async throws -> Response
    {
        let r = req(c)
        let consents = try await clinic.consents(r).sorted { $0.grantedAt > $1.grantedAt }
        let practice = try await clinic.registeredPractice(r)
        let zone = practice?.zone
        func when(_ d: Date) -> String { zone.map { ClinicHTML.time(d, $0) } ?? esc(ClinicHTML.iso(d)) }
        let active = Set(consents.filter { $0.withdrawnAt == nil }.map(\.team))
        let list = consents.map { consent -> String in
            let state: String
            if let withdrawn = consent.withdrawnAt {
                state = "Withdrawn \(when(withdrawn))"
            } else {
                state = "Can see your record since \(when(consent.grantedAt))"
            }
            let withdraw =
                consent.withdrawnAt == nil
                ? ClinicHTML.button(
                    action: "/clinic/care-team/\(consent.id)/withdraw", csrf: c.csrfToken, label: "Withdraw access", style: "secondary",
                    describedBy: "consent-\(consent.id)")
                : ""
            return """
                <li><p id="consent-\(esc(consent.id))"><strong>\(esc(consent.teamName))</strong></p><p>\(state)</p>\(withdraw)</li>
                """
        }.joined()
        var grant = ""
        if let practice {
            let teams = try await clinic.practice(practice.id, r).careTeams.filter { !active.contains($0.id) }
            if teams.isEmpty {
                grant = "<p>Every care team of your practice can already see your record, or the practice has none.</p>"
            } else {
                let choices = teams.map { t in
                    #"<div class="choice"><input type="radio" id="team-\#(t.id)" name="care_team_id" value="\#(t.id)"><label for="team-\#(t.id)">\#(esc(t.name))</label></div>"#
                }.joined()
                grant = """
                    <form method="post" action="/clinic/care-team">\(Layout.csrfField(c.csrfToken))
                    <fieldset><legend>Care teams at \(esc(practice.name))</legend>\(choices)</fieldset>
                    <button type="submit">Give access</button></form>
                    """
            }
        } else {
            grant = #"<p><a href="/clinic/practice">Choose your practice</a> first.</p>"#
        }
        let body = """
            <h1>Care team access</h1>
            \(Layout.notice(notice))\(Layout.alert(error))
            <p>The clinician you book with always sees that consultation. A care team you allow here can also read your record and \
            consultation notes, so that any of its clinicians can help you. You can withdraw access at any time: it ends at once. \
            <a href="/account/access-log">See who has seen your data</a>.</p>
            <h2>Who can see my record</h2>
            \(list.isEmpty ? "<p>No care team has access.</p>" : #"<ul class="cards" id="consents">\#(list)</ul>"#)
            <h2>Give a care team access</h2>
            \(grant)
            """
        return render(c, title: "Care team access", body: body, status: status)
    }

    @Sendable func careTeamGrant(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            guard case .patient = context.auth.principal else { return notFound(context) }
            guard let team = form["care_team_id"].flatMap(CareTeam.ID.init(string:)) else {
                return try await careTeamHTML(context, error: "Choose a care team.", status: .unprocessableContent)
            }
            do {
                _ = try await clinic.grantConsent(team: team, req(context))
            } catch let e as ClinicError {
                let message = e.code == .notFound ? "Choose a care team of your practice." : ClinicHTML.sentence(e.message)
                return try await careTeamHTML(context, error: message, status: e.problem.status)
            }
            return Self.redirect("/clinic/care-team?notice=consent-granted")
        }
    }

    @Sendable func careTeamWithdraw(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            guard let raw = context.parameters.get("consentID"), UUID(uuidString: raw) != nil else { return notFound(context) }
            do {
                try await clinic.withdrawConsent(raw.lowercased(), req(context))
            } catch let e as ClinicError where e.code != .notFound {
                return try await careTeamHTML(context, error: ClinicHTML.sentence(e.message), status: e.problem.status)
            }
            return Self.redirect("/clinic/care-team?notice=consent-withdrawn")
        }
    }
}
