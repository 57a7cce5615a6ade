@testable import ConfideSignalling

/// Reference wrappers, so that mutating calls can sit inside `#expect`.
final class Conn {
    var state: CallConnection

    init(role: CallRole, peers: [PeerState]) { state = CallConnection(role: role, peers: peers) }

    var peers: [CallRole: PeerState] { state.peers }
    var refusals: Int { state.refusals }
    var mode: MediaMode { state.mode }
    var muted: Bool { state.muted }

    func receive(_ m: ClientMessage, at t: Double) -> Verdict { state.receive(m, at: t) }
    func receive(frame: String, at t: Double) -> Verdict { state.receive(frame: frame, at: t) }
    func deliver(_ m: ServerMessage) -> Bool { state.deliver(m) }
}

final class Bucket {
    var limiter: RateLimiter

    init(burst: Int = 60, perSecond: Double = 20) { limiter = RateLimiter(burst: burst, perSecond: perSecond) }

    func allow(at t: Double) -> Bool { limiter.allow(at: t) }
}
