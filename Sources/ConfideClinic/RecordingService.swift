public import ConfideCore
import ConfidePolicy
public import ConfideStore
public import ConfideVault
import Crypto
public import Foundation
import Logging
import Synchronization

/// Limits and timings of recordings.
public struct RecordingConfiguration: Sendable {
    /// The largest upload chunk accepted (MediaRecorder with a 1 s timeslice makes ~50–200 KB).
    public var maxChunkBytes = 8 * 1024 * 1024
    /// Segments per recording (each audio ⇄ video switch starts one).
    public var maxSegments = 1_000
    /// Chunks per segment.
    public var maxChunksPerSegment = 100_000
    /// A recording with no chunk for this long is finalised as incomplete.
    public var uploadTimeoutSeconds = 300
    /// How far ahead of the next expected index a chunk may arrive and wait for its predecessors
    /// (a client keeps a window of chunks in flight); further ahead is a gap at once.
    public var uploadWindow = 8
    /// How long a chunk that arrived early waits for its predecessors before it is a gap.
    public var uploadOrderWaitSeconds = 10.0

    /// Whether chunk `index`, with `expected` the next index the segment takes, is ahead of it but
    /// within the upload window (it may wait for its predecessors).
    public func mayWait(index: Int, expected: Int) -> Bool { index > expected && index - expected < uploadWindow }
    /// Plaintext size of the chunks of a segment's seekable version (a Range maps to whole chunks).
    public var playableChunkBytes = 256 * 1024
    /// Retention in days per country (ISO 3166 alpha-2); others use `defaultRetentionDays`.
    public var retentionDays: [String: Int] = RecordingConfiguration.countryRetentionDays
    public var defaultRetentionDays = 3_650

    /// Defaults per country. Each figure is a **clinical estimate** of a prudent period for
    /// consultation recordings kept as part of the medical record; operators must set their own
    /// (`--recording-retention CC=DAYS`) from local law and professional guidance.
    /// GB: 10 years, as the issue brief states for UK GP records; the others are clinical estimates.
    public static let countryRetentionDays: [String: Int] = ["GB": 3_650, "CA": 3_650, "US": 2_555, "SG": 2_190]

    public init() {}

    public func retention(country: String) -> Int { retentionDays[country] ?? defaultRetentionDays }
}

/// Makes a finished segment seekable (MediaRecorder's WebM has no duration and no cues).
public protocol MediaRemuxer: Sendable {
    /// Remuxes the media that `input` yields, in order, and hands the result to `output` in pieces of
    /// at most `pieceSize` bytes (`last` set on the final one), only once all of it exists; returns
    /// its size (0: nothing came out, and `output` was not called). Neither input nor output touches
    /// disk, and at most one input piece and one output piece are held at a time.
    ///
    /// An error thrown by `input` ends the remux and is rethrown unchanged, before `output` is ever
    /// called; the whole input is read (and so checked) even when the remuxer fails early.
    func remux<Input: AsyncSequence>(
        _ input: Input, contentType: String, pieceSize: Int, output: (_ piece: Data, _ last: Bool) async throws -> Void
    ) async throws -> Int64 where Input.Element == Data
}

/// Raised when a recording's binding disagrees with its consultation (the 2020 class of failure).
public struct RecordingAlert: Sendable, Hashable {
    public let recording: String
    public let what: String
}

/// A byte range of a segment's media, decrypted.
public struct PlaybackSlice: Sendable {
    public let contentType: String
    public let totalBytes: Int64
    /// Inclusive.
    public let range: ClosedRange<Int64>
    public let data: Data
}

/// Why a Range header cannot be served.
public struct RangeNotSatisfiable: Error, Sendable {
    public let totalBytes: Int64
}

/// Recording consent, capture (the chunk upload), binding, playback, erasure, the kill switch.
/// Every method goes through the gate; writes commit their audit entry with the change.
public struct RecordingService: Sendable {
    let clinic: ClinicService
    let vault: Vault
    let remuxer: (any MediaRemuxer)?
    public let configuration: RecordingConfiguration
    let alert: @Sendable (RecordingAlert) -> Void
    /// The chunks of each recording now waiting for their predecessors on this instance.
    let waiting = UploadWaiters()

    /// Where the seekable version of upload segment `s` lives in the vault: segment `2^32 + s`
    /// (upload segments are below `maxSegments`), so its chunks are bound to it by the AAD.
    public static func playableSegment(_ s: Int) -> Int { (1 << 32) + s }

    public init(
        clinic: ClinicService, vault: Vault, remuxer: (any MediaRemuxer)?, configuration: RecordingConfiguration = .init(),
        alert: @escaping @Sendable (RecordingAlert) -> Void
    ) {
        self.clinic = clinic
        self.vault = vault
        self.remuxer = remuxer
        self.configuration = configuration
        self.alert = alert
    }

    var store: any RecordingStore { clinic.stores.recordings }
    /// Where the sealed chunks live.
    public var blobStore: any BlobStore { vault.store }
    var gate: AccessGate { clinic.gate }
    var now: Date { clinic.clock.now() }
    var logger: Logger { clinic.logger }

    // MARK: consent

    /// The consultation's clinician asks the patient for consent to record (during the call).
    public func requestConsent(_ consultation: Consultation.ID, _ r: ClinicRequest) async throws -> RecordingConsentRecord {
        let id = UUID().uuidString.lowercased()
        var facts = try await clinic.facts.consultationFacts(consultation, for: r.principal)
        facts?.resourceID = id
        facts?.callGuest = false
        let write = try await gate.authorizeWrite(
            .create, id, facts: facts, by: r.principal, purpose: "recording-consent", requestID: r.requestID, as: RecordingConsentResource.self)
        guard let account = r.principal.account, let owner = facts?.owningPatient else {
            try await gate.recordRefusal(write)
            throw ClinicError(.notFound, "no such consultation")
        }
        try await requireCallOpen(consultation, write: write, r)
        let consent = RecordingConsentRecord(
            id: id, consultation: consultation, patient: owner, requestedBy: account, requestedAt: now, status: .requested)
        guard try await store.requestConsent(consent, write: write) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "the patient already has a request to answer, or has already agreed")
        }
        return consent
    }

    /// A request to record makes sense only while the call can run. Returns the consultation.
    @discardableResult
    func requireCallOpen<R: PolicyResource>(_ consultation: Consultation.ID, write: AuditedWrite<R>, _ r: ClinicRequest) async throws
        -> ConsultationView
    {
        let grant = try await clinic.joinGrant(consultation, purpose: "recording", r)
        let view = try await clinic.callConsultation(grant)
        if let refusal = clinic.refusal(for: view.record, now: now).refusal {
            try await gate.recordRefusal(write)
            throw ClinicError(refusal.kind == .over ? .transitionNotAllowed : .outsideWindow, refusal.message)
        }
        return view
    }

    /// The consents of a consultation that the principal may see (newest first).
    public func consents(_ consultation: Consultation.ID, _ r: ClinicRequest) async throws -> [RecordingConsentRecord] {
        // Someone who cannot see the consultation hears "not found", not an empty list.
        _ = try await gate.authorize(
            .read, consultation.description, facts: try await clinic.facts.consultationFacts(consultation, for: r.principal), by: r.principal,
            purpose: "recording-consent", requestID: r.requestID, as: ConsultationResource.self)
        let scope = try await gate.scope(.list, by: r.principal, purpose: "recording-consent", requestID: r.requestID, as: RecordingConsentResource.self)
        let list = try await store.recordingConsents(scope, consultation: consultation)
        try await gate.recordPresented(scope, items: list.map { ($0.id, $0.patient) }, purpose: "recording-consent", requestID: r.requestID)
        return list
    }

    func consentWrite(_ id: String, consultation: Consultation.ID, _ r: ClinicRequest) async throws -> AuditedWrite<RecordingConsentResource> {
        let facts = try await store.recordingConsentFacts(id, for: r.principal)
        let write = try await gate.authorizeWrite(
            .update, id, facts: facts, by: r.principal, purpose: "recording-consent", requestID: r.requestID, as: RecordingConsentResource.self)
        // The consent must belong to the consultation in the path.
        guard let consent = try await store.recordingConsent(write.grant), consent.consultation == consultation else {
            try await gate.recordRefusal(write)
            throw ClinicError(.notFound, "no such request")
        }
        return write
    }

    /// The patient grants or refuses a pending request.
    public func answerConsent(_ consultation: Consultation.ID, consent id: String, granted: Bool, _ r: ClinicRequest) async throws
        -> RecordingConsentRecord.Status
    {
        let write = try await consentWrite(id, consultation: consultation, r)
        let to: RecordingConsentRecord.Status = granted ? .granted : .refused
        guard try await store.decideConsent(id: id, from: [.requested], to: to, at: now, write: write) != nil else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "this request is no longer waiting for an answer")
        }
        return to
    }

    /// The patient withdraws a request or a grant: any recording made under it stops at once
    /// (no chunk is acknowledged after this commits), and no new one can start.
    /// - Returns: the recordings it stopped.
    public func withdrawConsent(_ consultation: Consultation.ID, consent id: String, _ r: ClinicRequest) async throws -> [String] {
        let write = try await consentWrite(id, consultation: consultation, r)
        guard let stopped = try await store.decideConsent(id: id, from: [.requested, .granted], to: .withdrawn, at: now, write: write) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "there is nothing to withdraw")
        }
        for recording in stopped {
            // Close the open segment (its terminator) on the system path: the patient cannot write media.
            _ = try? await finishOnSystemPath(recording, status: .complete, reason: "stopped-by-patient", job: "recording-stop", requestID: r.requestID)
        }
        return stopped
    }

    // MARK: capture

    func recordingWrite(_ id: String, _ action: Action, purpose: String, _ r: ClinicRequest) async throws -> AuditedWrite<RecordingResource> {
        try await gate.authorizeWrite(
            action, id, facts: try await store.recordingFacts(id, for: r.principal), by: r.principal, purpose: purpose, requestID: r.requestID,
            as: RecordingResource.self)
    }

    /// Starts recording a consultation's call. The server creates the recording from its own
    /// record of the consultation: patient, clinician and practice are copied from it here, once.
    public func startRecording(_ consultation: Consultation.ID, mode: String, _ r: ClinicRequest) async throws -> RecordingDetail {
        guard mode == "audio" || mode == "video" else {
            throw ClinicError(ValidationError(.invalidValue, field: "mode", message: "choose audio or video"))
        }
        let id = UUID().uuidString.lowercased()
        var facts = try await clinic.facts.consultationFacts(consultation, for: r.principal)
        facts?.resourceID = id
        facts?.callGuest = false
        let write = try await gate.authorizeWrite(
            .create, id, facts: facts, by: r.principal, purpose: "recording", requestID: r.requestID, as: RecordingResource.self)
        let view = try await requireCallOpen(consultation, write: write, r)
        guard let practice = try await clinic.clinic.practice(id: view.record.practice) else { throw ClinicError(.notFound, "no such consultation") }
        let wrapped = try vault.createRecordingKey(recording: id)
        let start = now
        let days = configuration.retention(country: practice.country.value)
        let proposed = RecordingRecord(
            id: id, consultation: consultation, patient: view.record.patient, clinician: view.record.clinician, practice: view.record.practice,
            consent: "", status: .recording, wrappedKey: wrapped.serialized.base64EncodedString(), startedAt: start, lastChunkAt: start,
            retainUntil: start.addingTimeInterval(Double(days) * 86_400))
        do {
            let stored = try await store.createRecording(proposed, mode: mode, write: write)
            return RecordingDetail(record: stored, segments: [RecordingSegment(segment: 0, mode: mode, chunks: 0, bytes: 0, closed: false, startedAt: start)])
        } catch let refusal as RecordingStartRefusal {
            try await gate.recordRefusal(write)
            switch refusal {
            case .noConsent: throw ClinicError(.transitionNotAllowed, "the patient has not agreed to recording this consultation")
            case .alreadyRecording: throw ClinicError(.conflict, "this consultation is already being recorded")
            }
        }
    }

    static func wrappedKey(_ record: RecordingRecord) throws -> WrappedKey {
        guard let text = record.wrappedKey, let data = Data(base64Encoded: text) else { throw VaultError.unknownKeyEncryptionKey("none") }
        return try WrappedKey(serialized: data)
    }

    /// Accepts one upload chunk: checks index, size and SHA-256, seals it and writes it durably,
    /// then acknowledges it (the chunk row commits with the audit entry). A re-sent chunk is
    /// harmless (`duplicate`); every other refusal is audited and changes nothing.
    public func uploadChunk(
        _ recording: String, segment: Int, index: Int, sha256 claimed: String, body: Data, _ r: ClinicRequest
    ) async throws -> ChunkOutcome {
        let write = try await recordingWrite(recording, .record, purpose: "recording-upload", r)
        func refuse(_ error: ClinicError) async throws -> Never {
            try await gate.recordRefusal(write)
            throw error
        }
        guard (0..<configuration.maxSegments).contains(segment) else {
            try await refuse(ClinicError(ValidationError(.invalidValue, field: "segment", message: "segment is out of range")))
        }
        guard (0..<configuration.maxChunksPerSegment).contains(index) else {
            try await refuse(ClinicError(ValidationError(.invalidValue, field: "index", message: "chunk index is out of range")))
        }
        guard !body.isEmpty, body.count <= configuration.maxChunkBytes else {
            try await refuse(
                ClinicError(ValidationError(.invalidValue, field: "body", message: "a chunk holds 1 to \(configuration.maxChunkBytes) bytes")))
        }
        let actual = lowercaseHex(SHA256.hash(data: body))
        guard claimed.lowercased() == actual else {
            try await refuse(ClinicError(ValidationError(.invalidValue, field: "sha256", message: "the chunk's SHA-256 does not match its bytes")))
        }
        guard case .clinician(let uploader, _) = r.principal else { try await refuse(ClinicError(.notFound, "no such recording")) }
        guard let detail = try await store.recording(write.grant), detail.record.status != .erased else {
            try await refuse(ClinicError(.notFound, "no such recording"))
        }
        // Past the window of chunks in flight: a gap at once, before anything is written.
        if let open = detail.segments.first(where: { $0.segment == segment }), !open.closed, index > open.chunks,
            !configuration.mayWait(index: index, expected: open.chunks)
        {
            try await gate.recordRefusal(write)
            return .gap(expected: open.chunks)
        }
        let wrapped = try Self.wrappedKey(detail.record)
        // The sealed chunk is written and synced before the transaction (where no read sees it), so
        // chunks in flight together sync together; under the recording's lock it is only moved
        // under its name, once the checks pass.
        let blobs = vault.store
        let staged = try await vault.stageChunk(
            recording: recording, segment: segment, index: index, final: false, plaintext: body, wrapped: wrapped)
        let chunk = RecordingChunk(segment: segment, index: index, size: body.count, sha256: actual)
        let outcome: ChunkOutcome
        do {
            outcome = try await addInOrder(chunk, uploader: uploader, write: write) { try await blobs.promote(staged) }
        } catch {
            await blobs.discard(staged)
            throw error
        }
        if outcome != .stored { await blobs.discard(staged) }
        switch outcome {
        case .stored, .duplicate:
            return outcome
        case .invariantViolation:
            try await gate.recordRefusal(write)
            alert(RecordingAlert(recording: recording, what: "binding"))
            logger.critical("recording binding invariant failed; chunk refused", metadata: ["recording": "\(recording)"])
            throw ClinicError(.notFound, "no such recording")
        case .conflict, .gap, .segmentClosed, .notRecording:
            try await gate.recordRefusal(write)
            return outcome
        }
    }

    /// Adds a chunk; one that arrived ahead of its predecessors (within the upload window) waits for
    /// them, as a client with several chunks in flight needs. Each attempt is one transaction that
    /// either commits the chunk or changes nothing.
    func addInOrder(
        _ chunk: RecordingChunk, uploader: Account.ID, write: AuditedWrite<RecordingResource>,
        persist: @escaping @Sendable () async throws -> Void
    ) async throws -> ChunkOutcome {
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(configuration.uploadOrderWaitSeconds * 1000)))
        var pause = Duration.milliseconds(1)
        let id = write.grant.resourceID
        let key = UploadWaiters.Key(recording: id, segment: chunk.segment, index: chunk.index)
        var holdsPlace = false
        waiting.begin(key)
        defer {
            waiting.end(key)
            if holdsPlace { waiting.leave(id) }
        }
        while true {
            let outcome = try await store.addChunk(chunk, uploader: uploader, at: now, write: write, persist: persist)
            guard case .gap(let expected) = outcome, configuration.mayWait(index: chunk.index, expected: expected), ContinuousClock.now < deadline else {
                return outcome
            }
            // At most a window's worth of early chunks wait per recording; the rest are gaps at once.
            if !holdsPlace {
                guard waiting.enter(id, limit: configuration.uploadWindow) else { return outcome }
                holdsPlace = true
            }
            // Woken when the predecessor's attempt here ends; polled (the pause) when it is not in
            // flight here: not sent yet, or taken by another instance.
            await waiting.wait(for: key.predecessor, upTo: pause, limit: deadline - ContinuousClock.now)
            try Task.checkCancellation()
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    /// A switch between audio-only and video: closes the current segment, opens the next.
    public func startSegment(_ recording: String, mode: String, _ r: ClinicRequest) async throws -> Int {
        guard mode == "audio" || mode == "video" else {
            throw ClinicError(ValidationError(.invalidValue, field: "mode", message: "choose audio or video"))
        }
        let write = try await recordingWrite(recording, .record, purpose: "recording-segment", r)
        guard let detail = try await store.recording(write.grant), detail.segments.count < configuration.maxSegments,
            let wrapped = try? Self.wrappedKey(detail.record)
        else {
            try await gate.recordRefusal(write)
            throw ClinicError(.transitionNotAllowed, "this recording cannot take another segment")
        }
        guard let next = try await store.startSegment(mode: mode, at: now, write: write, terminate: terminator(recording, wrapped)) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.transitionNotAllowed, "this recording has stopped")
        }
        return next
    }

    /// Seals the empty `final` chunk that closes a segment.
    func terminator(_ recording: String, _ wrapped: WrappedKey) -> @Sendable (Int, Int) async throws -> Void {
        let vault = self.vault
        return { segment, index in
            try await vault.storeChunk(recording: recording, segment: segment, index: index, final: true, plaintext: Data(), wrapped: wrapped)
        }
    }

    /// The clinician finishes (or stops) a recording.
    public func finishRecording(_ recording: String, reason: String = "finished", _ r: ClinicRequest) async throws {
        let write = try await recordingWrite(recording, .record, purpose: "recording-finish", r)
        guard let detail = try await store.recording(write.grant), let wrapped = try? Self.wrappedKey(detail.record),
            try await store.finishRecording(status: .complete, reason: reason, at: now, write: write, terminate: terminator(recording, wrapped))
        else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "this recording has already stopped")
        }
    }

    func finishOnSystemPath(_ recording: String, status: RecordingRecord.Status, reason: String, job: String, requestID: String) async throws
        -> Bool
    {
        let system = Principal.system(job: job)
        let write = try await recordingWrite(recording, .update, purpose: "recording-finish", ClinicRequest(principal: system, requestID: requestID))
        guard let detail = try await store.recording(write.grant), let wrapped = try? Self.wrappedKey(detail.record) else {
            try await gate.recordRefusal(write)
            return false
        }
        let done = try await store.finishRecording(status: status, reason: reason, at: now, write: write, terminate: terminator(recording, wrapped))
        if !done { try await gate.recordRefusal(write) }
        return done
    }

    // MARK: reading and playback

    /// The recordings the principal may see, optionally of one consultation; each one presented is audited.
    public func recordings(consultation: Consultation.ID?, _ r: ClinicRequest, limit: Int = 200) async throws -> [RecordingDetail] {
        let scope = try await gate.scope(.list, by: r.principal, purpose: "recordings", requestID: r.requestID, as: RecordingResource.self)
        let list = try await store.recordings(scope, consultation: consultation, limit: limit)
        try await gate.recordPresented(scope, items: list.map { ($0.record.id, $0.record.patient) }, purpose: "recordings", requestID: r.requestID)
        return list
    }

    /// One recording's metadata.
    public func recording(_ id: String, _ r: ClinicRequest) async throws -> RecordingDetail {
        let grant = try await gate.authorize(
            .read, id, facts: try await store.recordingFacts(id, for: r.principal), by: r.principal, purpose: "recording", requestID: r.requestID,
            as: RecordingResource.self)
        guard let detail = try await store.recording(grant), detail.record.status != .erased else { throw ClinicError(.notFound, "no such recording") }
        return detail
    }

    /// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` (one range); `nil` header means the whole.
    public static func byteRange(_ header: String?, total: Int64) throws -> ClosedRange<Int64>? {
        guard let header else { return nil }
        let h = header.trimmingCharacters(in: .whitespaces)
        guard h.hasPrefix("bytes="), total > 0 else { throw RangeNotSatisfiable(totalBytes: total) }
        let spec = h.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { throw RangeNotSatisfiable(totalBytes: total) }
        let first = spec[spec.startIndex..<dash]
        let last = spec[spec.index(after: dash)...]
        func number(_ s: Substring) -> Int64? { s.allSatisfy(\.isASCII) && s.allSatisfy(\.isNumber) && s.count <= 18 ? Int64(s) : nil }
        if first.isEmpty {
            guard let n = number(last), n > 0 else { throw RangeNotSatisfiable(totalBytes: total) }
            return max(0, total - n)...(total - 1)
        }
        guard let a = number(first), a < total else { throw RangeNotSatisfiable(totalBytes: total) }
        if last.isEmpty { return a...(total - 1) }
        guard let b = number(last), b >= a else { throw RangeNotSatisfiable(totalBytes: total) }
        return a...min(b, total - 1)
    }

    /// Streams (decrypts) a byte range of one segment, through the gate's `play` decision, which
    /// the kill switch can forbid. The audit entry names the segment and byte range.
    /// - Throws: `RangeNotSatisfiable` for a malformed range or one past the end (after the decision).
    public func play(_ id: String, segment: Int, range header: String?, _ r: ClinicRequest, maxBytes: Int64 = 4 * 1024 * 1024) async throws
        -> PlaybackSlice
    {
        let facts = try await store.recordingFacts(id, for: r.principal)
        // The range is part of what is audited; a malformed one is recorded as asked.
        let asked = header.map { $0.filter { !$0.isWhitespace }.prefix(64) }.map(String.init) ?? "all"
        let purpose = "playback:segment=\(segment):\(AuditSafe.token(asked))"
        let grant = try await gate.authorize(.play, id, facts: facts, by: r.principal, purpose: purpose, requestID: r.requestID, as: RecordingResource.self)
        guard let detail = try await store.recording(grant), detail.record.status != .erased,
            let seg = detail.segments.first(where: { $0.segment == segment }), seg.closed || seg.chunks > 0
        else { throw ClinicError(.notFound, "no such recording") }
        let wrapped = try Self.wrappedKey(detail.record)
        let key = try vault.keys.unwrap(wrapped, recording: id)
        // The seekable version when it exists, otherwise the upload chunks as they are.
        let pieces: [(vaultSegment: Int, index: Int, size: Int, final: Bool, sha256: String?)]
        let contentType: String
        if let p = seg.playable, p.chunks > 0 {
            contentType = p.contentType
            pieces = (0..<p.chunks).map { i in
                let size = i == p.chunks - 1 ? Int(p.bytes - Int64(p.chunkSize) * Int64(p.chunks - 1)) : p.chunkSize
                return (Self.playableSegment(segment), i, size, i == p.chunks - 1, nil)
            }
        } else {
            contentType = seg.mode == "video" ? "video/webm" : "audio/webm"
            pieces = try await store.chunks(grant, segment: segment).map { ($0.segment, $0.index, $0.size, false, $0.sha256) }
        }
        let total = pieces.reduce(Int64(0)) { $0 + Int64($1.size) }
        guard total > 0 else { throw RangeNotSatisfiable(totalBytes: 0) }
        var range = try Self.byteRange(header, total: total) ?? 0...(total - 1)
        // One response carries at most `maxBytes`; the player asks for the rest.
        if range.count > maxBytes { range = range.lowerBound...(range.lowerBound + maxBytes - 1) }
        var out = Data()
        out.reserveCapacity(Int(range.count))
        var offset: Int64 = 0
        for piece in pieces {
            let start = offset
            offset += Int64(piece.size)
            guard offset > range.lowerBound else { continue }
            if start > range.upperBound { break }
            let sealed = try await vault.store.get(name: vault.name(recording: id, segment: piece.vaultSegment, index: piece.index))
            let plain = try ChunkSealer.open(sealed, recording: id, segment: piece.vaultSegment, index: piece.index, final: piece.final, key: key)
            if let sha = piece.sha256, lowercaseHex(SHA256.hash(data: plain)) != sha {
                alert(RecordingAlert(recording: id, what: "chunk-digest"))
                throw VaultError.authenticationFailed
            }
            let from = Int(max(range.lowerBound - start, 0))
            let to = Int(min(range.upperBound - start, Int64(plain.count) - 1))
            out.append(plain[plain.startIndex + from...plain.startIndex + to])
        }
        return PlaybackSlice(contentType: contentType, totalBytes: total, range: range, data: out)
    }

    // MARK: finalisation jobs (system path)

    /// Finalises recordings whose upload stopped: their open segment is closed and they become `incomplete`.
    public func finaliseStalled() async throws -> Int {
        let idle = now.addingTimeInterval(-Double(configuration.uploadTimeoutSeconds))
        var done = 0
        for id in try await store.stalledRecordings(idleBefore: idle, limit: 100) {
            if try await finishOnSystemPath(id, status: .incomplete, reason: "upload-timeout", job: "recording-timeout", requestID: "job-\(UUID().uuidString.lowercased())") {
                done += 1
            }
        }
        return done
    }

    /// Makes the closed segments of finished recordings seekable: streams each whole segment out of
    /// the vault, verified chunk by chunk (truncation is detected), through the remuxer, and stores
    /// the result sealed in fixed-size chunks. Without a remuxer nothing happens (playback serves the upload chunks).
    public func makePlayable(limit: Int = 20) async throws -> Int {
        guard let remuxer else { return 0 }
        var made = 0
        for id in try await store.recordingsNeedingPlayable(limit: limit) {
            let r = ClinicRequest(principal: .system(job: "recording-remux"), requestID: "job-\(UUID().uuidString.lowercased())")
            let grant = try await gate.authorize(
                .update, id, facts: try await store.recordingFacts(id, for: r.principal), by: r.principal, purpose: "recording-remux",
                requestID: r.requestID, as: RecordingResource.self)
            guard let detail = try await store.recording(grant), let wrapped = try? Self.wrappedKey(detail.record) else { continue }
            let key = try vault.keys.unwrap(wrapped, recording: id)
            for seg in detail.segments where seg.closed && seg.chunks > 0 && seg.playable == nil {
                let contentType = seg.mode == "video" ? "video/webm" : "audio/webm"
                // A segment that cannot be made seekable is marked so (served as recorded), once.
                let asRecorded = PlayableLayout(chunkSize: 0, chunks: 0, bytes: 0, contentType: "as-recorded")
                // The segment streams from the vault (each chunk opened and checked as it is read)
                // through the remuxer, and its output is sealed piece by piece: a long call is never
                // held in memory whole.
                let size = configuration.playableChunkBytes
                let target = Self.playableSegment(seg.segment)
                var pieces = 0
                var outputStarted = false
                var bytes: Int64 = 0
                do {
                    let input = try vault.chunks(recording: id, segment: seg.segment, wrapped: wrapped)
                    bytes = try await remuxer.remux(input, contentType: contentType, pieceSize: size) { piece, last in
                        outputStarted = true
                        let sealed = try ChunkSealer.seal(piece, recording: id, segment: target, index: pieces, final: last, key: key)
                        try await vault.store.put(name: vault.name(recording: id, segment: target, index: pieces), data: sealed)
                        pieces += 1
                    }
                } catch is VaultError where !outputStarted {
                    logger.error("recording segment unreadable; left as recorded", metadata: ["recording": "\(id)", "segment": "\(seg.segment)"])
                    alert(RecordingAlert(recording: id, what: "segment-unreadable"))
                    try await store.setPlayable(segment: seg.segment, layout: asRecorded, write: try await recordingWrite(id, .update, purpose: "recording-remux", r))
                    continue
                } catch where !outputStarted {
                    logger.warning("remux failed; serving the upload as recorded", metadata: ["recording": "\(id)", "segment": "\(seg.segment)"])
                }
                // An error while storing the output propagates: the segment stays unplayable and the
                // job tries again (the pieces' names are fixed, so a retry overwrites them).
                guard bytes > 0 else {
                    try await store.setPlayable(segment: seg.segment, layout: asRecorded, write: try await recordingWrite(id, .update, purpose: "recording-remux", r))
                    continue
                }
                let layout = PlayableLayout(chunkSize: size, chunks: pieces, bytes: bytes, contentType: contentType)
                let segWrite = try await recordingWrite(id, .update, purpose: "recording-remux", r)
                try await store.setPlayable(segment: seg.segment, layout: layout, write: segWrite)
            }
            made += 1
        }
        return made
    }

    // MARK: erasure and retention

    /// Erases a recording: the wrapped data key is destroyed (crypto-shredding) and its blobs removed.
    /// An operator must state the lawful basis (`reason`); the retention sweeper uses `retention-expired`.
    public func erase(_ id: String, reason rawReason: String, _ r: ClinicRequest) async throws {
        let reason = try ClinicService.text(rawReason, field: "reason", max: 500)
        let write = try await gate.authorizeWrite(
            .delete, id, facts: try await store.recordingFacts(id, for: r.principal), by: r.principal, purpose: "erasure",
            requestID: r.requestID, as: RecordingResource.self)
        guard let detail = try await store.eraseRecording(at: now, reason: reason, write: write) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "this recording was already erased")
        }
        // The key is gone (committed above); removing the blobs reclaims space.
        var addresses: [ChunkAddress] = []
        for seg in detail.segments {
            addresses += (0...seg.chunks).map { ChunkAddress(segment: seg.segment, index: $0) }
            if let p = seg.playable, p.chunks > 0 { addresses += (0..<p.chunks).map { ChunkAddress(segment: Self.playableSegment(seg.segment), index: $0) } }
        }
        do { try await vault.erase(recording: id, chunks: addresses) } catch {
            logger.warning("erased recording's blobs not all removed (its key is destroyed)", metadata: ["recording": "\(id)"])
        }
    }

    /// Erases every recording whose retention period has ended.
    public func sweepRetention() async throws -> Int {
        var done = 0
        for id in try await store.expiredRecordings(now: now, limit: 100) {
            let r = ClinicRequest(principal: .system(job: "recording-retention"), requestID: "job-\(UUID().uuidString.lowercased())")
            do {
                try await erase(id, reason: "retention-expired", r)
                done += 1
            } catch {
                logger.warning("retention erasure failed", metadata: ["recording": "\(id)"])
            }
        }
        return done
    }

    /// Runs the recording jobs every `interval` until cancelled.
    public func runJobs(every interval: Duration = .seconds(30)) async {
        while !Task.isCancelled {
            do {
                _ = try await finaliseStalled()
                _ = try await makePlayable()
                _ = try await sweepRetention()
            } catch {
                logger.warning("recording jobs failed; retrying")
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }

    // MARK: key rotation

    /// Re-wraps every recording's data key under `ring.current` (media is neither read nor
    /// rewritten). Keys already under it are left alone, so a rotation can be resumed.
    /// - Returns: (re-wrapped, already current).
    public static func rewrapAll(store: any RecordingStore, ring: KeyRing) async throws -> (rewrapped: Int, current: Int) {
        var after: String?
        var rewrapped = 0
        var current = 0
        while true {
            let page = try await store.wrappedKeys(after: after, limit: 500)
            guard let last = page.last else { break }
            after = last.recording
            for row in page {
                guard let data = Data(base64Encoded: row.wrappedKey) else { throw VaultError.unknownKeyEncryptionKey("unreadable") }
                let wrapped = try WrappedKey(serialized: data)
                if wrapped.kekID == ring.current.id {
                    current += 1
                    continue
                }
                let next = try ring.rewrap(wrapped, recording: row.recording)
                if try await store.replaceWrappedKey(recording: row.recording, from: row.wrappedKey, to: next.serialized.base64EncodedString()) {
                    rewrapped += 1
                }
            }
        }
        return (rewrapped, current)
    }

    // MARK: the kill switch

    public func playbackSwitch(_ r: ClinicRequest) async throws -> PlaybackSwitchState {
        _ = try await gate.authorize(
            .read, "playback", facts: ResourceFacts(resourceID: "playback"), by: r.principal, purpose: "kill-switch", requestID: r.requestID,
            as: PlaybackSwitchResource.self)
        return try await store.playbackSwitch()
    }

    /// Engages or releases the playback kill switch (operators; audited).
    public func setPlaybackSwitch(engaged: Bool, reason rawReason: String, _ r: ClinicRequest) async throws {
        let reason = try ClinicService.text(rawReason, field: "reason", max: 500)
        let write = try await gate.authorizeWrite(
            .update, "playback", facts: ResourceFacts(resourceID: "playback"), by: r.principal, purpose: "kill-switch", requestID: r.requestID,
            as: PlaybackSwitchResource.self)
        try await store.setPlaybackSwitch(
            PlaybackSwitchState(engaged: engaged, reason: reason, changedBy: r.principal.description, changedAt: now), write: write)
    }
}

/// Makes arbitrary text an audit token (printable ASCII without spaces).
enum AuditSafe {
    static func token(_ s: String) -> String {
        String(s.unicodeScalars.map { (0x21...0x7e).contains($0.value) ? Character($0) : "_" }.prefix(96))
    }
}

/// The chunks being added on this instance, and the early ones waiting for their predecessor.
///
/// A chunk that arrived ahead of its predecessor sleeps on that predecessor: when the predecessor is
/// being added here, until its attempt ends (stored or not), so it retries once, right after the
/// store, rather than polling the database; when it is not (it was not sent yet, or another
/// instance takes it), until its pause ends. At most a window's worth wait per recording.
final class UploadWaiters: Sendable {
    /// One chunk of one recording.
    struct Key: Hashable, Sendable {
        var recording: String
        var segment: Int
        var index: Int
        var predecessor: Key { Key(recording: recording, segment: segment, index: index - 1) }
    }
    private struct State {
        var places: [String: Int] = [:]
        /// Attempts in progress here per chunk (a re-sent chunk can be in flight twice).
        var inFlight: [Key: Int] = [:]
        /// Sleepers by the chunk they wait for.
        var sleepers: [Key: [(token: UInt64, wake: CheckedContinuation<Void, Never>)]] = [:]
        /// Tokens woken before their sleeper was registered (the timeout won the race).
        var woken: Set<UInt64> = []
        var nextToken: UInt64 = 0
    }
    private let state = Mutex(State())

    /// Takes a place for `recording` if fewer than `limit` are taken.
    func enter(_ recording: String, limit: Int) -> Bool {
        state.withLock { s in
            guard s.places[recording, default: 0] < limit else { return false }
            s.places[recording, default: 0] += 1
            return true
        }
    }

    func leave(_ recording: String) {
        state.withLock { s in
            let n = s.places[recording, default: 1] - 1
            s.places[recording] = n > 0 ? n : nil
        }
    }

    /// Nothing held: no places, chunks in flight, sleepers or stray tokens (tests).
    var isIdle: Bool {
        state.withLock { $0.places.isEmpty && $0.inFlight.isEmpty && $0.sleepers.isEmpty && $0.woken.isEmpty }
    }

    /// How many waiters sleep on `chunk` (tests).
    func sleeping(on chunk: Key) -> Int {
        state.withLock { $0.sleepers[chunk]?.count ?? 0 }
    }

    /// An attempt to add `chunk` starts here.
    func begin(_ chunk: Key) {
        state.withLock { $0.inFlight[chunk, default: 0] += 1 }
    }

    /// The attempt to add `chunk` ended (stored or not): its successors waiting here retry now.
    func end(_ chunk: Key) {
        let wake = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            let n = s.inFlight[chunk, default: 1] - 1
            s.inFlight[chunk] = n > 0 ? n : nil
            return (s.sleepers.removeValue(forKey: chunk) ?? []).map(\.wake)
        }
        for w in wake { w.resume() }
    }

    /// Returns once an attempt to add `predecessor` ends here, or after `pause` when none is in
    /// flight here when the wait starts (after `limit` when one is). Returns at once when cancelled.
    func wait(for predecessor: Key, upTo pause: Duration, limit: Duration) async {
        let token = state.withLock { s -> UInt64 in
            s.nextToken &+= 1
            return s.nextToken
        }
        let local = state.withLock { $0.inFlight[predecessor] != nil }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let now = self.state.withLock { s -> Bool in
                        // The predecessor's attempt ended since it was seen in flight.
                        if (local && s.inFlight[predecessor] == nil) || s.woken.remove(token) != nil { return true }
                        s.sleepers[predecessor, default: []].append((token, c))
                        return false
                    }
                    if now { c.resume() }
                }
            }
            group.addTask {
                try? await Task.sleep(for: local ? limit : pause)
                self.wake(predecessor, token)
            }
            await group.next()
            group.cancelAll()
            self.wake(predecessor, token)
        }
        state.withLock { _ = $0.woken.remove(token) }
    }

    /// Wakes one sleeper, or marks its token so it does not sleep once it registers.
    private func wake(_ chunk: Key, _ token: UInt64) {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let i = s.sleepers[chunk]?.firstIndex(where: { $0.token == token }) {
                let c = s.sleepers[chunk]![i].wake
                s.sleepers[chunk]!.remove(at: i)
                if s.sleepers[chunk]!.isEmpty { s.sleepers[chunk] = nil }
                return c
            }
            s.woken.insert(token)
            return nil
        }
        c?.resume()
    }
}
