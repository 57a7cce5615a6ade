import ConfideAudit
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Testing

@Suite("referrals, fit notes and letters")
struct DocumentTests {
    @Test("the consultation's clinician issues them; the patient sees their own; nobody else does; bad input is refused")
    func documents() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let bob = try await clinic.patient(world, name: "Bob")
            let c = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(0), modality: .video, .by(alice)).record
            let referral = DocumentInput(kind: .referral, recipient: "Dermatology, City Hospital", urgency: "two-week-wait", body: "Changing pigmented lesion.")
            #expect(await clinicCode { _ = try await world.clinic.issueDocument(c.id, referral, .by(clinic.gp)) } == "notes-not-open")
            world.clock.advance(by: 3600)
            _ = try await world.clinic.transition(c.id, .start, .by(clinic.gp))
            let r = try await world.clinic.issueDocument(c.id, referral, .by(clinic.gp))
            #expect(r.kind == .referral && r.urgency == "two-week-wait")
            let fit = try await world.clinic.issueDocument(
                c.id, DocumentInput(kind: .fitNote, body: "Back pain", validFrom: "2026-11-30", validUntil: "2026-12-13"), .by(clinic.gp))
            #expect(fit.validUntil?.description == "2026-12-13")
            let letter = try await world.clinic.issueDocument(
                c.id, DocumentInput(kind: .letter, recipient: "To whom it may concern", body: "Seen today."), .by(clinic.gp))
            // Bad input: an unknown urgency, a fit note without dates or longer than 3 months, an empty letter.
            #expect(await clinicCode { _ = try await world.clinic.issueDocument(c.id, DocumentInput(kind: .referral, recipient: "X", urgency: "whenever", body: "Y"), .by(clinic.gp)) } == "validation")
            #expect(await clinicCode { _ = try await world.clinic.issueDocument(c.id, DocumentInput(kind: .fitNote, body: "Flu"), .by(clinic.gp)) } == "validation")
            #expect(await clinicCode { _ = try await world.clinic.issueDocument(c.id, DocumentInput(kind: .fitNote, body: "Flu", validFrom: "2026-11-30", validUntil: "2027-06-01"), .by(clinic.gp)) } == "validation")
            #expect(await clinicCode { _ = try await world.clinic.issueDocument(c.id, DocumentInput(kind: .letter, recipient: "A", body: "  "), .by(clinic.gp)) } == "validation")
            // Who sees what.
            #expect(Set(try await world.clinic.documents(c.id, .by(alice)).map(\.id)) == [r.id, fit.id, letter.id])
            #expect(Set(try await world.clinic.documents(.by(alice)).map(\.id)) == [r.id, fit.id, letter.id])
            #expect(try await world.clinic.documents(.by(bob)).isEmpty)
            #expect(try await world.clinic.documents(.by(clinic.practiceAdmin)).isEmpty)
            #expect(try await world.clinic.documents(.by(clinic.operator_)).isEmpty)
            for outsider in [bob, clinic.nurse, clinic.practiceAdmin, clinic.operator_] {
                #expect(await clinicCode { _ = try await world.clinic.documents(c.id, .by(outsider)) } == "denied")
                #expect(await clinicCode { _ = try await world.clinic.issueDocument(c.id, referral, .by(outsider)) } == "denied")
            }
            // The nurse, a clinician of the practice, may break the glass; the read is flagged.
            let before = try await world.stores.audit.auditSize()
            #expect(try await world.clinic.documents(c.id, .by(clinic.nurse), breakGlassReason: "Unconscious on arrival").count == 3)
            let flagged = try await auditEntries(world).dropFirst(Int(before)).filter { $0.purpose == "break-glass" }
            #expect(flagged.map(\.resourceType) == ["document"])
            #expect(world.logs.lines(containingAnyOf: ["pigmented", "Back pain", "Seen today", "Unconscious"]).isEmpty)
        }
    }
}
