import ConfideAccounts
import ConfideAudit
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Testing

/// Decodes every audit entry (the log is the evidence these tests check).
func auditEntries(_ world: TestWorld) async throws -> [AuditEntry] {
    try await world.stores.audit.encodedEntries(from: 0, limit: 100_000).map { try AuditEntry(encoded: $0) }
}

@Suite("booking")
struct BookingTests {
    @Test("fifty patients booking the same slot at once: exactly one wins, the others are told it is taken")
    func oneWinner() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            var patients: [Principal] = []
            for i in 0..<50 { patients.append(try await clinic.patient(world, name: "P\(i)")) }
            let start = clinic.slot(3)
            let before = try await world.stores.audit.auditSize()
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for p in patients {
                    group.addTask {
                        do {
                            _ = try await world.clinic.book(clinician: clinic.gpAccount, start: start, modality: .video, .by(p))
                            return "booked"
                        } catch let e as ClinicError {
                            return e.code.rawValue
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "booked" }.count == 1)
            #expect(outcomes.filter { $0 == "slot-taken" }.count == 49)
            // The database holds one active booking for the slot, and the log says who tried.
            let taken = try await world.stores.clinic.takenIntervals(
                clinician: clinic.gpAccount, from: start, to: start.addingTimeInterval(60))
            #expect(taken.map(\.start) == [start])
            let creates = try await auditEntries(world).dropFirst(Int(before)).filter {
                $0.resourceType == "consultation" && $0.action == "create"
            }
            #expect(creates.filter { $0.decision == .allowed }.count == 1)
            #expect(creates.filter { $0.decision == .refused }.count == 49)
            // The slot is no longer offered to anyone.
            let offered = try await world.clinic.searchSlots(SlotQuery(days: 1, limit: 200), .by(patients[0]))
            #expect(!offered.contains { $0.start == start })
        }
    }

    @Test("bad bookings are refused clearly and change nothing")
    func badBookings() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let stranger = try await clinic.patient(world, name: "Unregistered", register: false)
            func code(_ body: () async throws -> Void) async -> String? {
                do {
                    try await body()
                    return nil
                } catch let e as ClinicError { return e.code.rawValue } catch { return "\(type(of: error))" }
            }
            // Not a slot boundary, outside hours, in the past, another clinician without hours.
            #expect(await code { _ = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(0).addingTimeInterval(120), modality: .video, .by(alice)) } == "slot-unavailable")
            #expect(await code { _ = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(40), modality: .video, .by(alice)) } == "slot-unavailable")
            #expect(await code { _ = try await world.clinic.book(clinician: clinic.gpAccount, start: ClinicFixture.monday0800.addingTimeInterval(-86_400 * 3 + 3600), modality: .video, .by(alice)) } == "slot-unavailable")
            #expect(await code { _ = try await world.clinic.book(clinician: clinic.nurse.account!, start: clinic.slot(0), modality: .video, .by(alice)) } == "slot-unavailable")
            #expect(await code { _ = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(0), modality: .inPerson, .by(alice)) } == "slot-unavailable")
            #expect(await code { _ = try await world.clinic.book(clinician: Account.ID(), start: clinic.slot(0), modality: .video, .by(alice)) } == "slot-unavailable")
            #expect(await code { _ = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(0), modality: .video, .by(stranger)) } == "practice-required")
            // A clinician cannot book "for" a patient by naming them: bookings are for the signed-in patient.
            #expect(await code { _ = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(0), modality: .video, .by(clinic.gp)) } == "not-found")
            let mine = try await world.clinic.consultations(from: nil, to: nil, .by(alice))
            #expect(mine.isEmpty)
            // Each refused booking is in the audit log, as `refused` (the policy allowed the attempt).
            let refused = try await auditEntries(world).filter {
                $0.resourceType == "consultation" && $0.action == "create" && $0.decision == .refused
            }
            #expect(refused.count == 6)
            // At most ten upcoming appointments per patient.
            for i in 0..<10 { _ = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(i), modality: .video, .by(alice)) }
            #expect(await code { _ = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(10), modality: .video, .by(alice)) } == "too-many-bookings")
        }
    }

    @Test("slots are soonest first, skip taken ones, and reschedule moves a booking to a free slot only")
    func searchAndReschedule() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let bob = try await clinic.patient(world, name: "Bob")
            let slots = try await world.clinic.searchSlots(SlotQuery(role: .gp, modality: .video, days: 1, limit: 5), .by(alice))
            #expect(slots.map(\.start) == (0..<5).map { clinic.slot($0) })
            #expect(slots.allSatisfy { $0.clinician == clinic.gpAccount && $0.zone.identifier == "Europe/London" })
            #expect(try await world.clinic.searchSlots(SlotQuery(role: .nurse, days: 1), .by(alice)).isEmpty)
            let a = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(0), modality: .video, .by(alice))
            let b = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(1), modality: .audio, .by(bob))
            #expect(a.record.patient == alice.patientID && b.record.patient == bob.patientID)
            let next = try await world.clinic.searchSlots(SlotQuery(days: 1, limit: 1), .by(alice))
            #expect(next.first?.start == clinic.slot(2))
            await #expect(throws: ClinicError.self) {
                _ = try await world.clinic.reschedule(a.record.id, start: clinic.slot(1), modality: .video, .by(alice))
            }
            let moved = try await world.clinic.reschedule(a.record.id, start: clinic.slot(5), modality: .audio, .by(alice))
            #expect(moved.record.start == clinic.slot(5) && moved.record.modality == .audio)
            // Bob cannot move (or see) Alice's booking: the same answer as a missing one.
            await #expect(throws: AccessDenied.self) {
                _ = try await world.clinic.reschedule(a.record.id, start: clinic.slot(6), modality: .audio, .by(bob))
            }
            await #expect(throws: AccessDenied.self) { _ = try await world.clinic.consultation(a.record.id, .by(bob)) }
            let stored = try await world.clinic.consultation(a.record.id, .by(alice))
            #expect(stored.record.start == clinic.slot(5))
        }
    }
}

extension Principal {
    var patientID: Patient.ID? {
        if case .patient(_, let p) = self { return p }
        return nil
    }
}
