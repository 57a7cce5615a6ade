import ConfideAudit
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import ConfideVault
import Crypto
import Foundation
import Testing

func sha(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

/// Alice's consultation in progress (both seated at its start), with Alice's consent to record it.
func recordedCall(_ world: TestWorld) async throws -> (ClinicFixture, Principal, ConsultationRecord, RecordingConsentRecord) {
    let (clinic, alice, c) = try await aliceBooked(world)
    world.clock.set(c.start)
    _ = try seated(try await seat(world, c.id, "a", alice))
    _ = try seated(try await seat(world, c.id, "g", clinic.gp))
    let consent = try await world.recordings.requestConsent(c.id, .by(clinic.gp))
    #expect(try await world.recordings.answerConsent(c.id, consent: consent.id, granted: true, .by(alice)) == .granted)
    return (clinic, alice, c, consent)
}

func chunk(_ text: String) -> Data { Data(text.utf8) }

func patientID(_ principal: Principal) -> Patient.ID? {
    if case .patient(_, let id) = principal { return id }
    return nil
}

func upload(_ world: TestWorld, _ recording: String, _ segment: Int, _ index: Int, _ body: Data, by who: Principal, claimed: String? = nil)
    async throws -> ChunkOutcome
{
    try await world.recordings.uploadChunk(recording, segment: segment, index: index, sha256: claimed ?? sha(body), body: body, .by(who))
}

func isDenied(_ body: () async throws -> Void) async -> Bool {
    do { try await body() } catch is AccessDenied { return true } catch { return false }
    return false
}

func clinicErrorCode(_ body: () async throws -> Void) async -> ClinicError.Code? {
    do { try await body() } catch let e as ClinicError { return e.code } catch { return nil }
    return nil
}

@Suite("recordings")
struct RecordingTests {
    @Test("consent first; the server binds the recording to the consultation's patient; chunks are idempotent, ordered and checked")
    func captureAndBinding() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c) = try await aliceBooked(world)
            let bob = try await clinic.patient(world, name: "Bob")
            world.clock.set(c.start)
            // No consent, no recording; the refusal is audited.
            #expect(await clinicErrorCode { _ = try await world.recordings.startRecording(c.id, mode: "video", .by(clinic.gp)) } == .transitionNotAllowed)
            // Only the consultation's clinician asks; only its patient answers.
            #expect(await isDenied { _ = try await world.recordings.requestConsent(c.id, .by(clinic.nurse)) })
            #expect(await isDenied { _ = try await world.recordings.requestConsent(c.id, .by(alice)) })
            let consent = try await world.recordings.requestConsent(c.id, .by(clinic.gp))
            #expect(consent.patient == patientID(alice) && consent.status == .requested)
            #expect(await clinicErrorCode { _ = try await world.recordings.requestConsent(c.id, .by(clinic.gp)) } == .conflict)
            #expect(await isDenied { _ = try await world.recordings.answerConsent(c.id, consent: consent.id, granted: true, .by(bob)) })
            #expect(await isDenied { _ = try await world.recordings.answerConsent(c.id, consent: consent.id, granted: true, .by(clinic.gp)) })
            #expect(try await world.recordings.answerConsent(c.id, consent: consent.id, granted: true, .by(alice)) == .granted)
            #expect(try await world.recordings.consents(c.id, .by(clinic.gp)).map(\.status) == [.granted])

            let rec = try await world.recordings.startRecording(c.id, mode: "video", .by(clinic.gp)).record
            // Bound by the server from the consultation.
            #expect(rec.patient == patientID(alice) && rec.clinician == clinic.gpAccount && rec.practice == clinic.practice.id && rec.consent == consent.id)
            #expect(await clinicErrorCode { _ = try await world.recordings.startRecording(c.id, mode: "video", .by(clinic.gp)) } == .conflict)

            let a = chunk("webm-header+frames-0"), b = chunk("frames-1")
            #expect(try await upload(world, rec.id, 0, 0, a, by: clinic.gp) == .stored)
            #expect(try await upload(world, rec.id, 0, 0, a, by: clinic.gp) == .duplicate)
            #expect(try await upload(world, rec.id, 0, 0, b, by: clinic.gp) == .conflict)
            // Past the upload window: a gap at once (within it, a chunk waits for its predecessors).
            #expect(try await upload(world, rec.id, 0, 1 + RecordingConfiguration().uploadWindow, b, by: clinic.gp) == .gap(expected: 1))
            #expect(await clinicErrorCode { _ = try await upload(world, rec.id, 0, 1, b, by: clinic.gp, claimed: sha(a)) } == .validation)
            #expect(await clinicErrorCode { _ = try await upload(world, rec.id, 0, -1, b, by: clinic.gp) } == .validation)
            #expect(await clinicErrorCode { _ = try await upload(world, rec.id, 0, 1, Data(count: 8 * 1024 * 1024 + 1), by: clinic.gp) } == .validation)
            // Nobody else uploads: not the patient, not another clinician.
            #expect(await isDenied { _ = try await upload(world, rec.id, 0, 1, b, by: alice) })
            #expect(await isDenied { _ = try await upload(world, rec.id, 0, 1, b, by: clinic.nurse) })
            #expect(try await upload(world, rec.id, 0, 1, b, by: clinic.gp) == .stored)
            // Audio-only: a new segment; the old one is closed.
            #expect(try await world.recordings.startSegment(rec.id, mode: "audio", .by(clinic.gp)) == 1)
            #expect(try await upload(world, rec.id, 0, 2, b, by: clinic.gp) == .segmentClosed)
            let s1 = chunk("audio-0")
            #expect(try await upload(world, rec.id, 1, 0, s1, by: clinic.gp) == .stored)
            try await world.recordings.finishRecording(rec.id, .by(clinic.gp))
            #expect(try await upload(world, rec.id, 1, 1, s1, by: clinic.gp) == .notRecording)

            // Both segments are complete in the vault (terminators) and decrypt to what was sent.
            let key = try await wrappedKey(world, rec.id, as: alice)
            #expect(try await world.vault.readSegment(recording: rec.id, segment: 0, wrapped: key) == [a, b, Data()], "the data chunks, then the empty final chunk that closes the segment")
            #expect(try await world.vault.readSegment(recording: rec.id, segment: 1, wrapped: key) == [s1, Data()])

            // Alice sees it; Bob neither sees nor plays it.
            let mine = try await world.recordings.recordings(consultation: nil, .by(alice))
            #expect(mine.map(\.record.id) == [rec.id] && mine[0].segments.map(\.mode) == ["video", "audio"])
            #expect(try await world.recordings.recordings(consultation: nil, .by(bob)).isEmpty)
            #expect(await isDenied { _ = try await world.recordings.play(rec.id, segment: 0, range: nil, .by(bob)) })
            #expect(await isDenied { _ = try await world.recordings.recording(rec.id, .by(bob)) })
            // Ranged playback, decrypted on the fly.
            let whole = try await world.recordings.play(rec.id, segment: 0, range: nil, .by(alice))
            #expect(whole.data == a + b && whole.totalBytes == Int64(a.count + b.count))
            let part = try await world.recordings.play(rec.id, segment: 0, range: "bytes=15-22", .by(alice))
            #expect(part.data == (a + b)[15...22] && part.range == 15...22)
            let tail = try await world.recordings.play(rec.id, segment: 0, range: "bytes=-3", .by(alice))
            #expect(tail.data == Data("s-1".utf8))
            for bad in ["bytes=999-", "bytes=5-2", "items=0-1", "bytes=0-1,4-5", "bytes=-0", "bytes=x-"] {
                await #expect(throws: RangeNotSatisfiable.self) { _ = try await world.recordings.play(rec.id, segment: 0, range: bad, .by(alice)) }
            }
            // The log tells "presented in a list" from "played", with the byte range.
            let entries = try await auditEntries(world).filter { $0.resourceType == "recording" && $0.resourceID == rec.id }
            let aliceActor = alice.description
            let listed = entries.filter { $0.action == "list" && $0.actor == aliceActor }
            let played = entries.filter { $0.action == "play" && $0.purpose == "playback:segment=0:bytes=15-22" && $0.decision == .allowed }
            let refusedPlays = entries.filter { $0.action == "play" && $0.decision == .denied && $0.actor != aliceActor }
            let refusedUploads = entries.filter { $0.action == "record" && $0.decision == .refused }
            #expect(!listed.isEmpty && !played.isEmpty && !refusedPlays.isEmpty && !refusedUploads.isEmpty)
            #expect(world.logLinesWithPersonalData().isEmpty)
        }
    }

    @Test("a window of chunks in flight: chunks that arrive ahead of their predecessors wait for them; one whose predecessor never comes is a gap")
    func uploadWindow() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c, _) = try await recordedCall(world)
            let rec = try await world.recordings.startRecording(c.id, mode: "video", .by(clinic.gp)).record
            let bodies = (0..<8).map { chunk("chunk-\($0)-" + String(repeating: "x", count: $0 * 100)) }
            // All eight at once, the last ones started first.
            let outcomes = try await withThrowingTaskGroup(of: (Int, ChunkOutcome).self) { group in
                for i in (0..<8).reversed() {
                    group.addTask { (i, try await upload(world, rec.id, 0, i, bodies[i], by: clinic.gp)) }
                }
                return try await group.reduce(into: [Int: ChunkOutcome]()) { $0[$1.0] = $1.1 }
            }
            #expect(outcomes.values.allSatisfy { $0 == .stored }, "\(outcomes)")
            // A re-sent chunk is still harmless and a different one still refused.
            #expect(try await upload(world, rec.id, 0, 3, bodies[3], by: clinic.gp) == .duplicate)
            #expect(try await upload(world, rec.id, 0, 3, bodies[4], by: clinic.gp) == .conflict)
            // A chunk whose predecessor never comes waits, then is a gap; nothing of it is kept.
            var quick = RecordingConfiguration()
            quick.uploadOrderWaitSeconds = 0.2
            let impatient = RecordingService(clinic: world.clinic, vault: world.vault, remuxer: nil, configuration: quick, alert: { _ in })
            let started = ContinuousClock.now
            let late = chunk("never-follows")
            #expect(try await impatient.uploadChunk(rec.id, segment: 0, index: 9, sha256: sha(late), body: late, .by(clinic.gp)) == .gap(expected: 8))
            #expect(ContinuousClock.now - started >= .milliseconds(200))
            try await world.recordings.finishRecording(rec.id, .by(clinic.gp))
            let key = try await wrappedKey(world, rec.id, as: alice)
            #expect(try await world.vault.readSegment(recording: rec.id, segment: 0, wrapped: key) == bodies + [Data()])
            #expect(try await world.recordings.play(rec.id, segment: 0, range: nil, .by(alice)).data == bodies.reduce(Data(), +))
            // The upload left no staged file behind, and nothing but sealed chunks.
            let names = try (world.vault.store as? FileBlobStore)?.names() ?? []
            #expect(names.count == 9, "8 chunks and the terminator")
            #expect(try (world.vault.store as? FileBlobStore)?.removeTemporaryFiles(olderThan: 0) == 0)
        }
    }

    @Test("the patient's withdrawal stops the recording at once; the open segment is closed")
    func withdrawalStops() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c, consent) = try await recordedCall(world)
            let rec = try await world.recordings.startRecording(c.id, mode: "video", .by(clinic.gp)).record
            #expect(try await upload(world, rec.id, 0, 0, chunk("x"), by: clinic.gp) == .stored)
            #expect(try await world.recordings.withdrawConsent(c.id, consent: consent.id, .by(alice)) == [rec.id])
            #expect(try await upload(world, rec.id, 0, 1, chunk("y"), by: clinic.gp) == .notRecording)
            #expect(await clinicErrorCode { _ = try await world.recordings.startRecording(c.id, mode: "video", .by(clinic.gp)) } == .transitionNotAllowed)
            let detail = try await world.recordings.recording(rec.id, .by(alice))
            #expect(detail.record.status == .complete && detail.record.endedReason == "stopped-by-patient" && detail.segments.allSatisfy(\.closed))
            let key = try await wrappedKey(world, rec.id, as: alice)
            #expect(try await world.vault.readSegment(recording: rec.id, segment: 0, wrapped: key) == [chunk("x"), Data()])
        }
    }

    @Test("an upload that stops is finalised as incomplete after the timeout")
    func stalledUpload() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c, _) = try await recordedCall(world)
            let rec = try await world.recordings.startRecording(c.id, mode: "audio", .by(clinic.gp)).record
            #expect(try await upload(world, rec.id, 0, 0, chunk("x"), by: clinic.gp) == .stored)
            world.clock.advance(by: 200)
            #expect(try await world.recordings.finaliseStalled() == 0)
            world.clock.advance(by: 200)
            #expect(try await world.recordings.finaliseStalled() == 1)
            let detail = try await world.recordings.recording(rec.id, .by(alice))
            #expect(detail.record.status == .incomplete && detail.record.endedReason == "upload-timeout" && detail.segments[0].closed)
            #expect(try await world.recordings.play(rec.id, segment: 0, range: nil, .by(alice)).data == chunk("x"))
        }
    }

    @Test("the kill switch stops all playback; erasure destroys the key; retention erases on time; all audited")
    func killSwitchErasureRetention() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c, _) = try await recordedCall(world)
            let rec = try await world.recordings.startRecording(c.id, mode: "audio", .by(clinic.gp)).record
            #expect(try await upload(world, rec.id, 0, 0, chunk("x"), by: clinic.gp) == .stored)
            try await world.recordings.finishRecording(rec.id, .by(clinic.gp))
            // Only operators hold the switch.
            #expect(await isDenied { try await world.recordings.setPlaybackSwitch(engaged: true, reason: "incident", .by(clinic.gp)) })
            try await world.recordings.setPlaybackSwitch(engaged: true, reason: "incident 42", .by(clinic.operator_))
            #expect(await isDenied { _ = try await world.recordings.play(rec.id, segment: 0, range: nil, .by(alice)) })
            #expect(await isDenied { _ = try await world.recordings.play(rec.id, segment: 0, range: nil, .by(clinic.gp)) })
            // The list still works: only playback stops.
            #expect(try await world.recordings.recordings(consultation: c.id, .by(alice)).count == 1)
            try await world.recordings.setPlaybackSwitch(engaged: false, reason: "resolved", .by(clinic.operator_))
            #expect(try await world.recordings.play(rec.id, segment: 0, range: nil, .by(alice)).data == chunk("x"))
            // Operators cannot list or play; they can erase, with a reason.
            #expect(await isDenied { _ = try await world.recordings.play(rec.id, segment: 0, range: nil, .by(clinic.operator_)) })
            #expect(try await world.recordings.recordings(consultation: nil, .by(clinic.operator_)).isEmpty)
            #expect(await isDenied { try await world.recordings.erase(rec.id, reason: "request", .by(clinic.gp)) })
            #expect(await clinicErrorCode { try await world.recordings.erase(rec.id, reason: "  ", .by(clinic.operator_)) } == .validation)
            let names = try blobNames(world)
            #expect(!names.isEmpty)
            try await world.recordings.erase(rec.id, reason: "GDPR art. 17 request ref 123", .by(clinic.operator_))
            #expect(try blobNames(world).isEmpty)
            #expect(try await world.recordings.recordings(consultation: nil, .by(alice)).isEmpty)
            #expect(await clinicErrorCode { _ = try await world.recordings.play(rec.id, segment: 0, range: nil, .by(alice)) } == .notFound)
            let erasures = try await auditEntries(world).filter { $0.resourceID == rec.id && $0.action == "delete" }
            #expect(erasures.count == 2 && erasures.contains { $0.decision == .allowed && $0.purpose == "erasure" })

            // Retention: a second recording, erased by the sweeper once its period ends.
            let d = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(12), modality: .video, .by(alice)).record
            world.clock.set(d.start)
            _ = try seated(try await seat(world, d.id, "a2", alice))
            _ = try seated(try await seat(world, d.id, "g2", clinic.gp))
            let consent = try await world.recordings.requestConsent(d.id, .by(clinic.gp))
            _ = try await world.recordings.answerConsent(d.id, consent: consent.id, granted: true, .by(alice))
            let old = try await world.recordings.startRecording(d.id, mode: "audio", .by(clinic.gp)).record
            #expect(try await upload(world, old.id, 0, 0, chunk("y"), by: clinic.gp) == .stored)
            try await world.recordings.finishRecording(old.id, .by(clinic.gp))
            #expect(try await world.recordings.sweepRetention() == 0)
            world.clock.advance(by: 3_651 * 86_400)
            #expect(try await world.recordings.sweepRetention() == 1)
            #expect(try await world.recordings.recordings(consultation: nil, .by(alice)).isEmpty)
        }
    }

    @Test("2020 regression: 20 concurrent consultations switching audio -> video -> audio; each recording is in exactly its own patient's list")
    func twentyConcurrentConsultations() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world, slotMinutes: 5)
            var booked: [(patient: Principal, consultation: ConsultationRecord)] = []
            for i in 0..<20 {
                let p = try await clinic.patient(world, name: "Patient\(i)")
                let c = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(i, minutes: 5), modality: .video, .by(p)).record
                booked.append((p, c))
            }
            var calls: [(patient: Principal, consultation: ConsultationRecord)] = []
            for (i, (p, c)) in booked.enumerated() {
                world.clock.set(c.start)
                _ = try seated(try await seat(world, c.id, "p\(i)", p))
                _ = try seated(try await seat(world, c.id, "g\(i)", clinic.gp))
                let consent = try await world.recordings.requestConsent(c.id, .by(clinic.gp))
                _ = try await world.recordings.answerConsent(c.id, consent: consent.id, granted: true, .by(p))
                calls.append((p, c))
            }
            // All twenty record at once, each switching audio -> video -> audio.
            let recorded = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for (i, call) in calls.enumerated() {
                    group.addTask {
                        let rec = try await world.recordings.startRecording(call.consultation.id, mode: "audio", .by(clinic.gp)).record
                        for (segment, mode) in ["audio", "video", "audio"].enumerated() {
                            if segment > 0 { #expect(try await world.recordings.startSegment(rec.id, mode: mode, .by(clinic.gp)) == segment) }
                            for k in 0..<3 {
                                #expect(try await upload(world, rec.id, segment, k, chunk("patient-\(i)-segment-\(segment)-chunk-\(k)"), by: clinic.gp) == .stored)
                            }
                        }
                        try await world.recordings.finishRecording(rec.id, .by(clinic.gp))
                        return (i, rec.id)
                    }
                }
                var out: [Int: String] = [:]
                for try await (i, id) in group { out[i] = id }
                return out
            }
            for (i, call) in calls.enumerated() {
                let mine = try await world.recordings.recordings(consultation: nil, .by(call.patient))
                #expect(mine.map(\.record.id) == [recorded[i]!], "patient \(i) sees exactly their own recording")
                #expect(mine.first?.segments.map(\.mode) == ["audio", "video", "audio"])
                #expect(mine.first?.record.consultation == call.consultation.id && mine.first?.record.patient == patientID(call.patient))
                for segment in 0..<3 {
                    let media = try await world.recordings.play(recorded[i]!, segment: segment, range: nil, .by(call.patient)).data
                    #expect(String(decoding: media, as: UTF8.self) == (0..<3).map { "patient-\(i)-segment-\(segment)-chunk-\($0)" }.joined())
                }
                // Every other patient: nothing in the list, and playback is "not found".
                let other = calls[(i + 1) % calls.count].patient
                #expect(try await world.recordings.recordings(consultation: call.consultation.id, .by(other)).isEmpty)
                #expect(await isDenied { _ = try await world.recordings.play(recorded[i]!, segment: 0, range: nil, .by(other)) })
            }
        }
    }
}

/// The wrapped key of a recording, read through the gate and the store as `who`.
func wrappedKey(_ world: TestWorld, _ id: String, as who: Principal) async throws -> WrappedKey {
    let gate = AccessGate(facts: world.stores.facts, recorder: AuditLogRecorder(store: world.stores.audit, clock: world.clock))
    let grant = try await gate.authorize(
        .read, id, facts: try await world.stores.recordings.recordingFacts(id, for: who), by: who, purpose: "test", requestID: "test",
        as: RecordingResource.self)
    let text = try #require(try await world.stores.recordings.recording(grant)?.record.wrappedKey)
    return try WrappedKey(serialized: try #require(Data(base64Encoded: text)))
}

/// Every blob name in the test vault's directory.
func blobNames(_ world: TestWorld) throws -> [BlobName] {
    try #require(world.vault.store as? FileBlobStore).names()
}
