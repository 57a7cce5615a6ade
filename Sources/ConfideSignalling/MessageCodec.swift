// Decoding and validation of client frames (docs/design/calls.md, "Client to server").

/// Decodes the client's text frames. Everything not exactly as calls.md describes is a violation:
/// the connection is closed with 4400 (1009 for an oversized frame).
///
/// JSON is read strictly: duplicate keys, raw control characters in strings, lone surrogates,
/// nesting deeper than a message needs and trailing data are all malformed. Booleans are JSON
/// `true`/`false` only (never 0/1), and integers are JSON numbers with an integral value (`1.5` is
/// rejected).
public enum MessageCodec {
    public static let maxFrameBytes = 65_536
    public static let maxSDPBytes = 32_768
    static let maxCandidateBytes = 1024
    /// Unicode scalars, like the chat and address limits.
    static let maxMidCharacters = 64
    static let mLineIndexRange = 0...64
    static let maxChatCharacters = 2000
    static let maxAddressCharacters = 300

    /// The members each client message must have, besides `type`.
    static let members: [String: Set<String>] = [
        "offer": ["sdp"],
        "answer": ["sdp"],
        "candidate": ["candidate", "sdpMid", "sdpMLineIndex"],
        "media": ["mode", "muted"],
        "chat": ["text"],
        "location": ["address"],
        "hangup": [],
        "end": [],
        "ping": [],
    ]

    /// The members a client message may have besides those it must have.
    static let optionalMembers: [String: Set<String>] = [
        "offer": ["to"],
        "answer": ["to"],
        "candidate": ["to"],
    ]

    /// Decodes and validates one text frame per calls.md: size, JSON object, known `type`, no unknown
    /// fields, field types and limits. Chat text and addresses come back trimmed.
    public static func decode(_ text: String) -> Result<ClientMessage, ProtocolViolation> {
        guard text.utf8.count <= maxFrameBytes else {
            return .failure(ProtocolViolation(code: .tooBig, reason: "frame too large"))
        }
        guard let value = try? JSONReader.parse(text, maxDepth: 2) else { return .failure(.malformed("not JSON")) }
        guard let object = value.object else { return .failure(.malformed("not a JSON object")) }
        guard let typeValue = object["type"] else { return .failure(.malformed("missing type")) }
        guard let type = typeValue.string, let required = members[type] else {
            return .failure(.malformed("unknown type"))
        }
        let optional = optionalMembers[type] ?? []
        for key in object.keys where key != "type" && !required.contains(key) && !optional.contains(key) {
            return .failure(.malformed("unknown field"))
        }
        for key in required where object[key] == nil { return .failure(.malformed("missing field")) }

        // `to`: absent, or one of the roles (null is not a role).
        let to: CallRole?
        switch object["to"] {
        case nil: to = nil
        case let value?:
            guard let role = value.string.flatMap(CallRole.init(rawValue:)) else {
                return .failure(.malformed("invalid to"))
            }
            to = role
        }

        let message: ClientMessage
        switch type {
        case "offer", "answer":
            guard let sdp = object["sdp"]?.string else { return .failure(.malformed("sdp must be a string")) }
            message = type == "offer" ? .offer(sdp: sdp, to: to) : .answer(sdp: sdp, to: to)
        case "candidate":
            guard let candidate = object["candidate"]?.string else {
                return .failure(.malformed("candidate must be a string"))
            }
            let mid: String?
            switch object["sdpMid"] {
            case .null: mid = nil
            case .string(let s): mid = s
            default: return .failure(.malformed("sdpMid must be a string or null"))
            }
            let line: Int?
            switch object["sdpMLineIndex"] {
            case .null: line = nil
            case let v?:
                guard let n = v.integer else { return .failure(.malformed("sdpMLineIndex must be an integer or null")) }
                line = n
            case nil: return .failure(.malformed("missing field"))
            }
            message = .candidate(IceCandidate(candidate: candidate, sdpMid: mid, sdpMLineIndex: line), to: to)
        case "media":
            guard let mode = object["mode"]?.string.flatMap(MediaMode.init(rawValue:)) else {
                return .failure(.malformed("invalid mode"))
            }
            guard let muted = object["muted"]?.bool else { return .failure(.malformed("muted must be a boolean")) }
            message = .media(mode: mode, muted: muted)
        case "chat":
            guard let text = object["text"]?.string else { return .failure(.malformed("text must be a string")) }
            message = .chat(text: text)
        case "location":
            guard let address = object["address"]?.string else {
                return .failure(.malformed("address must be a string"))
            }
            message = .location(address: address)
        case "hangup": message = .hangup
        case "end": message = .end
        default: message = .ping
        }
        return validate(message)
    }

    /// Checks the values of a message against calls.md; returns it normalised (chat text and
    /// address trimmed). Used by `decode` and by `CallConnection.receive(_:at:)`.
    static func validate(_ message: ClientMessage) -> Result<ClientMessage, ProtocolViolation> {
        switch message {
        case .offer(let sdp, _), .answer(let sdp, _):
            guard isValidSDP(sdp) else { return .failure(.malformed("invalid sdp")) }
            return .success(message)
        case .candidate(let c, _):
            guard c.candidate.utf8.count <= maxCandidateBytes else { return .failure(.malformed("candidate too long")) }
            if let mid = c.sdpMid, mid.unicodeScalars.count > maxMidCharacters {
                return .failure(.malformed("sdpMid too long"))
            }
            if let line = c.sdpMLineIndex, !mLineIndexRange.contains(line) {
                return .failure(.malformed("sdpMLineIndex out of range"))
            }
            return .success(message)
        case .chat(let text):
            guard let clean = cleanText(text, maxCharacters: maxChatCharacters) else {
                return .failure(.malformed("invalid chat text"))
            }
            return .success(.chat(text: clean))
        case .location(let address):
            guard let clean = cleanText(address, maxCharacters: maxAddressCharacters) else {
                return .failure(.malformed("invalid address"))
            }
            return .success(.location(address: clean))
        case .media, .hangup, .end, .ping:
            return .success(message)
        }
    }

    /// 1...maxSDPBytes bytes of UTF-8, starting with the bytes `v=0`.
    static func isValidSDP(_ sdp: String) -> Bool {
        let bytes = sdp.utf8
        return (1...maxSDPBytes).contains(bytes.count) && bytes.starts(with: "v=0".utf8)
    }

    /// Trims whitespace and newlines at both ends; nil when the rest is empty, longer than
    /// `maxCharacters` Unicode scalars, or holds a control character other than newline, carriage
    /// return and tab.
    ///
    /// Length counts Unicode scalars, not grapheme clusters, so a stack of combining marks cannot
    /// pass for one character, and anything a browser limits to N UTF-16 code units fits.
    static func cleanText(_ text: String, maxCharacters: Int) -> String? {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return nil }
        let trimmed = scalars[first...last]
        guard trimmed.count <= maxCharacters else { return nil }
        for scalar in trimmed where scalar.properties.generalCategory == .control {
            guard scalar == "\n" || scalar == "\r" || scalar == "\t" else { return nil }
        }
        return String(String.UnicodeScalarView(trimmed))
    }
}
