// One call connection's protocol state machine (docs/design/calls.md). Pure: the caller does the
// I/O, the auditing and the saving, and tells this machine what the other participant sent.

/// What the caller does with a client's message.
public enum Verdict: Sendable, Hashable {
    /// Send to the other participant (offer, answer, candidate), with `from` already set to this role.
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
/// Negotiation is tracked per connection: an offer received (delivered) and not yet answered lets
/// this client answer once; any offer sent or received lets it send candidates. An offer may be
/// sent while an offer received is unanswered (glare: perfect negotiation in the browser rolls one
/// side back). The fifth refused message closes the connection with 4400; once closed, every
/// further message yields the same `.close`.
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

    /// An offer was delivered to this client and it has not answered it yet.
    private(set) var owesAnswer = false
    /// This client sent an offer whose answer has not been delivered yet.
    private(set) var awaitingAnswer = false
    /// This client sent or received an offer (with the current peer): candidates may flow.
    private(set) var negotiating = false
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

    private mutating func handle(_ message: ClientMessage) -> Verdict {
        switch message {
        case .offer(let sdp):
            guard !peers.isEmpty else { return refuse("no-peer", "Nobody else is in the call yet.") }
            awaitingAnswer = true
            negotiating = true
            return .relay(.offer(from: role, sdp: sdp))
        case .answer(let sdp):
            guard owesAnswer else { return refuse("out-of-order", "There is no offer to answer.") }
            owesAnswer = false
            return .relay(.answer(from: role, sdp: sdp))
        case .candidate(let candidate):
            guard negotiating else { return refuse("out-of-order", "No offer has been made yet.") }
            return .relay(.candidate(from: role, candidate))
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

    /// A message relayed from the other participant (or the server). Updates presence, negotiation
    /// state and the peer's media state. Returns whether to forward it to this client: always,
    /// except messages from this participant itself and duplicate presence (a `peer-joined` for a
    /// peer already present that is not a resume, a `peer-left` for a peer not present).
    public mutating func deliver(_ message: ServerMessage) -> Bool {
        switch message {
        case .peerJoined(let peer, let resumed):
            guard peer != role else { return false }
            if peers[peer] != nil {
                // A resume replaces the peer's connection; the client is told, state is kept.
                return resumed
            }
            peers[peer] = PeerState(role: peer)
            // A new peer: negotiation starts afresh.
            owesAnswer = false
            awaitingAnswer = false
            negotiating = false
            return true
        case .peerLeft(let peer, _):
            guard peer != role, peers.removeValue(forKey: peer) != nil else { return false }
            // Nobody is left to answer or to be answered. Candidates already in flight stay allowed
            // (they are relayed to nobody) rather than counting as refusals.
            owesAnswer = false
            awaitingAnswer = false
            return true
        case .offer(let from, _):
            guard from != role else { return false }
            owesAnswer = true
            negotiating = true
            return true
        case .answer(let from, _):
            guard from != role else { return false }
            awaitingAnswer = false
            negotiating = true
            return true
        case .candidate(let from, _):
            return from != role
        case .media(let from, let mode, let muted):
            guard from != role else { return false }
            peers[from]?.mode = mode
            peers[from]?.muted = muted
            return true
        case .chat(_, let from, _, _):
            return from != role
        case .location:
            // Only the patient shares a location, and it is shown to the clinician.
            return role == .clinician
        case .welcome, .status, .ended, .error, .pong:
            return true
        }
    }
}
