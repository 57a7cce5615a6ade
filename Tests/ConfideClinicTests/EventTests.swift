import ConfideClinic
import ConfideCore
import ConfideStore
import ConfideTesting
import Foundation
import Testing

@Suite("live events across instances")
struct EventTests {
    @Test("a check-in on one instance reaches the clinician's waiting room on another, carrying only an identifier")
    func crossInstance() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let c = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(6), modality: .video, .by(alice)).record
            world.clock.advance(by: 3600 + 30 * 60)
            // The clinician's page is served by the other instance (PostgreSQL: its own LISTEN connection).
            let other = try world.sibling()
            let stream = other.events.primary.events(topic: "clinician:\(clinic.gpAccount)")
            let unrelated = other.events.primary.events(topic: "clinician:\(clinic.nurse.account!)")
            _ = try await world.clinic.transition(c.id, .checkIn, .by(alice))
            let event = try #require(await firstElement(stream, within: 10))
            #expect(event.consultation == c.id.description && event.kind == "consultation")
            // The event names nothing but the consultation; the waiting room is then read through the gate.
            let encoded = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
            #expect(!encoded.contains("Alice") && !encoded.contains(alice.patientID!.description))
            #expect(try await other.clinic.waitingRoom(.by(clinic.gp)).map(\.record.id) == [c.id])
            // Nobody else's topic heard it.
            #expect(await firstElement(unrelated, within: 0.5) == nil)
        }
    }
}
