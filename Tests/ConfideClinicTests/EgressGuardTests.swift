import ConfideAudit
import ConfideBreach
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideStoreSQL
import ConfideTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Alice's finished recording whose owner field was then rewritten to name Bob, as the 2020 bug
/// left its recordings: the consultation (the ground truth) is still Alice's.
func misboundRecording(_ world: TestWorld) async throws -> (ClinicFixture, alice: Principal, bob: Principal, bobEmail: String, recording: String) {
    let (clinic, alice, c, _) = try await recordedCall(world)
    let rec = try await world.recordings.startRecording(c.id, mode: "audio", .by(clinic.gp)).record
    #expect(try await upload(world, rec.id, 0, 0, chunk("alice's voice"), by: clinic.gp) == .stored)
    try await world.recordings.finishRecording(rec.id, .by(clinic.gp))
    let (bob, email) = try await clinic.patientLogin(world, name: "Bob")
    let bobPatient = try #require(patientID(bob))
    try await TestDatabase.execute(["UPDATE recordings SET patient_id = '\(bobPatient)' WHERE id = '\(rec.id)'"], on: world.stores)
    return (clinic, alice, bob, email, rec.id)
}

/// A minimal bearer-token client over the in-process router.
struct BearerClient {
    let client: any TestClientProtocol
    var token: String?

    mutating func signIn(_ email: String) async throws {
        let body = #"{"email":"\#(email)","password":"\#(Fixtures.password)"}"#
        let reply = try await client.executeRequest(
            uri: "/api/v1/sessions", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
        #expect(reply.status == .created)
        let json = try JSONSerialization.jsonObject(with: Data(String(buffer: reply.body).utf8)) as? [String: Any]
        token = json?["token"] as? String
    }

    func get(_ uri: String) async throws -> (status: HTTPResponse.Status, body: String) {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        let reply = try await client.executeRequest(uri: uri, method: .get, headers: headers, body: nil)
        return (reply.status, String(buffer: reply.body))
    }
}

/// The body of a problem without its per-request identifier.
func problemWithoutRequestID(_ body: String) -> String {
    guard var object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] else { return body }
    object.removeValue(forKey: "request_id")
    return String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
}

@Suite("egress guard")
struct EgressGuardTests {
    @Test("a recording whose owner field names the viewer but whose consultation is another patient's: the policy allows, the guard stops it")
    func policyAllowsGuardStops() async throws {
        try await TestWorld.with(faults: try InjectedFaults.parse("recording-owner-from-row")) { world in
            let (_, alice, bob, _, id) = try await misboundRecording(world)
            // The broken read path trusts the owner field, so the policy lets Bob read and list it ...
            let shown = try await world.recordings.recording(id, .by(bob))
            #expect(shown.record.id == id)
            #expect(try await world.recordings.recordings(consultation: nil, .by(bob)).map(\.record.id) == [id])
            // ... and the guard, resolving it through its consultation, finds it is Alice's.
            let item = ReleasedItem(resourceType: "recording", resourceID: id, action: "read", recordedPatient: patientID(bob)?.description)
            let violations = try await EgressGuard(evidence: world.stores.breach).violations(of: [item], for: try #require(patientID(bob)).description)
            #expect(violations.map(\.item) == [item] && violations.map(\.owner) == [patientID(alice)?.description])
            // Alice's own items pass.
            #expect(try await EgressGuard(evidence: world.stores.breach).violations(of: [item], for: try #require(patientID(alice)).description).isEmpty)
        }
        // With the read path as built (through the consultation), the rewritten owner field changes nothing.
        try await TestWorld.with { world in
            let (_, alice, bob, _, id) = try await misboundRecording(world)
            #expect(await isDenied { _ = try await world.recordings.recording(id, .by(bob)) })
            #expect(try await world.recordings.recordings(consultation: nil, .by(bob)).isEmpty)
            #expect(try await world.recordings.recording(id, .by(alice)).record.id == id)
        }
    }

    @Test("over HTTP, enforcing: Bob's list, read and playback are withheld as a denial looks, each audited and raised as an incident")
    func enforcedOverHTTP() async throws {
        try await TestWorld.with(faults: try InjectedFaults.parse("recording-owner-from-row")) { world in
            let (clinic, alice, bob, email, id) = try await misboundRecording(world)
            let before = try await world.stores.audit.auditSize()
            try await world.application().test(.router) { raw in
                var client = BearerClient(client: raw)
                try await client.signIn(email)
                let missing = try await client.get("/api/v1/recordings/\(UUID().uuidString.lowercased())")
                #expect(missing.status == .notFound)
                for path in ["/api/v1/recordings", "/api/v1/recordings/\(id)", "/api/v1/recordings/\(id)/segments/0/media"] {
                    let reply = try await client.get(path)
                    #expect(reply.status == .notFound, "\(path)")
                    #expect(problemWithoutRequestID(reply.body) == problemWithoutRequestID(missing.body), "\(path)")
                    #expect(!reply.body.contains(id))
                }
                // Bob's own consultations carry nothing of Alice's and go out as usual.
                #expect(try await client.get("/api/v1/consultations").status == .ok)
            }
            let incidents = try await world.incidents.incidents(status: nil, before: nil, limit: 50, .by(clinic.operator_))
            #expect(incidents.count == 3)
            #expect(incidents.allSatisfy {
                $0.kind == .egressWithheld && $0.resourceType == "recording" && $0.resourceID == id && $0.actor == bob.description
                    && $0.patient == patientID(alice)?.description && $0.recordedPatient == patientID(bob)?.description && $0.status == .open
            })
            #expect(Set(incidents.map(\.action)) == ["list", "read", "play"])
            // Each is in the audit log as a denial by the guard, about Alice's data.
            let entries = try await world.stores.audit.encodedEntries(from: before, limit: 10_000).map { try AuditEntry(encoded: $0) }
            let guarded = entries.filter { $0.ruleIDs == ["egress-guard.withheld.v1"] }
            #expect(guarded.count == 3)
            #expect(guarded.allSatisfy { $0.decision == .denied && $0.patientID == patientID(alice)?.description && $0.purpose == "egress-guard" })
            // Only operators see incidents; acknowledging one is audited and happens once.
            #expect(await isDenied { _ = try await world.incidents.incidents(status: nil, before: nil, limit: 50, .by(clinic.gp)) })
            #expect(await isDenied { _ = try await world.incidents.incidents(status: nil, before: nil, limit: 50, .by(alice)) })
            #expect(await isDenied { try await world.incidents.acknowledge(incidents[1].id, .by(clinic.practiceAdmin)) })
            try await world.incidents.acknowledge(incidents[0].id, .by(clinic.operator_))
            #expect(await clinicErrorCode { try await world.incidents.acknowledge(incidents[0].id, .by(clinic.operator_)) } == .notFound)
            #expect(try await world.incidents.incidents(status: .open, before: nil, limit: 50, .by(clinic.operator_)).count == 2)
            // Suspending the patient behind one: operators only; then Bob can no longer sign in.
            #expect(await isDenied { _ = try await world.incidents.suspendActor(incidents[1].id, .by(clinic.gp)) })
            #expect(await isDenied { _ = try await world.incidents.suspendActor(incidents[1].id, .by(bob)) })
            #expect(try await world.incidents.suspendActor(incidents[1].id, .by(clinic.operator_)) == .patientSuspended(changed: true))
            #expect(try await world.incidents.suspendActor(incidents[1].id, .by(clinic.operator_)) == .patientSuspended(changed: false))
            // The suspension is in the log with the change, as an update of the incident.
            let suspensions = try await world.stores.audit.encodedEntries(from: 0, limit: 100_000).map { try AuditEntry(encoded: $0) }
                .filter { $0.purpose == "suspend-actor" && $0.resourceID == incidents[1].id }
            #expect(suspensions.map(\.decision) == [.allowed, .refused] && suspensions.allSatisfy { $0.actor == clinic.operator_.description })
            try await world.application().test(.router) { raw in
                let reply = try await raw.executeRequest(
                    uri: "/api/v1/sessions", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"email":"\#(email)","password":"\#(Fixtures.password)"}"#))
                #expect(reply.status == .unauthorized)
            }
        }
    }

    @Test("observe-only (drills): the response goes out, and the incident is still raised")
    func observeOnly() async throws {
        try await TestWorld.with(egress: .observe, faults: try InjectedFaults.parse("recording-owner-from-row")) { world in
            let (clinic, _, _, email, id) = try await misboundRecording(world)
            try await world.application().test(.router) { raw in
                var client = BearerClient(client: raw)
                try await client.signIn(email)
                let reply = try await client.get("/api/v1/recordings")
                #expect(reply.status == .ok && reply.body.contains(id))
            }
            let incidents = try await world.incidents.incidents(status: nil, before: nil, limit: 50, .by(clinic.operator_))
            #expect(incidents.map(\.kind) == [.egressObserved])
        }
    }

    @Test("ordinary patient traffic over HTTP raises nothing")
    func ordinaryTrafficIsClean() async throws {
        try await TestWorld.with { world in
            let (clinic, _, c, _) = try await recordedCall(world)
            let rec = try await world.recordings.startRecording(c.id, mode: "audio", .by(clinic.gp)).record
            #expect(try await upload(world, rec.id, 0, 0, chunk("a"), by: clinic.gp) == .stored)
            try await world.recordings.finishRecording(rec.id, .by(clinic.gp))
            // Alice signs in with her own email: make her anew with a known login, and book.
            let (carol, email) = try await clinic.patientLogin(world, name: "Carol")
            _ = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(9), modality: .video, .by(carol))
            try await world.application().test(.router) { raw in
                var client = BearerClient(client: raw)
                try await client.signIn(email)
                for path in ["/api/v1/consultations", "/api/v1/recordings", "/api/v1/me/access-log", "/api/v1/me"] {
                    let reply = try await client.get(path)
                    #expect(reply.status == .ok, "\(path): \(reply.body)")
                }
            }
            #expect(try await world.incidents.incidents(status: nil, before: nil, limit: 50, .by(clinic.operator_)).isEmpty)
        }
    }

    @Test("the access log is screened: an entry whose patient column was rewritten to the viewer, but whose signed entry is about someone else, is withheld")
    func accessLogScreened() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let (carol, email) = try await clinic.patientLogin(world, name: "Carol")
            let aliceID = try #require(patientID(alice)).description, carolID = try #require(patientID(carol)).description
            _ = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(9), modality: .video, .by(alice))
            try await world.application().test(.router) { raw in
                var client = BearerClient(client: raw)
                try await client.signIn(email)
                #expect(try await client.get("/api/v1/me/access-log").status == .ok)
                // The access log's query filters on the patient column; the entry itself (hashed, in the
                // Merkle tree) still names Alice. The guard goes by the entry.
                let size = try await world.stores.audit.auditSize()
                let entries = try await world.stores.audit.encodedEntries(from: 0, limit: Int(size)).map { try AuditEntry(encoded: $0) }
                let index = try #require(entries.lastIndex { $0.patientID == aliceID })
                try await TestDatabase.execute(["UPDATE audit_entries SET patient_id = '\(carolID)' WHERE idx = \(index)"], on: world.stores)
                let reply = try await client.get("/api/v1/me/access-log")
                #expect(reply.status == .notFound)
                #expect(!reply.body.contains(aliceID))
            }
            let raised = try await world.incidents.incidents(status: nil, before: nil, limit: 50, .by(clinic.operator_))
            #expect(raised.contains { $0.resourceType == "audit-entry" })
        }
    }

    @Test("the batched ground truth says exactly what the item-by-item one says, for every item the log has seen and for unknown ones")
    func batchedGroundTruthAgrees() async throws {
        try await TestWorld.with { world in
            let (_, alice, _, _, recording) = try await misboundRecording(world)
            // A chat line, read back as a list item and as one line: `message` items in the log.
            let consultation = try await world.recordings.recording(recording, .by(alice)).record.consultation
            let line = try await world.clinic.postChat(consultation, text: "can you hear me", .by(alice))
            #expect(try await world.clinic.chat(consultation, .by(alice)).map(\.id) == [line.id])
            let view = try await world.triage.start(complaint: "sore throat and a cough", sex: "female", country: nil, .by(alice))
            _ = try await world.triage.finish(view.id, version: view.version, .by(alice))
            let size = try await world.stores.audit.auditSize()
            let entries = try await world.stores.audit.encodedEntries(from: 0, limit: Int(size)).map { try AuditEntry(encoded: $0) }
            var items = Set(entries.map { $0.resourceType + "\u{0}" + $0.resourceID }).map { key -> (resourceType: String, resourceID: String) in
                let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false)
                return (String(parts[0]), String(parts[1]))
            }
            // Unknown ids of every kind, an id of the wrong kind, and a kind that is not patient data.
            for kind in ["patient-record", "consultation", "note", "prescription", "document", "recording", "recording-consent", "triage-session",
                         "breach-notice", "care-consent", "message", "practice"] {
                items.append((kind, UUID().uuidString.lowercased()))
                items.append((kind, recording))
            }
            #expect(items.count > 20)
            #expect(items.contains { $0.resourceType == "recording" } && items.contains { $0.resourceType == "triage-session" })
            #expect(items.contains { $0.resourceType == "message" && $0.resourceID == line.id })
            let batched = try await world.stores.breach.groundTruths(items)
            for item in items {
                let single = try await world.stores.breach.groundTruth(resourceType: item.resourceType, resourceID: item.resourceID)
                #expect(batched[GroundTruth.key(resourceType: item.resourceType, resourceID: item.resourceID)] == single, "\(item)")
            }
            // The misbound recording resolves to Alice, whatever its owner field says.
            #expect(batched[GroundTruth.key(resourceType: "recording", resourceID: recording)]?.patient == patientID(alice)?.description)
            // A chat line resolves through its consultation to the patient who booked it.
            let truth = batched[GroundTruth.key(resourceType: "message", resourceID: line.id)]
            #expect(truth?.patient == patientID(alice)?.description && truth?.consultation == consultation.description)
        }
    }

}
