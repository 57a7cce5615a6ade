import ConfideAudit
import ConfideBreach
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Testing

/// Runs the independent check over the whole log.
func breachFindings(_ world: TestWorld) async throws -> ([BreachFinding], BreachTally) {
    let checker = BreachChecker(evidence: world.stores.breach)
    var tally = BreachTally()
    var findings: [BreachFinding] = []
    for (i, raw) in try await world.stores.audit.encodedEntries(from: 0, limit: 100_000).enumerated() {
        let entry = try AuditEntry(encoded: raw)
        tally.examined(entry)
        if let f = try await checker.check(entry, index: UInt64(i)) {
            findings.append(f)
            tally.add(f)
        }
    }
    return (findings, tally)
}

@Suite("breach report: the independent relationship check")
struct BreachCheckTests {
    @Test("ordinary care (booking, a recorded call, its chat, playback, notes, a consented care team, a triage check) fails nothing")
    func ordinaryCareIsClean() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c, _) = try await recordedCall(world)
            let rec = try await world.recordings.startRecording(c.id, mode: "audio", .by(clinic.gp)).record
            #expect(try await upload(world, rec.id, 0, 0, chunk("a"), by: clinic.gp) == .stored)
            try await world.recordings.finishRecording(rec.id, .by(clinic.gp))
            _ = try await world.recordings.recordings(consultation: nil, .by(alice))
            _ = try await world.recordings.recordings(consultation: c.id, .by(clinic.gp))
            _ = try await world.clinic.consultation(c.id, .by(alice))
            _ = try await world.clinic.consultations(from: nil, to: nil, .by(clinic.gp))
            _ = try await world.clinic.postChat(c.id, text: "hello", .by(alice))
            _ = try await world.clinic.postChat(c.id, text: "hello Alice", .by(clinic.gp))
            _ = try await world.clinic.chat(c.id, .by(alice))
            _ = try await world.clinic.chat(c.id, .by(clinic.gp))
            let nurses = try await world.clinic.createCareTeam(
                practice: clinic.practice.id, name: "Nurses", members: [clinic.nurse.account!], .by(.system(job: "test")))
            _ = try await world.clinic.grantConsent(team: nurses.id, .by(alice))
            _ = try await world.clinic.consultation(c.id, .by(clinic.nurse))
            let t = try await world.triage.start(complaint: "headache", sex: "female", country: nil, .by(alice))
            _ = try await world.triage.session(t.id, .by(alice))
            let (findings, tally) = try await breachFindings(world)
            #expect(findings.isEmpty, "false positives: \(findings.map { "\($0.actor) \($0.action) \($0.resourceType) \($0.why)" })")
            #expect(tally.accessesChecked > 10)
        }
    }

    @Test("accesses the ground truth does not justify are found: whose data, who saw it, presented vs played with byte ranges")
    func exposuresAreFound() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c, _) = try await recordedCall(world)
            let rec = try await world.recordings.startRecording(c.id, mode: "audio", .by(clinic.gp)).record
            let bob = try await clinic.patient(world, name: "Bob")
            let alicePatient = try #require(patientID(alice))
            let bobPatient = try #require(patientID(bob))
            // As a bug that bound Alice's recording to Bob would leave them: Bob's list presented it (recorded as
            // Bob's own), and Bob played two ranges of it; an operator opened Alice's consultation; the nurse
            // (no consent yet) read it.
            let now = world.clock.now()
            func entry(_ who: Principal, _ action: String, _ type: String, _ id: String, _ patient: Patient.ID, _ purpose: String) throws -> AuditEntry {
                try AuditEntry(
                    at: now, principal: who, action: action, resourceType: type, resourceID: id, patientID: patient, decision: .allowed,
                    ruleIDs: ["patient.own-recordings.v1"], requestID: "drill", purpose: purpose)
            }
            _ = try await world.stores.audit.append([
                try entry(bob, "list", "recording", rec.id, bobPatient, "care"),
                try entry(bob, "play", "recording", rec.id, bobPatient, "playback:segment=0:bytes=0-1023"),
                try entry(bob, "play", "recording", rec.id, bobPatient, "playback:segment=0:bytes=1024-2047"),
                try entry(clinic.operator_, "read", "consultation", c.id.description, alicePatient, "care"),
                try entry(clinic.nurse, "read", "consultation", c.id.description, alicePatient, "care"),
                // A denied attempt is not an exposure.
                try AuditEntry(
                    at: now, principal: bob, action: "read", resourceType: "recording", resourceID: rec.id, patientID: alicePatient,
                    decision: .notFound, ruleIDs: [], requestID: "drill", purpose: "care"),
            ])
            let (findings, tally) = try await breachFindings(world)
            #expect(findings.count == 5)
            #expect(Set(findings.map(\.patient)) == [alicePatient.description], "only Alice's data was exposed")
            let bobs = findings.filter { $0.actor == bob.description }
            #expect(bobs.map(\.exposure) == [.presented, .played, .played])
            #expect(bobs.compactMap(\.detail) == ["segment=0:bytes=0-1023", "segment=0:bytes=1024-2047"])
            #expect(bobs.allSatisfy { $0.recordedPatient == bobPatient.description && $0.why.contains("wrong patient") })
            #expect(findings.contains { $0.actor == clinic.operator_.description && $0.why.contains("operator") })
            #expect(findings.contains { $0.actor == clinic.nurse.description && $0.exposure == .opened })
            let summary = tally.summary(from: "a", to: "b", measures: "m")
            #expect(summary.patientsAffected == 1 && summary.patientsWhoseDataWasOpened == 1 && summary.actors == 3)
            #expect(summary.byExposure == ["presented": 1, "played": 2, "opened": 2])
            // Once the nurse's team has Alice's consent, later reads by the nurse are justified; earlier ones stay findings.
            world.clock.advance(by: 60)
            let nurses = try await world.clinic.createCareTeam(
                practice: clinic.practice.id, name: "Nurses", members: [clinic.nurse.account!], .by(.system(job: "test")))
            _ = try await world.clinic.grantConsent(team: nurses.id, .by(alice))
            world.clock.advance(by: 60)
            _ = try await world.clinic.consultation(c.id, .by(clinic.nurse))
            #expect(try await breachFindings(world).0.count == 5)
        }
    }

    @Test("a principal opening more distinct patients than their role's limit within the hour is flagged once; lists do not count")
    func spreeDetection() throws {
        let patientA = Patient.ID(), patientB = Patient.ID()
        let nosy = Principal.patient(account: Account.ID(), patient: patientA)
        let gp = Principal.clinician(account: Account.ID(), role: .gp)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        func e(_ who: Principal, _ action: String, _ patient: Patient.ID, _ minutes: Double) throws -> AuditEntry {
            try AuditEntry(
                at: t0.addingTimeInterval(minutes * 60), principal: who, action: action, resourceType: "recording", resourceID: "r",
                patientID: patient, decision: .allowed, ruleIDs: [], requestID: "t", purpose: "care")
        }
        var detector = SpreeDetector()
        var flagged: [Spree] = []
        var entries = [try e(nosy, "read", patientA, 0), try e(nosy, "list", patientB, 1)]  // a list presentation: not counted
        entries.append(try e(nosy, "play", patientB, 2))  // a second distinct patient opened: over the patient limit of 1
        entries.append(try e(nosy, "read", Patient.ID(), 3))  // same window: not flagged twice
        // A clinician opening 40 distinct patients in an hour is fine; the 41st is flagged.
        for i in 0..<41 { entries.append(try e(gp, "read", Patient.ID(), 10 + Double(i))) }
        // Two hours later, a clinician opening a few again is fine.
        for i in 0..<5 { entries.append(try e(gp, "read", Patient.ID(), 200 + Double(i))) }
        for (i, entry) in entries.enumerated() { if let s = detector.add(entry, index: UInt64(i)) { flagged.append(s) } }
        #expect(flagged.map(\.actor) == [nosy.description, gp.description])
        #expect(flagged[0].patients == 2 && flagged[0].limit == 1 && flagged[0].index == 2)
        #expect(flagged[1].patients == 41 && flagged[1].limit == 40)
    }
}
