import ConfideAccounts
import ConfideClinic
import ConfideCore
import ConfideStore
import Foundation
import Hummingbird

/// Breach notices over HTTP: operators review, edit and send the drafts the breach report made;
/// a patient reads the notices sent to them. Everything goes through `NoticeService`, so through
/// the gate; a draft or another patient's notice is "not found".
struct NoticeController {
    let notices: NoticeService
    let pages: ClinicWebController
    let settings: HTTPSettings

    func register(on router: Router<ConfideRequestContext>) {
        let api = router.group("api/v1").group(context: SignedInContext.self)
        api.get("breach-notices", use: list)
        api.get("breach-notices/:noticeID", use: show)
        api.put("admin/breach-notices/:noticeID", use: edit)
        api.post("admin/breach-notices/:noticeID/send", use: send)
        let web = router.group("clinic").group(context: SignedInPageContext.self)
        web.get("notices", use: listPage)
        web.get("notices/:noticeID", use: noticePage)
        web.post("notices/:noticeID", use: editSubmit)
        web.post("notices/:noticeID/send", use: sendSubmit)
    }

    struct NoticeJSON: Encodable {
        let id: String
        let kind: String
        let patient_id: String?
        let subject: String
        let body: String
        let status: String
        let window_from: String
        let window_to: String
        let created_at: String
        let updated_at: String
        var updated_by: String?
        let sent_at: String?
        var sent_by: String?
        let version: Int

        /// A patient's view leaves out which operator edited or sent it.
        init(_ n: BreachNoticeRecord, for principal: Principal) {
            self.init(n)
            if case .patient = principal {
                updated_by = nil
                sent_by = nil
            }
        }

        init(_ n: BreachNoticeRecord) {
            id = n.id
            kind = n.kind.rawValue
            patient_id = n.patient?.description
            subject = n.subject
            body = n.body
            status = n.status.rawValue
            window_from = CallController.iso(n.windowFrom)
            window_to = CallController.iso(n.windowTo)
            created_at = CallController.iso(n.createdAt)
            updated_at = CallController.iso(n.updatedAt)
            updated_by = n.updatedBy
            sent_at = n.sentAt.map(CallController.iso)
            sent_by = n.sentBy
            version = n.version
        }
    }

    struct NoticeListJSON: Encodable { let notices: [NoticeJSON] }

    struct EditBody: APIInput {
        static let fields: Set<String> = ["subject", "body", "expected_version"]
        let subject: String
        let body: String
        let expected_version: Int
    }

    static func noticeID(_ context: some RequestContext) throws -> String { try RecordingController.pathUUID(context, "noticeID") }

    func req(_ principal: Principal, _ requestID: String) -> ClinicRequest { ClinicRequest(principal: principal, requestID: requestID) }

    // MARK: JSON

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> Response {
        let found = try await clinicCall { try await notices.notices(req(context.principal, context.meta.requestID)) }
        return try jsonResponse(NoticeListJSON(notices: found.map { NoticeJSON($0, for: context.principal) }))
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> Response {
        let id = try Self.noticeID(context)
        let n = try await clinicCall { try await notices.notice(id, req(context.principal, context.meta.requestID)) }
        return try jsonResponse(NoticeJSON(n, for: context.principal))
    }

    @Sendable func edit(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id = try Self.noticeID(context)
        let body = try await request.decodeStrict(EditBody.self, limit: settings.maxBodyBytes)
        let n = try await clinicCall {
            try await notices.edit(
                id, subject: body.subject, body: body.body, expectedVersion: body.expected_version, req(context.principal, context.meta.requestID))
        }
        return try jsonResponse(NoticeJSON(n))
    }

    @Sendable func send(_ request: Request, context: SignedInContext) async throws -> Response {
        let id = try Self.noticeID(context)
        return try jsonResponse(NoticeJSON(try await clinicCall { try await notices.send(id, req(context.principal, context.meta.requestID)) }))
    }

    // MARK: pages

    @Sendable func listPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await pages.guarded(context) {
            let found = try await notices.notices(pages.req(context))
            let notice = ClinicWebController.query(request, "notice").flatMap { ClinicWebController.notices[$0] }
                .map { #"<p class="notice" role="status" id="notice">\#(esc($0))</p>"# } ?? ""
            let body: String
            if case .patient = context.auth.principal {
                let letters = found.map { n in
                    """
                    <article class="card" data-notice="\(esc(n.id))"><h2>\(esc(n.subject))</h2>\
                    <p class="muted">Sent \(n.sentAt.map(ClinicHTML.isoTime) ?? "")</p><div class="letter">\(Self.paragraphs(n.body))</div></article>
                    """
                }.joined()
                body = "<h1>My notices</h1>\(notice)" + (found.isEmpty ? #"<p id="no-notices">You have no notices.</p>"# : letters)
            } else {
                let rows = found.map { n in
                    """
                    <tr data-notice="\(esc(n.id))" data-status="\(n.status.rawValue)"><td><a href="/clinic/notices/\(esc(n.id))">\(esc(n.subject))</a></td>\
                    <td>\(n.kind == .regulator ? "Regulator" : "Patient <code>\(esc(n.patient?.description ?? ""))</code>")</td>\
                    <td>\(n.status == .sent ? "Sent \(n.sentAt.map(ClinicHTML.isoTime) ?? "")" : "Draft")</td></tr>
                    """
                }.joined()
                body = """
                    <h1>Breach notices</h1>\(notice)
                    <p class="muted">Drafted by <code>confide breach report --draft-notices</code>. Review and edit each draft, then send it: a patient's letter appears in their account, with a notification and an email that only says a notice awaits.</p>
                    \(found.isEmpty ? #"<p id="no-notices">No notices.</p>"# : #"<table id="notices"><thead><tr><th scope="col">Subject</th><th scope="col">To</th><th scope="col">Status</th></tr></thead><tbody>\#(rows)</tbody></table>"#)
                    """
            }
            return pages.render(context, title: "Notices", body: body)
        }
    }

    static func paragraphs(_ text: String) -> String {
        text.components(separatedBy: "\n\n").map { "<p>" + esc($0).replacingOccurrences(of: "\n", with: "<br>") + "</p>" }.joined()
    }

    @Sendable func noticePage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        try await pages.guarded(context) {
            let n = try await notices.notice(try Self.noticeID(context), pages.req(context))
            return pages.render(context, title: n.subject, body: Self.noticeBody(n, csrf: context.csrfToken, principal: context.auth.principal, error: nil))
        }
    }

    static func noticeBody(_ n: BreachNoticeRecord, csrf: String, principal: Principal, error: String?) -> String {
        let alert = error.map { #"<p class="alert" role="alert" id="notice-error">\#(esc($0))</p>"# } ?? ""
        guard case .admin = principal, n.status == .draft else {
            let by: String
            if case .admin = principal { by = " by \(esc(n.sentBy ?? ""))" } else { by = "" }
            let sent = n.sentAt.map { "<p class=\"muted\" id=\"notice-status\">Sent \(ClinicHTML.isoTime($0))\(by)</p>" } ?? ""
            return "<h1>\(esc(n.subject))</h1>\(sent)<div class=\"letter\" id=\"notice-body\">\(paragraphs(n.body))</div>"
        }
        return """
            <h1>Draft notice</h1>\(alert)
            <p class="muted" id="notice-status">To \(n.kind == .regulator ? "the regulator" : "patient <code>\(esc(n.patient?.description ?? ""))</code>"); version \(n.version).</p>
            <form method="post" action="/clinic/notices/\(esc(n.id))" class="stack">
            <input type="hidden" name="_csrf" value="\(esc(csrf))"><input type="hidden" name="expected_version" value="\(n.version)">
            <label for="subject">Subject</label><input id="subject" name="subject" maxlength="200" required value="\(esc(n.subject))">
            <label for="body">Letter</label><textarea id="body" name="body" rows="24" required>\(esc(n.body))</textarea>
            <button type="submit" id="notice-save">Save changes</button>
            </form>
            <form method="post" action="/clinic/notices/\(esc(n.id))/send"><input type="hidden" name="_csrf" value="\(esc(csrf))">
            <button type="submit" id="notice-send">Send this notice</button></form>
            """
    }

    @Sendable func editSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await pages.form(&request)
        return try await pages.guarded(context) {
            let id = try Self.noticeID(context)
            do {
                _ = try await notices.edit(
                    id, subject: form.string("subject"), body: form.string("body"), expectedVersion: Int(form.string("expected_version")) ?? 0,
                    pages.req(context))
            } catch let e as ClinicError where e.code != .notFound {
                let n = try await notices.notice(id, pages.req(context))
                return pages.render(
                    context, title: "Draft notice",
                    body: Self.noticeBody(n, csrf: context.csrfToken, principal: context.auth.principal, error: ClinicHTML.sentence(e.message)),
                    status: e.problem.status)
            }
            return ClinicWebController.redirect("/clinic/notices/\(id)?notice=notice-saved")
        }
    }

    @Sendable func sendSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        _ = try await pages.form(&request)
        return try await pages.guarded(context) {
            _ = try await notices.send(try Self.noticeID(context), pages.req(context))
            return ClinicWebController.redirect("/clinic/notices?notice=notice-sent")
        }
    }
}
