import ConfideAudit
import ConfideBreach
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Testing

@Suite("continuous detection")
struct DetectionTests {
    @Test("any allowed access to a canary patient raises an incident at once; only the system path marks canaries")
    func canary() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let casey = try await clinic.patient(world, name: "Casey")
            let alice = try await clinic.patient(world, name: "Alice")
            let caseyPatient = try #require(patientID(casey))
            // Casey's appointment exists before Casey becomes a canary (a canary's own account acting is an incident too).
            let c = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(3), modality: .video, .by(casey)).record
            let a = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(4), modality: .video, .by(alice)).record
            #expect(await isDenied { try await world.incidents.markCanary(caseyPatient, .by(clinic.operator_)) })
            try await world.incidents.markCanary(caseyPatient, .by(.system(job: "test")))
            let op = ClinicRequest.by(clinic.operator_)
            #expect(try await world.incidents.incidents(status: nil, before: nil, limit: 50, op).isEmpty)
            // The GP opens Alice's consultation: nothing. The canary's: an incident naming who, what and whose.
            _ = try await world.clinic.consultation(a.id, .by(clinic.gp))
            #expect(try await world.incidents.incidents(status: nil, before: nil, limit: 50, op).isEmpty)
            _ = try await world.clinic.consultation(c.id, .by(clinic.gp))
            let raised = try await world.incidents.incidents(status: nil, before: nil, limit: 50, op)
            #expect(raised.map(\.kind) == [.canaryAccess])
            #expect(raised.first?.actor == clinic.gp.description && raised.first?.patient == caseyPatient.description)
            #expect(raised.first?.resourceType == "consultation" && raised.first?.resourceID == c.id.description)
            // A denied attempt is not an access: the nurse (no relation) is refused and raises nothing more.
            #expect(await isDenied { _ = try await world.clinic.consultation(c.id, .by(clinic.nurse)) })
            #expect(try await world.incidents.incidents(status: nil, before: nil, limit: 50, op).count == 1)
        }
    }

    @Test("a principal opening more distinct patients' records within the window than their role's limit raises one incident per window")
    func spree() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            var raisedKinds: [IncidentRecord.Kind] = []
            let recorder = DetectingRecorder(
                inner: AuditLogRecorder(store: world.stores.audit, clock: world.clock), incidents: world.stores.incidents, clock: world.clock,
                rule: SpreeRule(windowMilliseconds: 3_600_000, limits: ["clinician": 2]), canaryRefresh: 0, alert: { _ in })
            func read(_ kind: ResourceKind, _ patient: Patient.ID, _ action: Action = .read) throws -> AuditEntry {
                try recorder.entry(
                    AccessRequest(principal: clinic.gp, action: action, resource: kind, purpose: "care"),
                    facts: ResourceFacts(resourceID: UUID().uuidString, owningPatient: patient), decision: .control("test.v1", allow: true),
                    outcome: .allowed, requestID: "t")
            }
            let (p1, p2, p3, p4) = (Patient.ID(), Patient.ID(), Patient.ID(), Patient.ID())
            // Lists and appointments do not count; two patients' notes are within the limit.
            try await recorder.append([try read(.note, p1, .list), try read(.consultation, p2), try read(.consultation, p3)])
            try await recorder.append([try read(.note, p1), try read(.recording, p2, .play)])
            #expect(try await world.incidents.incidents(status: nil, before: nil, limit: 50, .by(clinic.operator_)).isEmpty)
            // A third distinct patient's note: over the limit, once per window.
            try await recorder.append([try read(.note, p3)])
            try await recorder.append([try read(.prescription, p4)])
            let incidents = try await world.incidents.incidents(status: nil, before: nil, limit: 50, .by(clinic.operator_))
            raisedKinds = incidents.map(\.kind)
            #expect(raisedKinds == [.spree])
            #expect(incidents.first?.actor == clinic.gp.description && incidents.first?.patient == p3.description)
        }
    }
}
