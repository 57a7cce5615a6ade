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
        case .sendOffer: .offer(sdp: sdp)
        case .sendAnswer: .answer(sdp: sdp)
        case .sendCandidate: .candidate(candidate)
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
        case .offerFromPeer: .offer(from: other, sdp: sdp)
        case .answerFromPeer: .answer(from: other, sdp: sdp)
        case .offerFromSelf: .offer(from: role, sdp: sdp)
        case .answerFromSelf: .answer(from: role, sdp: sdp)
        case .candidateFromPeer: .candidate(from: other, candidate)
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
    "\"sdpMLineIndex\"", "\"mode\"", "\"video\"", "\"audio-only\"", "\"muted\"", "\"text\"", "\"address\"", "\"from\"",
    "true", "false", "null", "0", "1", "-1", "1.5", "1e2", "64", "65", "\"\"", "\"hi\"", "\"\\u0000\"", "\"\\ud83d\"",
    "\"\\n\"", "é", "😀", "\u{0}", "\u{1F}", "\u{FEFF}", "\u{0301}", "\u{202E}",
]

let validFrames: [String] = [
    .offer(sdp: sdp), .answer(sdp: sdp), .candidate(candidate),
    .candidate(IceCandidate(candidate: "", sdpMid: nil, sdpMLineIndex: nil)),
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
                        case .answer(let from, _):
                            #expect(unanswered)
                            #expect(from == role)
                            unanswered = false
                        case .offer(let from, _), .candidate(let from, _):
                            #expect(from == role)
                        default:
                            Issue.record("relayed \(relayed)")
                        }
                    }
                    if case .close = verdict { break }
                } else if let m = step.server(role: role) {
                    _ = c.deliver(m)
                    if case .offer(let from, _) = m, from != role { unanswered = true }
                }
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
                .candidate(from: .clinician, IceCandidate(candidate: text, sdpMid: text, sdpMLineIndex: index)),
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
