import ConfideAudit
public import ConfideCore
public import ConfidePolicy
public import ConfideStore
public import Foundation
import SQLKit

extension SQLRow {
    func recordingConsent() throws -> RecordingConsentRecord {
        guard let status = RecordingConsentRecord.Status(rawValue: try decode(column: "status", as: String.self)) else {
            throw RowError(column: "status")
        }
        return RecordingConsentRecord(
            id: try decode(column: "id", as: String.self), consultation: try id("consultation_id"), patient: try id("patient_id"),
            requestedBy: try id("requested_by"), requestedAt: try ms("requested_at"), status: status, answeredAt: try msOptional("answered_at"),
            withdrawnAt: try msOptional("withdrawn_at"), scope: try decode(column: "scope", as: String.self))
    }

    func recordingRecord() throws -> RecordingRecord {
        guard let status = RecordingRecord.Status(rawValue: try decode(column: "status", as: String.self)) else { throw RowError(column: "status") }
        return RecordingRecord(
            id: try decode(column: "id", as: String.self), consultation: try id("consultation_id"), patient: try id("patient_id"),
            clinician: try id("clinician_id"), practice: try id("practice_id"), consent: try decode(column: "consent_id", as: String.self),
            status: status, wrappedKey: try decode(column: "wrapped_key", as: String?.self), startedAt: try ms("started_at"),
            lastChunkAt: try ms("last_chunk_at"), finishedAt: try msOptional("finished_at"),
            endedReason: try decode(column: "ended_reason", as: String?.self), retainUntil: try ms("retain_until"),
            erasedAt: try msOptional("erased_at"))
    }

    func recordingSegment() throws -> RecordingSegment {
        var playable: PlayableLayout?
        if let size = try decode(column: "playable_chunk_size", as: Int64?.self) {
            playable = PlayableLayout(
                chunkSize: Int(size), chunks: Int(try decode(column: "playable_chunks", as: Int64.self)),
                bytes: try decode(column: "playable_bytes", as: Int64.self), contentType: try decode(column: "playable_type", as: String.self))
        }
        return RecordingSegment(
            segment: Int(try decode(column: "segment", as: Int64.self)), mode: try decode(column: "mode", as: String.self),
            chunks: Int(try decode(column: "chunks", as: Int64.self)), bytes: try decode(column: "bytes", as: Int64.self),
            closed: try decode(column: "closed", as: Int64.self) != 0, startedAt: try ms("started_at"), playable: playable)
    }
}

/// The recording columns a scope's predicate refers to. INVARIANT: patient, clinician and practice
/// are the **consultation's** (`c`), the ground truth, never the recording's own copies.
let recordingColumns = ScopeColumns(patient: "c.patient_id", clinician: "c.clinician_id", practice: "c.practice_id", consultation: "r.consultation_id")

/// Rolls a chunk transaction back with an outcome that is not `stored`/`duplicate`.
private struct ChunkRefused: Error { let outcome: ChunkOutcome }

extension SQLStores: RecordingStore {
    // MARK: facts

    public func recordingFacts(_ id: String, for principal: Principal) async throws -> ResourceFacts? {
        try await read { db in
            guard let row = try await db.raw("SELECT consultation_id, patient_id FROM recordings WHERE id = \(bind: id)").first() else {
                return nil
            }
            let consultation = try row.decode(column: "consultation_id", as: String.self)
            guard var facts = try await self.consultationFacts(consultation, principal: principal, db: db) else { return nil }
            facts.resourceID = id
            if self.faults.recordingOwnerFromRow {
                facts.owningPatient = try row.id("patient_id")
            }
            // A call guest's invitation opens the call, not its recordings.
            facts.callGuest = false
            facts.playbackSuspended = try await self.playbackSuspended(db)
            return facts
        }
    }

    public func recordingConsentFacts(_ id: String, for principal: Principal) async throws -> ResourceFacts? {
        try await read { db in
            guard let row = try await db.raw("SELECT consultation_id FROM recording_consents WHERE id = \(bind: id)").first() else { return nil }
            let consultation = try row.decode(column: "consultation_id", as: String.self)
            guard var facts = try await self.consultationFacts(consultation, principal: principal, db: db) else { return nil }
            facts.resourceID = id
            facts.callGuest = false
            return facts
        }
    }

    func playbackSuspended(_ db: any SQLDatabase) async throws -> Bool {
        try await db.raw("SELECT engaged FROM platform_switches WHERE name = 'playback'").first()?
            .decode(column: "engaged", as: Int64.self) == 1
    }

    // MARK: consent

    public func requestConsent(_ consent: RecordingConsentRecord, write: AuditedWrite<RecordingConsentResource>) async throws -> Bool {
        try check(write, [.create], id: consent.id)
        do {
            return try await audited(write) { db in
                // The patient is the consultation's, whatever the record says.
                guard
                    let patient = try await db.raw("SELECT patient_id FROM consultations WHERE id = \(bind: consent.consultation.description)")
                        .first()?.decode(column: "patient_id", as: String.self)
                else { throw StoreError(.conflict) }
                let open = try await db.raw(
                    """
                    SELECT id FROM recording_consents WHERE consultation_id = \(bind: consent.consultation.description)
                    AND status IN ('requested', 'granted')
                    """
                ).first()
                guard open == nil else { throw StoreError(.conflict) }
                try await db.raw(
                    """
                    INSERT INTO recording_consents (id, consultation_id, patient_id, requested_by, requested_at, status, answered_at, withdrawn_at, scope)
                    VALUES (\(bind: consent.id), \(bind: consent.consultation.description), \(bind: patient), \(bind: consent.requestedBy.description),
                        \(bind: consent.requestedAt.epochMilliseconds), 'requested', NULL, NULL, \(bind: consent.scope))
                    """
                ).run()
                return true
            }
        } catch let error as StoreError where error.code == .conflict {
            return false
        } catch where backend.isUniqueViolation(error) {
            return false
        }
    }

    public func decideConsent(
        id: String, from: Set<RecordingConsentRecord.Status>, to: RecordingConsentRecord.Status, at: Date,
        write: AuditedWrite<RecordingConsentResource>
    ) async throws -> [String]? {
        try check(write, [.update], id: id)
        let allowed = from.map(\.rawValue).sorted()
        do {
            return try await audited(write) { db in
                guard
                    let row = try await db.raw("SELECT status, consultation_id FROM recording_consents WHERE id = \(bind: id)").first(),
                    allowed.contains(try row.decode(column: "status", as: String.self))
                else { throw StoreError(.conflict) }
                let current = try row.decode(column: "status", as: String.self)
                let consultation = try row.decode(column: "consultation_id", as: String.self)
                let column: SQLQueryString = to == .withdrawn ? "withdrawn_at" : "answered_at"
                let changed = try await db.raw(
                    """
                    UPDATE recording_consents SET status = \(bind: to.rawValue), \(column) = \(bind: at.epochMilliseconds)
                    WHERE id = \(bind: id) AND status = \(bind: current) RETURNING id
                    """
                ).all()
                guard changed.count == 1 else { throw StoreError(.conflict) }
                guard to == .withdrawn else { return [] }
                // Withdrawing consent stops the recording made under it, in the same transaction:
                // no chunk can be acknowledged after the withdrawal commits.
                return try await db.raw(
                    """
                    UPDATE recordings SET status = 'complete', finished_at = \(bind: at.epochMilliseconds), ended_reason = 'stopped-by-patient'
                    WHERE consultation_id = \(bind: consultation) AND consent_id = \(bind: id) AND status = 'recording' RETURNING id
                    """
                ).all().map { try $0.decode(column: "id", as: String.self) }
            }
        } catch let error as StoreError where error.code == .conflict {
            return nil
        }
    }

    public func recordingConsents(_ scope: Scope<RecordingConsentResource>, consultation: Consultation.ID) async throws
        -> [RecordingConsentRecord]
    {
        let predicate = scope.predicate.sql(ScopeColumns(patient: "c.patient_id", clinician: "c.clinician_id", practice: "c.practice_id", consultation: "rc.consultation_id"))
        return try await read { db in
            try await db.raw(
                """
                SELECT rc.* FROM recording_consents rc JOIN consultations c ON c.id = rc.consultation_id
                WHERE (\(predicate)) AND rc.consultation_id = \(bind: consultation.description) ORDER BY rc.requested_at DESC, rc.id LIMIT 100
                """
            ).all().map { try $0.recordingConsent() }
        }
    }

    public func recordingConsent(_ grant: Grant<RecordingConsentResource>) async throws -> RecordingConsentRecord? {
        try await read { db in
            try await db.raw("SELECT * FROM recording_consents WHERE id = \(bind: grant.resourceID)").first()?.recordingConsent()
        }
    }

    // MARK: recordings

    public func createRecording(_ recording: RecordingRecord, mode: String, write: AuditedWrite<RecordingResource>) async throws -> RecordingRecord {
        try check(write, [.create], id: recording.id)
        do {
            return try await audited(write) { db in
                // Bound here, once, from the server's own consultation row.
                guard
                    let c = try await db.raw(
                        "SELECT patient_id, clinician_id, practice_id FROM consultations WHERE id = \(bind: recording.consultation.description)"
                    ).first()
                else { throw StoreError(.conflict) }
                guard
                    let consent = try await db.raw(
                        """
                        SELECT id FROM recording_consents WHERE consultation_id = \(bind: recording.consultation.description) AND status = 'granted'
                        """
                    ).first()?.decode(column: "id", as: String.self)
                else { throw RecordingStartRefusal.noConsent }
                let active = try await db.raw(
                    "SELECT id FROM recordings WHERE consultation_id = \(bind: recording.consultation.description) AND status = 'recording'"
                ).first()
                guard active == nil else { throw RecordingStartRefusal.alreadyRecording }
                var bound = recording
                bound.patient = try c.id("patient_id")
                if self.faults.recordingBindsWrongPatient,
                    let stale = try await db.raw(
                        """
                        SELECT c.patient_id FROM recordings r JOIN consultations c ON c.id = r.consultation_id
                        WHERE r.consultation_id <> \(bind: recording.consultation.description) ORDER BY r.started_at DESC, r.id DESC LIMIT 1
                        """
                    ).first()
                {
                    bound.patient = try stale.id("patient_id")
                }
                bound.clinician = try c.id("clinician_id")
                bound.practice = try c.id("practice_id")
                bound.consent = consent
                bound.status = .recording
                try await db.raw(
                    """
                    INSERT INTO recordings (id, consultation_id, patient_id, clinician_id, practice_id, consent_id, status, wrapped_key,
                        started_at, last_chunk_at, finished_at, ended_reason, retain_until, erased_at, erasure_reason)
                    VALUES (\(bind: bound.id), \(bind: bound.consultation.description), \(bind: bound.patient.description),
                        \(bind: bound.clinician.description), \(bind: bound.practice.description), \(bind: consent), 'recording',
                        \(bind: bound.wrappedKey), \(bind: bound.startedAt.epochMilliseconds), \(bind: bound.startedAt.epochMilliseconds),
                        NULL, NULL, \(bind: bound.retainUntil.epochMilliseconds), NULL, NULL)
                    """
                ).run()
                try await db.raw(
                    """
                    INSERT INTO recording_segments (recording_id, segment, mode, chunks, bytes, closed, started_at)
                    VALUES (\(bind: bound.id), 0, \(bind: mode), 0, 0, 0, \(bind: bound.startedAt.epochMilliseconds))
                    """
                ).run()
                return bound
            }
        } catch where backend.isUniqueViolation(error) {
            throw RecordingStartRefusal.alreadyRecording
        }
    }

    func recordingDetail(_ id: String, db: any SQLDatabase) async throws -> RecordingDetail? {
        guard let record = try await db.raw("SELECT * FROM recordings WHERE id = \(bind: id)").first()?.recordingRecord() else { return nil }
        let segments = try await db.raw("SELECT * FROM recording_segments WHERE recording_id = \(bind: id) ORDER BY segment").all()
            .map { try $0.recordingSegment() }
        return RecordingDetail(record: record, segments: segments)
    }

    public func recording(_ grant: Grant<RecordingResource>) async throws -> RecordingDetail? {
        try await read { db in try await self.recordingDetail(grant.resourceID, db: db) }
    }

    public func recordings(_ scope: Scope<RecordingResource>, consultation: Consultation.ID?, limit: Int) async throws -> [RecordingDetail] {
        var columns = recordingColumns
        if faults.recordingOwnerFromRow { columns.patient = "r.patient_id" }
        let predicate = scope.predicate.sql(columns)
        let filter: SQLQueryString = consultation.map { "r.consultation_id = \(bind: $0.description)" } ?? "1 = 1"
        let cap = Int64(min(max(limit, 1), 500))
        return try await read { db in
            let records = try await db.raw(
                """
                SELECT r.* FROM recordings r JOIN consultations c ON c.id = r.consultation_id
                WHERE (\(predicate)) AND \(filter) AND r.status <> 'erased' ORDER BY r.started_at DESC, r.id LIMIT \(bind: cap)
                """
            ).all().map { try $0.recordingRecord() }
            guard !records.isEmpty else { return [] }
            let segments = try await db.raw(
                "SELECT * FROM recording_segments WHERE recording_id IN (\(binds: records.map(\.id))) ORDER BY recording_id, segment"
            ).all()
            var byRecording: [String: [RecordingSegment]] = [:]
            for row in segments {
                byRecording[try row.decode(column: "recording_id", as: String.self), default: []].append(try row.recordingSegment())
            }
            return records.map { RecordingDetail(record: $0, segments: byRecording[$0.id] ?? []) }
        }
    }

    public func chunks(_ grant: Grant<RecordingResource>, segment: Int) async throws -> [RecordingChunk] {
        try await read { db in
            try await db.raw(
                "SELECT * FROM recording_chunks WHERE recording_id = \(bind: grant.resourceID) AND segment = \(bind: Int64(segment)) ORDER BY idx"
            ).all().map { row in
                RecordingChunk(
                    segment: segment, index: Int(try row.decode(column: "idx", as: Int64.self)), size: Int(try row.decode(column: "size", as: Int64.self)),
                    sha256: try row.decode(column: "sha256", as: String.self))
            }
        }
    }

    /// Takes the recording's row lock for the rest of the transaction (PostgreSQL: the UPDATE's row
    /// lock; SQLite serialises write transactions already) and returns the row.
    func lockRecording(_ id: String, db: any SQLDatabase) async throws -> RecordingRecord? {
        try await db.raw("UPDATE recordings SET status = status WHERE id = \(bind: id)").run()
        return try await db.raw("SELECT * FROM recordings WHERE id = \(bind: id)").first()?.recordingRecord()
    }

    /// INVARIANT (checked on every chunk and segment write, fails closed): the recording's bound
    /// consultation, patient, clinician and practice are the consultation's, and `uploader` is its clinician.
    func bindingHolds(_ r: RecordingRecord, uploader: Account.ID?, db: any SQLDatabase) async throws -> Bool {
        if faults.recordingBindsWrongPatient { return uploader == nil || uploader == r.clinician }
        guard
            let c = try await db.raw("SELECT patient_id, clinician_id, practice_id FROM consultations WHERE id = \(bind: r.consultation.description)")
                .first()
        else { return false }
        let holds =
            try c.decode(column: "patient_id", as: String.self) == r.patient.description
            && c.decode(column: "clinician_id", as: String.self) == r.clinician.description
            && c.decode(column: "practice_id", as: String.self) == r.practice.description
        guard let uploader else { return holds }
        return holds && uploader == r.clinician
    }

    public func addChunk(
        _ chunk: RecordingChunk, uploader: Account.ID, at: Date, write: AuditedWrite<RecordingResource>,
        persist: @escaping @Sendable () async throws -> Void
    ) async throws -> ChunkOutcome {
        try check(write, [.record])
        let id = write.grant.resourceID
        do {
            return try await audited(write) { db in
                guard let r = try await self.lockRecording(id, db: db) else { throw ChunkRefused(outcome: .notRecording) }
                guard try await self.bindingHolds(r, uploader: uploader, db: db) else { throw ChunkRefused(outcome: .invariantViolation) }
                if let existing = try await db.raw(
                    """
                    SELECT sha256 FROM recording_chunks WHERE recording_id = \(bind: id) AND segment = \(bind: Int64(chunk.segment))
                    AND idx = \(bind: Int64(chunk.index))
                    """
                ).first()?.decode(column: "sha256", as: String.self) {
                    // A re-sent chunk is harmless; a different one under the same index is refused.
                    if existing == chunk.sha256 { return .duplicate }
                    throw ChunkRefused(outcome: .conflict)
                }
                guard r.status == .recording else { throw ChunkRefused(outcome: .notRecording) }
                let consent = try await db.raw("SELECT status FROM recording_consents WHERE id = \(bind: r.consent)").first()?
                    .decode(column: "status", as: String.self)
                guard consent == RecordingConsentRecord.Status.granted.rawValue else { throw ChunkRefused(outcome: .notRecording) }
                guard
                    let segment = try await db.raw(
                        "SELECT * FROM recording_segments WHERE recording_id = \(bind: id) AND segment = \(bind: Int64(chunk.segment))"
                    ).first()?.recordingSegment(), !segment.closed
                else { throw ChunkRefused(outcome: .segmentClosed) }
                guard chunk.index == segment.chunks else {
                    throw ChunkRefused(outcome: chunk.index > segment.chunks ? .gap(expected: segment.chunks) : .conflict)
                }
                // The blob is durable before the row that acknowledges it commits.
                try await persist()
                try await db.raw(
                    """
                    INSERT INTO recording_chunks (recording_id, segment, idx, size, sha256, stored_at)
                    VALUES (\(bind: id), \(bind: Int64(chunk.segment)), \(bind: Int64(chunk.index)), \(bind: Int64(chunk.size)),
                        \(bind: chunk.sha256), \(bind: at.epochMilliseconds))
                    """
                ).run()
                try await db.raw(
                    """
                    UPDATE recording_segments SET chunks = chunks + 1, bytes = bytes + \(bind: Int64(chunk.size))
                    WHERE recording_id = \(bind: id) AND segment = \(bind: Int64(chunk.segment))
                    """
                ).run()
                try await db.raw("UPDATE recordings SET last_chunk_at = \(bind: at.epochMilliseconds) WHERE id = \(bind: id)").run()
                return .stored
            }
        } catch let refused as ChunkRefused {
            return refused.outcome
        }
    }

    /// Closes the open segment of a locked recording: the caller's terminator first, then the row.
    func closeOpenSegment(_ id: String, db: any SQLDatabase, terminate: @Sendable (Int, Int) async throws -> Void) async throws -> Int? {
        guard
            let open = try await db.raw(
                "SELECT * FROM recording_segments WHERE recording_id = \(bind: id) AND closed = 0 ORDER BY segment DESC"
            ).first()?.recordingSegment()
        else { return nil }
        try await terminate(open.segment, open.chunks)
        try await db.raw("UPDATE recording_segments SET closed = 1 WHERE recording_id = \(bind: id) AND segment = \(bind: Int64(open.segment))").run()
        return open.segment
    }

    public func startSegment(
        mode: String, at: Date, write: AuditedWrite<RecordingResource>, terminate: @escaping @Sendable (Int, Int) async throws -> Void
    ) async throws -> Int? {
        try check(write, [.record])
        let id = write.grant.resourceID
        do {
            return try await audited(write) { db in
                guard let r = try await self.lockRecording(id, db: db), r.status == .recording else { throw ChunkRefused(outcome: .notRecording) }
                guard try await self.bindingHolds(r, uploader: write.grant.principal.account, db: db) else {
                    throw ChunkRefused(outcome: .invariantViolation)
                }
                let closed = try await self.closeOpenSegment(id, db: db, terminate: terminate)
                let last = try await db.raw("SELECT MAX(segment) AS m FROM recording_segments WHERE recording_id = \(bind: id)").first()?
                    .decode(column: "m", as: Int64?.self)
                let next = Int((last ?? Int64(closed ?? -1)) + 1)
                try await db.raw(
                    """
                    INSERT INTO recording_segments (recording_id, segment, mode, chunks, bytes, closed, started_at)
                    VALUES (\(bind: id), \(bind: Int64(next)), \(bind: mode), 0, 0, 0, \(bind: at.epochMilliseconds))
                    """
                ).run()
                try await db.raw("UPDATE recordings SET last_chunk_at = \(bind: at.epochMilliseconds) WHERE id = \(bind: id)").run()
                return next
            }
        } catch is ChunkRefused {
            return nil
        }
    }

    public func finishRecording(
        status: RecordingRecord.Status, reason: String, at: Date, write: AuditedWrite<RecordingResource>,
        terminate: @escaping @Sendable (Int, Int) async throws -> Void
    ) async throws -> Bool {
        try check(write, [.record, .update])
        let id = write.grant.resourceID
        do {
            return try await audited(write) { db in
                guard let r = try await self.lockRecording(id, db: db) else { throw ChunkRefused(outcome: .notRecording) }
                // A recording stopped by the patient's withdrawal is already complete but may still
                // have its last segment open: close it (the terminator), once.
                guard r.status == .recording || (r.status == .complete && r.endedReason == "stopped-by-patient") else {
                    throw ChunkRefused(outcome: .notRecording)
                }
                let hadOpen = try await self.closeOpenSegment(id, db: db, terminate: terminate) != nil
                guard r.status == .recording else {
                    if hadOpen { return true }
                    throw ChunkRefused(outcome: .notRecording)
                }
                try await db.raw(
                    """
                    UPDATE recordings SET status = \(bind: status.rawValue), finished_at = \(bind: at.epochMilliseconds), ended_reason = \(bind: reason)
                    WHERE id = \(bind: id) AND status = 'recording'
                    """
                ).run()
                return true
            }
        } catch is ChunkRefused {
            return false
        }
    }

    public func setPlayable(segment: Int, layout: PlayableLayout, write: AuditedWrite<RecordingResource>) async throws {
        try check(write, [.update])
        try await audited(write) { db in
            try await db.raw(
                """
                UPDATE recording_segments SET playable_chunk_size = \(bind: Int64(layout.chunkSize)), playable_chunks = \(bind: Int64(layout.chunks)),
                    playable_bytes = \(bind: layout.bytes), playable_type = \(bind: layout.contentType)
                WHERE recording_id = \(bind: write.grant.resourceID) AND segment = \(bind: Int64(segment)) AND closed = 1
                """
            ).run()
        }
    }

    public func eraseRecording(at: Date, reason: String, write: AuditedWrite<RecordingResource>) async throws -> RecordingDetail? {
        try check(write, [.delete])
        let id = write.grant.resourceID
        do {
            return try await audited(write) { db in
                guard let r = try await self.lockRecording(id, db: db), r.status != .erased else { throw ChunkRefused(outcome: .notRecording) }
                let detail = try await self.recordingDetail(id, db: db)
                // Crypto-shredding: the only copy of the wrapped data key goes with this UPDATE.
                try await db.raw(
                    """
                    UPDATE recordings SET status = 'erased', wrapped_key = NULL, erased_at = \(bind: at.epochMilliseconds),
                        erasure_reason = \(bind: reason), finished_at = COALESCE(finished_at, \(bind: at.epochMilliseconds))
                    WHERE id = \(bind: id)
                    """
                ).run()
                return detail
            }
        } catch is ChunkRefused {
            return nil
        }
    }

    // MARK: jobs

    public func stalledRecordings(idleBefore: Date, limit: Int) async throws -> [String] {
        try await read { db in
            try await db.raw(
                """
                SELECT id FROM recordings WHERE status = 'recording' AND last_chunk_at < \(bind: idleBefore.epochMilliseconds)
                ORDER BY last_chunk_at LIMIT \(bind: Int64(limit))
                """
            ).all().map { try $0.decode(column: "id", as: String.self) }
        }
    }

    public func expiredRecordings(now: Date, limit: Int) async throws -> [String] {
        try await read { db in
            try await db.raw(
                """
                SELECT id FROM recordings WHERE status <> 'erased' AND retain_until < \(bind: now.epochMilliseconds)
                ORDER BY retain_until LIMIT \(bind: Int64(limit))
                """
            ).all().map { try $0.decode(column: "id", as: String.self) }
        }
    }

    public func recordingsNeedingPlayable(limit: Int) async throws -> [String] {
        try await read { db in
            try await db.raw(
                """
                SELECT DISTINCT r.id, r.started_at FROM recordings r JOIN recording_segments s ON s.recording_id = r.id
                WHERE r.status IN ('complete', 'incomplete') AND s.closed = 1 AND s.chunks > 0 AND s.playable_chunk_size IS NULL
                ORDER BY r.started_at LIMIT \(bind: Int64(limit))
                """
            ).all().map { try $0.decode(column: "id", as: String.self) }
        }
    }

    // MARK: key management

    public func wrappedKeys(after: String?, limit: Int) async throws -> [WrappedKeyRow] {
        try await read { db in
            try await db.raw(
                """
                SELECT id, wrapped_key FROM recordings WHERE wrapped_key IS NOT NULL AND id > \(bind: after ?? "")
                ORDER BY id LIMIT \(bind: Int64(limit))
                """
            ).all().map {
                WrappedKeyRow(recording: try $0.decode(column: "id", as: String.self), wrappedKey: try $0.decode(column: "wrapped_key", as: String.self))
            }
        }
    }

    public func replaceWrappedKey(recording: String, from: String, to: String) async throws -> Bool {
        try await backend.transaction { db in
            try await db.raw(
                "UPDATE recordings SET wrapped_key = \(bind: to) WHERE id = \(bind: recording) AND wrapped_key = \(bind: from) RETURNING id"
            ).all().count == 1
        }
    }

    // MARK: the kill switch

    public func playbackSwitch() async throws -> PlaybackSwitchState {
        try await read { db in
            guard let row = try await db.raw("SELECT * FROM platform_switches WHERE name = 'playback'").first() else {
                return PlaybackSwitchState(engaged: false, reason: "", changedBy: "", changedAt: nil)
            }
            return PlaybackSwitchState(
                engaged: try row.decode(column: "engaged", as: Int64.self) == 1, reason: try row.decode(column: "reason", as: String.self),
                changedBy: try row.decode(column: "changed_by", as: String.self), changedAt: try row.ms("changed_at"))
        }
    }

    public func setPlaybackSwitch(_ state: PlaybackSwitchState, write: AuditedWrite<PlaybackSwitchResource>) async throws {
        try check(write, [.update])
        try await audited(write) { db in
            try await db.raw("DELETE FROM platform_switches WHERE name = 'playback'").run()
            try await db.raw(
                """
                INSERT INTO platform_switches (name, engaged, reason, changed_by, changed_at)
                VALUES ('playback', \(bind: state.engaged ? Int64(1) : Int64(0)), \(bind: state.reason), \(bind: state.changedBy),
                    \(bind: (state.changedAt ?? Date()).epochMilliseconds))
                """
            ).run()
        }
    }
}
