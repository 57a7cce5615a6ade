// The values of the call signalling protocol (docs/design/calls.md).

/// Which seat a participant holds in a call. `guest` is a second clinician, invited by the
/// consultation's clinician with the patient's consent (calls.md, "A second clinician").
public enum CallRole: String, Sendable, Hashable, Codable, CaseIterable {
    case patient, clinician, guest
}

/// What a participant sends: camera and microphone, or microphone only.
public enum MediaMode: String, Sendable, Hashable, Codable, CaseIterable {
    case video
    case audioOnly = "audio-only"
}

/// Why a participant left the room.
public enum LeaveReason: String, Sendable, Hashable, Codable, CaseIterable {
    case hangup, dropped
}

/// One ICE candidate as the browser's `RTCIceCandidateInit` has it. An empty `candidate` marks the
/// end of candidates.
public struct IceCandidate: Sendable, Hashable {
    public var candidate: String
    public var sdpMid: String?
    public var sdpMLineIndex: Int?

    public init(candidate: String, sdpMid: String?, sdpMLineIndex: Int?) {
        self.candidate = candidate
        self.sdpMid = sdpMid
        self.sdpMLineIndex = sdpMLineIndex
    }
}

/// A participant's presence and media state, as listed in `welcome`.
public struct PeerState: Sendable, Hashable {
    public var role: CallRole
    public var mode: MediaMode
    public var muted: Bool

    public init(role: CallRole, mode: MediaMode = .video, muted: Bool = false) {
        self.role = role
        self.mode = mode
        self.muted = muted
    }
}

/// The first message of a connection.
public struct Welcome: Sendable, Hashable {
    public var role: CallRole
    public var consultation: String
    public var resumeToken: String
    public var status: String
    public var modality: String
    public var peers: [PeerState]
    /// The patient's confirmed address: for the clinician only, otherwise nil.
    public var location: String?

    public init(
        role: CallRole,
        consultation: String,
        resumeToken: String,
        status: String,
        modality: String,
        peers: [PeerState],
        location: String? = nil
    ) {
        self.role = role
        self.consultation = consultation
        self.resumeToken = resumeToken
        self.status = status
        self.modality = modality
        self.peers = peers
        self.location = location
    }
}

/// WebSocket close codes of the call socket.
public enum CloseCode: UInt16, Sendable, Hashable, CaseIterable {
    /// After `hangup`, or after `ended`.
    case normal = 1000
    /// A frame larger than 64 KiB.
    case tooBig = 1009
    /// The same participant resumed on a new connection.
    case replaced = 4000
    /// A malformed message, or five refused messages.
    /// The session behind the connection ended (signed out, revoked, expired, deactivated).
    case signedOut = 4401
    case malformed = 4400
    /// The invitation that let this (guest) participant in was withdrawn.
    case withdrawn = 4403
    /// The egress guard withheld what this (patient) connection was about to receive: it was not
    /// theirs. The connection ends, as an HTTP response would be withheld.
    case withheld = 4404
    /// This participant is connected elsewhere.
    case alreadyJoined = 4409
    /// The consultation is over (ended, cancelled, ...).
    case over = 4410
    /// Outside the join window.
    case outsideWindow = 4425
    /// More than the per-connection message rate.
    case flooding = 4429
}

/// Why a connection must be closed. `reason` is short, English, and never echoes client input
/// (it may be used as the WebSocket close reason, which is limited to 123 bytes).
public struct ProtocolViolation: Error, Sendable, Hashable {
    public let code: CloseCode
    public let reason: String

    public init(code: CloseCode, reason: String) {
        self.code = code
        self.reason = reason
    }

    static func malformed(_ reason: String) -> ProtocolViolation { ProtocolViolation(code: .malformed, reason: reason) }
}
