import ConfideAccounts
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideSignalling
import ConfideStore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket

/// Video consultations: the join information, the chat, the call page and the signalling
/// WebSocket (docs/design/calls.md). The upgrade is authorised by the gate before it is accepted.
struct CallController {
    static let maxFrameBytes = MessageCodec.maxFrameBytes

    let accounts: AccountService
    let clinic: ClinicService
    let relay: any CallRelay
    let settings: HTTPSettings
    /// The egress guard (`nil`: a server without incidents wiring screens nothing).
    let incidents: IncidentService?

    func register(on router: Router<ConfideRequestContext>) {
        let api = router.group("api/v1")
        api.ws("consultations/:consultationID/call/ws", shouldUpgrade: shouldUpgrade, onUpgrade: runSession)
        let signedIn = api.group(context: SignedInContext.self)
        signedIn.get("consultations/:consultationID/call", use: info)
        signedIn.get("consultations/:consultationID/chat", use: chat)
        signedIn.get("consultations/:consultationID/call/invitations", use: listInvitations)
        signedIn.post("consultations/:consultationID/call/invitations", use: invite)
        signedIn.post("consultations/:consultationID/call/invitations/:invitationID/answer", use: answerInvitation)
        signedIn.delete("consultations/:consultationID/call/invitations/:invitationID", use: withdrawInvitation)
        router.group(context: SignedInPageContext.self).get("clinic/consultations/:consultationID/call", use: page)
    }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    // MARK: join information and chat

    struct IceServerJSON: Encodable {
        let urls: [String]
        let username: String?
        let credential: String?
    }

    struct InfoJSON: Encodable {
        let consultation: String
        let role: String
        let status: String
        let modality: String
        let start: String
        let opens_at: String
        let closes_at: String
        let joinable: Bool
        let reason: String?
        let ws_url: String
        let ice_servers: [IceServerJSON]
        let ice_transport_policy: String
        let location: String?
    }

    @Sendable func info(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let r = ClinicRequest(principal: context.principal, requestID: context.meta.requestID)
        let ticket: CallTicket
        do { ticket = try await clinic.callTicket(id, r) } catch let e as ClinicError { throw e.problem }
        let ice = clinic.callConfiguration.ice
        let rec = ticket.consultation.record
        return try jsonResponse(
            InfoJSON(
                consultation: rec.id.description, role: ticket.role, status: rec.status.rawValue, modality: rec.modality.rawValue,
                start: Self.iso(rec.start), opens_at: Self.iso(ticket.opensAt), closes_at: Self.iso(ticket.closesAt),
                joinable: ticket.refusal == nil, reason: ticket.refusal?.message, ws_url: "/api/v1/consultations/\(rec.id)/call/ws",
                ice_servers: ice.servers(now: Date()).map { IceServerJSON(urls: $0.urls, username: $0.username, credential: $0.credential) },
                ice_transport_policy: ice.relayOnly ? "relay" : "all", location: ticket.location?.address))
    }

    struct ChatJSON: Encodable {
        struct Line: Encodable {
            let id: String
            let from: String
            let text: String
            let at: String
        }
        let messages: [Line]
    }

    @Sendable func chat(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let lines: [CallChatLine]
        do {
            lines = try await clinic.chat(id, ClinicRequest(principal: context.principal, requestID: context.meta.requestID))
        } catch let e as ClinicError { throw e.problem }
        return try jsonResponse(ChatJSON(messages: lines.map { .init(id: $0.id, from: $0.role, text: $0.text, at: Self.iso($0.at)) }))
    }

    // MARK: a second clinician

    struct InviteBody: APIInput {
        static let fields: Set<String> = ["clinician_id"]
        let clinician_id: String
    }

    struct AnswerBody: APIInput {
        static let fields: Set<String> = ["consent"]
        let consent: Bool
    }

    struct InvitationJSON: Encodable {
        let id: String
        let clinician_id: String
        let clinician_name: String
        let status: String
        let created_at: String

        init(_ v: CallInvitationView) {
            id = v.invitation.id
            clinician_id = v.invitation.invitee.description
            clinician_name = v.clinicianName.display
            status = v.invitation.status.rawValue
            created_at = CallController.iso(v.invitation.createdAt)
        }
    }

    struct InvitationListJSON: Encodable { let invitations: [InvitationJSON] }

    struct InvitationStatusJSON: Encodable {
        let id: String
        let status: String
    }

    func req(_ context: SignedInContext) -> ClinicRequest { ClinicRequest(principal: context.principal, requestID: context.meta.requestID) }

    /// Tells the call's participants (every instance) about an invitation change.
    func announce(_ id: Consultation.ID, _ message: ServerMessage) async {
        try? await relay.publish(CallSignal(consultation: id.description, fromConnection: "server", body: message.json))
    }

    @Sendable func listInvitations(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let list: [CallInvitationView]
        do { list = try await clinic.callInvitations(id, req(context)) } catch let e as ClinicError { throw e.problem }
        return try jsonResponse(InvitationListJSON(invitations: list.map(InvitationJSON.init)))
    }

    @Sendable func invite(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let body = try await request.decodeStrict(InviteBody.self, limit: settings.maxBodyBytes)
        guard let clinician = Account.ID(string: body.clinician_id) else {
            throw Problem(.unprocessableContent, "invalid-value", "choose a clinician of the practice", field: "clinician_id")
        }
        let view: CallInvitationView
        do { view = try await clinic.inviteToCall(id, clinician: clinician, req(context)) } catch let e as ClinicError { throw e.problem }
        await announce(id, .invitation(id: view.invitation.id, clinicianName: view.clinicianName.display))
        return try jsonResponse(InvitationJSON(view), status: .created)
    }

    @Sendable func answerInvitation(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        guard let invitation = context.parameters.get("invitationID") else { throw Problem.notFound }
        let body = try await request.decodeStrict(AnswerBody.self, limit: settings.maxBodyBytes)
        let status: CallInvitation.Status
        do {
            status = try await clinic.answerInvitation(id, invitation: invitation, consent: body.consent, req(context))
        } catch let e as ClinicError { throw e.problem }
        await announce(id, .invitationAnswer(id: invitation, status: status.rawValue))
        return try jsonResponse(InvitationStatusJSON(id: invitation, status: status.rawValue))
    }

    @Sendable func withdrawInvitation(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        guard let invitation = context.parameters.get("invitationID") else { throw Problem.notFound }
        do { try await clinic.withdrawInvitation(id, invitation: invitation, req(context)) } catch let e as ClinicError { throw e.problem }
        await announce(id, .invitationWithdrawn(id: invitation))
        return Response(status: .noContent)
    }

    // MARK: the page

    @Sendable func page(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let r = ClinicRequest(principal: context.auth.principal, requestID: context.meta.requestID)
        let links = ClinicNav.links(for: context.auth.principal)
        let ticket: CallTicket
        do {
            let id: Consultation.ID = try Parse.pathID(context, "consultationID")
            ticket = try await clinic.callTicket(id, r)
        } catch {
            let body = "<h1>Not found</h1><p>There is no such page, or it is not yours to see.</p>"
            return Layout.response(
                Layout.page(title: "Not found", signedIn: true, csrf: context.csrfToken, body: body, links: links), status: .notFound)
        }
        let rec = ticket.consultation.record
        let with =
            ticket.role == "patient"
            ? "with \(esc(ticket.consultation.clinicianName.display))" : "with \(esc(ticket.consultation.patientName.display))"
        let details = ticket.role == "guest" ? "" : #" · <a href="/clinic/consultations/\#(rec.id)">Consultation details</a>"#
        let body = """
            <section id="call-page" data-consultation="\(rec.id)" data-role="\(ticket.role)" data-csrf="\(esc(context.csrfToken))" \
            data-practice="\(rec.practice)" data-info-url="/api/v1/consultations/\(rec.id)/call" data-chat-url="/api/v1/consultations/\(rec.id)/chat">
            <h1>\(rec.modality == .audio ? "Phone" : "Video") consultation \(with)</h1>
            <p class="muted"><time datetime="\(Self.iso(rec.start))">\(ClinicHTML.time(rec.start, ticket.consultation.zone))</time>\(details)</p>
            <div id="call-root"></div>
            <noscript><p class="alert">The call needs JavaScript enabled in your browser.</p></noscript>
            </section>
            """
        return Layout.response(
            Layout.page(
                title: "Consultation call", signedIn: true, csrf: context.csrfToken, body: body, links: links,
                scripts: ["/static/local-time.js", "/static/call.js"], wide: true))
    }

    // MARK: the WebSocket

    /// Authenticates and authorises the upgrade. Every refusal is recorded by the gate and
    /// answered alike (the upgrade fails); a plain GET without an upgrade gets 426.
    @Sendable func shouldUpgrade(_ request: Request, context: ConfideRequestContext) async throws -> RouterShouldUpgrade {
        let principal: Principal = context.auth.flatMap { $0.needsTOTPEnrolment ? nil : $0.principal } ?? .anonymous
        let r = ClinicRequest(principal: principal, requestID: context.requestID)
        guard let raw = context.parameters.get("consultationID"), let id = Consultation.ID(string: raw) else { throw Problem.notFound }
        do {
            _ = try await clinic.callTicket(id, r)
        } catch let e as ClinicError {
            throw e.problem
        } catch is AccessDenied where principal == .anonymous {
            // Recorded by the gate; without a session the answer is the usual 401.
            throw Problem.unauthenticated
        }
        guard request.headers[.upgrade]?.lowercased() == "websocket" else {
            throw Problem(.upgradeRequired, "upgrade-required", "this is the call's WebSocket: connect with `Upgrade: websocket`")
        }
        return .upgrade([:])
    }

    @Sendable func runSession(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, context: WebSocketRouterContext<ConfideRequestContext>
    ) async throws {
        let rc = context.requestContext
        guard let auth = rc.auth, let raw = rc.parameters.get("consultationID"), let id = Consultation.ID(string: raw) else {
            try await outbound.close(.unknown(CloseCode.malformed.rawValue), reason: "not signed in")
            return
        }
        let resume = context.request.uri.queryParameters.get("resume")
        // The credential the upgrade came with: the call ends when its session does.
        let credential: (String, SessionKind)? =
            if let header = context.request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
                (String(header.dropFirst(7)), .bearer)
            } else if let cookie = context.request.cookies[settings.sessionCookieName] {
                (cookie.value, .cookie)
            } else {
                nil
            }
        let accounts = self.accounts
        let incidents = self.incidents, principal = auth.principal, requestID = rc.requestID
        let session = CallSession(
            clinic: clinic, relay: relay, consultation: id,
            request: ClinicRequest(principal: auth.principal, requestID: rc.requestID), logger: context.logger,
            stillSignedIn: {
                guard let (token, kind) = credential else { return false }
                do {
                    _ = try await accounts.authenticate(token: token, kind: kind)
                    return true
                } catch let error as AccountsError where error.code == .unauthenticated {
                    return false
                } catch {
                    return true  // the database is unreachable: the lease renewal decides
                }
            },
            screen: { items in try await incidents?.screen(items, for: principal, requestID: requestID) ?? true })
        await session.run(inbound: inbound, outbound: outbound, resumeToken: resume)
    }
}
