import Testing

@testable import ConfideSignalling

/// `,"to":"<role>"` when `to` is non-nil, else nothing.
func toMember(_ to: CallRole?) -> String { to.map { #","to":"\#($0.rawValue)""# } ?? "" }

func frame(_ m: ClientMessage) -> String {
    switch m {
    case .offer(let s, let to): return #"{"type":"offer","sdp":\#(lit(s))\#(toMember(to))}"#
    case .answer(let s, let to): return #"{"type":"answer","sdp":\#(lit(s))\#(toMember(to))}"#
    case .candidate(let c, let to):
        let mid = c.sdpMid.map(lit) ?? "null"
        let line = c.sdpMLineIndex.map(String.init) ?? "null"
        return
            #"{"type":"candidate","candidate":\#(lit(c.candidate)),"sdpMid":\#(mid),"sdpMLineIndex":\#(line)\#(toMember(to))}"#
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
            .offer(sdp: sdp, to: nil), .candidate(candidate, to: nil), .media(mode: .audioOnly, muted: true),
            .chat(text: "hi"),
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
            c.receive(.offer(sdp: sdp, to: nil), at: 0)
                == .refuse(code: "no-peer", message: "Nobody else is in the call yet.")
        )
        #expect(c.refusals == 1)
        // Its own seat in the list does not count as a peer.
        let d = Conn(role: .clinician, peers: [PeerState(role: .clinician)])
        #expect(d.receive(.offer(sdp: sdp, to: nil), at: 0).refusalCode == "no-peer")
    }

    @Test func offerRelayedOncePeerJoined() {
        let c = Conn(role: .clinician, peers: [])
        #expect(c.deliver(.peerJoined(role: .patient, resumed: false)))
        #expect(c.peers[.patient] == PeerState(role: .patient, mode: .video, muted: false))
        #expect(c.receive(.offer(sdp: sdp, to: nil), at: 0) == .relay(.offer(from: .clinician, to: nil, sdp: sdp)))
        // Candidates may follow the offer.
        #expect(
            c.receive(.candidate(candidate, to: nil), at: 0) == .relay(.candidate(from: .clinician, to: nil, candidate))
        )
        #expect(c.refusals == 0)
    }

    @Test func offerRelayedWithPeerFromWelcome() {
        let c = Conn(role: .patient, peers: [PeerState(role: .clinician, mode: .audioOnly, muted: true)])
        #expect(c.peers[.clinician]?.mode == .audioOnly)
        #expect(
            c.receive(frame: frame(.offer(sdp: sdp, to: nil)), at: 0)
                == .relay(.offer(from: .patient, to: nil, sdp: sdp))
        )
    }

    @Test func answerWithoutOfferIsRefused() {
        let c = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        #expect(
            c.receive(.answer(sdp: sdp, to: nil), at: 0)
                == .refuse(code: "out-of-order", message: "There is no offer to answer.")
        )
        // Its own offer does not make an answer possible either.
        #expect(c.receive(.offer(sdp: sdp, to: nil), at: 0) == .relay(.offer(from: .patient, to: nil, sdp: sdp)))
        #expect(c.receive(.answer(sdp: sdp, to: nil), at: 0).refusalCode == "out-of-order")
        // Nor does an offer from itself coming back through the relay (not forwarded, no state change).
        #expect(!c.deliver(.offer(from: .patient, to: nil, sdp: sdp)))
        #expect(c.receive(.answer(sdp: sdp, to: nil), at: 0).refusalCode == "out-of-order")
    }

    @Test func deliveredOfferThenAnswerRelayedOnce() {
        let c = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        #expect(c.deliver(.offer(from: .clinician, to: nil, sdp: sdp)))
        #expect(
            c.receive(.candidate(candidate, to: nil), at: 0) == .relay(.candidate(from: .patient, to: nil, candidate))
        )
        #expect(c.receive(.answer(sdp: sdp, to: nil), at: 0) == .relay(.answer(from: .patient, to: nil, sdp: sdp)))
        #expect(c.receive(.answer(sdp: sdp, to: nil), at: 0).refusalCode == "out-of-order")
        #expect(c.refusals == 1)
        // A renegotiation: a new offer, a new answer.
        #expect(c.deliver(.offer(from: .clinician, to: nil, sdp: sdp)))
        #expect(c.receive(.answer(sdp: sdp, to: nil), at: 0) == .relay(.answer(from: .patient, to: nil, sdp: sdp)))
    }

    @Test func glareOfferWhileOwingAnAnswerIsAllowed() {
        let c = Conn(role: .clinician, peers: [PeerState(role: .patient)])
        #expect(c.deliver(.offer(from: .patient, to: nil, sdp: sdp)))
        #expect(c.receive(.offer(sdp: sdp, to: nil), at: 0) == .relay(.offer(from: .clinician, to: nil, sdp: sdp)))
        #expect(c.deliver(.answer(from: .patient, to: nil, sdp: sdp)))
        #expect(c.refusals == 0)
    }

    @Test func candidateBeforeOfferIsRefused() {
        let c = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        #expect(
            c.receive(.candidate(candidate, to: nil), at: 0)
                == .refuse(code: "out-of-order", message: "No offer has been made yet.")
        )
        #expect(c.receive(frame: frame(.candidate(candidate, to: nil)), at: 0).refusalCode == "out-of-order")
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
        #expect(q.receive(.offer(sdp: "hello", to: nil), at: 0).closeCode == .malformed)
    }

    @Test func fifthRefusalCloses4400() {
        let c = Conn(role: .patient, peers: [])
        let refused: [ClientMessage] = [
            .end, .answer(sdp: sdp, to: nil), .candidate(candidate, to: nil), .offer(sdp: sdp, to: nil),
        ]
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
        #expect(c.receive(.offer(sdp: sdp, to: nil), at: 0).refusalCode == "no-peer")
    }

    @Test func peerLeavingCancelsTheOwedAnswer() {
        let c = Conn(role: .clinician, peers: [PeerState(role: .patient)])
        #expect(c.deliver(.offer(from: .patient, to: nil, sdp: sdp)))
        #expect(c.deliver(.peerLeft(role: .patient, reason: .dropped)))
        #expect(c.receive(.answer(sdp: sdp, to: nil), at: 0).refusalCode == "out-of-order")
        // Candidates already in flight are not refused.
        #expect(
            c.receive(.candidate(candidate, to: nil), at: 0) == .relay(.candidate(from: .clinician, to: nil, candidate))
        )
        // A new peer starts a new negotiation.
        #expect(c.deliver(.peerJoined(role: .patient, resumed: false)))
        #expect(c.receive(.candidate(candidate, to: nil), at: 0).refusalCode == "out-of-order")
    }

    @Test func deliverForwardsAllButOwnMessages() {
        let p = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        #expect(!p.deliver(.candidate(from: .patient, to: nil, candidate)))
        #expect(p.deliver(.candidate(from: .clinician, to: nil, candidate)))
        #expect(!p.deliver(.answer(from: .patient, to: nil, sdp: sdp)))
        #expect(p.deliver(.answer(from: .clinician, to: nil, sdp: sdp)))
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

    // MARK: A second clinician: three participants, one peer connection per pair.

    /// The patient, with the clinician and the invited clinician (guest) in the room.
    func patientWithTwoPeers() -> Conn {
        Conn(role: .patient, peers: [PeerState(role: .clinician), PeerState(role: .guest)])
    }

    @Test func addressedNegotiationIsPerPeer() {
        let p = patientWithTwoPeers()
        // An offer to the clinician.
        #expect(
            p.receive(.offer(sdp: sdp, to: .clinician), at: 0)
                == .relay(.offer(from: .patient, to: .clinician, sdp: sdp))
        )
        #expect(p.deliver(.answer(from: .clinician, to: .patient, sdp: sdp)))
        #expect(
            p.receive(.candidate(candidate, to: .clinician), at: 0)
                == .relay(.candidate(from: .patient, to: .clinician, candidate))
        )
        // Nothing has been offered to or by the guest yet.
        #expect(
            p.receive(.candidate(candidate, to: .guest), at: 0)
                == .refuse(code: "out-of-order", message: "No offer has been made with that participant yet.")
        )
        #expect(
            p.receive(.answer(sdp: sdp, to: .guest), at: 0)
                == .refuse(code: "out-of-order", message: "There is no offer from that participant to answer.")
        )
        // The clinician's answer answered the patient's offer: the patient owes the clinician nothing.
        #expect(p.receive(.answer(sdp: sdp, to: .clinician), at: 0).refusalCode == "out-of-order")
        #expect(p.refusals == 3)
        // The guest offers: now the patient owes the guest one answer, and candidates may flow to it.
        #expect(p.deliver(.offer(from: .guest, to: .patient, sdp: sdp)))
        #expect(
            p.receive(.candidate(candidate, to: .guest), at: 0)
                == .relay(.candidate(from: .patient, to: .guest, candidate))
        )
        #expect(
            p.receive(.answer(sdp: sdp, to: .guest), at: 0) == .relay(.answer(from: .patient, to: .guest, sdp: sdp))
        )
        #expect(p.receive(.answer(sdp: sdp, to: .guest), at: 0).refusalCode == "out-of-order")
        #expect(p.refusals == 4)
    }

    @Test func messagesAddressedToSomeoneElseAreNotDelivered() {
        let p = patientWithTwoPeers()
        // The clinician and the guest negotiate with each other: none of it is for the patient.
        #expect(!p.deliver(.offer(from: .clinician, to: .guest, sdp: sdp)))
        #expect(!p.deliver(.answer(from: .guest, to: .clinician, sdp: sdp)))
        #expect(!p.deliver(.candidate(from: .guest, to: .clinician, candidate)))
        // ... and it changes nothing for the patient.
        #expect(p.receive(.answer(sdp: sdp, to: .clinician), at: 0).refusalCode == "out-of-order")
        #expect(p.receive(.answer(sdp: sdp, to: nil), at: 0).refusalCode == "out-of-order")
        #expect(p.receive(.candidate(candidate, to: nil), at: 0).refusalCode == "out-of-order")
        // Addressed to the patient, or to everyone: delivered.
        #expect(p.deliver(.candidate(from: .guest, to: .patient, candidate)))
        #expect(p.deliver(.candidate(from: .guest, to: nil, candidate)))
        #expect(p.deliver(.offer(from: .clinician, to: nil, sdp: sdp)))
        #expect(p.receive(.answer(sdp: sdp, to: nil), at: 0) == .relay(.answer(from: .patient, to: nil, sdp: sdp)))
        // Its own messages, addressed or not, come back to nobody.
        #expect(!p.deliver(.offer(from: .patient, to: .guest, sdp: sdp)))
        #expect(!p.deliver(.offer(from: .patient, to: .patient, sdp: sdp)))
    }

    @Test func addressingYourselfOrSomeoneAbsentIsRefused() {
        let p = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        for m: ClientMessage in [
            .offer(sdp: sdp, to: .patient), .answer(sdp: sdp, to: .patient), .candidate(candidate, to: .patient),
        ] {
            #expect(
                p.receive(m, at: 0) == .refuse(code: "not-allowed", message: "A message cannot be sent to yourself.")
            )
        }
        #expect(p.receive(frame: frame(.offer(sdp: sdp, to: .patient)), at: 0).refusalCode == "not-allowed")
        #expect(p.refusals == 4)
        let q = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        for m: ClientMessage in [
            .offer(sdp: sdp, to: .guest), .answer(sdp: sdp, to: .guest), .candidate(candidate, to: .guest),
        ] {
            #expect(q.receive(m, at: 0) == .refuse(code: "no-peer", message: "That participant is not in the call."))
        }
        // An offer owed by a peer that then left cannot be answered by name either.
        let g = Conn(role: .guest, peers: [PeerState(role: .clinician), PeerState(role: .patient)])
        #expect(g.deliver(.offer(from: .patient, to: .guest, sdp: sdp)))
        #expect(g.deliver(.peerLeft(role: .patient, reason: .dropped)))
        #expect(g.receive(.answer(sdp: sdp, to: .patient), at: 0).refusalCode == "no-peer")
        #expect(g.receive(.answer(sdp: sdp, to: nil), at: 0).refusalCode == "out-of-order")
    }

    @Test func unaddressedOfferGoesToEveryPeer() {
        let p = patientWithTwoPeers()
        #expect(p.receive(.offer(sdp: sdp, to: nil), at: 0) == .relay(.offer(from: .patient, to: nil, sdp: sdp)))
        #expect(
            p.receive(.candidate(candidate, to: .clinician), at: 0)
                == .relay(.candidate(from: .patient, to: .clinician, candidate))
        )
        #expect(
            p.receive(.candidate(candidate, to: .guest), at: 0)
                == .relay(.candidate(from: .patient, to: .guest, candidate))
        )
        #expect(
            p.receive(.candidate(candidate, to: nil), at: 0) == .relay(.candidate(from: .patient, to: nil, candidate))
        )
        // Its own offers make no answer possible.
        #expect(p.receive(.answer(sdp: sdp, to: nil), at: 0).refusalCode == "out-of-order")
        #expect(p.receive(.answer(sdp: sdp, to: .guest), at: 0).refusalCode == "out-of-order")
    }

    @Test func unaddressedAnswerNeedsExactlyOneOwedOffer() {
        let p = patientWithTwoPeers()
        #expect(p.deliver(.offer(from: .clinician, to: .patient, sdp: sdp)))
        #expect(p.deliver(.offer(from: .guest, to: nil, sdp: sdp)))
        // Two offers owed an answer: which one?
        #expect(
            p.receive(.answer(sdp: sdp, to: nil), at: 0)
                == .refuse(
                    code: "out-of-order",
                    message: #"Several offers are waiting for an answer: say which one with "to"."#
                )
        )
        #expect(
            p.receive(.answer(sdp: sdp, to: .guest), at: 0) == .relay(.answer(from: .patient, to: .guest, sdp: sdp))
        )
        // One left: no need to name it. The relayed answer keeps the client's (absent) `to`.
        #expect(p.receive(.answer(sdp: sdp, to: nil), at: 0) == .relay(.answer(from: .patient, to: nil, sdp: sdp)))
        #expect(p.receive(.answer(sdp: sdp, to: nil), at: 0).refusalCode == "out-of-order")
        #expect(p.receive(.answer(sdp: sdp, to: .clinician), at: 0).refusalCode == "out-of-order")
        #expect(p.refusals == 3)
    }

    @Test func presenceResetsOnlyThatPeersNegotiation() {
        let p = patientWithTwoPeers()
        #expect(p.deliver(.offer(from: .clinician, to: nil, sdp: sdp)))
        #expect(p.deliver(.offer(from: .guest, to: nil, sdp: sdp)))
        // The guest leaves: only the clinician is owed an answer now, so no `to` is needed.
        #expect(p.deliver(.peerLeft(role: .guest, reason: .hangup)))
        #expect(p.peers.keys.sorted { $0.rawValue < $1.rawValue } == [.clinician])
        #expect(p.receive(.answer(sdp: sdp, to: nil), at: 0) == .relay(.answer(from: .patient, to: nil, sdp: sdp)))
        // The guest comes back: a new negotiation with it, the one with the clinician goes on.
        #expect(p.deliver(.peerJoined(role: .guest, resumed: false)))
        #expect(p.receive(.candidate(candidate, to: .guest), at: 0).refusalCode == "out-of-order")
        #expect(
            p.receive(.candidate(candidate, to: .clinician), at: 0)
                == .relay(.candidate(from: .patient, to: .clinician, candidate))
        )
        // A resume keeps the state.
        #expect(p.receive(.offer(sdp: sdp, to: .guest), at: 0) == .relay(.offer(from: .patient, to: .guest, sdp: sdp)))
        #expect(p.deliver(.peerJoined(role: .guest, resumed: true)))
        #expect(
            p.receive(.candidate(candidate, to: .guest), at: 0)
                == .relay(.candidate(from: .patient, to: .guest, candidate))
        )
    }

    @Test func theGuestIsAParticipantButNotTheClinician() {
        let g = Conn(role: .guest, peers: [PeerState(role: .patient), PeerState(role: .clinician, mode: .audioOnly)])
        #expect(g.peers.count == 2)
        #expect(
            g.receive(.end, at: 0)
                == .refuse(code: "not-allowed", message: "Only the clinician can end the consultation.")
        )
        #expect(
            g.receive(.location(address: "here"), at: 0)
                == .refuse(code: "not-allowed", message: "Only the patient can share a location.")
        )
        #expect(g.receive(.chat(text: "hello"), at: 0) == .chat(text: "hello"))
        #expect(g.receive(.media(mode: .audioOnly, muted: false), at: 0) == .media(mode: .audioOnly, muted: false))
        #expect(
            g.receive(.offer(sdp: sdp, to: .patient), at: 0) == .relay(.offer(from: .guest, to: .patient, sdp: sdp))
        )
        #expect(g.refusals == 2)
        // The patient's address is for the consultation's clinician only.
        #expect(!g.deliver(.location(address: "a", at: "t")))
        #expect(g.deliver(.chat(id: "1", from: .patient, text: "hi", at: "t")))
        #expect(!g.deliver(.chat(id: "2", from: .guest, text: "hi", at: "t")))
        #expect(g.deliver(.media(from: .clinician, mode: .video, muted: true)))
        #expect(g.peers[.clinician] == PeerState(role: .clinician, mode: .video, muted: true))
        // Presence of the guest, as the others see it.
        let c = Conn(role: .clinician, peers: [PeerState(role: .patient)])
        #expect(c.deliver(.peerJoined(role: .guest, resumed: false)))
        #expect(!c.deliver(.peerJoined(role: .guest, resumed: false)))
        #expect(c.peers.count == 2)
        #expect(
            c.receive(.offer(sdp: sdp, to: .guest), at: 0) == .relay(.offer(from: .clinician, to: .guest, sdp: sdp))
        )
        #expect(c.deliver(.peerLeft(role: .guest, reason: .dropped)))
        #expect(c.receive(.offer(sdp: sdp, to: .guest), at: 0).refusalCode == "no-peer")
        #expect(c.receive(.offer(sdp: sdp, to: nil), at: 0) == .relay(.offer(from: .clinician, to: nil, sdp: sdp)))
    }

    @Test func invitationsGoToTheirRoles() {
        let p = Conn(role: .patient, peers: [PeerState(role: .clinician)])
        let c = Conn(role: .clinician, peers: [PeerState(role: .patient)])
        let g = Conn(role: .guest, peers: [PeerState(role: .patient), PeerState(role: .clinician)])
        let invitation = ServerMessage.invitation(id: "i", clinicianName: "Dr. B")
        let answer = ServerMessage.invitationAnswer(id: "i", status: "accepted")
        let withdrawn = ServerMessage.invitationWithdrawn(id: "i")
        #expect(p.deliver(invitation) && !c.deliver(invitation) && !g.deliver(invitation))
        #expect(!p.deliver(answer) && c.deliver(answer) && !g.deliver(answer))
        #expect(p.deliver(withdrawn) && c.deliver(withdrawn) && g.deliver(withdrawn))
    }
}
