import ConfideAudit
import ConfideBreach
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Testing

@Suite("breach notices")
struct NoticeTests {
    @Test("drafted per affected patient from the findings; operators edit and send; the patient reads only what was sent to them")
    func draftEditSend() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c, _) = try await recordedCall(world)
            let rec = try await world.recordings.startRecording(c.id, mode: "audio", .by(clinic.gp)).record
            let bob = try await clinic.patient(world, name: "Bob")
            let alicePatient = try #require(patientID(alice)).description
            // Bob's list showed Alice's recording twice; he played one range of it.
            func finding(_ exposure: Exposure, _ detail: String? = nil, at t: Int64) -> BreachFinding {
                let json = """
                    {"index":1,"time":\(t),"patient":"\(alicePatient)","actor":"\(bob.description)","action":"x","resource_type":"recording",
                    "resource_id":"\(rec.id)","exposure":"\(exposure.rawValue)","detail":\(detail.map { "\"\($0)\"" } ?? "null"),"why":"w"}
                    """
                return try! JSONDecoder().decode(BreachFinding.self, from: Data(json.utf8))
            }
            var exposure = PatientExposure(patient: alicePatient)
            exposure.add(finding(.presented, at: 1_000))
            exposure.add(finding(.presented, at: 2_000))
            exposure.add(finding(.played, "segment=0:bytes=0-1023", at: 3_000))
            let letter = NoticeDrafter.letter(exposure, from: "2026-11-30T09:00:00Z", to: "2026-11-30T10:00:00Z", contact: "dpo@confide.test") {
                "t\($0)"
            }
            #expect(letter.body.contains("shown in another person's list 2 times (not opened), played once"))
            #expect(letter.body.contains("one other person") && letter.body.contains("dpo@confide.test"))
            #expect(!letter.body.contains(bob.description) && !letter.body.contains("Bob"))
            var tally = BreachTally()
            tally.add(finding(.presented, at: 1_000))
            let regulator = NoticeDrafter.regulatorSummary(tally.summary(from: "a", to: "b", measures: "m"), contact: "dpo@confide.test")
            #expect(regulator.patient == nil && regulator.body.contains("Data subjects concerned: 1 patients"))

            let gate = AccessGate(facts: world.stores.facts, recorder: AuditLogRecorder(store: world.stores.audit, clock: world.clock))
            let drafted = try await NoticeService.draft(
                [letter, regulator], window: (world.clock.now(), world.clock.now().addingTimeInterval(3600)), stores: world.stores, gate: gate,
                at: world.clock.now(), requestID: "report")
            #expect(drafted.map(\.kind) == [.patient, .regulator])
            let notices = NoticeService(clinic: world.clinic)
            let letterID = drafted[0].id
            // Operators see the drafts; nobody else sees anything, and no patient sees a draft.
            #expect(Set(try await notices.notices(.by(clinic.operator_)).map(\.id)) == Set(drafted.map(\.id)))
            for who in [clinic.gp, clinic.practiceAdmin] {
                #expect(await isDenied { _ = try await notices.notices(.by(who)) })
                #expect(await isDenied { _ = try await notices.notice(letterID, .by(who)) })
            }
            #expect(try await notices.notices(.by(alice)).isEmpty)
            #expect(await isDenied { _ = try await notices.notice(letterID, .by(alice)) })
            #expect(await isDenied { _ = try await notices.edit(letterID, subject: "s", body: "b", expectedVersion: 1, .by(alice)) })
            // Edit: a stale version is refused; a blank body is a validation error.
            let edited = try await notices.edit(letterID, subject: "Important notice", body: letter.body + "\n\nSigned, Confide", expectedVersion: 1, .by(clinic.operator_))
            #expect(edited.version == 2 && edited.body.hasSuffix("Signed, Confide"))
            #expect(await clinicErrorCode { _ = try await notices.edit(letterID, subject: "x", body: "y", expectedVersion: 1, .by(clinic.operator_)) } == .conflict)
            await #expect(throws: ClinicError.self) { _ = try await notices.edit(letterID, subject: "x", body: "  ", expectedVersion: 2, .by(clinic.operator_)) }
            // Send: the letter is the patient's to read; the notification and email only prompt.
            let emailsBefore = try await world.outbox().count
            let sent = try await notices.send(letterID, .by(clinic.operator_))
            #expect(sent.status == .sent && sent.sentBy == clinic.operator_.description)
            #expect(await clinicErrorCode { _ = try await notices.send(letterID, .by(clinic.operator_)) } == .conflict)
            #expect(await clinicErrorCode { _ = try await notices.edit(letterID, subject: "x", body: "y", expectedVersion: 3, .by(clinic.operator_)) } == .conflict)
            #expect(try await notices.notices(.by(alice)).map(\.id) == [letterID])
            #expect(try await notices.notice(letterID, .by(alice)).body.hasSuffix("Signed, Confide"))
            #expect(try await notices.notices(.by(bob)).isEmpty)
            #expect(await isDenied { _ = try await notices.notice(letterID, .by(bob)) })
            let emails = try await world.outbox()
            #expect(emails.count == emailsBefore + 1)
            let email = try #require(emails.first { $0.subject.contains("important notice") })
            #expect(!email.body.contains(rec.id.prefix(8)) && !email.body.contains("recording") && email.body.contains("never contains clinical details"))
            let prompts = try await world.clinic.notifications(.by(alice))
            #expect(prompts.contains { $0.kind == "breach-notice" && $0.text == NoticeService.notificationText })
            // The regulator summary is never a patient's.
            _ = try await notices.send(drafted[1].id, .by(clinic.operator_))
            #expect(try await notices.notices(.by(alice)).map(\.id) == [letterID])
            // Every step is in the audit log.
            let entries = try await world.stores.audit.encodedEntries(from: 0, limit: 100_000).map { try AuditEntry(encoded: $0) }
                .filter { $0.resourceType == "breach-notice" }
            #expect(entries.filter { $0.action == "create" && $0.decision == .allowed }.count == 2)
            #expect(entries.contains { $0.action == "update" && $0.purpose == "breach-notice-send" && $0.decision == .allowed && $0.resourceID == letterID })
            #expect(entries.contains { $0.action == "read" && $0.decision == .denied && $0.actor == bob.description })
            // The independent check finds nothing wrong in any of it.
            let (findings, _) = try await breachFindings(world)
            #expect(findings.isEmpty, "\(findings.map { "\($0.actor) \($0.action) \($0.resourceType) \($0.why)" })")
        }
    }
}
