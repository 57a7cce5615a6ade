import ConfideAccounts
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideSignalling
import ConfideStore
import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat

/// Recordings (docs/design/recordings.md): consent, the resumable chunk upload, listing, ranged
/// playback, erasure and the playback kill switch. Every handler goes through `RecordingService`,
/// which goes through the gate.
struct RecordingController {
    let recordings: RecordingService?
    let relay: any CallRelay
    let settings: HTTPSettings

    func register(on router: Router<ConfideRequestContext>) {
        let api = router.group("api/v1").group(context: SignedInContext.self)
        api.get("consultations/:consultationID/recording-consents", use: listConsents)
        api.post("consultations/:consultationID/recording-consents", use: requestConsent)
        api.post("consultations/:consultationID/recording-consents/:consentID/answer", use: answerConsent)
        api.post("consultations/:consultationID/recording-consents/:consentID/withdraw", use: withdrawConsent)
        api.post("consultations/:consultationID/recordings", use: start)
        api.get("recordings", use: list)
        api.get("recordings/:recordingID", use: show)
        api.post("recordings/:recordingID/segments", use: newSegment)
        api.put("recordings/:recordingID/segments/:segment/chunks/:index", use: uploadChunk)
        api.post("recordings/:recordingID/finish", use: finish)
        api.get("recordings/:recordingID/segments/:segment/media", use: media)
        api.post("admin/recordings/:recordingID/erase", use: erase)
        api.get("admin/playback-switch", use: playbackSwitch)
        api.put("admin/playback-switch", use: setPlaybackSwitch)
    }

    func service() throws -> RecordingService {
        guard let recordings else { throw Problem(.serviceUnavailable, "recordings-unavailable", "recordings are not configured on this server") }
        return recordings
    }

    func req(_ context: SignedInContext) -> ClinicRequest { ClinicRequest(principal: context.principal, requestID: context.meta.requestID) }

    /// A recording or consent id in a path: anything that is not a lower-case UUID is simply not found.
    static func pathUUID(_ context: some RequestContext, _ name: String) throws -> String {
        guard let raw = context.parameters.get(name), raw.count == 36, UUID(uuidString: raw) != nil, raw == raw.lowercased() else {
            throw Problem.notFound
        }
        return raw
    }

    static func sha256Value(_ request: Request) -> String? { request.headers[.init("X-Content-SHA256")!] }

    static func pathNumber(_ context: SignedInContext, _ name: String) throws -> Int {
        guard let raw = context.parameters.get(name), !raw.isEmpty, raw.count <= 9, raw.allSatisfy({ $0.isASCII && $0.isNumber }),
            let n = Int(raw)
        else {
            throw Problem(.unprocessableContent, "invalid-value", "\(name) must be a whole number from 0", field: name)
        }
        return n
    }

    /// Tells the call's participants (every instance).
    func announce(_ id: Consultation.ID, _ message: ServerMessage) async {
        try? await relay.publish(CallSignal(consultation: id.description, fromConnection: "server", body: message.json))
    }

    // MARK: JSON

    struct ConsentJSON: Encodable {
        let id: String
        let consultation_id: String
        let status: String
        let scope: String
        let requested_at: String
        let answered_at: String?
        let withdrawn_at: String?

        init(_ c: RecordingConsentRecord) {
            id = c.id
            consultation_id = c.consultation.description
            status = c.status.rawValue
            scope = c.scope
            requested_at = CallController.iso(c.requestedAt)
            answered_at = c.answeredAt.map(CallController.iso)
            withdrawn_at = c.withdrawnAt.map(CallController.iso)
        }
    }

    struct ConsentListJSON: Encodable { let consents: [ConsentJSON] }

    struct SegmentJSON: Encodable {
        let segment: Int
        let mode: String
        let chunks: Int
        let bytes: Int64
        let closed: Bool
        let seekable: Bool
        /// Finalisation is done: seekable, or served as recorded when it could not be made seekable.
        let prepared: Bool
        let media_url: String
    }

    struct RecordingJSON: Encodable {
        let id: String
        let consultation_id: String
        let status: String
        let started_at: String
        let finished_at: String?
        let ended_reason: String?
        let segments: [SegmentJSON]

        init(_ d: RecordingDetail) {
            let r = d.record
            id = r.id
            consultation_id = r.consultation.description
            status = r.status.rawValue
            started_at = CallController.iso(r.startedAt)
            finished_at = r.finishedAt.map(CallController.iso)
            ended_reason = r.endedReason
            segments = d.segments.map { s in
                SegmentJSON(
                    segment: s.segment, mode: s.mode, chunks: s.chunks, bytes: s.playable.map { $0.chunks > 0 ? $0.bytes : s.bytes } ?? s.bytes,
                    closed: s.closed, seekable: (s.playable?.chunks ?? 0) > 0, prepared: s.playable != nil, media_url: "/api/v1/recordings/\(r.id)/segments/\(s.segment)/media")
            }
        }
    }

    struct RecordingListJSON: Encodable { let recordings: [RecordingJSON] }

    struct ChunkJSON: Encodable {
        let segment: Int
        let index: Int
        let status: String
        let sha256: String
    }

    struct SegmentCreatedJSON: Encodable {
        let segment: Int
    }

    struct SwitchJSON: Encodable {
        let engaged: Bool
        let reason: String
        let changed_by: String
        let changed_at: String?
    }

    struct ModeBody: APIInput {
        static let fields: Set<String> = ["mode"]
        let mode: String
    }

    struct AnswerBody: APIInput {
        static let fields: Set<String> = ["consent"]
        let consent: Bool
    }

    struct ReasonBody: APIInput {
        static let fields: Set<String> = ["reason"]
        let reason: String
    }

    struct SwitchBody: APIInput {
        static let fields: Set<String> = ["engaged", "reason"]
        let engaged: Bool
        let reason: String
    }

    // MARK: consent

    @Sendable func listConsents(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let list = try await clinicCall { try await service().consents(id, req(context)) }
        return try jsonResponse(ConsentListJSON(consents: list.map(ConsentJSON.init)))
    }

    @Sendable func requestConsent(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let consent = try await clinicCall { try await service().requestConsent(id, req(context)) }
        await announce(id, .recordingConsent(id: consent.id, status: consent.status.rawValue))
        return try jsonResponse(ConsentJSON(consent), status: .created)
    }

    @Sendable func answerConsent(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let consent = try Self.pathUUID(context, "consentID")
        let body = try await request.decodeStrict(AnswerBody.self, limit: settings.maxBodyBytes)
        let status = try await clinicCall { try await service().answerConsent(id, consent: consent, granted: body.consent, req(context)) }
        await announce(id, .recordingConsent(id: consent, status: status.rawValue))
        return try jsonResponse(["id": consent, "status": status.rawValue])
    }

    @Sendable func withdrawConsent(_ request: Request, context: SignedInContext) async throws -> Response {
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let consent = try Self.pathUUID(context, "consentID")
        let stopped = try await clinicCall { try await service().withdrawConsent(id, consent: consent, req(context)) }
        await announce(id, .recordingConsent(id: consent, status: RecordingConsentRecord.Status.withdrawn.rawValue))
        for recording in stopped { await announce(id, .recording(id: recording, state: "stopped", segment: 0)) }
        return try jsonResponse(["id": consent, "status": RecordingConsentRecord.Status.withdrawn.rawValue])
    }

    // MARK: capture

    @Sendable func start(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id: Consultation.ID = try Parse.pathID(context, "consultationID")
        let body = try await request.decodeStrict(ModeBody.self, limit: settings.maxBodyBytes)
        let detail = try await clinicCall { try await service().startRecording(id, mode: body.mode, req(context)) }
        await announce(id, .recording(id: detail.record.id, state: "recording", segment: 0))
        return try jsonResponse(RecordingJSON(detail), status: .created)
    }

    @Sendable func newSegment(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id = try Self.pathUUID(context, "recordingID")
        let body = try await request.decodeStrict(ModeBody.self, limit: settings.maxBodyBytes)
        let segment = try await clinicCall { try await service().startSegment(id, mode: body.mode, req(context)) }
        return try jsonResponse(SegmentCreatedJSON(segment: segment), status: .created)
    }

    /// The chunk's bytes as `Data` that shares the request buffer's storage (a chunk is up to 8 MiB;
    /// a copy of it costs more than the seal).
    static func bytes(of buffer: ByteBuffer) -> Data {
        buffer.getData(at: buffer.readerIndex, length: buffer.readableBytes, byteTransferStrategy: .noCopy) ?? Data(buffer.readableBytesView)
    }

    /// PUT one chunk: the body is the chunk's bytes; `X-Content-SHA256` its hex SHA-256.
    @Sendable func uploadChunk(_ request: Request, context: SignedInContext) async throws -> Response {
        let service = try service()
        let id = try Self.pathUUID(context, "recordingID")
        let segment = try Self.pathNumber(context, "segment")
        let index = try Self.pathNumber(context, "index")
        guard let claimed = Self.sha256Value(request), !claimed.isEmpty else {
            throw Problem(.unprocessableContent, "invalid-value", "send the chunk's SHA-256 (hex) in X-Content-SHA256", field: "sha256")
        }
        let limit = service.configuration.maxChunkBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw Problem(.contentTooLarge, "chunk-too-large", "a chunk holds at most \(limit) bytes")
        }
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: limit) } catch {
            throw Problem(.contentTooLarge, "chunk-too-large", "a chunk holds at most \(limit) bytes")
        }
        let outcome = try await clinicCall {
            try await service.uploadChunk(id, segment: segment, index: index, sha256: claimed, body: Self.bytes(of: buffer), req(context))
        }
        let sha = claimed.lowercased()
        switch outcome {
        case .stored: return try jsonResponse(ChunkJSON(segment: segment, index: index, status: "stored", sha256: sha), status: .created)
        case .duplicate: return try jsonResponse(ChunkJSON(segment: segment, index: index, status: "duplicate", sha256: sha))
        case .gap(let expected): throw Problem(.conflict, "chunk-gap", "chunks of a segment are sent in order; the next one is \(expected)")
        case .conflict: throw Problem(.conflict, "chunk-conflict", "a different chunk was already stored under this index")
        case .segmentClosed: throw Problem(.conflict, "segment-closed", "this segment is closed or does not exist")
        case .notRecording: throw Problem(.conflict, "recording-stopped", "this recording has stopped")
        case .invariantViolation: throw Problem.notFound
        }
    }

    @Sendable func finish(_ request: Request, context: SignedInContext) async throws -> Response {
        let service = try service()
        let id = try Self.pathUUID(context, "recordingID")
        try await clinicCall { try await service.finishRecording(id, req(context)) }
        let detail = try await clinicCall { try await service.recording(id, req(context)) }
        await announce(detail.record.consultation, .recording(id: id, state: "stopped", segment: detail.segments.last?.segment ?? 0))
        return try jsonResponse(RecordingJSON(detail))
    }

    // MARK: reading and playback

    @Sendable func list(_ request: Request, context: SignedInContext) async throws -> Response {
        let consultation: Consultation.ID? = try request.uri.queryParameters.get("consultation").map {
            try Parse.id(String($0), "consultation")
        }
        let list = try await clinicCall { try await service().recordings(consultation: consultation, req(context)) }
        return try jsonResponse(RecordingListJSON(recordings: list.map(RecordingJSON.init)))
    }

    @Sendable func show(_ request: Request, context: SignedInContext) async throws -> Response {
        let id = try Self.pathUUID(context, "recordingID")
        let detail = try await clinicCall { try await service().recording(id, req(context)) }
        return try jsonResponse(RecordingJSON(detail))
    }

    /// The media of one segment, decrypted as it is sent, with Range support (206, 416).
    @Sendable func media(_ request: Request, context: SignedInContext) async throws -> Response {
        let service = try service()
        let id = try Self.pathUUID(context, "recordingID")
        let segment = try Self.pathNumber(context, "segment")
        let range = request.headers[.range]
        let slice: PlaybackSlice
        do {
            slice = try await clinicCall {
                try await service.play(id, segment: segment, range: range, req(context), maxBytes: range == nil ? Int64.max : 4 * 1024 * 1024)
            }
        } catch let e as RangeNotSatisfiable {
            var p = Problem(.rangeNotSatisfiable, "range-not-satisfiable", "the requested range is not within the media")
            p.headers[.contentRange] = "bytes */\(e.totalBytes)"
            throw p
        }
        var headers: HTTPFields = [:]
        headers[.contentType] = slice.contentType
        headers[.acceptRanges] = "bytes"
        headers[.cacheControl] = "no-store"
        headers[.contentLength] = String(slice.data.count)
        let partial = range != nil
        if partial { headers[.contentRange] = "bytes \(slice.range.lowerBound)-\(slice.range.upperBound)/\(slice.totalBytes)" }
        return Response(status: partial ? .partialContent : .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: slice.data)))
    }

    // MARK: operators

    @Sendable func erase(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let id = try Self.pathUUID(context, "recordingID")
        let body = try await request.decodeStrict(ReasonBody.self, limit: settings.maxBodyBytes)
        try await clinicCall { try await service().erase(id, reason: body.reason, req(context)) }
        return Response(status: .noContent)
    }

    static func switchJSON(_ s: PlaybackSwitchState) -> SwitchJSON {
        SwitchJSON(engaged: s.engaged, reason: s.reason, changed_by: s.changedBy, changed_at: s.changedAt.map(CallController.iso))
    }

    @Sendable func playbackSwitch(_ request: Request, context: SignedInContext) async throws -> Response {
        let state = try await clinicCall { try await service().playbackSwitch(req(context)) }
        return try jsonResponse(Self.switchJSON(state))
    }

    @Sendable func setPlaybackSwitch(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let body = try await request.decodeStrict(SwitchBody.self, limit: settings.maxBodyBytes)
        let service = try service()
        try await clinicCall { try await service.setPlaybackSwitch(engaged: body.engaged, reason: body.reason, req(context)) }
        let state = try await clinicCall { try await service.playbackSwitch(req(context)) }
        return try jsonResponse(Self.switchJSON(state))
    }
}
