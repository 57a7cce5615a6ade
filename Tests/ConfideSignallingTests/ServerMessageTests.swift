import Testing

@testable import ConfideSignalling

let candidate = IceCandidate(
    candidate: "candidate:1 1 udp 2122260223 10.0.0.1 54321 typ host",
    sdpMid: "0",
    sdpMLineIndex: 0
)

/// One example of every case (and every optional shape).
let everyServerMessage: [ServerMessage] = [
    .welcome(
        Welcome(
            role: .clinician,
            consultation: "c-1",
            resumeToken: "tok",
            status: "confirmed",
            modality: "video",
            peers: [PeerState(role: .patient, mode: .audioOnly, muted: true)],
            location: "1 Main St"
        )
    ),
    .welcome(
        Welcome(
            role: .patient,
            consultation: "c-2",
            resumeToken: "t",
            status: "in-progress",
            modality: "video",
            peers: []
        )
    ),
    .peerJoined(role: .patient, resumed: false),
    .peerJoined(role: .clinician, resumed: true),
    .peerLeft(role: .patient, reason: .hangup),
    .peerLeft(role: .clinician, reason: .dropped),
    .offer(from: .clinician, to: nil, sdp: sdp),
    .answer(from: .patient, to: nil, sdp: sdp),
    .candidate(from: .patient, to: nil, candidate),
    .candidate(from: .clinician, to: nil, IceCandidate(candidate: "", sdpMid: nil, sdpMLineIndex: nil)),
    .offer(from: .patient, to: .guest, sdp: sdp),
    .answer(from: .guest, to: .clinician, sdp: sdp),
    .candidate(from: .clinician, to: .patient, candidate),
    .candidate(from: .guest, to: .patient, IceCandidate(candidate: "", sdpMid: nil, sdpMLineIndex: nil)),
    .peerJoined(role: .guest, resumed: false),
    .peerLeft(role: .guest, reason: .hangup),
    .media(from: .guest, mode: .video, muted: true),
    .chat(id: "m-2", from: .guest, text: "Hello", at: "2026-11-26T04:31:00Z"),
    .media(from: .patient, mode: .audioOnly, muted: false),
    .chat(
        id: "m-1",
        from: .patient,
        text: "Hello \"doctor\"\n\\ 😀 \u{0}\u{1F}\u{7F}\u{2028}",
        at: "2026-11-26T04:30:00Z"
    ),
    .location(address: "Flat 2\n10 High St", at: "2026-11-26T04:30:00Z"),
    .status("in-progress"),
    .ended,
    .error(code: "out-of-order", message: "There is no offer to answer."),
    .pong,
    .invitation(id: "inv-1", clinicianName: "Dr. Ada \"Lovelace\" Byron"),
    .invitationAnswer(id: "inv-1", status: "accepted"),
    .invitationAnswer(id: "inv-2", status: "declined"),
    .invitationWithdrawn(id: "inv-1"),
    .recordingConsent(id: "c-1", status: "granted"),
    .recording(id: "r-1", state: "recording", segment: 2),
]

@Suite struct ServerMessageTests {
    @Test(arguments: everyServerMessage) func roundTrips(_ message: ServerMessage) {
        #expect(ServerMessage.parse(message.json) == message)
    }

    @Test func coversEveryCase() {
        #expect(Set(everyServerMessage.map(\.type)).count == 18)
    }

    @Test func exactJSON() {
        #expect(
            ServerMessage.peerJoined(role: .patient, resumed: false).json
                == #"{"resumed":false,"role":"patient","type":"peer-joined"}"#
        )
        #expect(ServerMessage.pong.json == #"{"type":"pong"}"#)
        #expect(ServerMessage.ended.json == #"{"type":"ended"}"#)
        #expect(ServerMessage.status("ended").json == #"{"status":"ended","type":"status"}"#)
        #expect(
            ServerMessage.peerLeft(role: .clinician, reason: .dropped).json
                == #"{"reason":"dropped","role":"clinician","type":"peer-left"}"#
        )
        #expect(
            ServerMessage.candidate(
                from: .patient,
                to: nil,
                IceCandidate(candidate: "", sdpMid: nil, sdpMLineIndex: nil)
            ).json
                == #"{"candidate":"","from":"patient","sdpMLineIndex":null,"sdpMid":null,"type":"candidate"}"#
        )
        #expect(
            ServerMessage.candidate(from: .patient, to: nil, candidate).json.contains(
                #""sdpMLineIndex":0,"sdpMid":"0""#
            )
        )
        #expect(
            ServerMessage.media(from: .clinician, mode: .audioOnly, muted: true).json
                == #"{"from":"clinician","mode":"audio-only","muted":true,"type":"media"}"#
        )
        #expect(
            ServerMessage.chat(id: "1", from: .patient, text: "a\"b\\c\nd\u{1}", at: "t").json
                == #"{"at":"t","from":"patient","id":"1","text":"a\"b\\c\nd\u0001","type":"chat"}"#
        )
        #expect(
            ServerMessage.welcome(
                Welcome(
                    role: .patient,
                    consultation: "c",
                    resumeToken: "r",
                    status: "confirmed",
                    modality: "video",
                    peers: [PeerState(role: .clinician)]
                )
            ).json
                == #"{"consultation":"c","location":null,"modality":"video","peers":[{"mode":"video","muted":false,"role":"clinician"}],"resumeToken":"r","role":"patient","status":"confirmed","type":"welcome"}"#
        )
    }

    @Test func exactJSONOfTheThreePartyMessages() {
        // Without `to`, no "to" key: a two-person call's messages are as they were.
        #expect(
            ServerMessage.offer(from: .clinician, to: nil, sdp: "v=0").json
                == #"{"from":"clinician","sdp":"v=0","type":"offer"}"#
        )
        #expect(
            ServerMessage.answer(from: .patient, to: nil, sdp: "v=0").json
                == #"{"from":"patient","sdp":"v=0","type":"answer"}"#
        )
        #expect(
            ServerMessage.offer(from: .clinician, to: .guest, sdp: "v=0").json
                == #"{"from":"clinician","sdp":"v=0","to":"guest","type":"offer"}"#
        )
        #expect(
            ServerMessage.answer(from: .guest, to: .patient, sdp: "v=0").json
                == #"{"from":"guest","sdp":"v=0","to":"patient","type":"answer"}"#
        )
        #expect(
            ServerMessage.candidate(
                from: .guest,
                to: .clinician,
                IceCandidate(candidate: "", sdpMid: nil, sdpMLineIndex: nil)
            )
            .json
                == #"{"candidate":"","from":"guest","sdpMLineIndex":null,"sdpMid":null,"to":"clinician","type":"candidate"}"#
        )
        for m in everyServerMessage {
            switch m {
            case .offer(_, let to, _), .answer(_, let to, _), .candidate(_, let to, _):
                #expect(m.json.contains(#""to":"#) == (to != nil), "\(m.json)")
            default:
                #expect(!m.json.contains(#""to":"#), "\(m.json)")
            }
        }
        #expect(
            ServerMessage.invitation(id: "i", clinicianName: "Dr. B").json
                == #"{"clinician_name":"Dr. B","id":"i","type":"invitation"}"#
        )
        #expect(
            ServerMessage.invitationAnswer(id: "i", status: "accepted").json
                == #"{"id":"i","status":"accepted","type":"invitation-answer"}"#
        )
        #expect(ServerMessage.invitationWithdrawn(id: "i").json == #"{"id":"i","type":"invitation-withdrawn"}"#)
        #expect(
            ServerMessage.welcome(
                Welcome(
                    role: .guest,
                    consultation: "c",
                    resumeToken: "r",
                    status: "in-progress",
                    modality: "video",
                    peers: [PeerState(role: .patient), PeerState(role: .clinician)]
                )
            ).json.contains(#""role":"guest""#)
        )
        #expect(CloseCode.withdrawn.rawValue == 4403)
        #expect(CloseCode(rawValue: 4403) == .withdrawn)
    }

    @Test func parseRejectsAnythingElse() {
        for text in [
            "", "[]", #"{"type":"nope"}"#, #"{"type":"pong","x":1}"#, #"{"type":"ended","from":"patient"}"#,
            #"{"type":"peer-joined","role":"patient"}"#, #"{"type":"peer-joined","role":"doctor","resumed":false}"#,
            #"{"type":"peer-joined","role":"patient","resumed":0}"#, #"{"type":"offer","sdp":"v=0"}"#,
            #"{"type":"candidate","from":"patient","candidate":"","sdpMid":null,"sdpMLineIndex":1.5}"#,
            #"{"type":"candidate","from":"patient","candidate":"","sdpMid":null}"#,
            #"{"type":"welcome","role":"patient","consultation":"c","resumeToken":"r","status":"s","modality":"m","peers":[{"role":"clinician","mode":"video","muted":false,"type":"x"}],"location":null}"#,
            #"{"type":"welcome","role":"patient","consultation":"c","resumeToken":"r","status":"s","modality":"m","peers":[]}"#,
            #"{"type":"pong","type":"pong"}"#,
            #"{"type":"offer","from":"patient","to":null,"sdp":"v=0"}"#,
            #"{"type":"offer","from":"patient","to":"doctor","sdp":"v=0"}"#,
            #"{"type":"answer","from":"patient","to":1,"sdp":"v=0"}"#,
            #"{"type":"candidate","from":"patient","to":"","candidate":"","sdpMid":null,"sdpMLineIndex":null}"#,
            #"{"type":"media","from":"patient","to":"guest","mode":"video","muted":false}"#,
            #"{"type":"invitation","id":"i"}"#, #"{"type":"invitation","id":"i","clinicianName":"B"}"#,
            #"{"type":"invitation","id":1,"clinician_name":"B"}"#,
            #"{"type":"invitation-answer","id":"i"}"#, #"{"type":"invitation-answer","id":"i","status":true}"#,
            #"{"type":"invitation-withdrawn"}"#, #"{"type":"invitation-withdrawn","id":"i","status":"withdrawn"}"#,
            #"{"type":"invitation_withdrawn","id":"i"}"#,
        ] {
            #expect(ServerMessage.parse(text) == nil, "\(text)")
        }
        // What parse accepts beyond `json`'s own output: whitespace and an integral number written as 1.0.
        #expect(ServerMessage.parse(#" { "type" : "pong" } "#) == .pong)
        #expect(
            ServerMessage.parse(
                #"{"type":"candidate","from":"patient","candidate":"","sdpMid":null,"sdpMLineIndex":1.0}"#
            )
                == .candidate(from: .patient, to: nil, IceCandidate(candidate: "", sdpMid: nil, sdpMLineIndex: 1))
        )
    }
}
