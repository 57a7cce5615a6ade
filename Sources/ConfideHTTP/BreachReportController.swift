import ConfideAccounts
import ConfideBreach
import ConfideClinic
import ConfideCore
import ConfideStore
import Foundation
import Hummingbird
import Logging

/// The breach report on the admin pages and the API (issue 8 item 1): the same report as
/// `confide breach report`, run by an operator signed in with TOTP, through the gate
/// (`IncidentService.prepareBreachReport`): anyone else gets "not found", and every run and every
/// finding shown is in the audit log. The whole log is verified first; a log that does not verify
/// is refused, naming where it breaks. The API streams (JSON or CSV), so a large window never sits
/// in memory; the page shows the first findings and links to the full download.
struct BreachReportController {
    let incidents: IncidentService
    let pages: ClinicWebController
    let settings: HTTPSettings

    /// How many findings the page shows; the downloads carry all of them.
    static let pageFindings = 500

    func register(on router: Router<ConfideRequestContext>) {
        let api = router.group("api/v1").group(context: SignedInContext.self)
        api.get("admin/breach-report", use: report)
        api.post("admin/breach-report/notices", use: draftNotices)
        let web = router.group("clinic").group(context: SignedInPageContext.self)
        web.get("breach-report", use: page)
        web.post("breach-report/notices", use: draftNoticesSubmit)
    }

    // MARK: input

    /// A report's window and filters from query or form fields; a bad value is a 422 naming it.
    static func query(_ field: (String) -> String?) throws -> BreachReportQuery {
        func text(_ name: String) -> String? {
            guard let raw = field(name)?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        func instant(_ name: String) throws -> Date {
            guard let raw = text(name) else {
                throw Problem(.unprocessableContent, "missing-field", "the report needs a closed window: give from and to", field: name)
            }
            if let d = ISO8601DateFormatter().date(from: raw) { return d }
            let day = ISO8601DateFormatter()
            day.formatOptions = [.withFullDate]
            if raw.count == 10, let d = day.date(from: raw) { return d }
            throw Problem(.unprocessableContent, "invalid-value", "enter a time as ISO 8601, like 2026-12-01T09:00:00Z or 2026-12-01", field: name)
        }
        let actor = text("actor")
        if let actor, actor.count > 200 || !actor.allSatisfy({ $0.isASCII && !$0.isWhitespace }) {
            throw Problem(.unprocessableContent, "invalid-value", "the actor is an account id, or kind:account", field: "actor")
        }
        do {
            return try BreachReportQuery(from: try instant("from"), to: try instant("to"), resourceType: text("resource_type"), actor: actor)
        } catch let e as BreachReportError { throw e.problem }
    }

    /// Runs `body`, answering the report's own failures as problems.
    static func call<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await clinicCall(body) } catch let e as BreachReportError { throw e.problem }
    }

    // MARK: JSON and CSV

    @Sendable func report(_ request: Request, context: SignedInContext) async throws -> Response {
        let q = request.uri.queryParameters
        let r = ClinicRequest(principal: context.principal, requestID: context.meta.requestID)
        // The gate first: for anyone but an operator the report is not there, whatever they send.
        let authorization = try await Self.call { try await incidents.authorizeBreachReport(r) }
        let csv: Bool
        switch q.get("format") ?? "json" {
        case "json", "": csv = false
        case "csv": csv = true
        default: throw Problem(.unprocessableContent, "invalid-value", "format is json or csv", field: "format")
        }
        let query = try Self.query { q.get($0) }
        let prepared = try await Self.call { try await incidents.prepareBreachReport(query, authorization) }
        let logger = context.logger
        var headers = HTTPFields()
        headers[.contentType] = csv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentDisposition] = #"attachment; filename="breach-report.\#(csv ? "csv" : "json")""#
        let iso = ISO8601DateFormatter()
        let window = (iso.string(from: query.from), iso.string(from: query.to))
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
              do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                var first = true
                try await writer.write(
                    ByteBuffer(string: csv ? BreachReporter.csvHeader + "\n" : #"{"window":{"from":"\#(window.0)","to":"\#(window.1)"},"findings":["#))
                let (outcome, _) = try await prepared.run { batch in
                    var chunk = ""
                    for f in batch {
                        if csv {
                            chunk += BreachReporter.csvRow(f) + "\n"
                        } else {
                            chunk += (first ? "" : ",") + String(decoding: try encoder.encode(f), as: UTF8.self)
                            first = false
                        }
                    }
                    try await writer.write(ByteBuffer(string: chunk))
                }
                if !csv {
                    let summary = String(decoding: try encoder.encode(outcome.summary), as: UTF8.self)
                    let patients = String(decoding: try encoder.encode(outcome.affectedPatients), as: UTF8.self)
                    try await writer.write(
                        ByteBuffer(
                            string: #"],"summary":\#(summary),"affected_patients":\#(patients),"#
                                + #""withheld_by_egress_guard":\#(outcome.withheldByEgressGuard),"log_entries_verified":\#(outcome.entriesVerified)}"#))
                }
                try await writer.finish(nil)
              } catch {
                // The status went out with the first byte: the response is cut short (an incomplete
                // chunked body, which clients report), never ended as if the report were whole.
                logger.error("breach report stopped part-way", metadata: ["confide.error.type": "\(type(of: error))"])
                throw error
              }
            })
    }

    struct DraftBody: APIInput {
        static let fields: Set<String> = ["from", "to", "resource_type", "actor", "contact"]
        let from: String?
        let to: String?
        let resource_type: String?
        let actor: String?
        let contact: String?
    }

    struct DraftedJSON: Encodable {
        struct Notice: Encodable {
            let id: String
            let kind: String
            let patient_id: String?
        }
        let notices: [Notice]
        let affected_patients: [String]
        let findings: Int
    }

    /// The contact the letters name: required, one line, at most 300 characters.
    static func contact(_ raw: String?) throws -> String {
        let contact = (raw ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !contact.isEmpty else {
            throw Problem(.unprocessableContent, "missing-field", "say whom the letters tell people to contact", field: "contact")
        }
        guard contact.count <= 300, !contact.contains(where: \.isNewline) else {
            throw Problem(.unprocessableContent, "invalid-value", "the contact is one line of at most 300 characters", field: "contact")
        }
        return contact
    }

    /// Runs the report and drafts a letter per affected patient and a regulator summary.
    func draft(_ query: BreachReportQuery, contact: String, _ authorization: BreachReportAuthorization) async throws -> DraftedJSON {
        let prepared = try await Self.call { try await incidents.prepareBreachReport(query, authorization) }
        // No finding is shown here (the drafts are the record of what was seen, each an audit entry).
        let (outcome, drafted) = try await prepared.run(present: 0, draftContact: contact) { _ in }
        return DraftedJSON(
            notices: drafted.map { .init(id: $0.id, kind: $0.kind.rawValue, patient_id: $0.patient?.description) },
            affected_patients: outcome.affectedPatients, findings: outcome.summary.findings)
    }

    @Sendable func draftNotices(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let r = ClinicRequest(principal: context.principal, requestID: context.meta.requestID)
        let authorization = try await Self.call { try await incidents.authorizeBreachReport(r) }
        let body = try await request.decodeStrict(DraftBody.self, limit: settings.maxBodyBytes)
        let fields = ["from": body.from, "to": body.to, "resource_type": body.resource_type, "actor": body.actor]
        let query = try Self.query { fields[$0] ?? nil }
        let contact = try Self.contact(body.contact)
        let drafted = try await draft(query, contact: contact, authorization)
        return try jsonResponse(drafted, status: .created)
    }

    // MARK: the page

    @Sendable func page(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let q = request.uri.queryParameters
        return try await pages.guarded(context) {
            // The gate first: for anyone but an operator the page is not there, whatever they send.
            let authorization = try await incidents.authorizeBreachReport(pages.req(context))
            guard q.get("from") != nil || q.get("to") != nil else {
                return pages.render(context, title: "Breach report", body: Self.form(nil, csrf: context.csrfToken, error: ""), wide: true)
            }
            let query: BreachReportQuery
            let prepared: PreparedBreachReport
            do {
                query = try Self.query { q.get($0) }
                prepared = try await Self.call { try await incidents.prepareBreachReport(query, authorization) }
            } catch let p as Problem where p.status != .notFound {
                let error = #"<p class="alert" role="alert" id="report-error">\#(esc(ClinicHTML.sentence(p.title)))</p>"#
                return pages.render(
                    context, title: "Breach report", body: Self.form(nil, raw: { q.get($0) }, csrf: context.csrfToken, error: error), wide: true,
                    status: p.status)
            }
            var shown: [BreachFinding] = []
            let (outcome, _) = try await prepared.run(batch: Self.pageFindings, present: Self.pageFindings) { batch in
                if shown.count < Self.pageFindings { shown += batch.prefix(Self.pageFindings - shown.count) }
            }
            return pages.render(
                context, title: "Breach report",
                body: Self.form(query, csrf: context.csrfToken, error: "") + Self.results(outcome, shown: shown, query: query, csrf: context.csrfToken),
                wide: true)
        }
    }

    @Sendable func draftNoticesSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await pages.form(&request)
        return try await pages.guarded(context) {
            let authorization = try await incidents.authorizeBreachReport(pages.req(context))
            do {
                let query = try Self.query { form[$0] }
                let drafted = try await draft(query, contact: try Self.contact(form["contact"]), authorization)
                return ClinicWebController.redirect("/clinic/notices?notice=\(drafted.notices.isEmpty ? "no-notices-drafted" : "notices-drafted")")
            } catch let p as Problem where p.status != .notFound {
                return pages.errorPage(context, ClinicHTML.sentence(p.title), status: p.status)
            }
        }
    }

    static func windowParameters(_ query: BreachReportQuery) -> String {
        let iso = ISO8601DateFormatter()
        var parts = ["from=\(iso.string(from: query.from))", "to=\(iso.string(from: query.to))"]
        if let t = query.resourceType { parts.append("resource_type=\(t)") }
        if let a = query.actor { parts.append("actor=\(a.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")") }
        return parts.joined(separator: "&amp;")
    }

    static func form(_ query: BreachReportQuery?, raw: ((String) -> String?)? = nil, csrf: String, error: String) -> String {
        let iso = ISO8601DateFormatter()
        func value(_ name: String) -> String {
            if let raw { return esc(raw(name) ?? "") }
            guard let query else { return "" }
            switch name {
            case "from": return iso.string(from: query.from)
            case "to": return iso.string(from: query.to)
            case "resource_type": return esc(query.resourceType ?? "")
            default: return esc(query.actor ?? "")
            }
        }
        let types = patientDataKinds.sorted().map { t in
            #"<option value="\#(t)"\#(value("resource_type") == t ? " selected" : "")>\#(t)</option>"#
        }.joined()
        return """
            <h1>Breach report</h1>
            <p class="muted">Re-checks every access to patient data in a window against the ground truth (a recording's patient is \
            the patient who booked its consultation), without the policy engine's code, and lists each access that fails: whose data, \
            who saw it, what, when, and whether it was only listed, opened or played. The whole audit log is verified first. \
            Identifiers and metadata only. Each run, and each finding shown, is in the audit log.</p>
            \(error)
            <form method="get" action="/clinic/breach-report" class="stack" id="report-form">
            <label for="r-from">From (inclusive, ISO 8601 or a date)</label><input id="r-from" name="from" value="\(value("from"))" required>
            <label for="r-to">To (exclusive)</label><input id="r-to" name="to" value="\(value("to"))" required>
            <label for="r-type">Resource type</label><select id="r-type" name="resource_type"><option value="">any</option>\(types)</select>
            <label for="r-actor">Actor (account id, or kind:account)</label><input id="r-actor" name="actor" value="\(value("actor"))">
            <button type="submit">Run the report</button></form>
            """
    }

    static func results(_ outcome: BreachReportOutcome, shown: [BreachFinding], query: BreachReportQuery, csrf: String) -> String {
        let s = outcome.summary
        let rows = shown.map { f in
            """
            <tr data-index="\(f.index)" data-patient="\(esc(f.patient))" data-exposure="\(f.exposure.rawValue)"><td>\(f.index)</td>\
            <td>\(esc(BreachReporter.time(f.time)))</td><td><code>\(esc(f.patient))</code></td><td><code>\(esc(f.recordedPatient ?? "-"))</code></td>\
            <td><code>\(esc(f.actor))</code></td><td>\(esc(f.action)) \(esc(f.resourceType))<br><code>\(esc(f.resourceID))</code></td>\
            <td>\(esc(f.exposure.rawValue))\(f.detail.map { "<br><code>\(esc($0))</code>" } ?? "")</td><td>\(esc(f.why))</td></tr>
            """
        }.joined()
        let more = s.findings > shown.count
            ? #"<p class="notice" role="status" id="more-findings">\#(s.findings - shown.count) more findings are not shown here; the downloads below carry all \#(s.findings).</p>"#
            : ""
        let params = windowParameters(query)
        let table = shown.isEmpty
            ? #"<p id="no-findings">No access in the window failed the independent check.</p>"#
            : """
            <table id="findings"><thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Whose data</th>\
            <th scope="col">Owner field said</th><th scope="col">Who saw it</th><th scope="col">What</th><th scope="col">How</th>\
            <th scope="col">Why it fails</th></tr></thead><tbody>\(rows)</tbody></table>
            """
        let hidden = [("from", ISO8601DateFormatter().string(from: query.from)), ("to", ISO8601DateFormatter().string(from: query.to)),
                      ("resource_type", query.resourceType ?? ""), ("actor", query.actor ?? "")]
            .map { #"<input type="hidden" name="\#($0.0)" value="\#(esc($0.1))">"# }.joined()
        let drafting = s.findings == 0
            ? ""
            : """
            <section aria-labelledby="draft-h"><h2 id="draft-h">Notices</h2>
            <p>Drafts a plain-language letter for each affected patient and a summary for the regulator, for you to review, edit and send under <a href="/clinic/notices">Notices</a>.</p>
            <form method="post" action="/clinic/breach-report/notices" class="stack" id="draft-form">
            <input type="hidden" name="_csrf" value="\(esc(csrf))">\(hidden)
            <label for="r-contact">Whom the letters tell people to contact</label>
            <input id="r-contact" name="contact" maxlength="300" required placeholder="Our Data Protection Officer, dpo@example.org">
            <button type="submit">Draft the notices</button></form></section>
            """
        return """
            <section aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2>
            <p id="verified">Audit log verified: \(outcome.entriesVerified) entries.</p>
            <dl id="summary" data-findings="\(s.findings)" data-patients="\(s.patientsAffected)">
            <dt>Window</dt><dd>\(esc(s.from)) to \(esc(s.to))</dd>
            <dt>Checked</dt><dd>\(s.entriesExamined) entries, \(s.accessesChecked) accesses to patient data</dd>
            <dt>Findings</dt><dd>\(s.findings): patients affected \(s.patientsAffected) (data opened or played for \(s.patientsWhoseDataWasOpened)); records \(s.recordsConcerned); actors \(s.actors)</dd>
            <dt>Nature</dt><dd>\(esc(s.nature))</dd>
            <dt>Likely consequences</dt><dd>\(esc(s.likelyConsequences))</dd>
            <dt>Measures taken</dt><dd>\(esc(s.measuresTaken))</dd>
            <dt>Withheld by the egress guard</dt><dd>\(outcome.withheldByEgressGuard) (never left the server; not counted above)</dd>
            </dl>
            <p>Affected patients: <span id="affected">\(outcome.affectedPatients.map { "<code>\(esc($0))</code>" }.joined(separator: " "))</span></p>
            <p>Download all findings: <a id="download-csv" href="/api/v1/admin/breach-report?\(params)&amp;format=csv">CSV</a> · \
            <a id="download-json" href="/api/v1/admin/breach-report?\(params)">JSON</a></p></section>
            <h2>Findings</h2>\(more)\(table)
            \(drafting)
            """
    }
}

extension BreachReportError {
    var problem: Problem {
        switch self {
        case .invalid(let field, let message): Problem(.unprocessableContent, "invalid-value", message, field: field)
        case .unknownActor: Problem(.unprocessableContent, "unknown-actor", message, field: "actor")
        case .logDoesNotVerify: Problem(.conflict, "audit-log-does-not-verify", message)
        case .notConfigured: Problem(.serviceUnavailable, "breach-report-not-configured", message)
        }
    }
}
