import Testing

@testable import ConfideSignalling

func frame(_ m: ClientMessage) -> String {
    switch m {
    case .offer(let s): return #"{"type":"offer","sdp":\#(lit(s))}"#
    case .answer(let s): return #"{"type":"answer","sdp":\#(lit(s))}"#
    case .candidate(let c):
        let mid = c.sdpMid.map(lit) ?? "null"
        let line = c.sdpMLineIndex.map(String.init) ?? "null"
        return #"{"type":"candidate","candidate":\#(lit(c.candidate)),"sdpMid":\#(mid),"sdpMLineIndex":\#(line)}"#
    case .media(let mode, let muted): return #"{"type":"media","mode":"\#(mode.rawValue)","muted":\#(muted)}"#
    case .chat(let t): return #"{"type":"chat","text":\#(lit(t))}"#
    case .location(let a): return #"{"type":"location","address":\#(lit(a))}"#
    case .hangup: return #"{"type":"hangup"}"#
    case .end: return #"{"type":"end"}"#
    case .ping: return #"{"type":"ping"}"#
    }
}

extension Verdict {
    var refusalCode: String? {
        if case .refuse(let code, _) = self { return code }
        return nil
    }

    var closeCode: CloseCode? {
        if case .close(let v) = self { return v.code }
        return nil
    }
}

@Suite struct CallConnectionTests {
    @Test func framesAndMessagesAgree() {
        for m: ClientMessage in [
            .offer(sdp: sdp), .candidate(candidate), .media(mode: .audioOnly, muted: true), .chat(text: "hi"),
            .location(address: "here"), .hangup, .end, .ping,
        ] {
            #expect(decoded(frame(m)) == m)
        }
    }

    @Test func pingIsAnsweredWithPong() {
        let c = Conn(role: .patient, peers: [])
        #expect(c.receive(.ping, at: 0) == .reply(.pong))
        #expect(c.receive(frame: #"{"type":"ping"}"#, at: 0) == .reply(.pong))
    }

    @Test func offerWithNoPeerIsRefused() {
        let c = Conn(role: .clinician, peers: [])
        #expect(
            c.receive(.offer(sdp: sdp), at: 0) == .refuse(code: "no-peer", message: "Nobody else is in the call yet.")
        )
        #expect(c.refusals == 1)
        // Its own seat in the list does not count as a peer.
        let d = Conn(role: .clinician, peers: [PeerState(role: .clinician)])
        #expect(d.receive(.offer(sdp: sdp), at: 0).refusalCode == "no-peer")
    }

    @Test func offerRelayedOncePeerJoined() {
        let c = Conn(role: .clinician, peers: [])
        #expect(c.deliver(.peerJoined(role: .patient, resumed: false)))
        #expect(c.peers[.patient] == PeerState(role: .patient, mode: .video, muted: false))
        #expect(c.receive(.offer(sdp: sdp), at: 0) == .relay(.offer(from: .clinician, sdp: sdp)))
        // Candidates may follow the offer.
        #expect(c.receive(.candidate(candidate), at: 0) == .relay(.candidate(from: .clinician, candidate)))
        #expect(c.refusals == 0)
    }

    @Test func offerRelayedWithPeerFromWelcome() {
        let c = Conn(role: .patient, peers: [PeerState(role: .clinician, mode: .audioOnly, muted: true)])
        #expect(c.peers[.clinician]?.mode == .audioOnly)
        #expect(c.receive(frame: frame(.offer(sdp: sdp)), at: 0) == .relay(.offer(from: .patient, sdp: sdp)))
    }

    @Test func answerWithoutOfferIsRefused() {
        let c = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        #expect(
            c.receive(.answer(sdp: sdp), at: 0)
                == .refuse(code: "out-of-order", message: "There is no offer to answer.")
        )
        // Its own offer does not make an answer possible either.
        #expect(c.receive(.offer(sdp: sdp), at: 0) == .relay(.offer(from: .patient, sdp: sdp)))
        #expect(c.receive(.answer(sdp: sdp), at: 0).refusalCode == "out-of-order")
        // Nor does an offer from itself coming back through the relay (not forwarded, no state change).
        #expect(!c.deliver(.offer(from: .patient, sdp: sdp)))
        #expect(c.receive(.answer(sdp: sdp), at: 0).refusalCode == "out-of-order")
    }

    @Test func deliveredOfferThenAnswerRelayedOnce() {
        let c = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        #expect(c.deliver(.offer(from: .clinician, sdp: sdp)))
        #expect(c.receive(.candidate(candidate), at: 0) == .relay(.candidate(from: .patient, candidate)))
        #expect(c.receive(.answer(sdp: sdp), at: 0) == .relay(.answer(from: .patient, sdp: sdp)))
        #expect(c.receive(.answer(sdp: sdp), at: 0).refusalCode == "out-of-order")
        #expect(c.refusals == 1)
        // A renegotiation: a new offer, a new answer.
        #expect(c.deliver(.offer(from: .clinician, sdp: sdp)))
        #expect(c.receive(.answer(sdp: sdp), at: 0) == .relay(.answer(from: .patient, sdp: sdp)))
    }

    @Test func glareOfferWhileOwingAnAnswerIsAllowed() {
        let c = Conn(role: .clinician, peers: [PeerState(role: .patient)])
        #expect(c.deliver(.offer(from: .patient, sdp: sdp)))
        #expect(c.receive(.offer(sdp: sdp), at: 0) == .relay(.offer(from: .clinician, sdp: sdp)))
        #expect(c.deliver(.answer(from: .patient, sdp: sdp)))
        #expect(c.refusals == 0)
    }

    @Test func candidateBeforeOfferIsRefused() {
        let c = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        #expect(
            c.receive(.candidate(candidate), at: 0)
                == .refuse(code: "out-of-order", message: "No offer has been made yet.")
        )
        #expect(c.receive(frame: frame(.candidate(candidate)), at: 0).refusalCode == "out-of-order")
        #expect(c.refusals == 2)
    }

    @Test func endOnlyForTheClinician() {
        let p = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        #expect(
            p.receive(.end, at: 0)
                == .refuse(code: "not-allowed", message: "Only the clinician can end the consultation.")
        )
        let c = Conn(role: .clinician, peers: [])
        #expect(c.receive(.end, at: 0) == .end)
        #expect(c.refusals == 0)
    }

    @Test func locationOnlyForThePatient() {
        let c = Conn(role: .clinician, peers: [PeerState(role: .patient)])
        #expect(
            c.receive(.location(address: "here"), at: 0)
                == .refuse(code: "not-allowed", message: "Only the patient can share a location.")
        )
        let p = Conn(role: .patient, peers: [])
        #expect(p.receive(.location(address: "  1 Main St  "), at: 0) == .location(address: "1 Main St"))
    }

    @Test func chatMediaHangup() {
        let p = Conn(role: .patient, peers: [])
        #expect(p.receive(frame: #"{"type":"chat","text":" hi "}"#, at: 0) == .chat(text: "hi"))
        #expect(p.receive(.media(mode: .audioOnly, muted: true), at: 0) == .media(mode: .audioOnly, muted: true))
        #expect(p.mode == .audioOnly && p.muted)
        #expect(p.receive(.hangup, at: 0) == .hangup)
    }

    @Test func invalidDirectMessageCloses() {
        let p = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        #expect(p.receive(.chat(text: "   "), at: 0).closeCode == .malformed)
        let q = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        #expect(q.receive(.offer(sdp: "hello"), at: 0).closeCode == .malformed)
    }

    @Test func fifthRefusalCloses4400() {
        let c = Conn(role: .patient, peers: [])
        let refused: [ClientMessage] = [.end, .answer(sdp: sdp), .candidate(candidate), .offer(sdp: sdp)]
        for m in refused { #expect(c.receive(m, at: 0).refusalCode != nil) }
        #expect(c.refusals == 4)
        // Allowed messages in between do not reset the count.
        #expect(c.receive(.ping, at: 0) == .reply(.pong))
        #expect(
            c.receive(frame: frame(.end), at: 0)
                == .close(ProtocolViolation(code: .malformed, reason: "too many refused messages"))
        )
        #expect(c.refusals == 5)
        // Closed for good.
        #expect(c.receive(.ping, at: 0).closeCode == .malformed)
        #expect(c.receive(frame: frame(.ping), at: 0).closeCode == .malformed)
        #expect(c.refusals == 5)
    }

    @Test func malformedFrameCloses4400() {
        let c = Conn(role: .patient, peers: [])
        #expect(c.receive(frame: #"{"type":"ping","from":"clinician"}"#, at: 0).closeCode == .malformed)
        #expect(c.receive(frame: frame(.ping), at: 0).closeCode == .malformed)
    }

    @Test func oversizeFrameCloses1009() {
        let c = Conn(role: .patient, peers: [])
        let big = String(repeating: " ", count: MessageCodec.maxFrameBytes) + frame(.ping)
        #expect(c.receive(frame: big, at: 0).closeCode == .tooBig)
        #expect(c.receive(frame: frame(.ping), at: 0).closeCode == .tooBig)
    }

    @Test func floodCloses4429() {
        let c = Conn(role: .patient, peers: [])
        for _ in 0..<60 { #expect(c.receive(frame: frame(.ping), at: 5) == .reply(.pong)) }
        #expect(
            c.receive(frame: frame(.ping), at: 5)
                == .close(ProtocolViolation(code: .flooding, reason: "too many messages"))
        )
        // Waiting does not reopen it.
        #expect(c.receive(frame: frame(.ping), at: 60).closeCode == .flooding)

        let d = Conn(role: .clinician, peers: [])
        for _ in 0..<60 { #expect(d.receive(.ping, at: 0) == .reply(.pong)) }
        #expect(d.receive(.ping, at: 0.05) == .reply(.pong))
        #expect(d.receive(.ping, at: 0.05).closeCode == .flooding)

        // Malformed frames count against the rate too (the rate check comes first).
        let e = Conn(role: .patient, peers: [])
        for _ in 0..<60 { _ = e.receive(frame: frame(.end), at: 0) }
        #expect(e.receive(frame: "garbage", at: 0).closeCode == .malformed)
    }

    @Test func sustainedRateNeverFloods() {
        let c = Conn(role: .patient, peers: [])
        for i in 0..<2_000 { #expect(c.receive(frame: frame(.ping), at: Double(i) / 20) == .reply(.pong)) }
    }

    @Test func presence() {
        let c = Conn(role: .clinician, peers: [])
        #expect(!c.deliver(.peerJoined(role: .clinician, resumed: false)))  // itself
        #expect(!c.deliver(.peerLeft(role: .patient, reason: .hangup)))  // not present
        #expect(c.deliver(.peerJoined(role: .patient, resumed: false)))
        #expect(!c.deliver(.peerJoined(role: .patient, resumed: false)))  // duplicate
        #expect(c.deliver(.peerJoined(role: .patient, resumed: true)))  // resumed on a new connection
        #expect(c.peers.keys.sorted { $0.rawValue < $1.rawValue } == [.patient])
        #expect(c.deliver(.media(from: .patient, mode: .audioOnly, muted: true)))
        #expect(c.peers[.patient] == PeerState(role: .patient, mode: .audioOnly, muted: true))
        #expect(c.deliver(.peerLeft(role: .patient, reason: .dropped)))
        #expect(!c.deliver(.peerLeft(role: .patient, reason: .dropped)))
        #expect(c.peers.isEmpty)
        #expect(c.receive(.offer(sdp: sdp), at: 0).refusalCode == "no-peer")
    }

    @Test func peerLeavingCancelsTheOwedAnswer() {
        let c = Conn(role: .clinician, peers: [PeerState(role: .patient)])
        #expect(c.deliver(.offer(from: .patient, sdp: sdp)))
        #expect(c.deliver(.peerLeft(role: .patient, reason: .dropped)))
        #expect(c.receive(.answer(sdp: sdp), at: 0).refusalCode == "out-of-order")
        // Candidates already in flight are not refused.
        #expect(c.receive(.candidate(candidate), at: 0) == .relay(.candidate(from: .clinician, candidate)))
        // A new peer starts a new negotiation.
        #expect(c.deliver(.peerJoined(role: .patient, resumed: false)))
        #expect(c.receive(.candidate(candidate), at: 0).refusalCode == "out-of-order")
    }

    @Test func deliverForwardsAllButOwnMessages() {
        let p = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        #expect(!p.deliver(.candidate(from: .patient, candidate)))
        #expect(p.deliver(.candidate(from: .clinician, candidate)))
        #expect(!p.deliver(.answer(from: .patient, sdp: sdp)))
        #expect(p.deliver(.answer(from: .clinician, sdp: sdp)))
        #expect(!p.deliver(.media(from: .patient, mode: .video, muted: true)))
        #expect(p.peers[.clinician]?.muted == false)
        #expect(!p.deliver(.chat(id: "1", from: .patient, text: "hi", at: "t")))
        #expect(p.deliver(.chat(id: "2", from: .clinician, text: "hi", at: "t")))
        #expect(!p.deliver(.location(address: "a", at: "t")))
        for m: ServerMessage in [.status("in-progress"), .ended, .error(code: "x", message: "y"), .pong] {
            #expect(p.deliver(m))
        }
        let c = Conn(role: .clinician, peers: [PeerState(role: .patient)])
        #expect(c.deliver(.location(address: "a", at: "t")))
    }
}
