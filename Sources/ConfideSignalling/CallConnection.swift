// One call connection's protocol state machine (docs/design/calls.md). Pure: the caller does the
// I/O, the auditing and the saving, and tells this machine what the other participants sent.

/// What the caller does with a client's message.
public enum Verdict: Sendable, Hashable {
    /// Send to the other participants (offer, answer, candidate), with `from` already set to this role
    /// and `to` as the client gave it: when non-nil, to that participant only.
    case relay(ServerMessage)
    /// Send only to the sender (pong).
    case reply(ServerMessage)
    /// The caller audits, then relays `.media(from:mode:muted:)`.
    case media(mode: MediaMode, muted: Bool)
    /// The caller saves (an audited write), then relays the message by its identifier.
    case chat(text: String)
    /// The caller saves (an audited write), then tells the clinician.
    case location(address: String)
    /// The caller leaves the room and closes with 1000.
    case hangup
    /// The caller ends the consultation.
    case end
    /// Send `.error(code:message:)` to the sender; the connection stays open.
    case refuse(code: String, message: String)
    /// Send nothing more; close with the violation's code.
    case close(ProtocolViolation)
}

/// One connection's protocol state machine.
///
/// Negotiation is tracked per peer (each pair of participants has its own peer connection): an
/// offer received (delivered) from a peer and not yet answered lets this client answer that peer
/// once; any offer sent to or received from a peer lets it send candidates to that peer. An offer may
/// be sent while an offer received is unanswered (glare: perfect negotiation in the browser rolls one
/// side back).
///
/// Offers, answers and candidates may name one peer (`to`): that peer must be in the room, and the
/// rules apply to it alone. Without `to`, an offer goes to every peer present, an answer goes to the
/// one peer owed an answer (refused when several are: the client must say which), and a candidate
/// needs a negotiation with at least one peer.
///
/// The fifth refused message closes the connection with 4400; once closed, every further message
/// yields the same `.close`.
public struct CallConnection: Sendable {
    public static let maxRefusals = 4

    public private(set) var role: CallRole
    /// Who else is in the room, as this connection knows it.
    public private(set) var peers: [CallRole: PeerState]
    /// Messages refused so far (well formed but not allowed now).
    public private(set) var refusals: Int
    /// This participant's own media state, as last announced.
    public private(set) var mode: MediaMode
    public private(set) var muted: Bool
    /// Set once the connection must close; sticky.
    public private(set) var violation: ProtocolViolation?

    /// The peers whose offer was delivered to this client and not answered yet.
    private(set) var owesAnswer: Set<CallRole> = []
    /// The peers this client sent an offer to whose answer has not been delivered yet.
    private(set) var awaitingAnswer: Set<CallRole> = []
    /// The peers this client sent an offer to or received one from (since they joined): candidates
    /// to them may flow.
    private(set) var negotiating: Set<CallRole> = []
    private var limiter: RateLimiter

    public init(role: CallRole, peers: [PeerState], mode: MediaMode = .video, muted: Bool = false) {
        self.init(role: role, peers: peers, mode: mode, muted: muted, limiter: RateLimiter())
    }

    init(role: CallRole, peers: [PeerState], mode: MediaMode, muted: Bool, limiter: RateLimiter) {
        self.role = role
        var known: [CallRole: PeerState] = [:]
        for peer in peers where peer.role != role { known[peer.role] = peer }
        self.peers = known
        self.refusals = 0
        self.mode = mode
        self.muted = muted
        self.limiter = limiter
    }

    /// A raw text frame: size check (1009 over `MessageCodec.maxFrameBytes`), rate limit (4429),
    /// decode (4400), then the message's rules.
    public mutating func receive(frame text: String, at seconds: Double) -> Verdict {
        if let violation { return .close(violation) }
        guard text.utf8.count <= MessageCodec.maxFrameBytes else {
            return close(ProtocolViolation(code: .tooBig, reason: "frame too large"))
        }
        guard limiter.allow(at: seconds) else { return close(Self.flooding) }
        switch MessageCodec.decode(text) {
        case .failure(let v): return close(v)
        case .success(let message): return handle(message)
        }
    }

    /// A message from this connection's client (already decoded): rate limit (4429), value
    /// validation (4400, as `MessageCodec.decode`), then the rules. `receive(frame:at:)` counts a
    /// frame against the rate once; do not call both for the same frame.
    public mutating func receive(_ message: ClientMessage, at seconds: Double) -> Verdict {
        if let violation { return .close(violation) }
        guard limiter.allow(at: seconds) else { return close(Self.flooding) }
        switch MessageCodec.validate(message) {
        case .failure(let v): return close(v)
        case .success(let message): return handle(message)
        }
    }

    private static let flooding = ProtocolViolation(code: .flooding, reason: "too many messages")

    private mutating func close(_ v: ProtocolViolation) -> Verdict {
        violation = v
        return .close(v)
    }

    private mutating func refuse(_ code: String, _ message: String) -> Verdict {
        refusals += 1
        if refusals > Self.maxRefusals {
            return close(.malformed("too many refused messages"))
        }
        return .refuse(code: code, message: message)
    }

    /// Refusal of a `to` that cannot be addressed now: this participant itself, or a peer not present.
    private mutating func refuseAddressee(_ to: CallRole) -> Verdict? {
        if to == role { return refuse("not-allowed", "A message cannot be sent to yourself.") }
        if peers[to] == nil { return refuse("no-peer", "That participant is not in the call.") }
        return nil
    }

    private mutating func handle(_ message: ClientMessage) -> Verdict {
        switch message {
        case .offer(let sdp, let to):
            if let to {
                if let refusal = refuseAddressee(to) { return refusal }
                awaitingAnswer.insert(to)
                negotiating.insert(to)
            } else {
                guard !peers.isEmpty else { return refuse("no-peer", "Nobody else is in the call yet.") }
                awaitingAnswer.formUnion(peers.keys)
                negotiating.formUnion(peers.keys)
            }
            return .relay(.offer(from: role, to: to, sdp: sdp))
        case .answer(let sdp, let to):
            let peer: CallRole
            if let to {
                if let refusal = refuseAddressee(to) { return refusal }
                guard owesAnswer.contains(to) else {
                    return refuse("out-of-order", "There is no offer from that participant to answer.")
                }
                peer = to
            } else {
                guard let only = owesAnswer.first else {
                    return refuse("out-of-order", "There is no offer to answer.")
                }
                guard owesAnswer.count == 1 else {
                    return refuse(
                        "out-of-order",
                        "Several offers are waiting for an answer: say which one with \"to\"."
                    )
                }
                peer = only
            }
            owesAnswer.remove(peer)
            return .relay(.answer(from: role, to: to, sdp: sdp))
        case .candidate(let candidate, let to):
            if let to {
                if let refusal = refuseAddressee(to) { return refusal }
                guard negotiating.contains(to) else {
                    return refuse("out-of-order", "No offer has been made with that participant yet.")
                }
            } else {
                guard !negotiating.isEmpty else { return refuse("out-of-order", "No offer has been made yet.") }
            }
            return .relay(.candidate(from: role, to: to, candidate))
        case .media(let mode, let muted):
            self.mode = mode
            self.muted = muted
            return .media(mode: mode, muted: muted)
        case .chat(let text):
            return .chat(text: text)
        case .location(let address):
            guard role == .patient else { return refuse("not-allowed", "Only the patient can share a location.") }
            return .location(address: address)
        case .hangup:
            return .hangup
        case .end:
            guard role == .clinician else {
                return refuse("not-allowed", "Only the clinician can end the consultation.")
            }
            return .end
        case .ping:
            return .reply(.pong)
        }
    }

    /// A message relayed from another participant (or the server). Updates presence, negotiation
    /// state and the peers' media state. Returns whether to forward it to this client: always, except
    /// messages from this participant itself, messages addressed (`to`) to another participant,
    /// duplicate presence (a `peer-joined` for a peer already present that is not a resume, a
    /// `peer-left` for a peer not present), and messages meant for another role (a `location` or an
    /// `invitation-answer` is for the clinician, an `invitation` for the patient).
    public mutating func deliver(_ message: ServerMessage) -> Bool {
        switch message {
        case .peerJoined(let peer, let resumed):
            guard peer != role else { return false }
            if peers[peer] != nil {
                // A resume replaces the peer's connection; the client is told, state is kept.
                return resumed
            }
            peers[peer] = PeerState(role: peer)
            // A new peer: negotiation with it starts afresh.
            owesAnswer.remove(peer)
            awaitingAnswer.remove(peer)
            negotiating.remove(peer)
            return true
        case .peerLeft(let peer, _):
            guard peer != role, peers.removeValue(forKey: peer) != nil else { return false }
            // Nobody is left to answer or to be answered. Candidates already in flight stay allowed
            // (they are relayed to nobody) rather than counting as refusals.
            owesAnswer.remove(peer)
            awaitingAnswer.remove(peer)
            return true
        case .offer(let from, let to, _):
            guard isForMe(from: from, to: to) else { return false }
            owesAnswer.insert(from)
            negotiating.insert(from)
            return true
        case .answer(let from, let to, _):
            guard isForMe(from: from, to: to) else { return false }
            // An answer to no offer of ours (one addressed to everyone, meant for someone else) opens
            // nothing: candidates to that peer still need an offer.
            awaitingAnswer.remove(from)
            return true
        case .candidate(let from, let to, _):
            return isForMe(from: from, to: to)
        case .media(let from, let mode, let muted):
            guard from != role else { return false }
            peers[from]?.mode = mode
            peers[from]?.muted = muted
            return true
        case .chat(_, let from, _, _):
            return from != role
        case .location:
            // Only the patient shares a location, and it is shown to the consultation's clinician.
            return role == .clinician
        case .invitation:
            // The patient consents (or not) to a second clinician.
            return role == .patient
        case .invitationAnswer:
            return role == .clinician
        case .recordingConsent:
            // The patient answers; the clinician sees the answer. A guest is not party to it.
            return role != .guest
        case .welcome, .status, .ended, .error, .pong, .invitationWithdrawn, .recording:
            // Everyone in the call is told when it is being recorded.
            return true
        }
    }

    /// A relayed negotiation message is for this client when another participant sent it, to
    /// everyone or to this client.
    private func isForMe(from: CallRole, to: CallRole?) -> Bool {
        from != role && (to == nil || to == role)
    }
}
