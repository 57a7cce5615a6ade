public import ConfideCore
public import ConfidePolicy
public import Foundation

/// A participant's place in a consultation's call. Holds no patient data: roles, connection
/// handles and media state.
public struct CallSeat: Sendable, Hashable {
    public var consultation: Consultation.ID
    /// `patient` or `clinician`.
    public var role: String
    public var account: Account.ID
    /// The connection that holds the seat (random, per WebSocket).
    public var connection: String
    public var connected: Bool
    /// A connected seat whose lease has passed belongs to a dead instance: it is free.
    public var leaseUntil: Date
    /// `video` or `audio-only`.
    public var mode: String
    public var muted: Bool
    public var updatedAt: Date

    public init(
        consultation: Consultation.ID, role: String, account: Account.ID, connection: String, connected: Bool, leaseUntil: Date,
        mode: String, muted: Bool, updatedAt: Date
    ) {
        self.consultation = consultation
        self.role = role
        self.account = account
        self.connection = connection
        self.connected = connected
        self.leaseUntil = leaseUntil
        self.mode = mode
        self.muted = muted
        self.updatedAt = updatedAt
    }

    /// Whether a live connection holds the seat at `now`.
    public func isLive(at now: Date) -> Bool { connected && leaseUntil > now }
}

/// The outcome of taking a seat.
public enum SeatClaim: Sendable, Hashable {
    /// Taken; `replaced` is the connection that held it before (a resume), if it was live.
    case claimed(replaced: String?)
    /// A live connection holds it and no matching resume token was shown (nothing written).
    case occupied
}

/// A chat line saved to a consultation during its call (patient data).
public struct CallChatLine: Sendable, Hashable {
    public var id: String
    public var consultation: Consultation.ID
    /// `patient` or `clinician`.
    public var role: String
    public var author: Account.ID
    public var text: String
    public var at: Date

    public init(id: String, consultation: Consultation.ID, role: String, author: Account.ID, text: String, at: Date) {
        self.id = id
        self.consultation = consultation
        self.role = role
        self.author = author
        self.text = text
        self.at = at
    }
}

/// Where the patient said they were at the start of a call (patient data).
public struct CallLocation: Sendable, Hashable {
    public var id: String
    public var consultation: Consultation.ID
    public var address: String
    public var at: Date

    public init(id: String, consultation: Consultation.ID, address: String, at: Date) {
        self.id = id
        self.consultation = consultation
        self.address = address
        self.at = at
    }
}

/// A second clinician invited into a consultation's call (joins only once `accepted`).
public struct CallInvitation: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case pending, accepted, declined, withdrawn
    }

    public var id: String
    public var consultation: Consultation.ID
    public var invitee: Account.ID
    public var inviter: Account.ID
    public var status: Status
    public var createdAt: Date
    public var decidedAt: Date?

    public init(
        id: String, consultation: Consultation.ID, invitee: Account.ID, inviter: Account.ID, status: Status, createdAt: Date,
        decidedAt: Date? = nil
    ) {
        self.id = id
        self.consultation = consultation
        self.invitee = invitee
        self.inviter = inviter
        self.status = status
        self.createdAt = createdAt
        self.decidedAt = decidedAt
    }
}

/// The call state of consultations. Every change is an audited write of the consultation
/// (action `join`: only who may join may act in the call).
public protocol CallStore: Sendable {
    /// Takes the seat for the consultation the write names. A live seat is taken over only when
    /// `presentedResume` hashes to its resume token. The `joined` call event and the audit
    /// entry commit with the change; nothing is written when the seat is occupied.
    func claimSeat(
        role: String, account: Account.ID, connection: String, resumeHash: String, presentedResumeHash: String?, mode: String, muted: Bool,
        at: Date, leaseUntil: Date, write: AuditedWrite<ConsultationResource>
    ) async throws -> SeatClaim
    /// Extends the lease of a seat this connection still holds; `false` when it lost the seat.
    func renewSeat(consultation: Consultation.ID, role: String, connection: String, leaseUntil: Date) async throws -> Bool
    /// Leaves the seat this connection holds (`hangup` or `dropped`), with its call event and
    /// audit entry; `false` (nothing written) when another connection took the seat meanwhile.
    func leaveSeat(role: String, connection: String, reason: String, at: Date, write: AuditedWrite<ConsultationResource>) async throws
        -> Bool
    /// Records a media change of the seat this connection holds.
    func changeMedia(role: String, connection: String, mode: String, muted: Bool, at: Date, write: AuditedWrite<ConsultationResource>)
        async throws -> Bool
    /// The seats of a consultation (roles and media state only).
    func seats(consultation: Consultation.ID) async throws -> [CallSeat]
    /// The facts of a chat line of `consultation` (`nil` when that consultation has no such line):
    /// a line has no owner field of its own; its patient, clinician, practice and the principal's
    /// relations (a call guest's included) are its consultation's, read through the line's row.
    func messageFacts(_ id: String, in consultation: Consultation.ID, for principal: Principal) async throws -> ResourceFacts?
    /// Saves a chat line (a `create` of the message the write names) to its consultation, only
    /// when that consultation's patient is the one the write was decided for and the author still
    /// holds their role in it (the patient, its clinician, an accepted guest); `false` (nothing
    /// written, no entry) otherwise.
    func addChatLine(_ line: CallChatLine, write: AuditedWrite<MessageResource>) async throws -> Bool
    /// The chat lines the scope admits, of one consultation when given: the newest `limit`, oldest
    /// first, each with its patient (its consultation's).
    func chat(_ scope: Scope<MessageResource>, consultation: Consultation.ID?, limit: Int) async throws -> [(line: CallChatLine, patient: Patient.ID)]
    /// The chat line the grant names.
    func chatLine(_ grant: Grant<MessageResource>) async throws -> CallChatLine?
    /// Saves where the patient of the consultation the write names said they were.
    func addLocation(_ location: CallLocation, write: AuditedWrite<ConsultationResource>) async throws
    /// The latest confirmed location of the consultation the grant names.
    func latestLocation(_ grant: Grant<ConsultationResource>) async throws -> CallLocation?
    /// Stores a pending invitation to the consultation the write names; `false` (nothing
    /// written) while another one is pending or accepted.
    func createInvitation(_ invitation: CallInvitation, write: AuditedWrite<ConsultationResource>) async throws -> Bool
    /// The invitations of the consultation the grant names, oldest first.
    func invitations(_ grant: Grant<ConsultationResource>) async throws -> [CallInvitation]
    /// Moves an invitation of the consultation the write names from one of `from` to `to`;
    /// `false` (nothing written) when it is in none of them.
    func decideInvitation(
        id: String, from: Set<CallInvitation.Status>, to: CallInvitation.Status, at: Date, write: AuditedWrite<ConsultationResource>
    ) async throws -> Bool
    /// In-progress consultations with no live seat since before `idleBefore` (identifiers only).
    func abandonedCalls(idleBefore: Date, now: Date, limit: Int) async throws -> [Consultation.ID]
}

/// A signalling message on its way to the other participants of a call, possibly on another
/// server instance. `body` is the server message as JSON (SDP, candidates, presence; chat and
/// locations travel as identifiers only).
public struct CallSignal: Sendable, Hashable, Codable {
    public var consultation: String
    /// The connection that sent it (its own instance skips it for that connection).
    public var fromConnection: String
    /// Only this connection should receive it (a takeover notice), or `nil` for everyone else.
    public var toConnection: String?
    public var body: String
    /// The relay instance that published it (set by the relay; an instance delivers its own
    /// signals locally at once and skips them when they come back through the database).
    public var origin: String?

    public init(consultation: String, fromConnection: String, toConnection: String? = nil, body: String, origin: String? = nil) {
        self.consultation = consultation
        self.fromConnection = fromConnection
        self.toConnection = toConnection
        self.body = body
        self.origin = origin
    }
}

/// Carries signalling between the participants of a call across server instances.
public protocol CallRelay: Sendable {
    func publish(_ signal: CallSignal) async throws
    /// The signals of one consultation from now on, in publication order.
    func signals(consultation: String) -> AsyncStream<CallSignal>
    func shutdown() async
}

/// In-process relay (SQLite: one instance), and the local fan-out of the PostgreSQL relay.
public final class LocalCallRelay: CallRelay {
    let fanOut = FanOut<CallSignal>(buffer: 256)

    public init() {}

    public func publish(_ signal: CallSignal) async throws { deliver(signal) }

    /// Whether anyone on this instance listens to the consultation.
    public func hasSubscribers(_ consultation: String) -> Bool { fanOut.hasSubscribers(consultation) }

    public func deliver(_ signal: CallSignal) { fanOut.deliver(signal, to: signal.consultation) }

    public func signals(consultation: String) -> AsyncStream<CallSignal> { fanOut.stream(consultation) }

    public func shutdown() async { fanOut.finishAll() }
}
