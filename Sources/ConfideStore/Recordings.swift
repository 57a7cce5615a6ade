public import ConfideCore
public import ConfidePolicy
public import Foundation

/// The patient's answer to "may this consultation be recorded?": a record of its own.
///
/// The consultation's clinician asks (a request), the patient grants or refuses it, and the patient
/// can withdraw a grant at any time, which stops a recording in progress. Scope: this consultation.
public struct RecordingConsentRecord: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case requested, granted, refused, withdrawn
    }
    public var id: String
    public var consultation: Consultation.ID
    /// Set by the server from the consultation, never by a client.
    public var patient: Patient.ID
    public var requestedBy: Account.ID
    public var requestedAt: Date
    public var status: Status
    public var answeredAt: Date?
    public var withdrawnAt: Date?
    /// What the consent covers: `consultation` (the recordings of this consultation).
    public var scope: String

    public init(
        id: String, consultation: Consultation.ID, patient: Patient.ID, requestedBy: Account.ID, requestedAt: Date, status: Status,
        answeredAt: Date? = nil, withdrawnAt: Date? = nil, scope: String = "consultation"
    ) {
        self.id = id
        self.consultation = consultation
        self.patient = patient
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
        self.status = status
        self.answeredAt = answeredAt
        self.withdrawnAt = withdrawnAt
        self.scope = scope
    }
}

/// A recording of a consultation's call. Its consultation, patient, clinician and practice are
/// bound by the server from its own record of the consultation when the recording is created, and
/// never change (no port updates them).
public struct RecordingRecord: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, CaseIterable {
        /// Chunks are being uploaded.
        case recording
        /// Finished by the clinician, or stopped by either party.
        case complete
        /// The upload stopped and the recording was finalised after a timeout.
        case incomplete
        /// Crypto-shredded: its data key is destroyed, its blobs removed.
        case erased
    }
    public var id: String
    public var consultation: Consultation.ID
    public var patient: Patient.ID
    public var clinician: Account.ID
    public var practice: Practice.ID
    /// The consent it was made under.
    public var consent: String
    public var status: Status
    /// The recording's data key wrapped by a key-encryption key (`WrappedKey.serialized`, base64);
    /// `nil` once erased.
    public var wrappedKey: String?
    public var startedAt: Date
    public var lastChunkAt: Date
    public var finishedAt: Date?
    /// Why it ended: `finished`, `stopped-by-patient`, `stopped-by-clinician`, `upload-timeout`, `call-ended`.
    public var endedReason: String?
    /// When retention ends (the sweeper erases it after this).
    public var retainUntil: Date
    public var erasedAt: Date?

    public init(
        id: String, consultation: Consultation.ID, patient: Patient.ID, clinician: Account.ID, practice: Practice.ID, consent: String,
        status: Status, wrappedKey: String?, startedAt: Date, lastChunkAt: Date, finishedAt: Date? = nil, endedReason: String? = nil,
        retainUntil: Date, erasedAt: Date? = nil
    ) {
        self.id = id
        self.consultation = consultation
        self.patient = patient
        self.clinician = clinician
        self.practice = practice
        self.consent = consent
        self.status = status
        self.wrappedKey = wrappedKey
        self.startedAt = startedAt
        self.lastChunkAt = lastChunkAt
        self.finishedAt = finishedAt
        self.endedReason = endedReason
        self.retainUntil = retainUntil
        self.erasedAt = erasedAt
    }
}

/// One segment of a recording: a switch between audio-only and video starts the next one.
public struct RecordingSegment: Sendable, Hashable {
    public var segment: Int
    /// `audio` or `video`.
    public var mode: String
    /// Acknowledged upload chunks (0..<chunks, no gaps).
    public var chunks: Int
    public var bytes: Int64
    public var closed: Bool
    public var startedAt: Date
    /// The seekable version made at finalisation, stored as fixed-size chunks; `nil` until made
    /// (playback then serves the uploaded chunks as they are).
    public var playable: PlayableLayout?

    public init(segment: Int, mode: String, chunks: Int, bytes: Int64, closed: Bool, startedAt: Date, playable: PlayableLayout? = nil) {
        self.segment = segment
        self.mode = mode
        self.chunks = chunks
        self.bytes = bytes
        self.closed = closed
        self.startedAt = startedAt
        self.playable = playable
    }
}

/// How a segment's seekable version is stored: `chunks` chunks of `chunkSize` bytes (the last one shorter).
public struct PlayableLayout: Sendable, Hashable {
    public var chunkSize: Int
    public var chunks: Int
    public var bytes: Int64
    public var contentType: String

    public init(chunkSize: Int, chunks: Int, bytes: Int64, contentType: String) {
        self.chunkSize = chunkSize
        self.chunks = chunks
        self.bytes = bytes
        self.contentType = contentType
    }
}

/// One acknowledged upload chunk.
public struct RecordingChunk: Sendable, Hashable {
    public var segment: Int
    public var index: Int
    public var size: Int
    /// Lower-case hex SHA-256 of the plaintext as uploaded.
    public var sha256: String

    public init(segment: Int, index: Int, size: Int, sha256: String) {
        self.segment = segment
        self.index = index
        self.size = size
        self.sha256 = sha256
    }
}

/// A recording with its segments.
public struct RecordingDetail: Sendable, Hashable {
    public var record: RecordingRecord
    public var segments: [RecordingSegment]

    public init(record: RecordingRecord, segments: [RecordingSegment]) {
        self.record = record
        self.segments = segments
    }
}

/// What happened to an uploaded chunk.
public enum ChunkOutcome: Sendable, Hashable {
    /// Stored durably and acknowledged.
    case stored
    /// The same chunk (same SHA-256) was acknowledged before: nothing changed.
    case duplicate
    /// A different chunk already holds this index (nothing changed).
    case conflict
    /// The index is past the next expected one: a gap (nothing changed).
    case gap(expected: Int)
    /// The segment is closed or is not the recording's current one.
    case segmentClosed
    /// The recording is no longer recording (finished, stopped, timed out or erased).
    case notRecording
    /// The recording's bound fields disagree with its consultation: the invariant check failed closed.
    case invariantViolation
}

/// Why a recording could not be created.
public enum RecordingStartRefusal: Error, Sendable, Hashable {
    /// No granted (and not withdrawn) consent for the consultation.
    case noConsent
    /// The consultation already has a recording in progress.
    case alreadyRecording
}

/// The playback kill switch's state.
public struct PlaybackSwitchState: Sendable, Hashable {
    public var engaged: Bool
    public var reason: String
    public var changedBy: String
    public var changedAt: Date?

    public init(engaged: Bool, reason: String, changedBy: String, changedAt: Date?) {
        self.engaged = engaged
        self.reason = reason
        self.changedBy = changedBy
        self.changedAt = changedAt
    }
}

/// A recording's wrapped data key, for key rotation.
public struct WrappedKeyRow: Sendable, Hashable {
    public let recording: String
    public let wrappedKey: String

    public init(recording: String, wrappedKey: String) {
        self.recording = recording
        self.wrappedKey = wrappedKey
    }
}

/// Facts for recordings, their consents and the playback switch, for the gate.
public protocol RecordingFactsStore: Sendable {
    /// A recording's facts: patient, clinician and practice come from its **consultation** (the
    /// ground truth), never from the recording's own copies; plus the principal's relations and the
    /// kill switch.
    func recordingFacts(_ id: String, for principal: Principal) async throws -> ResourceFacts?
    /// A consent's facts, again through its consultation.
    func recordingConsentFacts(_ id: String, for principal: Principal) async throws -> ResourceFacts?
}

/// The recordings port. Every method that reads or changes patient data takes a grant, a scope or
/// an audited write, and appends the write's audit entry in the same transaction as the change.
public protocol RecordingStore: RecordingFactsStore {
    // MARK: consent

    /// A new consent request. `false` when the consultation already has an open request or grant.
    func requestConsent(_ consent: RecordingConsentRecord, write: AuditedWrite<RecordingConsentResource>) async throws -> Bool
    /// Moves a consent from one of `from` to `to`; a withdrawal also stops the consultation's
    /// recording in progress (returned) in the same transaction. `nil` when the consent was not in `from`.
    func decideConsent(
        id: String, from: Set<RecordingConsentRecord.Status>, to: RecordingConsentRecord.Status, at: Date,
        write: AuditedWrite<RecordingConsentResource>
    ) async throws -> [String]?
    /// The consents of one consultation that the scope admits (newest first).
    func recordingConsents(_ scope: Scope<RecordingConsentResource>, consultation: Consultation.ID) async throws -> [RecordingConsentRecord]
    /// One consent.
    func recordingConsent(_ grant: Grant<RecordingConsentResource>) async throws -> RecordingConsentRecord?

    // MARK: recordings

    /// Creates a recording and its first segment. The store copies patient, clinician and practice
    /// from the consultation row (ignoring the record's own), checks that the consultation has a
    /// granted consent (which it records on the recording) and no recording in progress.
    /// - Returns: the recording as stored.
    /// - Throws: `RecordingStartRefusal`.
    func createRecording(_ recording: RecordingRecord, mode: String, write: AuditedWrite<RecordingResource>) async throws -> RecordingRecord
    /// A recording and its segments.
    func recording(_ grant: Grant<RecordingResource>) async throws -> RecordingDetail?
    /// The recordings the scope admits, optionally of one consultation (newest first).
    func recordings(_ scope: Scope<RecordingResource>, consultation: Consultation.ID?, limit: Int) async throws -> [RecordingDetail]
    /// The acknowledged chunks of a segment, in order.
    func chunks(_ grant: Grant<RecordingResource>, segment: Int) async throws -> [RecordingChunk]

    /// Adds one chunk. Under the recording's row lock: checks the state (recording, current open
    /// segment, index, duplicate), runs the **invariant check** (the recording's consultation,
    /// patient, clinician and practice equal the consultation's, the uploader is its clinician, the
    /// consent is still granted), then calls `persist` (the durable blob write) and only then
    /// inserts the chunk row with the audit entry. Nothing is written unless the outcome is `stored`
    /// (the audit entry is appended for every outcome).
    func addChunk(
        _ chunk: RecordingChunk, uploader: Account.ID, at: Date, write: AuditedWrite<RecordingResource>,
        persist: @escaping @Sendable () async throws -> Void
    ) async throws -> ChunkOutcome
    /// Closes the current segment and opens the next in `mode`. Closing calls `terminate(segment,
    /// index)` under the row lock first: the caller seals the segment's empty `final` chunk at
    /// `index` (one past the last data chunk), so a reader can tell a complete segment from a
    /// truncated one. `nil` when the recording is not recording; otherwise the new segment number.
    func startSegment(
        mode: String, at: Date, write: AuditedWrite<RecordingResource>, terminate: @escaping @Sendable (Int, Int) async throws -> Void
    ) async throws -> Int?
    /// Ends a recording in progress (closing its open segment as `startSegment` does); `false` when
    /// it was not recording.
    func finishRecording(
        status: RecordingRecord.Status, reason: String, at: Date, write: AuditedWrite<RecordingResource>,
        terminate: @escaping @Sendable (Int, Int) async throws -> Void
    ) async throws -> Bool
    /// Records a segment's seekable version.
    func setPlayable(segment: Int, layout: PlayableLayout, write: AuditedWrite<RecordingResource>) async throws
    /// Erases: drops the wrapped key (crypto-shredding) and marks the recording erased, in one
    /// transaction with the audit entry. Returns the recording as it was (its segments tell the
    /// caller which blobs to remove); `nil` when it was already erased.
    func eraseRecording(at: Date, reason: String, write: AuditedWrite<RecordingResource>) async throws -> RecordingDetail?

    // MARK: jobs (system path)

    /// Recordings still `recording` with no chunk since `idleBefore`.
    func stalledRecordings(idleBefore: Date, limit: Int) async throws -> [String]
    /// Recordings (not erased) whose retention ended before `now`.
    func expiredRecordings(now: Date, limit: Int) async throws -> [String]
    /// Finished recordings whose closed segments have no seekable version yet (for the remux job).
    func recordingsNeedingPlayable(limit: Int) async throws -> [String]

    // MARK: key management (system path: wrapped keys are key material, not patient data)

    /// Recordings that still hold a wrapped key, in id order after `after`: (id, wrapped key).
    func wrappedKeys(after: String?, limit: Int) async throws -> [WrappedKeyRow]
    /// Replaces a recording's wrapped key if it is still `from` (compare-and-set); `false` otherwise.
    func replaceWrappedKey(recording: String, from: String, to: String) async throws -> Bool

    // MARK: the kill switch

    func playbackSwitch() async throws -> PlaybackSwitchState
    func setPlaybackSwitch(_ state: PlaybackSwitchState, write: AuditedWrite<PlaybackSwitchResource>) async throws
}
