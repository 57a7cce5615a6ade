import ConfideAudit
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Testing

@Suite("allergies and prescriptions")
struct PrescriptionTests {
    @Test("a recorded allergy warns when prescribing a medicine of its class; an acknowledged override is kept")
    func allergyWarning() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let bob = try await clinic.patient(world, name: "Bob")
            let c = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(0), modality: .video, .by(alice)).record
            let amoxicillin = PrescriptionInput(
                medicine: "Amoxicillin 500 mg capsules", dose: "500 mg", route: "oral", frequency: "three times a day", quantity: 15,
                pharmacy: "High Street Pharmacy")
            // Not before the consultation has started.
            #expect(await clinicCode { _ = try await world.clinic.prescribe(c.id, amoxicillin, .by(clinic.gp)) } == "notes-not-open")
            world.clock.advance(by: 3600)
            _ = try await world.clinic.transition(c.id, .start, .by(clinic.gp))
            try await world.clinic.addAllergy(c.id, substance: "Penicillin", reaction: "hives", .by(clinic.gp))
            try await world.clinic.addMedicine(c.id, name: "Salbutamol inhaler", dose: "2 puffs as needed", .by(clinic.gp))
            // Shown while prescribing, to the clinician; the patient sees their own.
            let background = try await world.clinic.background(c.id, .by(clinic.gp))
            #expect(background.allergies.map(\.substance) == ["Penicillin"] && background.medicines.map(\.name) == ["Salbutamol inhaler"])
            #expect(try await world.clinic.myBackground(.by(alice)).allergies.count == 1)
            #expect(try await world.clinic.myBackground(.by(bob)).allergies.isEmpty)
            #expect(await clinicCode { _ = try await world.clinic.background(c.id, .by(bob)) } == "denied")
            #expect(await clinicCode { _ = try await world.clinic.background(c.id, .by(clinic.nurse)) } == "denied")
            // The warning names the recorded allergy; nothing is issued.
            let before = try await world.stores.audit.auditSize()
            #expect(await clinicCode { _ = try await world.clinic.prescribe(c.id, amoxicillin, .by(clinic.gp)) } == "allergy-warning")
            #expect(try await world.clinic.prescriptions(c.id, .by(clinic.gp)).isEmpty)
            #expect(try await auditEntries(world).dropFirst(Int(before)).contains { $0.decision == .refused && $0.resourceType == "prescription" })
            // A medicine of another class is fine; an acknowledged override is recorded with the prescription.
            let ok = try await world.clinic.prescribe(
                c.id, PrescriptionInput(medicine: "Clarithromycin 500 mg tablets", dose: "500 mg", route: "oral", frequency: "twice a day", quantity: 14, pharmacy: "High Street Pharmacy"),
                .by(clinic.gp))
            #expect(ok.allergyOverride == nil)
            var acknowledged = amoxicillin
            acknowledged.acknowledgeAllergy = true
            let overridden = try await world.clinic.prescribe(c.id, acknowledged, .by(clinic.gp))
            #expect(overridden.allergyOverride == "Penicillin")
            // The patient sees their prescriptions; nobody else does.
            #expect(Set(try await world.clinic.prescriptions(.by(alice)).map(\.id)) == [ok.id, overridden.id])
            #expect(try await world.clinic.prescriptions(.by(bob)).isEmpty)
            #expect(try await world.clinic.prescriptions(.by(clinic.practiceAdmin)).isEmpty)
            #expect(await clinicCode { _ = try await world.clinic.prescriptions(c.id, .by(bob)) } == "denied")
            #expect(await clinicCode { _ = try await world.clinic.prescribe(c.id, amoxicillin, .by(clinic.nurse)) } == "denied")
            // The prescriber cancels with a reason, once; nobody else can.
            #expect(await clinicCode { try await world.clinic.cancelPrescription(c.id, prescription: ok.id, reason: "x", .by(bob)) } == "denied")
            #expect(await clinicCode { try await world.clinic.cancelPrescription(c.id, prescription: ok.id, reason: "x", .by(clinic.nurse)) } == "denied")
            #expect(await clinicCode { try await world.clinic.cancelPrescription(c.id, prescription: ok.id, reason: " ", .by(clinic.gp)) } == "validation")
            try await world.clinic.cancelPrescription(c.id, prescription: ok.id, reason: "Switched to another antibiotic", .by(clinic.gp))
            #expect(await clinicCode { try await world.clinic.cancelPrescription(c.id, prescription: ok.id, reason: "again", .by(clinic.gp)) } == "conflict")
            let statuses = Dictionary(uniqueKeysWithValues: try await world.clinic.prescriptions(.by(alice)).map { ($0.id, $0.status) })
            #expect(statuses == [ok.id: "cancelled", overridden.id: "issued"])
            // A prescription id of another consultation is not cancelled through this one.
            let other = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(2), modality: .video, .by(bob)).record
            world.clock.advance(by: 20 * 60)
            _ = try await world.clinic.transition(other.id, .start, .by(clinic.gp))
            #expect(await clinicCode {
                try await world.clinic.cancelPrescription(other.id, prescription: overridden.id, reason: "wrong consultation", .by(clinic.gp))
            } == "conflict")
            #expect(try await world.clinic.prescriptions(c.id, .by(clinic.gp)).first { $0.id == overridden.id }?.status == "issued")
            // Bad input is refused before anything is written.
            var bad = amoxicillin
            bad.route = "by carrier pigeon"
            #expect(await clinicCode { _ = try await world.clinic.prescribe(c.id, bad, .by(clinic.gp)) } == "validation")
            bad = amoxicillin
            bad.quantity = 0
            #expect(await clinicCode { _ = try await world.clinic.prescribe(c.id, bad, .by(clinic.gp)) } == "validation")
            #expect(world.logs.lines(containingAnyOf: ["Penicillin", "Amoxicillin", "Salbutamol"]).isEmpty)
        }
    }

    @Test(
        "allergy matching by name and by class",
        arguments: [
            ("Amoxicillin 250 mg", ["penicillin"], ["penicillin"]),
            ("co-amoxiclav", ["Penicillins"], ["Penicillins"]),
            ("Flucloxacillin", ["amoxicillin (rash)"], ["amoxicillin (rash)"]),
            ("Ibuprofen 400 mg", ["NSAIDs", "latex"], ["NSAIDs"]),
            ("Naproxen", ["aspirin"], ["aspirin"]),
            ("Codeine phosphate", ["morphine"], ["morphine"]),
            ("Paracetamol", ["penicillin", "NSAIDs"], []),
            ("Clarithromycin", ["penicillin"], []),
            ("Cefalexin", ["cephalosporins"], ["cephalosporins"]),
            ("", ["penicillin"], []),
        ])
    func matching(_ medicine: String, _ allergies: [String], _ expected: [String]) {
        #expect(AllergyCheck.conflicts(medicine: medicine, allergies: allergies) == expected)
    }
}
