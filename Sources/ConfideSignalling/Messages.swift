// The messages of the call socket (docs/design/calls.md, "Messages").

/// What a client sends (decoded and validated by `MessageCodec.decode`).
///
/// `to` addresses one participant (a call of three is a mesh: one peer connection per pair); nil
/// addresses every other participant, as in a call of two.
public enum ClientMessage: Sendable, Hashable {
    case offer(sdp: String, to: CallRole?)
    case answer(sdp: String, to: CallRole?)
    case candidate(IceCandidate, to: CallRole?)
    case media(mode: MediaMode, muted: Bool)
    case chat(text: String)
    case location(address: String)
    case hangup
    case end
    case ping
}

/// What the server sends. `to` on offers, answers and candidates is the participant the sender
/// addressed (nil: everyone else); it is in the JSON only when non-nil.
public enum ServerMessage: Sendable, Hashable {
    case welcome(Welcome)
    case peerJoined(role: CallRole, resumed: Bool)
    case peerLeft(role: CallRole, reason: LeaveReason)
    case offer(from: CallRole, to: CallRole?, sdp: String)
    case answer(from: CallRole, to: CallRole?, sdp: String)
    case candidate(from: CallRole, to: CallRole?, IceCandidate)
    case media(from: CallRole, mode: MediaMode, muted: Bool)
    /// `at`: ISO 8601 UTC, already formatted by the caller.
    case chat(id: String, from: CallRole, text: String, at: String)
    case location(address: String, at: String)
    case status(String)
    case ended
    case error(code: String, message: String)
    case pong
    /// To the patient: the clinician invited another clinician (`clinicianName`) into the call.
    case invitation(id: String, clinicianName: String)
    /// To the clinician: the patient answered an invitation (`status`: `accepted` or `declined`).
    case invitationAnswer(id: String, status: String)
    /// To everyone: an invitation was withdrawn.
    case invitationWithdrawn(id: String)
    /// To everyone: a request to record changed (`status`: requested, granted, refused, withdrawn).
    case recordingConsent(id: String, status: String)
    /// To everyone: a recording started or stopped (`state`: recording, stopped), with its current segment.
    case recording(id: String, state: String, segment: Int)

    /// The `type` member of each message.
    var type: String {
        switch self {
        case .welcome: "welcome"
        case .peerJoined: "peer-joined"
        case .peerLeft: "peer-left"
        case .offer: "offer"
        case .answer: "answer"
        case .candidate: "candidate"
        case .media: "media"
        case .chat: "chat"
        case .location: "location"
        case .status: "status"
        case .ended: "ended"
        case .error: "error"
        case .pong: "pong"
        case .invitation: "invitation"
        case .invitationAnswer: "invitation-answer"
        case .invitationWithdrawn: "invitation-withdrawn"
        case .recordingConsent: "recording-consent"
        case .recording: "recording"
        }
    }

    /// One JSON object with the keys of calls.md, e.g. `{"resumed":false,"role":"patient","type":"peer-joined"}`;
    /// keys sorted, no whitespace. Optional members are present with `null`, except `to`, which is
    /// absent when nil (so messages of a two-person call look as they always did).
    public var json: String { JSONWriter.write(jsonValue) }

    var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["type": .string(type)]
        switch self {
        case .welcome(let w):
            o["role"] = .string(w.role.rawValue)
            o["consultation"] = .string(w.consultation)
            o["resumeToken"] = .string(w.resumeToken)
            o["status"] = .string(w.status)
            o["modality"] = .string(w.modality)
            o["peers"] = .array(
                w.peers.map {
                    .object([
                        "role": .string($0.role.rawValue), "mode": .string($0.mode.rawValue), "muted": .bool($0.muted),
                    ])
                }
            )
            o["location"] = w.location.map(JSONValue.string) ?? .null
        case .peerJoined(let role, let resumed):
            o["role"] = .string(role.rawValue)
            o["resumed"] = .bool(resumed)
        case .peerLeft(let role, let reason):
            o["role"] = .string(role.rawValue)
            o["reason"] = .string(reason.rawValue)
        case .offer(let from, let to, let sdp), .answer(let from, let to, let sdp):
            o["from"] = .string(from.rawValue)
            if let to { o["to"] = .string(to.rawValue) }
            o["sdp"] = .string(sdp)
        case .candidate(let from, let to, let c):
            o["from"] = .string(from.rawValue)
            if let to { o["to"] = .string(to.rawValue) }
            o["candidate"] = .string(c.candidate)
            o["sdpMid"] = c.sdpMid.map(JSONValue.string) ?? .null
            o["sdpMLineIndex"] = c.sdpMLineIndex.map { JSONValue.number(String($0)) } ?? .null
        case .media(let from, let mode, let muted):
            o["from"] = .string(from.rawValue)
            o["mode"] = .string(mode.rawValue)
            o["muted"] = .bool(muted)
        case .chat(let id, let from, let text, let at):
            o["id"] = .string(id)
            o["from"] = .string(from.rawValue)
            o["text"] = .string(text)
            o["at"] = .string(at)
        case .location(let address, let at):
            o["address"] = .string(address)
            o["at"] = .string(at)
        case .status(let status):
            o["status"] = .string(status)
        case .error(let code, let message):
            o["code"] = .string(code)
            o["message"] = .string(message)
        case .invitation(let id, let clinicianName):
            o["id"] = .string(id)
            o["clinician_name"] = .string(clinicianName)
        case .invitationAnswer(let id, let status):
            o["id"] = .string(id)
            o["status"] = .string(status)
        case .invitationWithdrawn(let id):
            o["id"] = .string(id)
        case .recordingConsent(let id, let status):
            o["id"] = .string(id)
            o["status"] = .string(status)
        case .recording(let id, let state, let segment):
            o["id"] = .string(id)
            o["state"] = .string(state)
            o["segment"] = .number(String(segment))
        case .ended, .pong:
            break
        }
        return .object(o)
    }

    /// Parses what `json` produces (the relay between server instances, and tests): exactly the keys
    /// `json` writes, with their types. Returns nil for anything else.
    public static func parse(_ text: String) -> ServerMessage? {
        guard let value = try? JSONReader.parse(text, maxDepth: 4), let o = value.object,
            let type = o["type"]?.string
        else { return nil }
        var fields = ServerFields(o)
        let message: ServerMessage?
        switch type {
        case "welcome":
            var peers: [PeerState] = []
            if let list = fields.take("peers")?.array {
                for item in list {
                    guard let peer = item.object else { return nil }
                    var p = ServerFields(nested: peer)
                    guard let role = p.role("role"),
                        let mode = p.take("mode")?.string.flatMap(MediaMode.init(rawValue:)),
                        let muted = p.take("muted")?.bool, p.isExhausted
                    else { return nil }
                    peers.append(PeerState(role: role, mode: mode, muted: muted))
                }
            } else {
                return nil
            }
            guard let role = fields.role("role"), let consultation = fields.string("consultation"),
                let token = fields.string("resumeToken"), let status = fields.string("status"),
                let modality = fields.string("modality"), let location = fields.optionalString("location")
            else { return nil }
            message = .welcome(
                Welcome(
                    role: role,
                    consultation: consultation,
                    resumeToken: token,
                    status: status,
                    modality: modality,
                    peers: peers,
                    location: location
                )
            )
        case "peer-joined":
            guard let role = fields.role("role"), let resumed = fields.take("resumed")?.bool else { return nil }
            message = .peerJoined(role: role, resumed: resumed)
        case "peer-left":
            guard let role = fields.role("role"),
                let reason = fields.string("reason").flatMap(LeaveReason.init(rawValue:))
            else { return nil }
            message = .peerLeft(role: role, reason: reason)
        case "offer", "answer":
            guard let from = fields.role("from"), let to = fields.optionalRole("to"), let sdp = fields.string("sdp")
            else { return nil }
            message = type == "offer" ? .offer(from: from, to: to, sdp: sdp) : .answer(from: from, to: to, sdp: sdp)
        case "candidate":
            guard let from = fields.role("from"), let to = fields.optionalRole("to"),
                let candidate = fields.string("candidate"),
                let mid = fields.optionalString("sdpMid"), let index = fields.take("sdpMLineIndex")
            else { return nil }
            let line: Int?
            if index == .null {
                line = nil
            } else if let n = index.integer {
                line = n
            } else {
                return nil
            }
            message = .candidate(
                from: from,
                to: to,
                IceCandidate(candidate: candidate, sdpMid: mid, sdpMLineIndex: line)
            )
        case "media":
            guard let from = fields.role("from"), let mode = fields.string("mode").flatMap(MediaMode.init(rawValue:)),
                let muted = fields.take("muted")?.bool
            else { return nil }
            message = .media(from: from, mode: mode, muted: muted)
        case "chat":
            guard let id = fields.string("id"), let from = fields.role("from"), let text = fields.string("text"),
                let at = fields.string("at")
            else { return nil }
            message = .chat(id: id, from: from, text: text, at: at)
        case "location":
            guard let address = fields.string("address"), let at = fields.string("at") else { return nil }
            message = .location(address: address, at: at)
        case "status":
            guard let status = fields.string("status") else { return nil }
            message = .status(status)
        case "ended": message = .ended
        case "error":
            guard let code = fields.string("code"), let text = fields.string("message") else { return nil }
            message = .error(code: code, message: text)
        case "pong": message = .pong
        case "invitation":
            guard let id = fields.string("id"), let name = fields.string("clinician_name") else { return nil }
            message = .invitation(id: id, clinicianName: name)
        case "invitation-answer":
            guard let id = fields.string("id"), let status = fields.string("status") else { return nil }
            message = .invitationAnswer(id: id, status: status)
        case "invitation-withdrawn":
            guard let id = fields.string("id") else { return nil }
            message = .invitationWithdrawn(id: id)
        case "recording-consent":
            guard let id = fields.string("id"), let status = fields.string("status") else { return nil }
            message = .recordingConsent(id: id, status: status)
        case "recording":
            guard let id = fields.string("id"), let state = fields.string("state"), let segment = fields.take("segment")?.integer else {
                return nil
            }
            message = .recording(id: id, state: state, segment: segment)
        default: message = nil
        }
        // Every key must have been consumed: no unknown members.
        guard fields.isExhausted else { return nil }
        return message
    }
}

/// Takes the members of a JSON object one by one, so that leftovers (unknown keys) can be detected.
struct ServerFields {
    private var remaining: [String: JSONValue]

    /// The members of a message, less its `type` (already read).
    init(_ object: [String: JSONValue]) {
        remaining = object
        remaining["type"] = nil
    }

    /// The members of a nested object, which has no `type`.
    init(nested object: [String: JSONValue]) {
        remaining = object
    }

    /// True when every member has been taken.
    var isExhausted: Bool { remaining.isEmpty }

    mutating func take(_ key: String) -> JSONValue? { remaining.removeValue(forKey: key) }

    mutating func string(_ key: String) -> String? { take(key)?.string }

    mutating func role(_ key: String) -> CallRole? { string(key).flatMap(CallRole.init(rawValue:)) }

    /// `.some(nil)` when missing, `.some(role)` for a role string, nil for anything else (JSON null
    /// included: `json` omits a nil role rather than writing null).
    mutating func optionalRole(_ key: String) -> CallRole?? {
        guard let value = take(key) else { return .some(nil) }
        guard let role = value.string.flatMap(CallRole.init(rawValue:)) else { return nil }
        return .some(role)
    }

    /// `.some(nil)` for JSON null, `.some(s)` for a string, nil when missing or of another type.
    mutating func optionalString(_ key: String) -> String?? {
        switch take(key) {
        case .null: return .some(nil)
        case .string(let s): return .some(s)
        default: return nil
        }
    }
}
