import ConfideAccounts
import ConfideAudit
import ConfideClinic
import ConfideCore
import ConfideStore
import Foundation
import Hummingbird

/// Incidents for platform operators: the JSON API and the incidents page, which also carries the
/// playback kill switch (one place to act from in an incident). Identifiers and metadata only,
/// never clinical content. Everything goes through `IncidentService` / `RecordingService`, so
/// through the gate: anyone but an operator gets the same "not found" as a missing page.
struct IncidentController {
    let accounts: AccountService
    let incidents: IncidentService
    let recordings: RecordingService?
    let pages: ClinicWebController
    let checkpoints: @Sendable () async throws -> CheckpointFeed
    let auditHealth: @Sendable () async -> AuditHealth?

    func register(on router: Router<ConfideRequestContext>) {
        let api = router.group("api/v1").group(context: SignedInContext.self)
        api.get("admin/incidents", use: list)
        api.post("admin/incidents/:incidentID/acknowledge", use: acknowledge)
        let web = router.group("clinic").group(context: SignedInPageContext.self)
        web.get("incidents", use: page)
        web.post("incidents/:incidentID/acknowledge", use: acknowledgeSubmit)
        web.post("incidents/playback-switch", use: playbackSwitchSubmit)
        api.post("admin/incidents/:incidentID/suspend-actor", use: suspendActor)
        web.post("incidents/:incidentID/suspend-actor", use: suspendActorSubmit)
        api.get("admin/audit-entries", use: searchAudit)
        web.get("audit", use: auditPage)
    }

    // MARK: suspending the principal behind an incident

    /// Whether the incident's actor is an account an operator can suspend (staff or patient; not a
    /// system job or an anonymous caller): the page offers the button only then.
    static func suspendable(_ actor: String) -> Bool {
        let parts = actor.split(separator: ":", maxSplits: 1).map(String.init)
        return parts.count == 2 && ["clinician", "practice-admin", "admin", "patient"].contains(parts[0]) && Account.ID(string: parts[1]) != nil
    }

    static let notAnAccount = Problem(
        .conflict, "not-an-account", "the incident's actor is not an account (a system job or an anonymous caller), so there is nothing to suspend")

    /// Suspends the incident's account and ends its sessions at once (audited): a patient account
    /// through the incident, a staff account through the staff administration.
    func suspend(_ id: String, _ principal: Principal, _ meta: RequestMeta) async throws {
        switch try await incidents.suspendActor(id, ClinicRequest(principal: principal, requestID: meta.requestID)) {
        case .patientSuspended: return
        case .staff(let account): try await accounts.deactivateStaff(account, by: principal, meta: meta)
        case .notAnAccount: throw Self.notAnAccount
        }
    }

    @Sendable func suspendActor(_ request: Request, context: SignedInContext) async throws -> Response {
        let id = try Self.incidentID(context)
        try await clinicCall { try await suspend(id, context.principal, context.meta) }
        return Response(status: .noContent)
    }

    @Sendable func suspendActorSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        _ = try await pages.form(&request)
        return try await pages.guarded(context) {
            do {
                try await suspend(try Self.incidentID(context), context.auth.principal, context.meta)
            } catch let p as Problem where p.status == .conflict {
                return pages.errorPage(context, ClinicHTML.sentence(p.title), status: .conflict)
            }
            return ClinicWebController.redirect("/clinic/incidents?notice=actor-suspended")
        }
    }

    // MARK: audit search

    struct AuditEntryJSON: Encodable {
        let index: UInt64
        let time: String
        let actor: String
        let action: String
        let resource_type: String
        let resource_id: String
        let patient_id: String?
        let decision: String
        let rule_ids: [String]
        let request_id: String
        let purpose: String

        init(_ index: LogIndex, _ e: AuditEntry) {
            self.index = index.rawValue
            time = CallController.iso(Date(timeIntervalSince1970: Double(e.time) / 1000))
            actor = e.actor
            action = e.action
            resource_type = e.resourceType
            resource_id = e.resourceID
            patient_id = e.patientID
            decision = e.decision.rawValue
            rule_ids = e.ruleIDs
            request_id = e.requestID
            purpose = e.purpose
        }
    }

    struct AuditSearchJSON: Encodable {
        let entries: [AuditEntryJSON]
        /// Pass as `before` for the next (older) page; absent at the end.
        let next_before: UInt64?
    }

    /// The search from the query; a bad value is a clear 422 naming the field.
    static func auditQuery(_ request: Request) throws -> (AuditSearchFilter, UInt64?, Int) {
        let q = request.uri.queryParameters
        func text(_ name: String, max: Int = 200) throws -> String? {
            guard let raw = q.get(name)?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            guard raw.count <= max, raw.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw Problem(.unprocessableContent, "invalid-value", "\(name) is an identifier without spaces", field: name)
            }
            return raw
        }
        var filter = AuditSearchFilter(patient: try text("patient"), actor: try text("actor"), resourceType: try text("resource_type"),
                                       resourceID: try text("resource_id"))
        filter.from = try text("from").map { try Parse.instant($0, "from").epochMilliseconds }
        filter.to = try text("to").map { try Parse.instant($0, "to").epochMilliseconds }
        if let f = filter.from, let t = filter.to, f >= t {
            throw Problem(.unprocessableContent, "invalid-value", "from must be before to", field: "from")
        }
        var before: UInt64?
        if let raw = try text("before") {
            guard let n = UInt64(raw) else { throw Problem(.unprocessableContent, "invalid-value", "before is a log index", field: "before") }
            before = n
        }
        let limit = try Self.limit(try text("limit"))
        return (filter, before, limit)
    }

    @Sendable func searchAudit(_ request: Request, context: SignedInContext) async throws -> Response {
        let (filter, before, limit) = try Self.auditQuery(request)
        let r = ClinicRequest(principal: context.principal, requestID: context.meta.requestID)
        let found = try await clinicCall { try await incidents.searchAudit(filter, before: before, limit: limit, r) }
        return try jsonResponse(AuditSearchJSON(entries: found.entries.map { AuditEntryJSON($0.0, $0.1) }, next_before: found.next))
    }

    @Sendable func auditPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await pages.guarded(context) {
            let r = pages.req(context)
            let query: (AuditSearchFilter, UInt64?, Int)
            var error = ""
            do { query = try Self.auditQuery(request) } catch let p as Problem {
                error = #"<p class="alert" role="alert" id="audit-error">\#(esc(ClinicHTML.sentence(p.title)))</p>"#
                query = (AuditSearchFilter(), nil, 100)
            }
            let found = try await incidents.searchAudit(query.0, before: query.1, limit: query.2, r)
            let health = await auditHealth()
            let feed = try await checkpoints()
            return pages.render(
                context, title: "Audit log",
                body: Self.auditBody(found, filter: query.0, health: health, feed: feed, error: error, request: request), wide: true)
        }
    }

    static func auditBody(
        _ found: (entries: [(LogIndex, AuditEntry)], next: UInt64?), filter: AuditSearchFilter, health: AuditHealth?, feed: CheckpointFeed,
        error: String, request: Request
    ) -> String {
        let verification: String
        if let h = health {
            verification = h.valid
                ? #"<p id="verification" data-valid="true">Verified \#(ClinicHTML.isoTime(h.at)): \#(h.entries) entries and \#(h.checkpoints) checkpoints, no problem found (\#(h.uncheckpointed) entries not yet under a checkpoint).</p>"#
                : #"<p class="alert" role="alert" id="verification" data-valid="false">Verification \#(ClinicHTML.isoTime(h.at)) FAILED: first bad index \#(h.firstBadIndex.map(String.init) ?? "-"), first bad checkpoint \#(h.firstBadCheckpoint.map(String.init) ?? "-"). Run <code>confide audit verify</code>.</p>"#
        } else {
            verification = #"<p id="verification">No verification has run on this server yet; <code>confide audit verify</code> runs one.</p>"#
        }
        let recent = feed.notes.suffix(5).reversed().map { note in
            let lines = note.split(separator: "\n", omittingEmptySubsequences: false)
            let size = lines.count > 1 ? String(lines[1]) : "?"
            let root = lines.count > 2 ? String(lines[2].prefix(16)) : "?"
            return "<li>size \(esc(size)), root <code>\(esc(root))…</code></li>"
        }.joined()
        func value(_ v: String?) -> String { esc(v ?? "") }
        let iso = ISO8601DateFormatter()
        let from = filter.from.map { iso.string(from: Date(timeIntervalSince1970: Double($0) / 1000)) }
        let to = filter.to.map { iso.string(from: Date(timeIntervalSince1970: Double($0) / 1000)) }
        let rows = found.entries.map { (index, e) in
            """
            <tr data-index="\(index.rawValue)"><td>\(index.rawValue)</td><td>\(ClinicHTML.isoTime(Date(timeIntervalSince1970: Double(e.time) / 1000)))</td>\
            <td><code>\(esc(e.actor))</code></td><td>\(esc(e.action))</td><td>\(esc(e.resourceType)) <code>\(esc(e.resourceID))</code></td>\
            <td><code>\(esc(e.patientID ?? "-"))</code></td><td>\(esc(e.decision.rawValue))</td><td>\(esc(e.ruleIDs.joined(separator: " ")))</td>\
            <td>\(esc(e.purpose))</td></tr>
            """
        }.joined()
        var more = ""
        if let next = found.next {
            var parts = ["before=\(next)"]
            for (k, v) in [("patient", filter.patient), ("actor", filter.actor), ("resource_type", filter.resourceType), ("resource_id", filter.resourceID), ("from", from), ("to", to)] {
                if let v { parts.append("\(k)=\(v.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")") }
            }
            more = #"<p><a id="audit-older" href="/clinic/audit?\#(parts.joined(separator: "&amp;"))">Older entries</a></p>"#
        }
        return """
            <h1>Audit log</h1>
            <p class="muted">Every access decision, allowed or not. Identifiers and metadata only; the log never holds clinical text. Your searches are in the log too.</p>
            <section aria-labelledby="verify-h"><h2 id="verify-h">Integrity</h2>\(verification)
            <p>Signed checkpoints (newest first; the full history is public at <a href="/api/v1/audit/checkpoints">/api/v1/audit/checkpoints</a>):</p><ul id="checkpoints">\(recent)</ul></section>
            <h2>Search</h2>\(error)
            <form method="get" action="/clinic/audit" class="stack" id="audit-search">
            <label for="a-patient">Patient id</label><input id="a-patient" name="patient" value="\(value(filter.patient))">
            <label for="a-actor">Actor (account id, or kind:account)</label><input id="a-actor" name="actor" value="\(value(filter.actor))">
            <label for="a-type">Resource type</label><input id="a-type" name="resource_type" value="\(value(filter.resourceType))">
            <label for="a-id">Resource id</label><input id="a-id" name="resource_id" value="\(value(filter.resourceID))">
            <label for="a-from">From (ISO 8601)</label><input id="a-from" name="from" value="\(value(from))">
            <label for="a-to">To (ISO 8601)</label><input id="a-to" name="to" value="\(value(to))">
            <button type="submit">Search</button></form>
            \(found.entries.isEmpty ? #"<p id="no-entries">No entries match.</p>"# : """
            <table id="audit-entries"><thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th>\
            <th scope="col">Resource</th><th scope="col">Patient</th><th scope="col">Decision</th><th scope="col">Rules</th><th scope="col">Purpose</th></tr></thead>\
            <tbody>\(rows)</tbody></table>
            """)
            \(more)
            """
    }

    struct IncidentJSON: Encodable {
        let id: String
        let kind: String
        let detected_at: String
        let actor: String
        let patient_id: String?
        let recorded_patient_id: String?
        let resource_type: String
        let resource_id: String
        let action: String
        let request_id: String
        let status: String
        let acknowledged_by: String?
        let acknowledged_at: String?

        init(_ i: IncidentRecord) {
            id = i.id
            kind = i.kind.rawValue
            detected_at = CallController.iso(i.detectedAt)
            actor = i.actor
            patient_id = i.patient
            recorded_patient_id = i.recordedPatient
            resource_type = i.resourceType
            resource_id = i.resourceID
            action = i.action
            request_id = i.requestID
            status = i.status.rawValue
            acknowledged_by = i.acknowledgedBy
            acknowledged_at = i.acknowledgedAt.map(CallController.iso)
        }
    }

    struct IncidentListJSON: Encodable { let incidents: [IncidentJSON] }

    /// The list's filters from the query: `status`, `before` (ISO 8601) and `limit` (1...500).
    static func filters(_ request: Request) throws -> (IncidentRecord.Status?, Date?, Int) {
        let q = request.uri.queryParameters
        var status: IncidentRecord.Status?
        if let raw = q.get("status"), !raw.isEmpty {
            guard let s = IncidentRecord.Status(rawValue: raw) else {
                throw Problem(.unprocessableContent, "invalid-value", "status is `open` or `acknowledged`", field: "status")
            }
            status = s
        }
        let before = try q.get("before").flatMap { $0.isEmpty ? nil : $0 }.map { try Parse.instant($0, "before") }
        let limit = try Self.limit(q.get("limit").flatMap { $0.isEmpty ? nil : $0 })
        return (status, before, limit)
    }

    /// A page size from the query: 100 when absent, otherwise a whole number from 1 to 500 (422).
    static func limit(_ raw: String?) throws -> Int {
        guard let raw else { return 100 }
        guard let n = Int(raw), (1...500).contains(n) else {
            throw Problem(.unprocessableContent, "invalid-value", "limit is a whole number from 1 to 500", field: "limit")
        }
        return n
    }

    /// An incident id in a path: anything that is not a lower-case UUID is simply not found.
    static func incidentID(_ context: some RequestContext) throws -> String { try RecordingController.pathUUID(context, "incidentID") }

    // MARK: JSON

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> Response {
        let (status, before, limit) = try Self.filters(request)
        let r = ClinicRequest(principal: context.principal, requestID: context.meta.requestID)
        let found = try await clinicCall { try await incidents.incidents(status: status, before: before, limit: limit, r) }
        return try jsonResponse(IncidentListJSON(incidents: found.map(IncidentJSON.init)))
    }

    @Sendable func acknowledge(_ request: Request, context: SignedInContext) async throws -> Response {
        let id = try Self.incidentID(context)
        try await clinicCall { try await incidents.acknowledge(id, ClinicRequest(principal: context.principal, requestID: context.meta.requestID)) }
        return Response(status: .noContent)
    }

    // MARK: the page

    @Sendable func page(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await pages.guarded(context) {
            let (status, before, limit) = try Self.filters(request)
            let r = pages.req(context)
            let found = try await incidents.incidents(status: status, before: before, limit: limit, r)
            let killSwitch = try await recordings?.playbackSwitch(r)
            return pages.render(context, title: "Incidents", body: Self.body(found, killSwitch: killSwitch, csrf: context.csrfToken, request: request))
        }
    }

    static func body(_ found: [IncidentRecord], killSwitch: PlaybackSwitchState?, csrf: String, request: Request) -> String {
        let notice = ClinicWebController.query(request, "notice").flatMap { ClinicWebController.notices[$0] }
            .map { #"<p class="notice" role="status" id="notice">\#(esc($0))</p>"# } ?? ""
        let switchSection: String
        if let s = killSwitch {
            let state = s.engaged
                ? "Playback of all recordings is <strong>suspended</strong>"
                : "Playback is <strong>allowed</strong>"
            let last = s.changedAt.map { " (changed by \(esc(s.changedBy)) at \(ClinicHTML.isoTime($0)): \(esc(s.reason)))" } ?? ""
            switchSection = """
                <section aria-labelledby="switch-h"><h2 id="switch-h">Playback kill switch</h2>
                <p id="playback-state" data-engaged="\(s.engaged)">\(state)\(last).</p>
                <form method="post" action="/clinic/incidents/playback-switch" class="stack">
                <input type="hidden" name="_csrf" value="\(esc(csrf))">
                <input type="hidden" name="engaged" value="\(s.engaged ? "false" : "true")">
                <label for="switch-reason">Reason (kept with the switch and in the audit log)</label>
                <input id="switch-reason" name="reason" maxlength="500" required>
                <button type="submit" id="playback-toggle">\(s.engaged ? "Allow playback again" : "Suspend all playback")</button>
                </form></section>
                """
        } else {
            switchSection = "<p>Recordings are not configured on this server, so there is no playback to suspend.</p>"
        }
        let rows = found.map { i in
            let ack = i.status == .open
                ? """
                <form method="post" action="/clinic/incidents/\(esc(i.id))/acknowledge"><input type="hidden" name="_csrf" value="\(esc(csrf))">\
                <button type="submit" class="secondary">Acknowledge</button></form>
                """
                : "acknowledged by \(esc(i.acknowledgedBy ?? "")) \(i.acknowledgedAt.map(ClinicHTML.isoTime) ?? "")"
            let suspend = !Self.suspendable(i.actor)
                ? ""
                : """
                <form method="post" action="/clinic/incidents/\(esc(i.id))/suspend-actor"><input type="hidden" name="_csrf" value="\(esc(csrf))">\
                <button type="submit" class="secondary">Suspend this account</button></form>
                """
            return """
                <tr data-incident="\(esc(i.id))" data-kind="\(esc(i.kind.rawValue))"><td>\(ClinicHTML.isoTime(i.detectedAt))</td>\
                <td>\(esc(Self.kindLabel(i.kind)))</td><td>\(esc(i.actor))</td><td>\(esc(i.action)) \(esc(i.resourceType))<br><code>\(esc(i.resourceID))</code></td>\
                <td><code>\(esc(i.patient ?? "-"))</code></td><td><code>\(esc(i.recordedPatient ?? "-"))</code></td>\
                <td><code>\(esc(i.requestID))</code></td><td>\(ack)\(suspend)</td></tr>
                """
        }.joined()
        let table = found.isEmpty
            ? #"<p id="no-incidents">No incidents match.</p>"#
            : """
            <table id="incidents"><thead><tr><th scope="col">Detected</th><th scope="col">What</th><th scope="col">Who</th>\
            <th scope="col">Resource</th><th scope="col">Whose data (ground truth)</th><th scope="col">Owner field said</th>\
            <th scope="col">Request</th><th scope="col">Status</th></tr></thead><tbody>\(rows)</tbody></table>
            """
        return """
            <h1>Incidents</h1>
            \(notice)
            <p class="muted">What the detection raised. Identifiers and metadata only; patient records and media are not shown here.</p>
            \(switchSection)
            <h2>Raised</h2>
            <p><a href="/clinic/incidents?status=open">Open</a> · <a href="/clinic/incidents">All</a></p>
            \(table)
            """
    }

    static func kindLabel(_ kind: IncidentRecord.Kind) -> String {
        switch kind {
        case .egressWithheld: "Egress guard withheld a response carrying another patient's data"
        case .egressObserved: "Egress guard saw a response carrying another patient's data (observe-only: it went out)"
        case .canaryAccess: "Access to a canary patient (a synthetic record nobody has a reason to touch)"
        case .spree: "Opened or played the records of more distinct patients within an hour than the role allows"
        }
    }

    @Sendable func acknowledgeSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        _ = try await pages.form(&request)
        return try await pages.guarded(context) {
            try await incidents.acknowledge(try Self.incidentID(context), pages.req(context))
            return ClinicWebController.redirect("/clinic/incidents?notice=incident-acknowledged")
        }
    }

    @Sendable func playbackSwitchSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await pages.form(&request)
        return try await pages.guarded(context) {
            guard let recordings else { throw Problem.notFound }
            let engaged = form["engaged"] == "true"
            do {
                try await recordings.setPlaybackSwitch(engaged: engaged, reason: form["reason"] ?? "", pages.req(context))
            } catch let e as ClinicError where e.code != .notFound {
                let r = pages.req(context)
                let found = try await incidents.incidents(status: nil, before: nil, limit: 100, r)
                let body = Self.body(found, killSwitch: try await recordings.playbackSwitch(r), csrf: context.csrfToken, request: request)
                return pages.render(
                    context, title: "Incidents",
                    body: #"<p class="alert" role="alert" id="switch-error">\#(esc(ClinicHTML.sentence(e.message)))</p>"# + body,
                    status: e.problem.status)
            }
            return ClinicWebController.redirect("/clinic/incidents?notice=\(engaged ? "playback-suspended" : "playback-allowed")")
        }
    }
}
