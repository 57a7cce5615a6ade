import ConfideClinic
import ConfideCore
import ConfideStore
import ConfideTesting
import Foundation
import Testing

@Suite("reminders")
struct ReminderTests {
    @Test("reminders go out once per consultation and kind, also when several instances run the job at once")
    func exactlyOnce() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let bob = try await clinic.patient(world, name: "Bob")
            // Booked on Monday 08:00 for Tuesday 09:00 and 09:10.
            let tuesday = { (slot: Int) in clinic.slot(slot).addingTimeInterval(86_400) }
            let a = try await world.clinic.book(clinician: clinic.gpAccount, start: tuesday(0), modality: .video, .by(alice)).record
            _ = try await world.clinic.book(clinician: clinic.gpAccount, start: tuesday(1), modality: .video, .by(bob))
            func appointmentEmails() async throws -> [OutgoingEmail] {
                try await world.outbox(limit: 100).filter { $0.subject.contains("appointment") }
            }
            let confirmations = try await appointmentEmails().count
            #expect(confirmations == 2)
            let instances = [world] + (try (0..<3).map { _ in try world.sibling() })
            func runEverywhere() async throws -> Int {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for instance in instances { group.addTask { try await instance.clinic.sendDueReminders() } }
                    return try await group.reduce(0, +)
                }
            }
            // 25 hours ahead: nothing yet.
            #expect(try await runEverywhere() == 0)
            // Monday 10:00, 23 hours ahead: both day-before reminders, once each.
            world.clock.advance(by: 2 * 3600)
            #expect(try await runEverywhere() == 2)
            #expect(try await runEverywhere() == 0)
            // Tuesday 08:52: Alice's 10-minute reminder is due, Bob's not yet.
            world.clock.advance(by: 22 * 3600 + 52 * 60)
            #expect(try await runEverywhere() == 1)
            let emails = try await appointmentEmails()
            #expect(emails.count == confirmations + 3)
            // Content-free: no names, times or clinical words, only a prompt to sign in.
            for email in emails {
                #expect(!email.body.contains("Alice") && !email.body.contains("09:") && email.body.contains("Sign in"))
            }
            let inbox = try await world.clinic.notifications(.by(alice))
            #expect(inbox.map(\.kind).sorted() == ["booked", "reminder-10m", "reminder-24h"])
            #expect(inbox.allSatisfy { $0.consultation == a.id && $0.readAt == nil })
            try await world.clinic.markNotificationsRead(.by(alice))
            #expect(try await world.clinic.notifications(.by(alice)).allSatisfy { $0.readAt != nil })
            // Another account sees none of Alice's notifications.
            #expect(try await world.clinic.notifications(.by(bob)).allSatisfy { $0.consultation != a.id })
        }
    }
}
