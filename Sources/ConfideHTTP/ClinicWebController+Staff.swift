import ConfideAccounts
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import Foundation
import Hummingbird

// Clinician pages (availability, day list, waiting room) and practice pages (practice admins,
// operators). Every call goes through `ClinicService`.
extension ClinicWebController {
    // MARK: - shared

    /// The practices where `account` holds `role` (from the practice directory, through the gate).
    func memberPractices(_ r: ClinicRequest, account: Account.ID, role: PracticeRole) async throws -> [PracticeDetail] {
        var out: [PracticeDetail] = []
        for p in try await clinic.practices(r).sorted(by: { $0.name < $1.name }) {
            let detail = try await clinic.practice(p.id, r)
            if detail.members.contains(where: { $0.account == account && $0.role == role }) { out.append(detail) }
        }
        return out
    }

    static let utc: ZoneName? = try? ZoneName("UTC")

    /// "Mon 30 Mar 2026" for a calendar date.
    static func dayTitle(_ d: CalendarDate) -> String {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(d.weekday.abbreviation) \(d.day) \(months[d.month - 1]) \(d.year)"
    }

    /// The date asked for in `?date=`, else today in `zone`; with an error text for a bad date.
    static func chosenDate(_ request: Request, zone: ZoneName?) -> (CalendarDate, String?) {
        let today = ZonedFormat.localDate(Date(), in: zone?.timeZone ?? TimeZone(secondsFromGMT: 0)!)
        guard let raw = query(request, "date") else { return (today, nil) }
        guard let date = CalendarDate(iso8601: raw) else { return (today, "Enter the date as YYYY-MM-DD. Showing today instead.") }
        return (date, nil)
    }

    /// A generous window around a date (every zone's version of that day lies inside it).
    static func around(_ date: CalendarDate) -> (Date, Date) {
        let midnight = LocalTime(hour: 0, minute: 0)!
        let start = ZonedFormat.instant(date, midnight, in: TimeZone(secondsFromGMT: 0)!) ?? Date()
        return (start.addingTimeInterval(-15 * 3600), start.addingTimeInterval(39 * 3600))
    }

    static func dayPicker(action: String, date: CalendarDate, extra: [(String, String)] = []) -> String {
        let hidden = extra.map { #"<input type="hidden" name="\#(esc($0.0))" value="\#(esc($0.1))">"# }.joined()
        let suffix = extra.map { "&\($0.0)=\($0.1)" }.joined()
        let prev = date.adding(days: -1).map { #"<a href="\#(action)?date=\#($0)\#(esc(suffix))">Previous day</a>"# } ?? ""
        let next = date.adding(days: 1).map { #"<a href="\#(action)?date=\#($0)\#(esc(suffix))">Next day</a>"# } ?? ""
        return """
            <form method="get" action="\(action)" class="actions picker">\(hidden)
            \(Layout.field("date", label: "Date", type: "date", value: date.description))
            <button type="submit">Show</button></form>
            <p>\(prev) · \(next)</p>
            """
    }

    // MARK: - availability

    /// One weekly row of the editor, as typed.
    struct WindowRow {
        var weekday = ""
        var start = ""
        var end = ""
        var slot = "10"
        var modalities: Set<String> = ["video", "audio"]
        var validFrom = ""
        var validUntil = ""
    }

    /// One exception row: a date and, unless the clinician is away all day, a window.
    struct ExceptionRow {
        var date = ""
        var start = ""
        var end = ""
        var slot = "10"
        var modalities: Set<String> = ["video", "audio"]
    }

    struct AvailabilityTarget {
        var practices: [PracticeDetail]
        var practice: PracticeDetail
        var clinician: PracticeMember
    }

    /// Whose availability, at which practice: a clinician edits their own; a practice admin those
    /// of their practices' clinicians. The service's gate decides again on every read and save.
    func availabilityTarget(_ c: SignedInPageContext, practice: String?, clinician: String?) async throws -> AvailabilityTarget? {
        let r = req(c)
        switch c.auth.principal {
        case .clinician(let me, _):
            let practices = try await memberPractices(r, account: me, role: .clinician)
            guard let chosen = practices.first(where: { $0.practice.id.description == practice }) ?? practices.first,
                let member = chosen.members.first(where: { $0.account == me && $0.role == .clinician })
            else { return nil }
            return AvailabilityTarget(practices: practices, practice: chosen, clinician: member)
        case .practiceAdmin(let me):
            let practices = try await memberPractices(r, account: me, role: .admin)
            guard let chosen = practices.first(where: { $0.practice.id.description == practice }) ?? practices.first else { return nil }
            let clinicians = chosen.members.filter { $0.role == .clinician }
            guard let member = clinicians.first(where: { $0.account.description == clinician }) ?? clinicians.first else { return nil }
            return AvailabilityTarget(practices: practices, practice: chosen, clinician: member)
        case .patient, .admin, .anonymous, .system:
            return nil
        }
    }

    static func rows(_ document: AvailabilityDocument) -> ([WindowRow], [ExceptionRow]) {
        let weekly = document.weekly.map {
            WindowRow(
                weekday: $0.weekday ?? "", start: $0.start, end: $0.end, slot: String($0.slot_minutes), modalities: Set($0.modalities),
                validFrom: $0.valid_from ?? "", validUntil: $0.valid_until ?? "")
        }
        var exceptions: [ExceptionRow] = []
        for e in document.exceptions ?? [] {
            if e.windows.isEmpty {
                exceptions.append(ExceptionRow(date: e.date, start: "", end: "", slot: "10", modalities: []))
            }
            for w in e.windows {
                exceptions.append(ExceptionRow(date: e.date, start: w.start, end: w.end, slot: String(w.slot_minutes), modalities: Set(w.modalities)))
            }
        }
        return (weekly, exceptions)
    }

    /// The rows of a submitted editor; blank and removed rows are dropped.
    static func rows(_ form: FormData) -> ([WindowRow], [ExceptionRow]) {
        var weekly: [WindowRow] = []
        var exceptions: [ExceptionRow] = []
        for i in 0..<200 {
            let p = "w\(i)_"
            guard form[p + "start"] != nil || form[p + "weekday"] != nil, form[p + "remove"] == nil else { continue }
            let row = WindowRow(
                weekday: form.string(p + "weekday"), start: form.string(p + "start"), end: form.string(p + "end"),
                slot: form.string(p + "slot"), modalities: Set(ClinicHTML.modalities.map(\.rawValue).filter { form[p + $0] != nil }),
                validFrom: form.string(p + "valid_from"), validUntil: form.string(p + "valid_until"))
            if row.start.isEmpty && row.end.isEmpty { continue }
            weekly.append(row)
        }
        for i in 0..<400 {
            let p = "x\(i)_"
            guard form[p + "date"] != nil, form[p + "remove"] == nil else { continue }
            let row = ExceptionRow(
                date: form.string(p + "date"), start: form.string(p + "start"), end: form.string(p + "end"), slot: form.string(p + "slot"),
                modalities: Set(ClinicHTML.modalities.map(\.rawValue).filter { form[p + $0] != nil }))
            if row.date.isEmpty { continue }
            exceptions.append(row)
        }
        return (weekly, exceptions)
    }

    static func window(_ row: WindowRow, label: String) -> Result<AvailabilityDocument.Window, AvailabilityInputError> {
        guard let minutes = Int(row.slot.trimmingCharacters(in: .whitespaces)) else {
            return .failure(AvailabilityInputError(message: "\(label): enter the slot length in minutes."))
        }
        return .success(
            AvailabilityDocument.Window(
                weekday: row.weekday, start: row.start, end: row.end, slot_minutes: minutes,
                modalities: ClinicHTML.modalities.map(\.rawValue).filter(row.modalities.contains),
                valid_from: row.validFrom.isEmpty ? nil : row.validFrom, valid_until: row.validUntil.isEmpty ? nil : row.validUntil))
    }

    struct AvailabilityInputError: Error {
        var message: String
    }

    /// The document of the editor's rows, or a message naming the row at fault.
    static func document(_ weekly: [WindowRow], _ exceptions: [ExceptionRow]) -> Result<AvailabilityDocument, AvailabilityInputError> {
        var windows: [AvailabilityDocument.Window] = []
        for (i, row) in weekly.enumerated() {
            switch window(row, label: "Weekly window \(i + 1)") {
            case .success(let w): windows.append(w)
            case .failure(let e): return .failure(e)
            }
        }
        var dates: [String] = []
        var byDate: [String: [AvailabilityDocument.Window]] = [:]
        for (i, row) in exceptions.enumerated() {
            if byDate[row.date] == nil {
                dates.append(row.date)
                byDate[row.date] = []
            }
            if row.start.isEmpty && row.end.isEmpty { continue }  // away all day
            let weeklyShape = WindowRow(weekday: "", start: row.start, end: row.end, slot: row.slot, modalities: row.modalities)
            switch window(weeklyShape, label: "Exception \(i + 1)") {
            case .success(var w):
                w.weekday = nil
                byDate[row.date, default: []].append(w)
            case .failure(let e): return .failure(e)
            }
        }
        let list = dates.map { AvailabilityDocument.Exception(date: $0, windows: byDate[$0] ?? []) }
        return .success(AvailabilityDocument(weekly: windows, exceptions: list))
    }

    /// Which row a validation failure comes from, checking each row on its own (pure validation,
    /// no store): "Weekly window 2: the end must be after the start."
    static func locate(_ error: ClinicError, _ document: AvailabilityDocument) -> String {
        let text = ClinicHTML.sentence(error.message)
        for (i, w) in document.weekly.enumerated() {
            do {
                _ = try AvailabilityDocument(weekly: [w], exceptions: nil).plan(holidays: [])
            } catch {
                return "Weekly window \(i + 1): \(ClinicHTML.sentence(error.message))"
            }
        }
        for e in document.exceptions ?? [] {
            do {
                _ = try AvailabilityDocument(weekly: [], exceptions: [e]).plan(holidays: [])
            } catch {
                return "Exception on \(e.date): \(ClinicHTML.sentence(error.message))"
            }
        }
        return text
    }

    @Sendable func availabilityPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            guard let target = try await availabilityTarget(context, practice: Self.query(request, "practice"), clinician: Self.query(request, "clinician"))
            else { return noAvailabilityTarget(context) }
            let plan = try await clinic.availability(clinician: target.clinician.account, practice: target.practice.practice.id, req(context))
            let (weekly, exceptions) = Self.rows(AvailabilityDocument(plan))
            return availabilityHTML(context, target, weekly: weekly, exceptions: exceptions, notice: Self.notice(request))
        }
    }

    func noAvailabilityTarget(_ c: SignedInPageContext) -> Response {
        switch c.auth.principal {
        case .clinician, .practiceAdmin:
            render(
                c, title: "Availability",
                body: "<h1>Availability</h1><p>You are not a clinician (or, for practice admins, no practice of yours has a clinician) yet. Ask your practice to add you.</p>")
        default:
            notFound(c)
        }
    }

    func weeklyRow(_ i: String, number: String, _ row: WindowRow, existing: Bool) -> String {
        let days: [(value: String, label: String)] =
            [("", "Choose a day")] + Weekday.allCases.map { ($0.name, $0.name.prefix(1).uppercased() + $0.name.dropFirst()) }
        let modalities = ClinicHTML.modalities.map { m in
            ClinicHTML.checkbox("w\(i)-\(m.rawValue)", name: "w\(i)_\(m.rawValue)", label: ClinicHTML.modality(m), checked: row.modalities.contains(m.rawValue))
        }.joined()
        let remove = existing ? ClinicHTML.checkbox("w\(i)-remove", name: "w\(i)_remove", label: "Remove this window", checked: false) : ""
        return """
            <fieldset class="row" id="w\(i)"><legend>Weekly window \(number)</legend>
            <div class="grid">
            \(ClinicHTML.select("w\(i)-weekday", name: "w\(i)_weekday", label: "Day", days, selected: row.weekday))
            \(input("w\(i)-start", name: "w\(i)_start", label: "Start", type: "time", value: row.start))
            \(input("w\(i)-end", name: "w\(i)_end", label: "End", type: "time", value: row.end))
            \(input("w\(i)-slot", name: "w\(i)_slot", label: "Slot length (minutes)", type: "number", value: row.slot, extra: #" min="5" max="120" step="5""#))
            </div>
            <fieldset class="modes"><legend>Ways to meet</legend>\(modalities)</fieldset>
            <details\(row.validFrom.isEmpty && row.validUntil.isEmpty ? "" : " open")><summary>Only between dates</summary><div class="grid">
            \(input("w\(i)-valid_from", name: "w\(i)_valid_from", label: "From date (optional)", type: "date", value: row.validFrom))
            \(input("w\(i)-valid_until", name: "w\(i)_valid_until", label: "Until date (optional)", type: "date", value: row.validUntil))
            </div></details>
            \(remove)
            </fieldset>
            """
    }

    func exceptionRow(_ i: String, number: String, _ row: ExceptionRow, existing: Bool) -> String {
        let modalities = ClinicHTML.modalities.map { m in
            ClinicHTML.checkbox("x\(i)-\(m.rawValue)", name: "x\(i)_\(m.rawValue)", label: ClinicHTML.modality(m), checked: row.modalities.contains(m.rawValue))
        }.joined()
        let remove = existing ? ClinicHTML.checkbox("x\(i)-remove", name: "x\(i)_remove", label: "Remove this exception", checked: false) : ""
        return """
            <fieldset class="row" id="x\(i)"><legend>Exception \(number)</legend>
            <div class="grid">
            \(input("x\(i)-date", name: "x\(i)_date", label: "Date", type: "date", value: row.date))
            \(input("x\(i)-start", name: "x\(i)_start", label: "Start", type: "time", value: row.start))
            \(input("x\(i)-end", name: "x\(i)_end", label: "End", type: "time", value: row.end))
            \(input("x\(i)-slot", name: "x\(i)_slot", label: "Slot length (minutes)", type: "number", value: row.slot, extra: #" min="5" max="120" step="5""#))
            </div>
            <fieldset class="modes"><legend>Ways to meet</legend>\(modalities)</fieldset>
            \(remove)
            </fieldset>
            """
    }

    func input(_ id: String, name: String, label: String, type: String, value: String, extra: String = "") -> String {
        #"<div class="field"><label for="\#(id)">\#(esc(label))</label><input id="\#(id)" name="\#(name)" type="\#(type)" value="\#(esc(value))"\#(extra)></div>"#
    }

    func availabilityHTML(
        _ c: SignedInPageContext, _ t: AvailabilityTarget, weekly: [WindowRow], exceptions: [ExceptionRow], notice: String? = nil,
        error: String? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        let practice = t.practice.practice
        var chooser = ""
        let isAdmin: Bool = if case .practiceAdmin = c.auth.principal { true } else { false }
        if t.practices.count > 1 || isAdmin {
            let practices = t.practices.map { ($0.practice.id.description, $0.practice.name) }
            var fields = ClinicHTML.select("practice", label: "Practice", practices, selected: practice.id.description)
            if isAdmin {
                let clinicians = t.practice.members.filter { $0.role == .clinician }.map { ($0.account.description, $0.name.display) }
                fields += ClinicHTML.select("clinician", label: "Clinician", clinicians, selected: t.clinician.account.description)
            }
            chooser = #"<form method="get" action="/clinic/availability" class="actions">\#(fields)<button type="submit" class="secondary">Show</button></form>"#
        }
        let blankWeekly = 2
        let blankExceptions = 2
        var weeklyRows = weekly.enumerated().map { weeklyRow(String($0), number: String($0 + 1), $1, existing: true) }
        for i in weekly.count..<(weekly.count + blankWeekly) {
            weeklyRows.append(weeklyRow(String(i), number: String(i + 1), WindowRow(), existing: false))
        }
        var exceptionRows = exceptions.enumerated().map { exceptionRow(String($0), number: String($0 + 1), $1, existing: true) }
        for i in exceptions.count..<(exceptions.count + blankExceptions) {
            exceptionRows.append(exceptionRow(String(i), number: String(i + 1), ExceptionRow(), existing: false))
        }
        let holidays = t.practice.holidays.sorted().map(\.description)
        let who = isAdmin ? esc(t.clinician.name.display) + "’s" : "Your"
        let body = """
            <h1>Availability</h1>
            \(Layout.notice(notice))\(Layout.alert(error))
            <p>\(who) hours at <strong>\(esc(practice.name))</strong>, on the practice's clock (\(esc(practice.zone.identifier))). \
            Patients book the slots these windows make; bookings already made stay when the hours change.</p>
            \(chooser)
            <form method="post" action="/clinic/availability" id="availability-form" novalidate>
            \(Layout.csrfField(c.csrfToken))
            <input type="hidden" name="practice_id" value="\(practice.id)">
            <input type="hidden" name="clinician_id" value="\(t.clinician.account)">
            <h2>Weekly hours</h2>
            <p class="hint">Leave a window's times empty to ignore it. Windows on the same day must not overlap.</p>
            <div id="w-rows" data-next="\(weekly.count + blankWeekly)">\(weeklyRows.joined(separator: "\n"))</div>
            <template id="w-template">\(weeklyRow("__i__", number: "__n__", WindowRow(), existing: false))</template>
            <p><button type="button" class="secondary" data-add-row="w" hidden>Add another weekly window</button></p>
            <h2>Exceptions</h2>
            <p class="hint">On a date with an exception, its windows replace the weekly hours. Give a date without times to be away all day.</p>
            <div id="x-rows" data-next="\(exceptions.count + blankExceptions)">\(exceptionRows.joined(separator: "\n"))</div>
            <template id="x-template">\(exceptionRow("__i__", number: "__n__", ExceptionRow(), existing: false))</template>
            <p><button type="button" class="secondary" data-add-row="x" hidden>Add another exception</button></p>
            <p class="muted">Practice holidays (no slots at all): \(holidays.isEmpty ? "none" : esc(holidays.joined(separator: ", "))).</p>
            <button type="submit">Save availability</button>
            </form>
            """
        return render(c, title: "Availability", body: body, scripts: ["/static/availability.js"], wide: true, status: status)
    }

    @Sendable func availabilitySubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            guard let target = try await availabilityTarget(context, practice: form["practice_id"], clinician: form["clinician_id"]),
                target.practice.practice.id.description == form["practice_id"], target.clinician.account.description == form["clinician_id"]
            else { return notFound(context) }
            let (weekly, exceptions) = Self.rows(form)
            func fail(_ message: String, _ status: HTTPResponse.Status) -> Response {
                availabilityHTML(context, target, weekly: weekly, exceptions: exceptions, error: message, status: status)
            }
            let document: AvailabilityDocument
            switch Self.document(weekly, exceptions) {
            case .success(let d): document = d
            case .failure(let e): return fail(e.message, .unprocessableContent)
            }
            do {
                _ = try await clinic.setAvailability(
                    clinician: target.clinician.account, practice: target.practice.practice.id, document: document, req(context))
            } catch let e as ClinicError where e.code == .validation {
                return fail(Self.locate(e, document), .unprocessableContent)
            }
            var location = "/clinic/availability?notice=availability-saved&practice=\(target.practice.practice.id)"
            if case .practiceAdmin = context.auth.principal { location += "&clinician=\(target.clinician.account)" }
            return Self.redirect(location)
        }
    }

    // MARK: - day list

    @Sendable func dayPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            guard case .clinician(let me, _) = context.auth.principal else { return Self.redirect(ClinicNav.home(for: context.auth.principal)) }
            let r = req(context)
            let zone = try await memberPractices(r, account: me, role: .clinician).first?.practice.zone ?? Self.utc
            let (date, error) = Self.chosenDate(request, zone: zone)
            let (from, to) = Self.around(date)
            let list = try await clinic.consultations(from: from, to: to, assignedOnly: true, limit: 500, r)
                .filter { ZonedFormat.localDate($0.record.start, in: $0.zone.timeZone) == date }
                .sorted { $0.record.start < $1.record.start }
            let items = list.map { v in
                let rec = v.record
                return """
                    <li data-consultation="\(rec.id)"><p><strong>\(ClinicHTML.time(rec.start, v.zone))</strong> · \
                    <a href="/clinic/consultations/\(rec.id)">\(esc(v.patientName.display))</a></p>
                    <p>\(esc(ClinicHTML.modality(rec.modality))) · <span class="badge">\(esc(ClinicHTML.status(rec.status)))</span> · \(esc(v.practiceName))</p></li>
                    """
            }.joined()
            let today = ZonedFormat.localDate(Date(), in: zone?.timeZone ?? TimeZone(secondsFromGMT: 0)!)
            let body = """
                <h1>\(date == today ? "Today" : "Day list")</h1>
                \(Layout.alert(error))
                \(Self.dayPicker(action: "/clinic/day", date: date))
                <h2>\(esc(Self.dayTitle(date)))</h2>
                \(list.isEmpty ? "<p>No consultations on this day.</p>" : #"<ol class="cards" id="day-list">\#(items)</ol>"#)
                <p><a href="/clinic/waiting-room">Waiting room</a></p>
                """
            return render(context, title: "Day list", body: body)
        }
    }

    // MARK: - waiting room

    static func waitingItem(_ v: ConsultationView) -> String {
        let rec = v.record
        let status = rec.status == .checkedIn ? "Waiting" : ClinicHTML.status(rec.status)
        return """
            <li data-consultation="\(rec.id)"><a href="/clinic/consultations/\(rec.id)">\(esc(v.patientName.display))</a> · \
            \(ClinicHTML.time(rec.start, v.zone)) · \(esc(ClinicHTML.modality(rec.modality))) · <span class="badge">\(esc(status))</span></li>
            """
    }

    @Sendable func waitingRoomPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            guard case .clinician = context.auth.principal else { return Self.redirect(ClinicNav.home(for: context.auth.principal)) }
            let list = try await clinic.waitingRoom(req(context)).sorted { $0.record.start < $1.record.start }
            let body = """
                <h1>Waiting room</h1>
                <p>Patients who have checked in for a consultation with you.</p>
                <p id="live-status" role="status" class="muted">Reload the page to see new arrivals.</p>
                <div id="waiting-room">
                <ul class="cards" id="waiting-list"\(list.isEmpty ? " hidden" : "")>\(list.map(Self.waitingItem).joined())</ul>
                <p id="waiting-empty"\(list.isEmpty ? "" : " hidden")>Nobody is waiting.</p>
                </div>
                <p><a href="/clinic/day">Day list</a></p>
                """
            return render(context, title: "Waiting room", body: body, scripts: ["/static/waiting-room.js"])
        }
    }

    // MARK: - practices

    @Sendable func practicesPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            if case .patient = context.auth.principal { return Self.redirect("/clinic/practice") }
            return try await practicesHTML(context, notice: Self.notice(request))
        }
    }

    func practicesHTML(
        _ c: SignedInPageContext, notice: String? = nil, error: String? = nil, field: String? = nil, form: FormData? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let list = try await clinic.practices(req(c)).sorted { $0.name < $1.name }
        let rows = list.map { p in
            """
            <tr><td><a href="/clinic/practices/\(p.id)">\(esc(p.name))</a></td><td>\(esc(p.region))</td><td>\(esc(p.country.value))</td>\
            <td>\(esc(p.zone.identifier))</td></tr>
            """
        }.joined()
        var create = ""
        if case .admin = c.auth.principal {
            func err(_ name: String) -> String? { field == name ? error : nil }
            create = """
                <h2>Open a practice</h2>
                <form method="post" action="/clinic/practices" novalidate>
                \(Layout.csrfField(c.csrfToken))
                \(Layout.field("name", label: "Name", value: form?.string("name") ?? "", error: err("name")))
                \(Layout.field("country", label: "Country", value: form?.string("country") ?? "", hint: "Two letters, like GB or CA.", error: err("country")))
                \(Layout.field("region", label: "Region", value: form?.string("region") ?? "", hint: "Like England or Ontario.", error: err("region")))
                \(Layout.field("time_zone", label: "Time zone", value: form?.string("time_zone") ?? "", hint: "Region and city, like Europe/London.", error: err("time_zone")))
                <button type="submit">Open practice</button>
                </form>
                """
        }
        let body = """
            <h1>Practices</h1>
            \(Layout.notice(notice))\(Layout.alert(error))
            <div class="table"><table id="practices"><thead><tr><th scope="col">Name</th><th scope="col">Region</th><th scope="col">Country</th>\
            <th scope="col">Time zone</th></tr></thead><tbody>\(rows)</tbody></table></div>
            \(create)
            """
        return render(c, title: "Practices", body: body, wide: true, status: status)
    }

    @Sendable func createPracticeSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            do {
                let p = try await clinic.createPractice(
                    name: form.string("name"), country: form.string("country"), region: form.string("region"), zone: form.string("time_zone"),
                    req(context))
                return Self.redirect("/clinic/practices/\(p.id)?notice=practice-created")
            } catch let e as ClinicError where e.code == .validation {
                let field = e.validation?.field == "zone" ? "time_zone" : e.validation?.field
                return try await practicesHTML(
                    context, error: ClinicHTML.sentence(e.message), field: field, form: form, status: .unprocessableContent)
            }
        }
    }

    /// Whether the caller manages this practice: operators, and its own practice admins.
    static func manages(_ principal: Principal, _ d: PracticeDetail) -> Bool {
        switch principal {
        case .admin: true
        case .practiceAdmin(let me): d.members.contains { $0.account == me && $0.role == .admin }
        default: false
        }
    }

    @Sendable func practicePage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            let id: Practice.ID = try Parse.pathID(context, "practiceID")
            return try await practiceHTML(context, id, notice: Self.notice(request))
        }
    }

    func practiceHTML(
        _ c: SignedInPageContext, _ id: Practice.ID, notice: String? = nil, error: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let d = try await clinic.practice(id, req(c))
        let p = d.practice
        let manage = Self.manages(c.auth.principal, d)
        let isPracticeAdmin: Bool = if case .practiceAdmin = c.auth.principal { manage } else { false }
        let names = Dictionary(d.members.map { ($0.account, $0.name.display) }, uniquingKeysWith: { a, _ in a })
        let members = d.members.sorted { ($0.role.rawValue, $0.name.display) < ($1.role.rawValue, $1.name.display) }.map { m in
            let availability =
                isPracticeAdmin && m.role == .clinician
                ? #" <a href="/clinic/availability?practice=\#(p.id)&amp;clinician=\#(m.account)">Availability</a>"# : ""
            return """
                <tr><td>\(esc(m.name.display))\(availability)</td><td>\(m.role == .admin ? "Practice admin" : "Clinician")</td>\
                <td>\(m.staffRole.map { esc(ClinicHTML.role($0)) } ?? "")</td>\(manage ? "<td><code>\(m.account)</code></td>" : "")</tr>
                """
        }.joined()
        let teams = d.careTeams.sorted { $0.name < $1.name }.map { t in
            "<li><strong>\(esc(t.name))</strong>: \(esc(t.members.compactMap { names[$0] }.sorted().joined(separator: ", ")))</li>"
        }.joined()
        let holidays = d.holidays.sorted()
        var forms = ["", "", ""]
        if manage {
            let roles: [(value: String, label: String)] = [("clinician", "Clinician"), ("admin", "Practice admin")]
            forms[0] = """
                <h3>Add a member</h3>
                <form method="post" action="/clinic/practices/\(p.id)/members" novalidate>\(Layout.csrfField(c.csrfToken))
                \(Layout.field("account_id", label: "Account ID", hint: "The staff member finds it on their account page."))
                \(ClinicHTML.select("role", label: "Role at this practice", roles, selected: "clinician"))
                <button type="submit">Add member</button></form>
                """
            let clinicians = d.members.filter { $0.role == .clinician }
            let boxes = clinicians.map { ClinicHTML.checkbox("member-\($0.account)", name: "member_\($0.account)", label: $0.name.display, checked: false) }
                .joined()
            forms[1] =
                clinicians.isEmpty
                ? "<p>Add clinicians before making a care team.</p>"
                : """
                    <h3>Make a care team</h3>
                    <form method="post" action="/clinic/practices/\(p.id)/care-teams" novalidate>\(Layout.csrfField(c.csrfToken))
                    \(Layout.field("team_name", label: "Team name"))
                    <fieldset><legend>Clinicians</legend>\(boxes)</fieldset>
                    <button type="submit">Create care team</button></form>
                    """
            forms[2] = """
                <form method="post" action="/clinic/practices/\(p.id)/holidays" novalidate>\(Layout.csrfField(c.csrfToken))
                \(ClinicHTML.textarea("holidays", label: "Holidays", value: holidays.map(\.description).joined(separator: "\n"), rows: 4,
                    hint: "One date per line, as YYYY-MM-DD. No slots are offered on these days."))
                <button type="submit">Save holidays</button></form>
                """
        }
        let book = isPracticeAdmin ? #"<p><a href="/clinic/practices/\#(p.id)/appointments">Appointment book</a></p>"# : ""
        let body = """
            <h1>\(esc(p.name))</h1>
            \(Layout.notice(notice))\(Layout.alert(error))
            <dl><dt>Country</dt><dd>\(esc(p.country.value))</dd><dt>Region</dt><dd>\(esc(p.region))</dd><dt>Time zone</dt><dd>\(esc(p.zone.identifier))</dd></dl>
            \(book)
            <h2>Members</h2>
            <div class="table"><table id="members"><thead><tr><th scope="col">Name</th><th scope="col">At this practice</th><th scope="col">Role</th>\
            \(manage ? #"<th scope="col">Account ID</th>"# : "")</tr></thead><tbody>\(members)</tbody></table></div>
            \(forms[0])
            <h2>Care teams</h2>
            \(teams.isEmpty ? "<p>No care teams yet.</p>" : #"<ul id="care-teams">\#(teams)</ul>"#)
            \(forms[1])
            <h2>Holidays</h2>
            \(holidays.isEmpty ? "<p>No holidays.</p>" : #"<ul id="holidays">\#(holidays.map { "<li>\($0)</li>" }.joined())</ul>"#)
            \(forms[2])
            <p><a href="/clinic/practices">All practices</a></p>
            """
        return render(c, title: p.name, body: body, wide: true, status: status)
    }

    @Sendable func addMemberSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            let id: Practice.ID = try Parse.pathID(context, "practiceID")
            guard let account = form["account_id"].flatMap({ Account.ID(string: $0.trimmingCharacters(in: .whitespaces)) }) else {
                return try await practiceHTML(context, id, error: "Enter the account ID: 36 letters, digits and dashes.", status: .unprocessableContent)
            }
            guard let role = form["role"].flatMap(PracticeRole.init(rawValue:)) else {
                return try await practiceHTML(context, id, error: "Choose clinician or practice admin.", status: .unprocessableContent)
            }
            do {
                try await clinic.addMember(practice: id, account: account, role: role, req(context))
            } catch let e as ClinicError {
                let message = e.code == .notFound ? "There is no staff account with this ID." : ClinicHTML.sentence(e.message)
                return try await practiceHTML(context, id, error: message, status: e.problem.status)
            }
            return Self.redirect("/clinic/practices/\(id)?notice=member-added")
        }
    }

    @Sendable func createCareTeamSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            let id: Practice.ID = try Parse.pathID(context, "practiceID")
            let members = form.values.keys.filter { $0.hasPrefix("member_") }.compactMap { Account.ID(string: String($0.dropFirst(7))) }
            do {
                _ = try await clinic.createCareTeam(practice: id, name: form.string("team_name"), members: members, req(context))
            } catch let e as ClinicError where e.code != .notFound {
                let message = e.validation?.field == "name" ? "Team name: \(ClinicHTML.sentence(e.message))" : ClinicHTML.sentence(e.message)
                return try await practiceHTML(context, id, error: message, status: e.problem.status)
            }
            return Self.redirect("/clinic/practices/\(id)?notice=care-team-created")
        }
    }

    @Sendable func holidaysSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            let id: Practice.ID = try Parse.pathID(context, "practiceID")
            let dates = form.string("holidays").split(whereSeparator: { $0.isWhitespace || $0 == "," }).map(String.init)
            do {
                try await clinic.setHolidays(practice: id, dates: dates, req(context))
            } catch let e as ClinicError where e.code != .notFound {
                return try await practiceHTML(context, id, error: ClinicHTML.sentence(e.message), status: e.problem.status)
            }
            return Self.redirect("/clinic/practices/\(id)?notice=holidays-saved")
        }
    }

    // MARK: - appointment book (practice admins: metadata only)

    @Sendable func appointmentsPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await guarded(context) {
            guard case .practiceAdmin = context.auth.principal else { return notFound(context) }
            let id: Practice.ID = try Parse.pathID(context, "practiceID")
            let r = req(context)
            let d = try await clinic.practice(id, r)
            guard Self.manages(context.auth.principal, d) else { return notFound(context) }
            let zone = d.practice.zone
            let (date, error) = Self.chosenDate(request, zone: zone)
            let (from, to) = Self.around(date)
            let list = try await clinic.consultations(from: from, to: to, limit: 500, r)
                .filter { $0.record.practice == id && ZonedFormat.localDate($0.record.start, in: zone.timeZone) == date }
                .sorted { ($0.record.start, $0.clinicianName.display) < ($1.record.start, $1.clinicianName.display) }
            // INVARIANT: no patient name or identifier on this page: practice admins see metadata only.
            let rows = list.map { v in
                let rec = v.record
                return """
                    <tr data-consultation="\(rec.id)"><td>\(ClinicHTML.time(rec.start, v.zone))</td><td>\(esc(v.clinicianName.display))</td>\
                    <td>\(esc(ClinicHTML.modality(rec.modality)))</td><td>\(esc(ClinicHTML.status(rec.status)))</td></tr>
                    """
            }.joined()
            let body = """
                <h1>Appointment book</h1>
                <p>\(esc(d.practice.name)): times and status only. Patients' names and clinical details are not shown here.</p>
                \(Layout.alert(error))
                \(Self.dayPicker(action: "/clinic/practices/\(id)/appointments", date: date))
                <h2>\(esc(Self.dayTitle(date)))</h2>
                \(list.isEmpty ? "<p>No appointments on this day.</p>" : """
                    <div class="table"><table id="appointments"><thead><tr><th scope="col">Time</th><th scope="col">Clinician</th>\
                    <th scope="col">How</th><th scope="col">Status</th></tr></thead><tbody>\(rows)</tbody></table></div>
                    """)
                <p><a href="/clinic/practices/\(id)">Practice</a></p>
                """
            return render(context, title: "Appointment book", body: body, wide: true)
        }
    }
}

// Allergies, current medicines, prescriptions and documents on a consultation page. Only
// clinicians and patients ever reach these calls: practice admins and operators never do.
extension ClinicWebController {
    /// What a clinical-record form held when the service refused it (so nothing typed is lost).
    struct RecordDraft {
        enum Form: String { case allergy, medicine, prescription, document }

        var form: Form
        var values: FormData
        var message: String
        /// The form field at fault (its id), if the service named one.
        var field: String?
        var allergyWarning = false

        /// Field ids carry their form's prefix; the service names the bare field.
        static let prefixes: [Form: String] = [.allergy: "allergy_", .medicine: "medicine_", .prescription: "rx_", .document: "doc_"]
    }

    /// Runs a read that the gate may refuse for this viewer; a refusal shows nothing.
    func ifAllowed<T>(_ body: () async throws -> T) async throws -> T? {
        do {
            return try await body()
        } catch is AccessDenied {
            return nil
        } catch let e as ClinicError where e.code == .notFound {
            return nil
        }
    }

    static let started: Set<ConsultationStatus> = [.inProgress, .ended, .documented]

    static func routeLabel(_ route: String) -> String { route.prefix(1).uppercased() + route.dropFirst() }

    /// Routes in form order: the common ones first.
    static var routeChoices: [(value: String, label: String)] {
        let common = ["oral", "topical", "inhaled"].filter(ClinicService.routes.contains)
        let rest = ClinicService.routes.subtracting(common).sorted()
        return (common + rest).map { ($0, routeLabel($0)) }
    }

    static let kindChoices: [(value: String, label: String)] = [
        (DocumentKind.referral.rawValue, "Referral"), (DocumentKind.fitNote.rawValue, "Fit note"), (DocumentKind.letter.rawValue, "Letter"),
    ]

    static let urgencyChoices: [(value: String, label: String)] = [
        ("routine", "Routine"), ("urgent", "Urgent"), ("two-week-wait", "Two-week wait (suspected cancer)"),
    ]

    static func urgencyLabel(_ raw: String) -> String { urgencyChoices.first { $0.value == raw }?.label ?? raw }

    // MARK: lists (shared by clinicians and patients)

    static func allergyList(_ list: [AllergyRecord]) -> String {
        guard !list.isEmpty else { return #"<p id="no-allergies">No allergies recorded.</p>"# }
        let items = list.map { a in
            let reaction = a.reaction.isEmpty ? "" : " · reaction: \(esc(a.reaction))"
            return #"<li data-allergy="\#(esc(a.id))"><strong>\#(esc(a.substance))</strong>\#(reaction)</li>"#
        }.joined()
        return #"<ul id="allergies">\#(items)</ul>"#
    }

    static func medicineList(_ list: [MedicineRecord]) -> String {
        guard !list.isEmpty else { return #"<p id="no-medicines">No current medicines recorded.</p>"# }
        let items = list.map { m in
            #"<li data-medicine="\#(esc(m.id))"><strong>\#(esc(m.name))</strong>\#(m.dose.isEmpty ? "" : " · \(esc(m.dose))")</li>"#
        }.joined()
        return #"<ul id="medicines">\#(items)</ul>"#
    }

    /// Prescriptions as cards; `when` renders an instant, `link` the consultation link (records page).
    static func prescriptionList(
        _ list: [PrescriptionRecord], id: String, when: (Date) -> String, link: Bool = false, cancel: ((PrescriptionRecord) -> String)? = nil
    ) -> String {
        guard !list.isEmpty else { return #"<p id="\#(id)-empty">No prescriptions.</p>"# }
        let items = list.map { p in
            let override = p.allergyOverride.map {
                #"<p class="error">Issued although the patient has a recorded allergy: \#(esc($0)). The prescriber checked it.</p>"#
            } ?? ""
            let more = link ? #" · <a href="/clinic/consultations/\#(p.consultation)">Consultation</a>"# : ""
            return """
                <li data-prescription="\(esc(p.id))"><p><strong>\(esc(p.medicine))</strong> \(esc(p.dose)) · \(esc(routeLabel(p.route))) · \
                \(esc(p.frequency)) · quantity \(p.quantity)</p>
                <p>Pharmacy: \(esc(p.pharmacy)) · <span class="badge">\(esc(routeLabel(p.status)))</span> · issued \(when(p.issuedAt))\(more)</p>\(override)\
                \(p.cancellationReason.map { "<p>Cancelled: \(esc($0))</p>" } ?? "")\(p.status == "issued" ? cancel?(p) ?? "" : "")</li>
                """
        }.joined()
        return #"<ul class="cards" id="\#(id)">\#(items)</ul>"#
    }

    static func documentList(_ list: [DocumentRecord], id: String, when: (Date) -> String, link: Bool = false) -> String {
        guard !list.isEmpty else { return #"<p id="\#(id)-empty">No referrals, fit notes or letters.</p>"# }
        let items = list.map { d in
            let heading: String
            let bodyLabel: String
            switch d.kind {
            case .referral:
                heading = "Referral to \(esc(d.recipient)) · \(esc(urgencyLabel(d.urgency)))"
                bodyLabel = "Reason"
            case .fitNote:
                let period = [d.validFrom, d.validUntil].compactMap { $0.map { dayTitle($0) } }.joined(separator: " to ")
                heading = "Fit note: not fit for work, \(esc(period))"
                bodyLabel = "Condition"
            case .letter:
                heading = "Letter to \(esc(d.recipient))"
                bodyLabel = "Text"
            }
            let more = link ? #" · <a href="/clinic/consultations/\#(d.consultation)">Consultation</a>"# : ""
            return """
                <li data-document="\(esc(d.id))" data-kind="\(esc(d.kind.rawValue))"><p><strong>\(heading)</strong></p>
                <p class="muted">Issued \(when(d.issuedAt))\(more)</p>
                <p>\(bodyLabel):</p><div class="note-section">\(esc(d.body))</div></li>
                """
        }.joined()
        return #"<ul class="cards" id="\#(id)">\#(items)</ul>"#
    }

    // MARK: the clinician's sections

    /// The sections for a clinician's consultation page: editable for the consultation's own
    /// clinician once it has started, otherwise read-only (whatever the gate allows).
    func clinicalRecordSections(_ view: ConsultationView, _ r: ClinicRequest, csrf: String, own: Bool, draft: RecordDraft?) async throws -> String {
        let rec = view.record
        let editable = own && Self.started.contains(rec.status)
        let base = "/clinic/consultations/\(rec.id)"
        func when(_ d: Date) -> String { ClinicHTML.time(d, view.zone) }
        func draftFor(_ form: RecordDraft.Form) -> RecordDraft? { draft?.form == form ? draft : nil }
        func value(_ form: RecordDraft.Form, _ id: String, _ fallback: String = "") -> String {
            draftFor(form)?.values[id] ?? fallback
        }
        func err(_ form: RecordDraft.Form, _ id: String) -> String? {
            guard let d = draftFor(form), d.field == id else { return nil }
            return "Check this field."
        }
        func alert(_ form: RecordDraft.Form) -> String {
            guard let d = draftFor(form), !d.allergyWarning else { return "" }
            return Layout.alert(d.message)
        }
        var out = ""

        // Allergies and current medicines.
        if let background = try await ifAllowed({ try await clinic.background(rec.id, r) }) {
            var forms = ""
            if editable {
                forms = """
                    <h3>Record an allergy</h3>
                    <form method="post" action="\(base)/allergies#background" id="allergy-form" novalidate>
                    \(Layout.csrfField(csrf))\(alert(.allergy))
                    <div class="grid">
                    \(Layout.field("allergy_substance", label: "Substance", value: value(.allergy, "allergy_substance"), error: err(.allergy, "allergy_substance")))
                    \(Layout.field("allergy_reaction", label: "Reaction (optional)", value: value(.allergy, "allergy_reaction"), required: false, error: err(.allergy, "allergy_reaction")))
                    </div>
                    <button type="submit">Record allergy</button>
                    </form>
                    <h3>Record a current medicine</h3>
                    <form method="post" action="\(base)/medicines#background" id="medicine-form" novalidate>
                    \(Layout.csrfField(csrf))\(alert(.medicine))
                    <div class="grid">
                    \(Layout.field("medicine_name", label: "Medicine", value: value(.medicine, "medicine_name"), error: err(.medicine, "medicine_name")))
                    \(Layout.field("medicine_dose", label: "Dose (optional)", value: value(.medicine, "medicine_dose"), required: false, error: err(.medicine, "medicine_dose")))
                    </div>
                    <button type="submit">Record medicine</button>
                    </form>
                    """
            }
            out += """
                <section id="background" aria-labelledby="background-h"><h2 id="background-h">Allergies and current medicines</h2>
                <h3>Allergies</h3>\(Self.allergyList(background.allergies))
                <h3>Current medicines</h3>\(Self.medicineList(background.medicines))
                \(forms)</section>
                """
        }

        // Prescriptions.
        if let prescriptions = try await ifAllowed({ try await clinic.prescriptions(rec.id, r) }) {
            var form = ""
            if editable {
                let d = draftFor(.prescription)
                let warning =
                    d?.allergyWarning == true
                    ? """
                        <div role="alert" class="error" id="allergy-warning"><p><strong>Allergy warning: nothing was issued.</strong></p>\
                        <p>\(esc(d?.message ?? ""))</p></div>
                        \(ClinicHTML.checkbox("rx_acknowledge", label: "I have checked the allergy; prescribe anyway", checked: false, value: "yes"))
                        """
                    : alert(.prescription)
                form = """
                    <h3>Prescribe</h3>
                    <form method="post" action="\(base)/prescriptions#prescriptions" id="prescription-form" novalidate>
                    \(Layout.csrfField(csrf))
                    <div class="grid">
                    \(Layout.field("rx_medicine", label: "Medicine", value: value(.prescription, "rx_medicine"), error: err(.prescription, "rx_medicine")))
                    \(Layout.field("rx_dose", label: "Dose", value: value(.prescription, "rx_dose"), hint: "For example 500 mg.", error: err(.prescription, "rx_dose")))
                    \(ClinicHTML.select("rx_route", label: "Route", Self.routeChoices, selected: value(.prescription, "rx_route", "oral")))
                    \(Layout.field("rx_frequency", label: "Frequency", value: value(.prescription, "rx_frequency"), hint: "For example three times a day.", error: err(.prescription, "rx_frequency")))
                    \(Layout.field("rx_quantity", label: "Quantity", type: "number", value: value(.prescription, "rx_quantity"), error: err(.prescription, "rx_quantity")))
                    \(Layout.field("rx_pharmacy", label: "Pharmacy", value: value(.prescription, "rx_pharmacy"), error: err(.prescription, "rx_pharmacy")))
                    </div>
                    \(warning)
                    <button type="submit">Prescribe</button>
                    </form>
                    """
            }
            out += """
                <section id="prescriptions" aria-labelledby="prescriptions-h"><h2 id="prescriptions-h">Prescriptions</h2>
                \(Self.prescriptionList(prescriptions, id: "prescription-list", when: when, cancel: editable ? { p in
                    """
                    <form method="post" action="\(base)/prescriptions/cancel#prescriptions" class="inline">\(Layout.csrfField(csrf))\
                    <input type="hidden" name="prescription_id" value="\(esc(p.id))">\
                    \(Layout.field("cancel_reason", label: "Reason to cancel", value: "", required: false))\
                    <button type="submit" class="secondary">Cancel prescription</button></form>
                    """
                } : nil))
                \(form)</section>
                """
        }

        // Referrals, fit notes and letters.
        if let documents = try await ifAllowed({ try await clinic.documents(rec.id, r) }) {
            var form = ""
            if editable {
                form = """
                    <h3>Issue a document</h3>
                    <form method="post" action="\(base)/documents#documents" id="document-form" novalidate>
                    \(Layout.csrfField(csrf))\(alert(.document))
                    \(ClinicHTML.select("doc_kind", label: "Kind", Self.kindChoices, selected: value(.document, "doc_kind", "referral")))
                    <div class="grid">
                    \(Layout.field("doc_recipient", label: "Recipient (referral or letter)", value: value(.document, "doc_recipient"), required: false, hint: "The service, clinician or person it goes to.", error: err(.document, "doc_recipient")))
                    \(ClinicHTML.select("doc_urgency", label: "Urgency (referral)", Self.urgencyChoices, selected: value(.document, "doc_urgency", "routine")))
                    \(Layout.field("doc_valid_from", label: "Fit note from (fit note)", type: "date", value: value(.document, "doc_valid_from"), required: false, error: err(.document, "doc_valid_from")))
                    \(Layout.field("doc_valid_until", label: "Fit note until (fit note)", type: "date", value: value(.document, "doc_valid_until"), required: false, hint: "At most 3 months after the start.", error: err(.document, "doc_valid_until")))
                    </div>
                    \(ClinicHTML.textarea("doc_body", label: "Reason for referral, condition (fit note) or text of the letter", value: value(.document, "doc_body"), rows: 5, error: err(.document, "doc_body")))
                    <button type="submit">Issue document</button>
                    </form>
                    """
            }
            out += """
                <section id="documents" aria-labelledby="documents-h"><h2 id="documents-h">Referrals, fit notes and letters</h2>
                \(Self.documentList(documents, id: "document-list", when: when))
                \(form)</section>
                """
        }
        if own && !editable {
            out += #"<p class="hint">Allergies, prescriptions and documents can be recorded once the consultation has started.</p>"#
        }
        return out
    }

    // MARK: the clinician's posts

    @Sendable func allergySubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await recordSubmit(request, context, .allergy, notice: "allergy-recorded", anchor: "background") { id, f, r in
            try await clinic.addAllergy(id, substance: f.string("allergy_substance"), reaction: f.string("allergy_reaction"), r)
        }
    }

    @Sendable func medicineSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await recordSubmit(request, context, .medicine, notice: "medicine-recorded", anchor: "background") { id, f, r in
            try await clinic.addMedicine(id, name: f.string("medicine_name"), dose: f.string("medicine_dose"), r)
        }
    }

    @Sendable func prescriptionSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await recordSubmit(request, context, .prescription, notice: "prescribed", anchor: "prescriptions") { id, f, r in
            guard let quantity = Int(f.string("rx_quantity").trimmingCharacters(in: .whitespaces)) else {
                throw ClinicError(ValidationError(.invalidValue, field: "quantity", message: "enter a quantity of 1 to 1000"))
            }
            let input = PrescriptionInput(
                medicine: f.string("rx_medicine"), dose: f.string("rx_dose"), route: f.string("rx_route"), frequency: f.string("rx_frequency"),
                quantity: quantity, pharmacy: f.string("rx_pharmacy"), acknowledgeAllergy: f["rx_acknowledge"] == "yes")
            _ = try await clinic.prescribe(id, input, r)
        }
    }

    @Sendable func prescriptionCancelSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await recordSubmit(request, context, .prescription, notice: "prescription-cancelled", anchor: "prescriptions") { id, f, r in
            try await clinic.cancelPrescription(id, prescription: f.string("prescription_id"), reason: f.string("cancel_reason"), r)
        }
    }

    @Sendable func documentSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await recordSubmit(request, context, .document, notice: "document-issued", anchor: "documents") { id, f, r in
            guard let kind = DocumentKind(rawValue: f.string("doc_kind")) else {
                throw ClinicError(ValidationError(.invalidValue, field: "kind", message: "choose a referral, fit note or letter"))
            }
            let input: DocumentInput
            switch kind {
            case .referral:
                input = DocumentInput(kind: kind, recipient: f.string("doc_recipient"), urgency: f.string("doc_urgency"), body: f.string("doc_body"))
            case .fitNote:
                input = DocumentInput(
                    kind: kind, body: f.string("doc_body"), validFrom: f["doc_valid_from"].flatMap { $0.isEmpty ? nil : $0 },
                    validUntil: f["doc_valid_until"].flatMap { $0.isEmpty ? nil : $0 })
            case .letter:
                input = DocumentInput(kind: kind, recipient: f.string("doc_recipient"), body: f.string("doc_body"))
            }
            _ = try await clinic.issueDocument(id, input, r)
        }
    }

    /// A clinician's record post: anyone else gets the not-found page without the service being
    /// asked; a refusal re-renders the consultation with the typed values and the message.
    func recordSubmit(
        _ request: Request, _ context: SignedInPageContext, _ kind: RecordDraft.Form, notice: String, anchor: String,
        _ action: (Consultation.ID, FormData, ClinicRequest) async throws -> Void
    ) async throws -> Response {
        var request = request
        let form = try await form(&request)
        return try await guarded(context) {
            guard case .clinician = context.auth.principal else { return notFound(context) }
            let id: Consultation.ID = try Parse.pathID(context, "consultationID")
            do {
                try await action(id, form, req(context))
            } catch let e as ClinicError where e.code != .notFound {
                let field = e.validation.map { (RecordDraft.prefixes[kind] ?? "") + $0.field }
                let draft = RecordDraft(
                    form: kind, values: form, message: ClinicHTML.sentence(e.message), field: field, allergyWarning: e.code == .allergyWarning)
                return try await consultationHTML(context, id, record: draft, status: e.problem.status)
            }
            return Self.redirect("/clinic/consultations/\(id)?notice=\(notice)#\(anchor)")
        }
    }
}
