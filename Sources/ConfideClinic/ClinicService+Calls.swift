public import ConfideCore
import ConfidePolicy
public import ConfideStore
import Crypto
public import Foundation
import Logging

/// ICE servers for calls: STUN, and TURN with short-lived credentials of the TURN REST API
/// scheme (coturn's `use-auth-secret`). No static TURN password exists.
public struct IceConfiguration: Sendable {
    public var stunURLs: [String]
    public var turnURLs: [String]
    /// The secret shared with the TURN server; TURN is offered only when it is set.
    public var turnSecret: String?
    /// How long a minted credential is valid.
    public var credentialLifetime: TimeInterval
    /// `relay` forces every call through TURN (no address of one party reaches the other).
    public var relayOnly: Bool

    public init(
        stunURLs: [String] = [], turnURLs: [String] = [], turnSecret: String? = nil, credentialLifetime: TimeInterval = 7_200,
        relayOnly: Bool = false
    ) {
        self.stunURLs = stunURLs
        self.turnURLs = turnURLs
        self.turnSecret = turnSecret
        self.credentialLifetime = credentialLifetime
        self.relayOnly = relayOnly
    }

    /// One entry of `RTCConfiguration.iceServers`.
    public struct Server: Sendable, Hashable {
        public var urls: [String]
        public var username: String?
        public var credential: String?
    }

    /// The servers for one participant of one call: TURN credentials are minted for them alone
    /// (`<expiry>:<opaque handle>`; the handle names neither the person nor the consultation).
    public func servers(now: Date) -> [Server] {
        var result: [Server] = []
        if !stunURLs.isEmpty { result.append(Server(urls: stunURLs)) }
        if let turnSecret, !turnURLs.isEmpty {
            let expiry = Int64(now.timeIntervalSince1970 + credentialLifetime)
            let username = "\(expiry):\(randomHex(bytes: 12))"
            result.append(Server(urls: turnURLs, username: username, credential: Self.credential(secret: turnSecret, username: username)))
        }
        return result
    }

    /// `base64(HMAC-SHA1(secret, username))`, as coturn computes it.
    public static func credential(secret: String, username: String) -> String {
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(username.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString()
    }
}

/// Settings of calls.
public struct CallConfiguration: Sendable {
    /// How long before the appointment start the call may be joined.
    public var opensMinutesBefore: Int = 15
    /// How long after the start a call that has not started may still be joined.
    public var closesMinutesAfter: Int = 60
    /// An in-progress consultation with nobody in its call for this long is ended by the system.
    public var abandonMinutes: Int = 30
    /// How long a seat stays held without a renewal (the connection renews every third of it).
    public var seatLease: TimeInterval = 30
    public var ice = IceConfiguration()

    public init() {}
}

/// Whether and when the caller may join a consultation's call.
public struct CallTicket: Sendable {
    public let consultation: ConsultationView
    /// `patient` or `clinician`.
    public let role: String
    public let opensAt: Date
    public let closesAt: Date
    /// Why the call cannot be joined now, or `nil`.
    public let refusal: CallRefusal?
    /// The patient's confirmed address (for the clinician), or `nil`.
    public let location: CallLocation?
}

/// Why an authorised participant cannot join now.
public struct CallRefusal: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// Too early or too late (close code 4425).
        case outsideWindow = "outside-window"
        /// Ended, documented, cancelled or a no-show (close code 4410).
        case over
    }

    public let kind: Kind
    public let message: String
}

/// The outcome of taking a seat in a call.
public enum SeatOutcome: Sendable {
    /// Seated: the token that lets this participant resume, the connection it replaced (a
    /// resume), the seats of the room now, and whether this join started the consultation.
    case seated(resumeToken: String, replaced: String?, seats: [CallSeat], started: Bool)
    /// A live connection of this participant holds the seat (close code 4409).
    case occupied
    /// Not now (recorded as `refused`).
    case refused(CallRefusal)
}

func sha256Hex(_ text: String) -> String {
    lowercaseHex(SHA256.hash(data: Data(text.utf8)))
}

extension ClinicService {
    var calls: any CallStore { stores.calls }
    var callSettings: CallConfiguration { configuration.calls }
    /// The call settings (join window, lease, ICE servers).
    public var callConfiguration: CallConfiguration { configuration.calls }

    /// The call role of a principal in a consultation, or `nil` for anyone who cannot be in a
    /// call: a clinician other than the consultation's own is its invited guest (the gate has
    /// already checked the invitation).
    static func callRole(_ principal: Principal, in record: ConsultationRecord) -> String? {
        callRole(principal, clinician: record.clinician)
    }

    /// The role in the call of a principal the gate let in, given the consultation's clinician.
    static func callRole(_ principal: Principal, clinician: Account.ID?) -> String? {
        switch principal {
        case .patient: "patient"
        case .clinician(let account, _): account == clinician ? "clinician" : "guest"
        default: nil
        }
    }

    func joinGrant(_ id: Consultation.ID, purpose: String, _ r: ClinicRequest) async throws -> Grant<ConsultationResource> {
        try await gate.authorize(
            .join, id.description, facts: try await facts.consultationFacts(id, for: r.principal), by: r.principal, purpose: purpose,
            requestID: r.requestID)
    }

    func joinWrite(_ id: Consultation.ID, purpose: String, _ r: ClinicRequest) async throws -> AuditedWrite<ConsultationResource> {
        try await gate.authorizeWrite(
            .join, id.description, facts: try await facts.consultationFacts(id, for: r.principal), by: r.principal, purpose: purpose,
            requestID: r.requestID)
    }

    func refusal(for record: ConsultationRecord, now: Date) -> (opens: Date, closes: Date, refusal: CallRefusal?) {
        let opens = record.start.addingTimeInterval(-Double(callSettings.opensMinutesBefore) * 60)
        let closes = record.start.addingTimeInterval(Double(callSettings.closesMinutesAfter) * 60)
        let refusal: CallRefusal? =
            switch record.status {
            case .ended, .documented: CallRefusal(kind: .over, message: "this consultation has ended")
            case .cancelled: CallRefusal(kind: .over, message: "this consultation was cancelled")
            case .noShow: CallRefusal(kind: .over, message: "this consultation was closed as missed")
            case .inProgress: nil
            case .booked, .checkedIn:
                if now < opens {
                    CallRefusal(
                        kind: .outsideWindow, message: "the call opens \(callSettings.opensMinutesBefore) minutes before the appointment")
                } else if now > closes {
                    CallRefusal(kind: .outsideWindow, message: "the time for this call has passed; please book another appointment")
                } else {
                    nil
                }
            }
        return (opens, closes, refusal)
    }

    /// Whether and when the caller may join (an audited read; a non-participant gets "not found").
    public func callTicket(_ id: Consultation.ID, _ r: ClinicRequest) async throws -> CallTicket {
        let grant = try await joinGrant(id, purpose: "call", r)
        guard let view = try await clinic.consultation(grant), let role = Self.callRole(r.principal, in: view.record) else {
            throw ClinicError(.notFound, "no such consultation")
        }
        let (opens, closes, refusal) = refusal(for: view.record, now: clock.now())
        let location = role == "clinician" ? try await calls.latestLocation(grant) : nil
        return CallTicket(consultation: view, role: role, opensAt: opens, closesAt: closes, refusal: refusal, location: location)
    }

    /// Takes the caller's seat in the call: refused outside the window or once the consultation
    /// is over; occupied while another live connection of theirs holds it (unless `resumeToken`
    /// is that seat's). When both participants are seated, the consultation moves to in progress.
    public func takeSeat(
        _ id: Consultation.ID, connection: String, resumeToken: String?, mode: String, muted: Bool, _ r: ClinicRequest
    ) async throws -> SeatOutcome {
        let write = try await joinWrite(id, purpose: "call", r)
        guard let account = r.principal.account, let view = try await clinic.consultation(write.grant),
            let role = Self.callRole(r.principal, in: view.record)
        else {
            try await gate.recordRefusal(write)
            throw ClinicError(.notFound, "no such consultation")
        }
        let now = clock.now()
        if let refusal = refusal(for: view.record, now: now).refusal {
            try await gate.recordRefusal(write)
            return .refused(refusal)
        }
        let token = randomHex(bytes: 32)
        let claim = try await calls.claimSeat(
            role: role, account: account, connection: connection, resumeHash: sha256Hex(token), presentedResumeHash: resumeToken.map(sha256Hex),
            mode: mode, muted: muted, at: now, leaseUntil: now.addingTimeInterval(callSettings.seatLease), write: write)
        guard case .claimed(let replaced) = claim else {
            try await gate.recordRefusal(write)
            return .occupied
        }
        let seats = try await calls.seats(consultation: id)
        var started = false
        let live = Set(seats.filter { $0.isLive(at: now) }.map(\.role))
        if live.isSuperset(of: ["patient", "clinician"]), view.record.status == .booked || view.record.status == .checkedIn {
            let start = try await joinWrite(id, purpose: "call", r)
            if try await clinic.transition(from: view.record.status, to: .inProgress, event: .start, at: now, write: start) {
                started = true
                var record = view.record
                record.status = .inProgress
                await announce(record)
            }
        }
        return .seated(resumeToken: token, replaced: replaced, seats: seats, started: started)
    }

    /// Extends the seat's lease; `false` when this connection no longer holds it.
    public func renewSeat(_ id: Consultation.ID, role: String, connection: String) async throws -> Bool {
        try await calls.renewSeat(
            consultation: id, role: role, connection: connection, leaseUntil: clock.now().addingTimeInterval(callSettings.seatLease))
    }

    /// Leaves the call (`hangup` or `dropped`); the consultation goes on.
    public func leaveSeat(_ id: Consultation.ID, connection: String, reason: String, _ r: ClinicRequest) async throws {
        let write = try await joinWrite(id, purpose: "call", r)
        guard let role = Self.callRole(r.principal, in: try await callConsultation(write.grant).record) else { return }
        if try await !calls.leaveSeat(role: role, connection: connection, reason: reason, at: clock.now(), write: write) {
            try await gate.recordRefusal(write)
        }
    }

    /// Records a media change (audio-only / video, mute) of the caller's seat.
    public func changeMedia(_ id: Consultation.ID, connection: String, mode: String, muted: Bool, _ r: ClinicRequest) async throws -> Bool {
        let write = try await joinWrite(id, purpose: "call", r)
        guard let role = Self.callRole(r.principal, in: try await callConsultation(write.grant).record) else { return false }
        let changed = try await calls.changeMedia(role: role, connection: connection, mode: mode, muted: muted, at: clock.now(), write: write)
        if !changed { try await gate.recordRefusal(write) }
        return changed
    }

    /// Records that a participant's message or connection was refused (a protocol violation).
    public func recordCallRefusal(_ id: Consultation.ID, _ r: ClinicRequest) async throws {
        let write = try await joinWrite(id, purpose: "call", r)
        try await gate.recordRefusal(write)
    }

    /// Saves a chat line to the consultation: a `create` of a message, decided on the facts of
    /// the consultation the server has (the line's patient is that consultation's, never the
    /// client's), and audited in the same transaction.
    public func postChat(_ id: Consultation.ID, text: String, _ r: ClinicRequest) async throws -> CallChatLine {
        let body = try Self.text(text, field: "text", max: 2_000)
        let lineID = UUID().uuidString.lowercased()
        var lineFacts = try await facts.consultationFacts(id, for: r.principal)
        lineFacts?.resourceID = lineID
        let write = try await gate.authorizeWrite(
            .create, lineID, facts: lineFacts, by: r.principal, purpose: "call", requestID: r.requestID, as: MessageResource.self)
        let line = r.principal.account.flatMap { account in
            Self.callRole(r.principal, clinician: lineFacts?.assignedClinician).map {
                CallChatLine(id: lineID, consultation: id, role: $0, author: account, text: body, at: clock.now())
            }
        }
        guard let line, try await calls.addChatLine(line, write: write) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.notFound, "no such consultation")
        }
        return line
    }

    /// The consultation's chat: each line presented is an item of its own in the audit log (a
    /// `message`), as every list item is; someone who cannot join the call hears "not found".
    public func chat(_ id: Consultation.ID, _ r: ClinicRequest) async throws -> [CallChatLine] {
        _ = try await joinGrant(id, purpose: "call", r)
        let scope = try await gate.scope(.list, by: r.principal, purpose: "call", requestID: r.requestID, as: MessageResource.self)
        let lines = try await calls.chat(scope, consultation: id, limit: 1_000)
        try await gate.recordPresented(scope, items: lines.map { ($0.line.id, $0.patient) }, purpose: "call", requestID: r.requestID)
        return lines.map(\.line)
    }

    /// One chat line of the consultation, read by a participant when the relay announces it (a
    /// `read` of that message; a line of another consultation is not found).
    public func chatLine(_ id: Consultation.ID, line: String, _ r: ClinicRequest) async throws -> CallChatLine? {
        let grant = try await gate.authorize(
            .read, line, facts: try await calls.messageFacts(line, in: id, for: r.principal), by: r.principal, purpose: "call",
            requestID: r.requestID, as: MessageResource.self)
        return try await calls.chatLine(grant)
    }

    /// The patient confirms where they are, for emergency services (an audited write).
    public func confirmLocation(_ id: Consultation.ID, address: String, _ r: ClinicRequest) async throws -> CallLocation {
        let text = try Self.text(address, field: "address", max: 300)
        let write = try await joinWrite(id, purpose: "call", r)
        guard case .patient = r.principal else {
            try await gate.recordRefusal(write)
            throw ClinicError(.transitionNotAllowed, "only the patient confirms their location")
        }
        let location = CallLocation(id: UUID().uuidString.lowercased(), consultation: id, address: text, at: clock.now())
        try await calls.addLocation(location, write: write)
        return location
    }

    /// The patient's latest confirmed location (an audited read by a participant).
    public func callLocation(_ id: Consultation.ID, _ r: ClinicRequest) async throws -> CallLocation? {
        try await calls.latestLocation(try await joinGrant(id, purpose: "call", r))
    }

    /// Ends in-progress consultations whose call everyone left more than the configured time
    /// ago (the system's job; a compare-and-set, so several instances may run it).
    @discardableResult
    public func endAbandonedCalls() async throws -> Int {
        let now = clock.now()
        let idle = try await calls.abandonedCalls(
            idleBefore: now.addingTimeInterval(-Double(callSettings.abandonMinutes) * 60), now: now, limit: 100)
        var ended = 0
        let r = ClinicRequest(principal: .system(job: "calls"), requestID: "calls-\(randomHex(bytes: 6))")
        for id in idle {
            do {
                _ = try await transition(id, .end, r)
                ended += 1
            } catch let error as ClinicError where error.code == .conflict || error.code == .transitionNotAllowed {
                continue
            }
        }
        return ended
    }

    /// Runs `endAbandonedCalls` every `interval` until cancelled.
    public func runCallTimeouts(every interval: Duration = .seconds(60)) async throws {
        while !Task.isCancelled {
            do {
                try await endAbandonedCalls()
            } catch is CancellationError {
                return
            } catch {
                logger.warning("abandoned-call check failed")
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}

/// An invitation with the invited clinician's name, for the participants.
public struct CallInvitationView: Sendable, Hashable {
    public let invitation: CallInvitation
    public let clinicianName: PersonName
}

extension ClinicService {
    /// The consultation's own view, with a grant or write that must name it.
    func callConsultation(_ grant: Grant<ConsultationResource>) async throws -> ConsultationView {
        guard let view = try await clinic.consultation(grant) else { throw ClinicError(.notFound, "no such consultation") }
        return view
    }

    func inviteeName(_ account: Account.ID, practice: Practice.ID) async throws -> PersonName? {
        try await clinic.members(practice: practice).first { $0.account == account && $0.role == .clinician }?.name
    }

    /// The consultation's clinician invites another clinician of the practice into the call; they
    /// can join once the patient accepts. The invitee is told by an in-app notification.
    public func inviteToCall(_ id: Consultation.ID, clinician invitee: Account.ID, _ r: ClinicRequest) async throws -> CallInvitationView {
        let write = try await joinWrite(id, purpose: "call", r)
        let view = try await callConsultation(write.grant)
        func refuse(_ error: ClinicError) async throws -> Never {
            try await gate.recordRefusal(write)
            throw error
        }
        guard case .clinician(let me, _) = r.principal, me == view.record.clinician else {
            try await refuse(ClinicError(.transitionNotAllowed, "only the consultation's clinician invites a colleague into the call"))
        }
        if refusal(for: view.record, now: clock.now()).refusal?.kind == .over {
            try await refuse(ClinicError(.transitionNotAllowed, "this consultation is over"))
        }
        guard invitee != me, let name = try await inviteeName(invitee, practice: view.record.practice) else {
            try await refuse(ClinicError(.notFound, "no such clinician at this practice"))
        }
        let invitation = CallInvitation(
            id: UUID().uuidString.lowercased(), consultation: id, invitee: invitee, inviter: me, status: .pending, createdAt: clock.now())
        guard try await calls.createInvitation(invitation, write: write) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "a colleague is already invited to this call; withdraw that invitation first")
        }
        do {
            try await clinic.addNotification(
                NotificationRecord(
                    id: UUID().uuidString.lowercased(), account: invitee, kind: "call-invitation", consultation: id,
                    text: "You are invited to join a consultation call. You can join once the patient agrees.", createdAt: clock.now()))
        } catch {
            logger.warning("call invitation notice not stored", metadata: ["consultation": "\(id)"])
        }
        return CallInvitationView(invitation: invitation, clinicianName: name)
    }

    /// The invitations of a consultation's call, for its participants.
    public func callInvitations(_ id: Consultation.ID, _ r: ClinicRequest) async throws -> [CallInvitationView] {
        let grant = try await joinGrant(id, purpose: "call", r)
        let view = try await callConsultation(grant)
        let members = try await clinic.members(practice: view.record.practice)
        return try await calls.invitations(grant).compactMap { invitation in
            guard let name = members.first(where: { $0.account == invitation.invitee })?.name else { return nil }
            return CallInvitationView(invitation: invitation, clinicianName: name)
        }
    }

    /// The patient accepts or declines a pending invitation.
    public func answerInvitation(_ id: Consultation.ID, invitation: String, consent: Bool, _ r: ClinicRequest) async throws -> CallInvitation.Status {
        let write = try await joinWrite(id, purpose: "call-consent", r)
        guard case .patient = r.principal else {
            try await gate.recordRefusal(write)
            throw ClinicError(.transitionNotAllowed, "only the patient answers an invitation")
        }
        let to: CallInvitation.Status = consent ? .accepted : .declined
        guard try await calls.decideInvitation(id: invitation, from: [.pending], to: to, at: clock.now(), write: write) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "this invitation is no longer waiting for an answer")
        }
        return to
    }

    /// The consultation's clinician or its patient withdraws an invitation (an invited clinician
    /// in the call loses access at once).
    public func withdrawInvitation(_ id: Consultation.ID, invitation: String, _ r: ClinicRequest) async throws {
        let write = try await joinWrite(id, purpose: "call-consent", r)
        let view = try await callConsultation(write.grant)
        let owner: Bool =
            switch r.principal {
            case .patient: true
            case .clinician(let me, _): me == view.record.clinician
            default: false
            }
        guard owner else {
            try await gate.recordRefusal(write)
            throw ClinicError(.transitionNotAllowed, "only the consultation's clinician or its patient withdraws an invitation")
        }
        guard try await calls.decideInvitation(id: invitation, from: [.pending, .accepted], to: .withdrawn, at: clock.now(), write: write) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "this invitation is no longer active")
        }
    }
}
