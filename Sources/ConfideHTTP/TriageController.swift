import ConfideAccounts
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTriage
import Foundation
import Hummingbird

/// The symptom checker over HTTP: the JSON conversation API and the chat page. Every handler goes
/// through `TriageService`, which goes through the gate.
struct TriageController {
    let triage: TriageService?
    let settings: HTTPSettings

    func register(on router: Router<ConfideRequestContext>) {
        let api = router.group("api/v1").group(context: SignedInContext.self)
        api.post("triage/sessions", use: start)
        api.get("triage/sessions", use: list)
        api.get("triage/sessions/:sessionID", use: show)
        api.post("triage/sessions/:sessionID/answers", use: answer)
        api.post("triage/sessions/:sessionID/corrections", use: correct)
        api.post("triage/sessions/:sessionID/details", use: describe)
        api.post("triage/sessions/:sessionID/back", use: back)
        api.post("triage/sessions/:sessionID/finish", use: finish)
        api.get("consultations/:consultationID/triage", use: forConsultation)
        let pages = router.group("clinic").group(context: SignedInPageContext.self)
        pages.get("triage", use: chatPage)
    }

    func service() throws -> TriageService {
        guard let triage else { throw Problem(.serviceUnavailable, "triage-unavailable", "the symptom checker is not configured on this server") }
        return triage
    }

    func req(_ context: SignedInContext) -> ClinicRequest { ClinicRequest(principal: context.principal, requestID: context.meta.requestID) }

    // MARK: JSON

    struct SessionJSON: Encodable {
        let id: String
        let status: String
        let country: String
        let age: Int
        let sex: String
        let complaint: String
        let understood: [TriageUnderstood]
        let answers: [TriageAnswer]
        let question: TriageQuestion?
        let outcome: TriageOutcome?
        let consultation_id: String?
        let knowledge_base_version: String
        let version: Int
        let created_at: String
        let services: LocalServices
        let disclaimer: String
        /// Crisis signposting, shown during the questions as well as on the result.
        let crisis: String?
        /// Items the patient removed from the read-back.
        let removed: [String]
        /// What the patient added in their own words after the opening message.
        let details: [String]

        init(_ v: TriageView) {
            id = v.id
            status = v.status.rawValue
            country = v.country
            age = v.age
            sex = v.sex
            complaint = v.complaint
            understood = v.understood
            answers = v.answers
            question = v.question
            outcome = v.outcome
            consultation_id = v.consultation?.description
            knowledge_base_version = v.knowledgeVersion
            version = v.version
            created_at = CallController.iso(v.createdAt)
            services = v.services
            disclaimer = Advice.disclaimerText
            crisis = v.crisis
            removed = v.removed
            details = v.details
        }
    }

    struct SessionListJSON: Encodable { let sessions: [SessionJSON] }

    struct StartBody: APIInput {
        static let fields: Set<String> = ["complaint", "sex", "country"]
        let complaint: String
        let sex: String
        let country: String?
    }

    struct AnswerBody: APIInput {
        static let fields: Set<String> = ["question", "answer", "version"]
        let question: String
        let answer: String
        let version: Int?
    }

    struct CorrectionBody: APIInput {
        static let fields: Set<String> = ["finding", "reading", "version"]
        let finding: String
        let reading: String
        let version: Int?
    }

    struct DetailsBody: APIInput {
        static let fields: Set<String> = ["text", "skip", "version"]
        let text: String?
        let skip: Bool?
        let version: Int?
    }

    struct VersionBody: APIInput {
        static let fields: Set<String> = ["version"]
        let version: Int?
    }

    /// A session id in a path: anything that is not a lower-case UUID is simply not found.
    static func sessionID(_ context: SignedInContext) throws -> String { try RecordingController.pathUUID(context, "sessionID") }

    // MARK: handlers

    @Sendable func start(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let body = try await request.decodeStrict(StartBody.self, limit: settings.maxBodyBytes)
        let view = try await clinicCall { try await service().start(complaint: body.complaint, sex: body.sex, country: body.country, req(context)) }
        return try jsonResponse(SessionJSON(view), status: .created)
    }

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> Response {
        let list = try await clinicCall { try await service().sessions(req(context)) }
        return try jsonResponse(SessionListJSON(sessions: list.map(SessionJSON.init)))
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> Response {
        let id = try Self.sessionID(context)
        return try jsonResponse(SessionJSON(try await clinicCall { try await service().session(id, req(context)) }))
    }

    @Sendable func answer(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id = try Self.sessionID(context)
        let body = try await request.decodeStrict(AnswerBody.self, limit: settings.maxBodyBytes)
        guard let answer = Answer(rawValue: body.answer) else {
            throw Problem(.unprocessableContent, "invalid-value", "answer yes, no or dont_know", field: "answer")
        }
        let view = try await clinicCall { try await service().answer(id, finding: body.question, answer: answer, version: body.version, req(context)) }
        return try jsonResponse(SessionJSON(view))
    }

    @Sendable func correct(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id = try Self.sessionID(context)
        let body = try await request.decodeStrict(CorrectionBody.self, limit: settings.maxBodyBytes)
        guard let reading = TriageReading(rawValue: body.reading) else {
            throw Problem(.unprocessableContent, "invalid-value", "reading is present, absent or not_mentioned", field: "reading")
        }
        let view = try await clinicCall {
            try await service().correct(id, finding: body.finding, reading: reading, version: body.version, req(context))
        }
        return try jsonResponse(SessionJSON(view))
    }

    @Sendable func describe(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id = try Self.sessionID(context)
        let body = try await request.decodeStrict(DetailsBody.self, limit: settings.maxBodyBytes)
        // Exactly one of the two: something in the patient's words, or "ask me questions instead".
        switch (body.text, body.skip ?? false) {
        case (.some, true), (.none, false):
            throw Problem(.unprocessableContent, "invalid-value", "send text (in your own words), or skip: true to answer questions instead", field: "text")
        default: break
        }
        let view = try await clinicCall { try await service().describe(id, text: body.text, version: body.version, req(context)) }
        return try jsonResponse(SessionJSON(view))
    }

    @Sendable func back(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id = try Self.sessionID(context)
        let body = try await request.decodeStrict(VersionBody.self, limit: settings.maxBodyBytes)
        return try jsonResponse(SessionJSON(try await clinicCall { try await service().back(id, version: body.version, req(context)) }))
    }

    @Sendable func finish(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id = try Self.sessionID(context)
        let body = try await request.decodeStrict(VersionBody.self, limit: settings.maxBodyBytes)
        return try jsonResponse(SessionJSON(try await clinicCall { try await service().finish(id, version: body.version, req(context)) }))
    }

    @Sendable func forConsultation(_ request: Request, context: SignedInContext) async throws -> Response {
        let consultation: Consultation.ID = try Parse.pathID(context, "consultationID")
        let list = try await clinicCall { try await service().sessions(consultation: consultation, limit: 1, req(context)) }
        guard let view = list.first else { throw Problem.notFound }
        return try jsonResponse(SessionJSON(view))
    }

    // MARK: the chat page

    @Sendable func chatPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        guard case .patient = context.auth.principal, let triage else {
            return Layout.response(
                Layout.page(
                    title: "Page not found", signedIn: true, csrf: context.csrfToken,
                    body: "<h1>Page not found</h1><p>This page does not exist, or it is not available to you.</p>",
                    links: ClinicNav.links(for: context.auth.principal)),
                status: .notFound)
        }
        let r = ClinicRequest(principal: context.auth.principal, requestID: context.meta.requestID)
        let past = (try? await triage.sessions(limit: 10, r)) ?? []
        let history =
            past.isEmpty
            ? ""
            : "<h2>Earlier checks</h2><ul class=\"plain\" id=\"triage-history\">"
                + past.map { v in
                    let label = v.outcome.map { ClinicHTML.disposition($0.disposition) } ?? "not finished"
                    return "<li><a href=\"/clinic/triage?session=\(v.id)\">\(esc(String(v.complaint.prefix(60))))</a> · \(esc(label)) · <time datetime=\"\(CallController.iso(v.createdAt))\" data-local=\"datetime\">\(CallController.iso(v.createdAt))</time></li>"
                }.joined() + "</ul>"
        let countries = ["GB": "United Kingdom", "CA": "Canada", "US": "United States", "SG": "Singapore", "IE": "Ireland", "AU": "Australia", "NZ": "New Zealand"]
        let countryOptions = countries.sorted { $0.value < $1.value }.map { #"<option value="\#($0.key)">\#(esc($0.value))</option>"# }.joined()
        let body = """
            <h1>Check your symptoms</h1>
            <p class="muted" id="triage-disclaimer">\(esc(Advice.disclaimerText)) In an emergency, call your emergency number now (999 in the UK, 911 in the US and Canada, 995 in Singapore).</p>
            <noscript><p>The symptom checker needs JavaScript enabled in your browser. You can still <a href="/clinic/book">book an appointment</a>.</p></noscript>
            <section id="triage" data-csrf="\(esc(context.csrfToken))" data-session="\(esc(request.uri.queryParameters.get("session") ?? ""))" data-max="\(TriageService.maxComplaintLength)">
            <form id="triage-start" class="stack" novalidate>
            <label for="complaint">What is wrong? Describe it in your own words.</label>
            <textarea id="complaint" name="complaint" rows="4" maxlength="\(TriageService.maxComplaintLength)" required placeholder="For example: a sore throat and fever since yesterday, no cough"></textarea>
            <fieldset><legend>Sex (used only to weigh how common conditions are)</legend>
            <label><input type="radio" name="sex" value="female"> Female</label>
            <label><input type="radio" name="sex" value="male"> Male</label></fieldset>
            <label for="country">Country you are in (used if you are not registered with a practice)</label>
            <select id="country" name="country">\(countryOptions)</select>
            <p class="alert" id="triage-error" role="alert" hidden></p>
            <button type="submit">Start</button>
            </form>
            <div id="triage-chat" aria-live="polite"></div>
            </section>
            \(history)
            """
        return Layout.response(
            Layout.page(
                title: "Check your symptoms", signedIn: true, csrf: context.csrfToken, body: body, links: ClinicNav.links(for: context.auth.principal),
                scripts: ["/static/local-time.js", "/static/triage.js"]))
    }
}

extension ClinicHTML {
    static func disposition(_ u: Urgency) -> String {
        switch u {
        case .emergency: "emergency care now"
        case .urgent: "see a clinician today"
        case .routine: "book an appointment"
        case .selfCare: "self-care or pharmacist"
        }
    }

    /// The triage summary a patient attached to a consultation, for its clinician (and the patient):
    /// what they said, what they answered, the advice, and why each condition moved. Never called a diagnosis.
    static func triageSummary(_ v: TriageView) -> String {
        var html = #"<section id="triage-summary" aria-labelledby="triage-h"><h2 id="triage-h">Symptom check before booking</h2>"#
        html += "<p><strong>In their words:</strong> \(esc(v.complaint))</p>"
        for (i, text) in v.details.enumerated() {
            html += "<p class=\"triage-detail\"><strong>\(i == 0 ? "Then added" : "And"):</strong> \(esc(text))</p>"
        }
        html += "<p class=\"muted\">Age \(v.age), \(esc(v.sex)), \(esc(v.country)); knowledge base \(esc(v.knowledgeVersion)).</p>"
        if let o = v.outcome {
            html += "<p><strong>Advice given:</strong> <span class=\"badge\" id=\"triage-disposition\">\(esc(disposition(o.disposition)))</span></p>"
            if !o.redFlags.isEmpty {
                html += "<p><strong>Red flags:</strong> " + o.redFlags.map { esc($0.reason) }.joined(separator: "; ") + "</p>"
            }
            html += "<h3>Conditions the checker considered (not a diagnosis)</h3><ol>"
            for c in o.conditions {
                let pct = String(format: "%.0f%%", c.probability * 100)
                var why = ""
                if !c.raisedBy.isEmpty { why += " raised by: " + esc(c.raisedBy.joined(separator: ", ")) + "." }
                if !c.loweredBy.isEmpty { why += " lowered by: " + esc(c.loweredBy.joined(separator: ", ")) + "." }
                html += "<li>\(esc(c.name)) (\(esc(c.icd10))), \(pct).\(why)</li>"
            }
            html += "</ol>"
        }
        let said = v.understood.map { ($0.present ? "" : "no ") + $0.name.lowercased() + ($0.corrected ? " (corrected by the patient)" : "") }
        if !said.isEmpty { html += "<p><strong>Read from their message:</strong> \(esc(said.joined(separator: ", ")))</p>" }
        if !v.removed.isEmpty {
            html += "<p><strong>Removed by the patient (\"I didn't say this\"):</strong> \(esc(v.removed.map { $0.lowercased() }.joined(separator: ", ")))</p>"
        }
        if !v.answers.isEmpty {
            html += "<h3>Answers</h3><ul class=\"plain\">"
            for a in v.answers {
                let answer = a.answer == .yes ? "yes" : a.answer == .no ? "no" : "don't know"
                html += "<li>\(esc(a.question)) <strong>\(answer)</strong></li>"
            }
            html += "</ul>"
        }
        return html + "</section>"
    }
}
