import Testing

@testable import ConfideSignalling

let sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

func decoded(_ text: String) -> ClientMessage? {
    if case .success(let m) = MessageCodec.decode(text) { return m }
    return nil
}

func violation(_ text: String) -> ProtocolViolation? {
    if case .failure(let v) = MessageCodec.decode(text) { return v }
    return nil
}

/// A JSON string literal for `s` (through the writer under test, which the round-trip tests cover).
func lit(_ s: String) -> String { JSONWriter.write(.string(s)) }

@Suite struct CodecAcceptsTests {
    @Test func everyValidMessage() {
        let s = lit(sdp)
        #expect(decoded(#"{"type":"offer","sdp":\#(s)}"#) == .offer(sdp: sdp, to: nil))
        #expect(decoded(#"{"sdp":\#(s),"type":"answer"}"#) == .answer(sdp: sdp, to: nil))
        #expect(
            decoded(
                #"{"type":"candidate","candidate":"candidate:1 1 udp 2122260223 10.0.0.1 54321 typ host","sdpMid":"0","sdpMLineIndex":0}"#
            )
                == .candidate(
                    IceCandidate(
                        candidate: "candidate:1 1 udp 2122260223 10.0.0.1 54321 typ host",
                        sdpMid: "0",
                        sdpMLineIndex: 0
                    ),
                    to: nil
                )
        )
        #expect(
            decoded(#"{"type":"candidate","candidate":"","sdpMid":null,"sdpMLineIndex":null}"#)
                == .candidate(IceCandidate(candidate: "", sdpMid: nil, sdpMLineIndex: nil), to: nil)
        )
        #expect(
            decoded(#"{"type":"candidate","candidate":"c","sdpMid":"audio","sdpMLineIndex":64}"#)
                == .candidate(IceCandidate(candidate: "c", sdpMid: "audio", sdpMLineIndex: 64), to: nil)
        )
        #expect(decoded(#"{"type":"media","mode":"video","muted":false}"#) == .media(mode: .video, muted: false))
        #expect(decoded(#"{"type":"media","mode":"audio-only","muted":true}"#) == .media(mode: .audioOnly, muted: true))
        #expect(decoded(#"{"type":"chat","text":"Hello, doctor"}"#) == .chat(text: "Hello, doctor"))
        #expect(
            decoded(#"{"type":"location","address":"1 Main St, Springfield"}"#)
                == .location(address: "1 Main St, Springfield")
        )
        #expect(decoded(#"{"type":"hangup"}"#) == .hangup)
        #expect(decoded(#"{"type":"end"}"#) == .end)
        #expect(decoded(#" { "type" : "ping" } "#) == .ping)
    }

    @Test func offerAnswerCandidateMayNameTheirAddressee() {
        let s = lit(sdp)
        for role in CallRole.allCases {
            #expect(decoded(#"{"type":"offer","sdp":\#(s),"to":"\#(role.rawValue)"}"#) == .offer(sdp: sdp, to: role))
            #expect(decoded(#"{"to":"\#(role.rawValue)","type":"answer","sdp":\#(s)}"#) == .answer(sdp: sdp, to: role))
            #expect(
                decoded(
                    #"{"type":"candidate","candidate":"","sdpMid":null,"sdpMLineIndex":null,"to":"\#(role.rawValue)"}"#
                )
                    == .candidate(IceCandidate(candidate: "", sdpMid: nil, sdpMLineIndex: nil), to: role)
            )
        }
        #expect(decoded(#"{"type":"offer","sdp":\#(s),"to":"guest"}"#) == .offer(sdp: sdp, to: .guest))
        #expect(CallRole(rawValue: "guest") == .guest)
        // The helper the state machine tests use writes the same frames.
        for to in [nil] + CallRole.allCases.map(Optional.some) {
            for m: ClientMessage in [
                .offer(sdp: sdp, to: to), .answer(sdp: sdp, to: to), .candidate(candidate, to: to),
            ] {
                #expect(decoded(frame(m)) == m)
            }
        }
    }

    @Test func chatIsTrimmedAndKeepsNewlinesTabsAndUnicode() {
        #expect(decoded(#"{"type":"chat","text":"  line one\nline\ttwo\r\n  "}"#) == .chat(text: "line one\nline\ttwo"))
        #expect(decoded(#"{"type":"chat","text":"caf\u00e9 \ud83d\ude00 ok"}"#) == .chat(text: "café 😀 ok"))
        #expect(
            decoded(#"{"type":"location","address":"  Flat 2\n10 High St  "}"#)
                == .location(address: "Flat 2\n10 High St")
        )
    }

    @Test func limitsAreInclusive() {
        let longest = String(repeating: "a", count: 2000)
        #expect(decoded(#"{"type":"chat","text":"\#(longest)"}"#) == .chat(text: longest))
        let address = String(repeating: "b", count: 300)
        #expect(decoded(#"{"type":"location","address":"\#(address)"}"#) == .location(address: address))
        let bigSDP = "v=0" + String(repeating: "x", count: MessageCodec.maxSDPBytes - 3)
        #expect(decoded(#"{"type":"offer","sdp":"\#(bigSDP)"}"#) == .offer(sdp: bigSDP, to: nil))
        let candidate = String(repeating: "c", count: 1024)
        let mid = String(repeating: "m", count: 64)
        #expect(
            decoded(#"{"type":"candidate","candidate":"\#(candidate)","sdpMid":"\#(mid)","sdpMLineIndex":1.0}"#)
                == .candidate(IceCandidate(candidate: candidate, sdpMid: mid, sdpMLineIndex: 1), to: nil)
        )
        let frame = #"{"type":"chat","text":"x"}"# + String(repeating: " ", count: MessageCodec.maxFrameBytes - 26)
        #expect(frame.utf8.count == MessageCodec.maxFrameBytes)
        #expect(decoded(frame) == .chat(text: "x"))
    }
}

@Suite struct CodecRejectsTests {
    func expectMalformed(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let v = violation(text)
        #expect(v?.code == .malformed, "\(text.prefix(120))", sourceLocation: sourceLocation)
    }

    @Test func notJSON() {
        for text in [
            "", "   ", "hello", "{", #"{"type":"ping""#, #"{"type":"ping"} x"#, #"{"type":"ping"}{}"#,
            "{'type':'ping'}",
            #"{"type":"ping",}"#, #"{type:"ping"}"#, "\u{FEFF}{\"type\":\"ping\"}", #"{"type":"chat","text":"a\x"}"#,
        ] {
            expectMalformed(text)
        }
    }

    @Test func notAnObject() {
        for text in [#"[{"type":"ping"}]"#, #""ping""#, "1", "true", "null", "[]"] { expectMalformed(text) }
    }

    @Test func missingOrBadType() {
        for text in [
            "{}", #"{"sdp":"v=0"}"#, #"{"type":"pong"}"#, #"{"type":"Ping"}"#, #"{"type":1}"#, #"{"type":null}"#,
            #"{"type":["ping"]}"#, #"{"type":"ended"}"#, #"{"type":"welcome"}"#,
        ] {
            expectMalformed(text)
        }
    }

    @Test func unknownFields() {
        let s = lit(sdp)
        for text in [
            #"{"type":"offer","sdp":\#(s),"from":"clinician"}"#, #"{"type":"ping","to":"patient"}"#,
            #"{"type":"media","mode":"video","muted":false,"to":"patient"}"#,
            #"{"type":"chat","text":"hi","to":"guest"}"#,
            #"{"type":"ping","x":1}"#, #"{"type":"hangup","reason":"dropped"}"#,
            #"{"type":"chat","text":"hi","id":"1"}"#,
            #"{"type":"media","mode":"video","muted":false,"from":"patient"}"#,
        ] {
            expectMalformed(text)
        }
    }

    @Test func badAddressee() {
        let s = lit(sdp)
        for to in [
            #""doctor""#, #""Patient""#, #""""#, #"" guest""#, "null", "1", "true", #"["patient"]"#,
            #"{"role":"patient"}"#,
        ] {
            expectMalformed(#"{"type":"offer","sdp":\#(s),"to":\#(to)}"#)
            expectMalformed(#"{"type":"answer","sdp":\#(s),"to":\#(to)}"#)
            expectMalformed(#"{"type":"candidate","candidate":"c","sdpMid":"0","sdpMLineIndex":0,"to":\#(to)}"#)
        }
        // `to` is optional, the other members are not; and it is said once.
        expectMalformed(#"{"type":"offer","to":"patient"}"#)
        expectMalformed(#"{"type":"candidate","candidate":"c","sdpMid":"0","to":"patient"}"#)
        expectMalformed(#"{"type":"offer","sdp":\#(s),"to":"patient","to":"guest"}"#)
        // A bad `to` is not echoed in the reason.
        #expect(violation(#"{"type":"offer","sdp":\#(s),"to":"ZZmarkerZZ"}"#)?.reason == "invalid to")
    }

    @Test func missingFields() {
        for text in [
            #"{"type":"offer"}"#, #"{"type":"candidate","candidate":"c","sdpMid":"0"}"#,
            #"{"type":"candidate","candidate":"c","sdpMLineIndex":0}"#, #"{"type":"media","mode":"video"}"#,
            #"{"type":"chat"}"#, #"{"type":"location"}"#,
        ] {
            expectMalformed(text)
        }
    }

    @Test func wrongTypes() {
        for text in [
            #"{"type":"offer","sdp":1}"#, #"{"type":"offer","sdp":null}"#,
            #"{"type":"media","mode":"video","muted":0}"#,
            #"{"type":"media","mode":"video","muted":1}"#, #"{"type":"media","mode":"video","muted":"false"}"#,
            #"{"type":"media","mode":"audio","muted":false}"#, #"{"type":"media","mode":"Video","muted":false}"#,
            #"{"type":"media","mode":null,"muted":false}"#, #"{"type":"chat","text":["hi"]}"#,
            #"{"type":"chat","text":{"a":1}}"#,
            #"{"type":"candidate","candidate":null,"sdpMid":null,"sdpMLineIndex":null}"#,
            #"{"type":"candidate","candidate":"c","sdpMid":0,"sdpMLineIndex":0}"#,
            #"{"type":"candidate","candidate":"c","sdpMid":"0","sdpMLineIndex":"0"}"#,
            #"{"type":"candidate","candidate":"c","sdpMid":"0","sdpMLineIndex":true}"#,
            #"{"type":"location","address":false}"#,
        ] {
            expectMalformed(text)
        }
    }

    @Test func nonIntegerOrOutOfRangeMLineIndex() {
        for index in ["1.5", "0.1", "-1", "65", "1e3", "1e400", "-0.5"] {
            expectMalformed(#"{"type":"candidate","candidate":"c","sdpMid":"0","sdpMLineIndex":\#(index)}"#)
        }
    }

    @Test func badSDP() {
        let oversize = "v=0" + String(repeating: "x", count: MessageCodec.maxSDPBytes - 2)
        #expect(oversize.utf8.count == MessageCodec.maxSDPBytes + 1)
        for s in ["", "v=1\r\n", " v=0", "o=- 1 2 IN IP4 0.0.0.0\r\nv=0", "V=0", oversize] {
            expectMalformed(#"{"type":"offer","sdp":\#(lit(s))}"#)
            expectMalformed(#"{"type":"answer","sdp":\#(lit(s))}"#)
        }
    }

    @Test func badCandidate() {
        let long = String(repeating: "c", count: 1025)
        expectMalformed(#"{"type":"candidate","candidate":"\#(long)","sdpMid":"0","sdpMLineIndex":0}"#)
        let mid = String(repeating: "m", count: 65)
        expectMalformed(#"{"type":"candidate","candidate":"c","sdpMid":"\#(mid)","sdpMLineIndex":0}"#)
    }

    @Test func badChat() {
        expectMalformed(#"{"type":"chat","text":"\#(String(repeating: "a", count: 2001))"}"#)
        expectMalformed(#"{"type":"chat","text":" \#(String(repeating: "é", count: 2001)) "}"#)
        for text in [
            "", "   ", "\\n\\t\\r", "a\\u0000b", "bell\\u0007", "esc\\u001b[31m", "del\\u007f", "c1\\u0085x",
            "a\\u000bv",
        ] {
            expectMalformed(#"{"type":"chat","text":"\#(text)"}"#)
        }
        // A raw control character is not even JSON.
        expectMalformed("{\"type\":\"chat\",\"text\":\"a\u{01}b\"}")
        // Grapheme stacking does not get around the limit: 1 character, 2001 scalars.
        expectMalformed(#"{"type":"chat","text":"a\#(String(repeating: "\u{0301}", count: 2000))"}"#)
    }

    @Test func badLocation() {
        expectMalformed(#"{"type":"location","address":"\#(String(repeating: "a", count: 301))"}"#)
        expectMalformed(#"{"type":"location","address":"  "}"#)
        expectMalformed(#"{"type":"location","address":"a\u0000b"}"#)
    }

    @Test func duplicateKeys() {
        expectMalformed(#"{"type":"ping","type":"ping"}"#)
        expectMalformed(#"{"type":"chat","text":"a","text":"b"}"#)
        expectMalformed(#"{"type":"chat","text":"a","t\u0065xt":"b"}"#)
    }

    @Test func loneSurrogatesAndDeepNesting() {
        expectMalformed(#"{"type":"chat","text":"\ud83d"}"#)
        expectMalformed(#"{"type":"chat","text":"\ude00x"}"#)
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        expectMalformed(#"{"type":"chat","text":\#(deep)}"#)
        expectMalformed(deep)
    }

    @Test func oversizeFrameIs1009() {
        let frame = #"{"type":"chat","text":"x"}"# + String(repeating: " ", count: MessageCodec.maxFrameBytes - 25)
        #expect(frame.utf8.count == MessageCodec.maxFrameBytes + 1)
        #expect(violation(frame)?.code == .tooBig)
        // Bytes, not characters: 21,846 three-byte characters are 65,538 bytes.
        #expect(violation(String(repeating: "€", count: 21_846))?.code == .tooBig)
    }

    @Test func reasonsNeverEchoInput() {
        let marker = "ZZmarkerZZ"
        for text in [
            marker, #"{"type":"\#(marker)"}"#, #"{"type":"ping","\#(marker)":1}"#,
            #"{"type":"chat","text":"\#(marker)\u0000"}"#,
            #"{"type":"offer","sdp":"\#(marker)"}"#,
        ] {
            let v = violation(text)
            #expect(v != nil)
            #expect(v?.reason.contains(marker) == false)
            #expect((v?.reason.utf8.count ?? 0) <= 123)
        }
    }
}
