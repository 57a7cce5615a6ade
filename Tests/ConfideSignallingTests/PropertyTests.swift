import PropertyBased
import Testing

@testable import ConfideSignalling

/// The actions of a random session: what the client sends, and what the relay delivers.
enum Step: CaseIterable {
    case sendOffer, sendAnswer, sendCandidate, sendMedia, sendChat, sendLocation, sendHangup, sendEnd, sendPing
    case peerJoined, peerResumed, peerLeft, offerFromPeer, answerFromPeer, offerFromSelf, answerFromSelf,
        candidateFromPeer
    case mediaFromPeer

    func client() -> ClientMessage? {
        switch self {
        case .sendOffer: .offer(sdp: sdp, to: nil)
        case .sendAnswer: .answer(sdp: sdp, to: nil)
        case .sendCandidate: .candidate(candidate, to: nil)
        case .sendMedia: .media(mode: .audioOnly, muted: true)
        case .sendChat: .chat(text: "hello")
        case .sendLocation: .location(address: "1 Main St")
        case .sendHangup: .hangup
        case .sendEnd: .end
        case .sendPing: .ping
        default: nil
        }
    }

    func server(role: CallRole) -> ServerMessage? {
        let other: CallRole = role == .patient ? .clinician : .patient
        return switch self {
        case .peerJoined: .peerJoined(role: other, resumed: false)
        case .peerResumed: .peerJoined(role: other, resumed: true)
        case .peerLeft: .peerLeft(role: other, reason: .dropped)
        case .offerFromPeer: .offer(from: other, to: nil, sdp: sdp)
        case .answerFromPeer: .answer(from: other, to: nil, sdp: sdp)
        case .offerFromSelf: .offer(from: role, to: nil, sdp: sdp)
        case .answerFromSelf: .answer(from: role, to: nil, sdp: sdp)
        case .candidateFromPeer: .candidate(from: other, to: nil, candidate)
        case .mediaFromPeer: .media(from: other, mode: .video, muted: true)
        default: nil
        }
    }
}

let sessionGen = zip(Gen.bool, Gen.bool, Gen.int(in: 0...(Step.allCases.count - 1)).array(of: 0...80))

/// Tokens from which random frames are put together: JSON punctuation, every key and type of the
/// protocol, values of every JSON kind, and some awkward characters.
let tokens: [String] = [
    "{", "}", "[", "]", ":", ",", " ", "\"", "\\", "\"type\"", "\"offer\"", "\"answer\"", "\"candidate\"", "\"media\"",
    "\"chat\"", "\"location\"", "\"hangup\"", "\"end\"", "\"ping\"", "\"sdp\"", "\"v=0\\r\\n\"", "\"sdpMid\"",
    "\"sdpMLineIndex\"", "\"to\"", "\"patient\"", "\"guest\"", "\"mode\"", "\"video\"", "\"audio-only\"", "\"muted\"",
    "\"text\"", "\"address\"", "\"from\"",
    "true", "false", "null", "0", "1", "-1", "1.5", "1e2", "64", "65", "\"\"", "\"hi\"", "\"\\u0000\"", "\"\\ud83d\"",
    "\"\\n\"", "é", "😀", "\u{0}", "\u{1F}", "\u{FEFF}", "\u{0301}", "\u{202E}",
]

let validFrames: [String] = [
    .offer(sdp: sdp, to: nil), .answer(sdp: sdp, to: nil), .candidate(candidate, to: nil),
    .candidate(IceCandidate(candidate: "", sdpMid: nil, sdpMLineIndex: nil), to: nil),
    .media(mode: .video, muted: false), .chat(text: "hi there"), .location(address: "1 Main St"), .hangup, .end, .ping,
].map(frame)

/// A frame built from random numbers: tokens glued together, a valid frame with random edits, or
/// random Unicode scalars.
func randomFrame(kind: Int, _ n: [Int]) -> String {
    switch kind {
    case 0:
        return n.map { tokens[$0 % tokens.count] }.joined()
    case 1:
        var chars = Array(validFrames[(n.first ?? 0) % validFrames.count])
        var i = 1
        while i + 1 < min(n.count, 7) {  // at most three edits: near-valid frames
            let at = n[i] % (chars.count + 1)
            let token = Array(tokens[n[i + 1] % tokens.count])
            switch n[i + 1] % 3 {
            case 0 where at < chars.count: chars.remove(at: at)
            case 1 where at < chars.count: chars.replaceSubrange(at...at, with: token)
            default: chars.insert(contentsOf: token, at: at)
            }
            i += 2
        }
        return String(chars)
    default:
        let ranges: [ClosedRange<UInt32>] = [
            0...0x7F, 0x80...0x7FF, 0x800...0xD7FF, 0xE000...0xFFFF, 0x10000...0x10FFFF,
        ]
        return String(
            String.UnicodeScalarView(
                n.compactMap { v in
                    let r = ranges[v % ranges.count]
                    return Unicode.Scalar(r.lowerBound + UInt32(v / ranges.count) % (r.upperBound - r.lowerBound + 1))
                }
            )
        )
    }
}

@Suite struct PropertyTests {
    /// (1) An answer is relayed only when an offer from the peer was delivered and not yet answered.
    @Test func answerOnlyAfterAnUnansweredDeliveredOffer() async {
        await propertyCheck(count: 500, input: sessionGen) { isPatient, withPeer, steps in
            let role: CallRole = isPatient ? .patient : .clinician
            let other: CallRole = isPatient ? .clinician : .patient
            var c = CallConnection(role: role, peers: withPeer ? [PeerState(role: other)] : [])
            var unanswered = false  // the model: an offer from the peer delivered since the last relayed answer
            for (i, index) in steps.enumerated() {
                let step = Step.allCases[index]
                if let m = step.client() {
                    let verdict = c.receive(m, at: Double(i) * 0.1)
                    if case .relay(let relayed) = verdict {
                        switch relayed {
                        case .answer(let from, _, _):
                            #expect(unanswered)
                            #expect(from == role)
                            unanswered = false
                        case .offer(let from, _, _), .candidate(let from, _, _):
                            #expect(from == role)
                        default:
                            Issue.record("relayed \(relayed)")
                        }
                    }
                    if case .close = verdict { break }
                } else if let m = step.server(role: role) {
                    _ = c.deliver(m)
                    if case .offer(let from, _, _) = m, from != role { unanswered = true }
                }
            }
        }
    }

    /// (1, three participants) Per peer: an answer is relayed only to a peer present whose offer was
    /// delivered and not yet answered (without `to`: when exactly one such peer exists), and always
    /// when that holds; a candidate only to a peer an offer was sent to or received from. Offers,
    /// answers and candidates addressed to someone else are not delivered. Random roles, random
    /// `to`s, random presence.
    @Test func answerOnlyAfterAnUnansweredDeliveredOfferPerPeer() async {
        await propertyCheck(count: 500, input: Gen.int(in: 0...23), Gen.int(in: 0...100_000).array(of: 0...120)) {
            setup,
            steps in
            let roles = CallRole.allCases
            let role = roles[setup % 3]
            // The model, written from calls.md rather than from the implementation.
            var present = Set(roles.enumerated().filter { (setup / 3) & (1 << $0.offset) != 0 }.map(\.element))
            present.remove(role)
            var unanswered: Set<CallRole> = []  // offers from these peers delivered since they joined, not answered
            var negotiating: Set<CallRole> = []  // an offer sent to or received from these peers since they joined
            var c = CallConnection(role: role, peers: present.map { PeerState(role: $0) })
            for (i, n) in steps.enumerated() {
                let peer = roles[(n / 11) % 3]
                let to: CallRole? = [nil, .patient, .clinician, .guest][(n / 33) % 4]
                let forMe = peer != role && (to == nil || to == role)
                let client: ClientMessage?
                switch n % 11 {
                case 0: client = .offer(sdp: sdp, to: to)
                case 1, 2: client = .answer(sdp: sdp, to: to)
                case 3: client = .candidate(candidate, to: to)
                default: client = nil
                }
                if let client {
                    let refusalsBefore = c.refusals
                    let verdict = c.receive(client, at: Double(i) * 0.1)
                    if case .close = verdict { break }
                    if let to { #expect(to == role || present.contains(to) || verdict.refusalCode == "no-peer") }
                    switch (client, verdict) {
                    case (.answer(_, let to), .relay(let relayed)):
                        #expect(relayed == .answer(from: role, to: to, sdp: sdp))
                        if let to {
                            #expect(present.contains(to) && unanswered.contains(to))
                            unanswered.remove(to)
                        } else {
                            #expect(unanswered.count == 1)
                            unanswered.removeAll()
                        }
                    case (.answer(_, let to), _):
                        #expect(c.refusals == refusalsBefore + 1)
                        if let to {
                            #expect(!(present.contains(to) && unanswered.contains(to)) || to == role)
                        } else {
                            #expect(unanswered.count != 1)
                        }
                    case (.offer(_, let to), .relay(let relayed)):
                        #expect(relayed == .offer(from: role, to: to, sdp: sdp))
                        if let to {
                            #expect(to != role && present.contains(to))
                            negotiating.insert(to)
                        } else {
                            #expect(!present.isEmpty)
                            negotiating.formUnion(present)
                        }
                    case (.offer(_, let to), _):
                        #expect(to == role || (to.map { !present.contains($0) } ?? present.isEmpty))
                    case (.candidate(_, let to), .relay(let relayed)):
                        #expect(relayed == .candidate(from: role, to: to, candidate))
                        if let to {
                            #expect(to != role && present.contains(to) && negotiating.contains(to))
                        } else {
                            #expect(!negotiating.isEmpty)
                        }
                    case (.candidate(_, let to), _):
                        #expect(
                            to.map { $0 == role || !present.contains($0) || !negotiating.contains($0) }
                                ?? negotiating.isEmpty
                        )
                    default:
                        Issue.record("\(client) gave \(verdict)")
                    }
                    continue
                }
                let message: ServerMessage
                switch n % 11 {
                case 4, 5: message = .offer(from: peer, to: to, sdp: sdp)
                case 6: message = .answer(from: peer, to: to, sdp: sdp)
                case 7: message = .candidate(from: peer, to: to, candidate)
                case 8: message = .peerJoined(role: peer, resumed: false)
                case 9: message = .peerJoined(role: peer, resumed: true)
                default: message = .peerLeft(role: peer, reason: .dropped)
                }
                let delivered = c.deliver(message)
                switch message {
                case .offer:
                    #expect(delivered == forMe)
                    if forMe {
                        unanswered.insert(peer)
                        negotiating.insert(peer)
                    }
                case .answer, .candidate:
                    #expect(delivered == forMe)
                case .peerJoined(_, let resumed):
                    guard peer != role else { break }
                    if !present.contains(peer) {
                        present.insert(peer)
                        unanswered.remove(peer)
                        negotiating.remove(peer)
                    } else if !resumed {
                        #expect(!delivered)
                    }
                case .peerLeft:
                    guard peer != role else { break }
                    // A peer not present leaving is a duplicate: ignored.
                    #expect(delivered == present.contains(peer))
                    if present.remove(peer) != nil { unanswered.remove(peer) }
                default:
                    break
                }
                #expect(Set(c.peers.keys) == present)
            }
        }
    }

    /// (2) Any frame either decodes or closes with 4400 (1009 when too large); the connection never
    /// crashes, and a decoded message is already valid (decoding is idempotent).
    @Test func anyFrameDecodesOrCloses() async {
        await propertyCheck(count: 2_000, input: Gen.int(in: 0...2), Gen.int(in: 0...100_000).array(of: 0...60)) {
            kind,
            n in
            let text = randomFrame(kind: kind, n)
            switch MessageCodec.decode(text) {
            case .success(let m):
                #expect(MessageCodec.validate(m) == .success(m))
            case .failure(let v):
                #expect(v.code == (text.utf8.count > MessageCodec.maxFrameBytes ? .tooBig : .malformed))
                #expect(v.reason.utf8.count <= 123)
            }
            var c = CallConnection(role: n.count % 2 == 0 ? .patient : .clinician, peers: [])
            let verdict = c.receive(frame: text, at: 0)
            if case .close(let v) = verdict {
                #expect(v.code == .malformed || v.code == .tooBig)
            }
        }
    }

    /// (2, large) Frames around the size limit.
    @Test func largeFramesCloseWith1009() async {
        await propertyCheck(count: 50, input: Gen.int(in: -4...4), Gen.int(in: 1...3)) { delta, width in
            let scalar = ["a", "é", "€"][width - 1]
            let count = (MessageCodec.maxFrameBytes + delta * width) / width
            let text = String(repeating: scalar, count: count)
            let code: CloseCode = text.utf8.count > MessageCodec.maxFrameBytes ? .tooBig : .malformed
            var c = CallConnection(role: .patient, peers: [])
            #expect(c.receive(frame: text, at: 0).closeCode == code)
        }
    }

    /// (3) Refusals never exceed 4 without a close, and once closed the connection stays closed.
    @Test func refusalsNeverExceedFourWithoutAClose() async {
        await propertyCheck(count: 500, input: sessionGen) { isPatient, withPeer, steps in
            let role: CallRole = isPatient ? .patient : .clinician
            let other: CallRole = isPatient ? .clinician : .patient
            var c = CallConnection(role: role, peers: withPeer ? [PeerState(role: other)] : [])
            var closed = false
            for (i, index) in steps.enumerated() {
                let step = Step.allCases[index]
                if let m = step.client() {
                    let before = c.refusals
                    let verdict = c.receive(frame: frame(m), at: Double(i) * 0.1)
                    if closed {
                        #expect(verdict.closeCode == .malformed)
                    } else if c.refusals > before {
                        #expect(c.refusals == before + 1)
                        if c.refusals <= 4 {
                            #expect(verdict.refusalCode != nil)
                        } else {
                            #expect(verdict.closeCode == .malformed)
                            closed = true
                        }
                    } else {
                        #expect(verdict.refusalCode == nil)
                        #expect(verdict.closeCode == nil)
                    }
                    #expect(c.refusals <= 4 || closed)
                } else if let m = step.server(role: role) {
                    _ = c.deliver(m)
                }
            }
        }
    }

    /// ServerMessage.json round-trips arbitrary text (quotes, backslashes, controls, astral scalars).
    @Test func serverJSONRoundTripsAnyText() async {
        await propertyCheck(count: 500, input: Gen.int(in: 0...100_000).array(of: 0...40), Gen.int(in: 0...64)) {
            n,
            index in
            let text = randomFrame(kind: 2, n) + randomFrame(kind: 0, n)
            let messages: [ServerMessage] = [
                .chat(id: text, from: .patient, text: text, at: text),
                .candidate(
                    from: .clinician,
                    to: nil,
                    IceCandidate(candidate: text, sdpMid: text, sdpMLineIndex: index)
                ),
                .welcome(
                    Welcome(
                        role: .patient,
                        consultation: text,
                        resumeToken: text,
                        status: text,
                        modality: text,
                        peers: [PeerState(role: .clinician)],
                        location: text
                    )
                ),
                .error(code: text, message: text),
            ]
            for m in messages { #expect(ServerMessage.parse(m.json) == m) }
        }
    }
}
