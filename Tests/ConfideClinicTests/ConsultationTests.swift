import ConfideAccounts
import ConfideAudit
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Testing

func clinicCode(_ body: () async throws -> Void) async -> String? {
    do {
        try await body()
        return nil
    } catch let e as ClinicError {
        return e.code.rawValue
    } catch is AccessDenied {
        return "denied"
    } catch {
        return "\(type(of: error))"
    }
}

let notes = NoteSections(
    history: "Three days of sore throat.", examination: "Tonsils red, no exudate.", assessment: "Viral pharyngitis.",
    plan: "Fluids, paracetamol; return if worse.")

@Suite("consultation lifecycle and notes")
struct ConsultationTests {
    @Test("check-in, start, end, sign: the patient reads the signed note; steps out of order are refused and change nothing")
    func lifecycle() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let c = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(6), modality: .video, .by(alice)).record
            // Check-in opens 60 minutes before the 10:00 start; it is 08:00.
            #expect(await clinicCode { _ = try await world.clinic.transition(c.id, .checkIn, .by(alice)) } == "outside-window")
            // Ending a consultation that never started.
            let before = try await world.stores.audit.auditSize()
            #expect(await clinicCode { _ = try await world.clinic.transition(c.id, .end, .by(clinic.gp)) } == "transition-not-allowed")
            let refused = try await auditEntries(world).dropFirst(Int(before))
            #expect(refused.contains { $0.decision == .refused && $0.resourceID == c.id.description && $0.action == "update" })
            #expect(try await world.clinic.consultation(c.id, .by(alice)).record.status == .booked)
            // A patient cannot start or mark a no-show; a no-show cannot be before the start.
            #expect(await clinicCode { _ = try await world.clinic.transition(c.id, .start, .by(alice)) } == "transition-not-allowed")
            #expect(await clinicCode { _ = try await world.clinic.transition(c.id, .markNoShow, .by(clinic.gp)) } == "outside-window")
            // Notes cannot be written before the consultation starts.
            #expect(await clinicCode {
                _ = try await world.clinic.saveNote(c.id, NoteInput(sections: notes, sign: false, amendmentReason: nil, expectedVersion: 0), .by(clinic.gp))
            } == "notes-not-open")
            world.clock.advance(by: 3600 + 15 * 60)  // 09:15
            #expect(try await world.clinic.transition(c.id, .checkIn, .by(alice)).record.status == .checkedIn)
            #expect(try await world.clinic.waitingRoom(.by(clinic.gp)).map(\.record.id) == [c.id])
            #expect(try await world.clinic.waitingRoom(.by(clinic.nurse)).isEmpty)
            #expect(try await world.clinic.transition(c.id, .start, .by(clinic.gp)).record.status == .inProgress)
            // A draft while the call runs; signing needs the consultation to have ended.
            let draft = try await world.clinic.saveNote(
                c.id, NoteInput(sections: notes, sign: false, amendmentReason: nil, expectedVersion: 0), .by(clinic.gp))
            #expect(draft.status == .draft && draft.version == 1)
            #expect(await clinicCode { _ = try await world.clinic.note(c.id, .by(alice)) } == "denied")
            #expect(await clinicCode {
                _ = try await world.clinic.saveNote(c.id, NoteInput(sections: notes, sign: true, amendmentReason: nil, expectedVersion: 1), .by(clinic.gp))
            } == "transition-not-allowed")
            #expect(try await world.clinic.transition(c.id, .end, .by(clinic.gp)).record.status == .ended)
            // A stale version is refused.
            #expect(await clinicCode {
                _ = try await world.clinic.saveNote(c.id, NoteInput(sections: notes, sign: true, amendmentReason: nil, expectedVersion: 0), .by(clinic.gp))
            } == "conflict")
            let signed = try await world.clinic.saveNote(
                c.id, NoteInput(sections: notes, sign: true, amendmentReason: nil, expectedVersion: 1), .by(clinic.gp))
            #expect(signed.status == .signed && signed.version == 2)
            #expect(try await world.clinic.consultation(c.id, .by(alice)).record.status == .documented)
            // The patient sees the signed version only.
            let seen = try await world.clinic.note(c.id, .by(alice))
            #expect(seen.versions.map(\.version) == [2])
            #expect(seen.latest?.sections.assessment == "Viral pharyngitis.")
            // Editing a signed note needs an amendment with a reason; history is kept.
            var changed = notes
            changed.plan = "Fluids, paracetamol; review in a week."
            #expect(await clinicCode {
                _ = try await world.clinic.saveNote(c.id, NoteInput(sections: changed, sign: false, amendmentReason: nil, expectedVersion: 2), .by(clinic.gp))
            } == "amendment-required")
            let amended = try await world.clinic.saveNote(
                c.id, NoteInput(sections: changed, sign: false, amendmentReason: "Follow-up interval corrected", expectedVersion: 2), .by(clinic.gp))
            #expect(amended.status == .signed && amended.version == 3 && amended.amendmentReason == "Follow-up interval corrected")
            let history = try await world.clinic.note(c.id, .by(clinic.gp))
            #expect(history.versions.map(\.version) == [1, 2, 3])
            #expect(history.versions[1].sections.plan == notes.plan)
            // Nothing leaves `documented`.
            #expect(await clinicCode { _ = try await world.clinic.transition(c.id, .cancel, .by(alice)) } == "transition-not-allowed")
            // Clinical text never reaches the logs.
            #expect(world.logs.lines(containingAnyOf: ["pharyngitis", "sore throat", "paracetamol"]).isEmpty)
        }
    }

    @Test("another patient, another clinician and the operator see nothing; a practice admin sees times, not notes")
    func strangers() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let bob = try await clinic.patient(world, name: "Bob")
            let c = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(0), modality: .video, .by(alice)).record
            world.clock.advance(by: 3600)
            _ = try await world.clinic.transition(c.id, .start, .by(clinic.gp))
            _ = try await world.clinic.transition(c.id, .end, .by(clinic.gp))
            _ = try await world.clinic.saveNote(c.id, NoteInput(sections: notes, sign: true, amendmentReason: nil, expectedVersion: 0), .by(clinic.gp))
            for outsider in [bob, clinic.nurse, clinic.operator_] {
                #expect(await clinicCode { _ = try await world.clinic.consultation(c.id, .by(outsider)) } == "denied")
                #expect(await clinicCode { _ = try await world.clinic.note(c.id, .by(outsider)) } == "denied")
                #expect(try await world.clinic.consultations(from: nil, to: nil, .by(outsider)).isEmpty)
                #expect(await clinicCode { _ = try await world.clinic.transition(c.id, .cancel, .by(outsider)) } == "denied")
            }
            // The practice admin runs the appointment book: metadata yes, the note no.
            let book = try await world.clinic.consultations(from: nil, to: nil, .by(clinic.practiceAdmin))
            #expect(book.map(\.record.id) == [c.id])
            #expect(await clinicCode { _ = try await world.clinic.note(c.id, .by(clinic.practiceAdmin)) } == "denied")
            // Unknown identifiers answer exactly like denied ones.
            #expect(await clinicCode { _ = try await world.clinic.consultation(Consultation.ID(), .by(bob)) } == "denied")
        }
    }

    @Test("a care team sees the record only while the patient's consent is active; break-glass is audited and flagged")
    func careTeamAndBreakGlass() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            // Booked with the GP; the nurse is not in the GP team.
            let c = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(0), modality: .video, .by(alice)).record
            let otherGP = try await world.accounts.createStaffWithCredentials(
                StaffInput(email: Fixtures.email("gp2"), givenName: "Second", familyName: "Doctor", kind: .clinician, role: "gp", registrationNumber: "GMC-22"),
                password: Fixtures.password, job: "test"
            ).0
            try await world.clinic.addMember(practice: clinic.practice.id, account: otherGP, role: .clinician, clinic.system)
            let team = try await world.clinic.createCareTeam(practice: clinic.practice.id, name: "Duty doctors", members: [otherGP], clinic.system)
            let second = Principal.clinician(account: otherGP, role: .gp)
            #expect(await clinicCode { _ = try await world.clinic.consultation(c.id, .by(second)) } == "denied")
            let consent = try await world.clinic.grantConsent(team: team.id, .by(alice))
            #expect(try await world.clinic.consultation(c.id, .by(second)).record.id == c.id)
            #expect(try await world.clinic.consultations(from: nil, to: nil, .by(second)).map(\.record.id) == [c.id])
            // A second consent for the same team is a conflict, not a duplicate.
            #expect(await clinicCode { _ = try await world.clinic.grantConsent(team: team.id, .by(alice)) } == "conflict")
            try await world.clinic.withdrawConsent(consent.id, .by(alice))
            #expect(await clinicCode { _ = try await world.clinic.consultation(c.id, .by(second)) } == "denied")
            #expect(try await world.clinic.consultations(from: nil, to: nil, .by(second)).isEmpty)
            #expect(await clinicCode { try await world.clinic.withdrawConsent(consent.id, .by(alice)) } == "conflict")
            // Another patient cannot withdraw (or see) Alice's consent.
            let bob = try await clinic.patient(world, name: "Bob")
            #expect(await clinicCode { try await world.clinic.withdrawConsent(consent.id, .by(bob)) } == "denied")
            #expect(try await world.clinic.consents(.by(bob)).isEmpty)
            #expect(try await world.clinic.consents(.by(alice)).map(\.id) == [consent.id])
            // Break-glass: a clinician of the practice with a reason may read; without one, not.
            #expect(await clinicCode { _ = try await world.clinic.consultation(c.id, .by(second), breakGlassReason: "  ") } == "denied")
            let before = try await world.stores.audit.auditSize()
            let read = try await world.clinic.consultation(c.id, .by(second), breakGlassReason: "Patient collapsed in the waiting area")
            #expect(read.record.id == c.id)
            let entry = try #require(try await auditEntries(world).dropFirst(Int(before)).first { $0.resourceID == c.id.description })
            #expect(entry.decision == .allowed && entry.ruleIDs == ["clinician.break-glass.v1"] && entry.purpose == "break-glass")
            // The free-text reason itself is not in the log.
            #expect(!entry.purpose.contains("collapsed"))
        }
    }
}
