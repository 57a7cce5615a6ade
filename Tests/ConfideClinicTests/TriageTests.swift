import ConfideAudit
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import ConfideTriage
import Foundation
import Testing

@Suite("symptom checker sessions")
struct TriageTests {
    @Test("a patient's conversation: start, answer, go back, finish; advice with the country's number; every step audited")
    func conversation() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            var view = try await world.triage.start(
                complaint: "Sore throat and a high temperature since yesterday, no cough", sex: "female", country: nil, .by(alice))
            #expect(view.patient == patientID(alice))
            #expect(view.country == clinic.practice.country.description)
            #expect(view.age >= 40)
            #expect(view.understood.contains { $0.finding == "sore_throat" && $0.present })
            #expect(view.understood.contains { $0.finding == "cough" && !$0.present })
            let first = try #require(view.question)
            view = try await world.triage.answer(view.id, finding: first.id, answer: .no, version: view.version, .by(alice))
            #expect(view.answers.map(\.finding) == [first.id])
            // Going back asks the same question again.
            view = try await world.triage.back(view.id, version: view.version, .by(alice))
            #expect(view.answers.isEmpty)
            #expect(view.question?.id == first.id)
            view = try await world.triage.answer(view.id, finding: first.id, answer: .unknown, version: view.version, .by(alice))
            view = try await world.triage.finish(view.id, version: view.version, .by(alice))
            #expect(view.status == .finished)
            let outcome = try #require(view.outcome)
            #expect(outcome.advice.safetyNet.contains("999"))
            #expect(!outcome.conditions.isEmpty)
            #expect(outcome.stopReason == .patientFinished)
            // The same session reads back the same, and lists once for its owner.
            #expect(try await world.triage.session(view.id, .by(alice)).outcome == outcome)
            #expect(try await world.triage.sessions(.by(alice)).map(\.id) == [view.id])
            let entries = try await auditEntries(world).filter { $0.resourceType == "triage-session" && $0.resourceID == view.id }
            // create + 4 changes (each with a read) + one read + one list presentation.
            #expect(entries.filter { $0.action == "create" && $0.decision == .allowed }.count == 1)
            #expect(entries.filter { $0.action == "update" && $0.decision == .allowed }.count == 4)
            #expect(entries.allSatisfy { $0.patientID == patientID(alice)?.description })
            // Nothing of the complaint reaches the logs.
            #expect(world.logs.lines(containingAnyOf: ["Sore throat and a high temperature"]).isEmpty)
            #expect(view.crisis == nil)
        }
    }

    @Test("crisis signposting stays with the questions once suicidal thoughts are reported, not only on the result (C20)")
    func crisisDuringQuestions() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            var view = try await world.triage.start(complaint: "I can't sleep and I feel low", sex: "female", country: nil, .by(alice))
            #expect(view.crisis == nil)
            // Reported in the opening words: the questions go on (same-day, not emergency), with the crisis line on screen.
            view = try await world.triage.start(
                complaint: "I have been having suicidal thoughts and I can't sleep", sex: "female", country: nil, .by(alice))
            #expect(view.status == .open && view.question != nil)
            let crisis = try #require(view.crisis)
            #expect(crisis.contains("116 123") && crisis.contains("999"))
            // It stays for the rest of the questions and leads the result.
            let next = try #require(view.question)
            view = try await world.triage.answer(view.id, finding: next.id, answer: .no, version: view.version, .by(alice))
            #expect(view.crisis == crisis)
            view = try await world.triage.finish(view.id, version: view.version, .by(alice))
            #expect(view.outcome?.advice.crisis == crisis)
        }
    }

    @Test("C21: a baby's age in months comes from the birth date, so a fever at 6 weeks is at least urgent and at 5 months is not floored")
    func infantFloor() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            func born(daysAgo: Int) -> String {
                let utc = Calendar(identifier: .gregorian).dateComponents(
                    in: TimeZone(identifier: "UTC")!, from: world.clock.now().addingTimeInterval(-Double(daysAgo) * 86_400))
                return String(format: "%04d-%02d-%02d", utc.year!, utc.month!, utc.day!)
            }
            let young = try await clinic.patient(world, name: "Baby", birthDate: born(daysAgo: 42))
            let older = try await clinic.patient(world, name: "Infant", birthDate: born(daysAgo: 160))
            func finished(_ who: Principal) async throws -> TriageView {
                let view = try await world.triage.start(complaint: "my baby has a high temperature", sex: "female", country: nil, .by(who))
                return view.status == .open ? try await world.triage.finish(view.id, version: view.version, .by(who)) : view
            }
            let six = try await finished(young)
            let outcome = try #require(six.outcome)
            #expect(outcome.disposition >= .urgent)
            #expect(outcome.redFlags.contains { $0.id == "rf.fever_under_3_months" })
            // Each turn rebuilds the profile from the stored session: the months survive an answer.
            let again = try await world.triage.start(complaint: "my baby has a high temperature", sex: "female", country: nil, .by(young))
            if let q = again.question {
                let answered = try await world.triage.answer(again.id, finding: q.id, answer: .no, version: again.version, .by(young))
                let done = answered.status == .open ? try await world.triage.finish(answered.id, version: answered.version, .by(young)) : answered
                #expect(done.outcome?.redFlags.contains { $0.id == "rf.fever_under_3_months" } == true)
            }
            // The floor fired without ending the chat (it is urgent, not emergency); the parent cannot
            // correct the fever away.
            let asking = try await world.triage.start(complaint: "my baby has a high temperature", sex: "female", country: nil, .by(young))
            #expect(asking.status == .open)
            #expect(await clinicErrorCode {
                _ = try await world.triage.correct(asking.id, finding: "fever", reading: .absent, version: asking.version, .by(young))
            } == .transitionNotAllowed)
            let five = try await finished(older)
            #expect(five.outcome?.redFlags.contains { $0.id == "rf.fever_under_3_months" } == false)
        }
    }

    @Test("C18: the patient corrects the read-back in place; a corrected red flag ends the chat; bad corrections change nothing")
    func correctReadBack() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let bob = try await clinic.patient(world, name: "Bob")
            var view = try await world.triage.start(complaint: "I'm sweating a lot and I have no chest pain", sex: "male", country: nil, .by(alice))
            #expect(view.status == .open)
            #expect(view.understood.contains { $0.finding == "chest_pain" && !$0.present && !$0.corrected })
            // Refused corrections: not in the read-back (422), stale version (409), another patient (404). Nothing changes.
            #expect(await clinicErrorCode {
                _ = try await world.triage.correct(view.id, finding: "fever", reading: .present, version: view.version, .by(alice))
            } == .validation)
            #expect(await clinicErrorCode {
                _ = try await world.triage.correct(view.id, finding: "chest_pain", reading: .present, version: view.version + 5, .by(alice))
            } == .conflict)
            #expect(await isDenied {
                _ = try await world.triage.correct(view.id, finding: "chest_pain", reading: .present, version: view.version, .by(bob))
            })
            #expect(try await world.triage.session(view.id, .by(alice)).version == view.version)
            // "I didn't say this" removes an item; "I do have this" flips one, and a red flag it completes ends the chat.
            view = try await world.triage.start(complaint: "I'm sweating a lot, I have a cough and no chest pain", sex: "male", country: nil, .by(alice))
            let before = try await world.stores.audit.auditSize()
            view = try await world.triage.correct(view.id, finding: "cough", reading: .notMentioned, version: view.version, .by(alice))
            #expect(!view.understood.contains { $0.finding == "cough" })
            #expect(view.removed == ["Cough"] || view.removed.map { $0.lowercased() } == ["cough"], "the clinician sees what was removed")
            #expect(try await world.stores.audit.auditSize() > before, "a correction is an audited write")
            view = try await world.triage.correct(view.id, finding: "chest_pain", reading: .present, version: view.version, .by(alice))
            #expect(view.understood.contains { $0.finding == "chest_pain" && $0.present && $0.corrected })
            #expect(view.status == .finished)
            #expect(view.outcome?.disposition == .emergency)
            // A correction never takes a warning sign away: crisis signposting stays, and so does a
            // red flag that fired without ending the chat.
            var low = try await world.triage.start(complaint: "I have been having suicidal thoughts and I can't sleep", sex: "male", country: nil, .by(alice))
            let crisisFinding = try #require(low.understood.first { $0.present && $0.finding.contains("suicid") }).finding
            #expect(await clinicErrorCode {
                _ = try await world.triage.correct(low.id, finding: crisisFinding, reading: .notMentioned, version: low.version, .by(alice))
            } == .transitionNotAllowed)
            low = try await world.triage.session(low.id, .by(alice))
            #expect(low.crisis != nil && low.understood.contains { $0.finding == crisisFinding && $0.present })
            // Finished: no more corrections.
            #expect(await clinicErrorCode {
                _ = try await world.triage.correct(view.id, finding: "chest_pain", reading: .absent, version: view.version, .by(alice))
            } == .transitionNotAllowed)
        }
    }

    @Test("C25: an opening that names no problem asks for it in the patient's words first; its findings join the read-back; bad input changes nothing")
    func describeFirst() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let bob = try await clinic.patient(world, name: "Bob")
            // General words name no problem: the first "question" asks for one.
            var view = try await world.triage.start(complaint: "I just don't feel right, can someone help", sex: "female", country: nil, .by(alice))
            #expect(view.status == .open)
            #expect(view.question?.kind == .describe && view.question?.id == TriageService.describeQuestion)
            // Refused, and nothing changes: empty or over-long text (422), a stale version (409),
            // another patient (404), a yes/no answer to the request (422: not a question).
            #expect(await clinicErrorCode { _ = try await world.triage.describe(view.id, text: "  ", version: view.version, .by(alice)) } == .validation)
            #expect(await clinicErrorCode {
                _ = try await world.triage.describe(
                    view.id, text: String(repeating: "a", count: TriageService.maxComplaintLength + 1), version: view.version, .by(alice))
            } == .validation)
            #expect(await clinicErrorCode {
                _ = try await world.triage.describe(view.id, text: "a bad headache", version: view.version + 3, .by(alice))
            } == .conflict)
            #expect(await isDenied { _ = try await world.triage.describe(view.id, text: "a bad headache", version: view.version, .by(bob)) })
            #expect(await clinicErrorCode {
                _ = try await world.triage.answer(view.id, finding: TriageService.describeQuestion, answer: .yes, version: view.version, .by(alice))
            } == .validation)
            #expect(try await world.triage.session(view.id, .by(alice)).version == view.version)
            // Described: chest pain with sweating ends the chat as an emergency.
            let before = try await world.stores.audit.auditSize()
            view = try await world.triage.describe(
                view.id, text: "a crushing pain in my chest and I'm sweating buckets", version: view.version, .by(alice))
            #expect(try await world.stores.audit.auditSize() > before, "a description is an audited write")
            #expect(view.details == ["a crushing pain in my chest and I'm sweating buckets"])
            #expect(view.understood.contains { $0.finding == "chest_pain" && $0.present })
            #expect(view.status == .finished && view.outcome?.disposition == .emergency)
            #expect(world.logs.lines(containingAnyOf: ["sweating buckets", "don't feel right"]).isEmpty, "no free text in the logs")

            // A warning sign read as absent in the opening and reported in the description is read
            // present (and shown corrected): "no chest pain" then "pain in my chest, sweaty".
            var unsure = try await world.triage.start(
                complaint: "no chest pain or anything, I just feel off", sex: "male", country: nil, .by(alice))
            #expect(unsure.understood.contains { $0.finding == "chest_pain" && !$0.present })
            // Asked to describe, or asked a question first: a message may come at any time either way.
            unsure = try await world.triage.describe(unsure.id, text: "pain in my chest since this morning, sweaty", version: unsure.version, .by(alice))
            #expect(unsure.understood.contains { $0.finding == "chest_pain" && $0.present && $0.corrected })
            #expect(unsure.outcome?.disposition == .emergency)
            // An answered "no" that a later message reports present becomes "yes".
            var answeredNo = try await world.triage.start(complaint: "I have a sore throat", sex: "female", country: nil, .by(alice))
            let q = try #require(answeredNo.question)
            answeredNo = try await world.triage.answer(answeredNo.id, finding: q.id, answer: .no, version: answeredNo.version, .by(alice))
            let words = try #require(world.triage.engine.knowledge.finding(q.id)).synonyms.first ?? q.id
            answeredNo = try await world.triage.describe(answeredNo.id, text: "actually I do have \(words)", version: answeredNo.version, .by(alice))
            #expect(answeredNo.answers.first { $0.finding == q.id }?.answer == .yes || !world.triage.engine.extract(words).contains { $0.finding == q.id })
            // Text that only looks short: combining marks and direction overrides are refused.
            #expect(await clinicErrorCode {
                _ = try await world.triage.describe(answeredNo.id, text: "a" + String(repeating: "\u{301}", count: 9000), version: answeredNo.version, .by(alice))
            } == .validation)
            #expect(await clinicErrorCode {
                _ = try await world.triage.describe(answeredNo.id, text: "cough \u{202E}tsehc", version: answeredNo.version, .by(alice))
            } == .validation)

            // Declining: yes/no questions follow, and the request is not made again.
            var skipped = try await world.triage.start(complaint: "can I talk to someone please", sex: "male", country: nil, .by(alice))
            #expect(skipped.question?.kind == .describe)
            skipped = try await world.triage.describe(skipped.id, text: nil, version: skipped.version, .by(alice))
            let first = try #require(skipped.question)
            #expect(first.kind == .yesNo && first.id != TriageService.describeQuestion)
            // A decline is refused once the request is no longer pending.
            #expect(await clinicErrorCode { _ = try await world.triage.describe(skipped.id, text: nil, version: skipped.version, .by(alice)) } == .notAsked)
            skipped = try await world.triage.answer(skipped.id, finding: first.id, answer: .no, version: skipped.version, .by(alice))
            #expect(skipped.question?.kind == .yesNo)

            // A question that would complete a red-flag rule comes before the request (C02), and the
            // request is not made after it (asking it there drew the questions away from the red
            // flags of the opening's general findings: safety review 3).
            var tablets = try await world.triage.start(complaint: "I have tablets saved up", sex: "female", country: nil, .by(alice))
            let screen = try #require(tablets.question)
            #expect(screen.kind == .yesNo)
            tablets = try await world.triage.answer(tablets.id, finding: screen.id, answer: .unknown, version: tablets.version, .by(alice))
            #expect(tablets.question?.kind == .yesNo && tablets.status == .open)

            // An opening that names a problem goes straight to questions. A later message adds only
            // what is new: it never takes back an answer or an item already read ("no cough" stays a cough).
            var specific = try await world.triage.start(complaint: "I have a cough and a sore throat", sex: "female", country: nil, .by(alice))
            let asked = try #require(specific.question)
            #expect(asked.kind == .yesNo)
            specific = try await world.triage.answer(specific.id, finding: asked.id, answer: .yes, version: specific.version, .by(alice))
            specific = try await world.triage.describe(
                specific.id, text: "no cough actually, and I have a temperature", version: specific.version, .by(alice))
            #expect(specific.understood.contains { $0.finding == "cough" && $0.present })
            #expect(specific.understood.contains { $0.finding == "fever" && $0.present } || asked.id == "fever")
            #expect(specific.answers.map(\.finding) == [asked.id])
            // At most `maxDetails` messages.
            for i in specific.details.count..<TriageService.maxDetails where specific.status == .open {
                specific = try await world.triage.describe(specific.id, text: "also message \(i)", version: specific.version, .by(alice))
            }
            if specific.status == .open {
                #expect(await clinicErrorCode {
                    _ = try await world.triage.describe(specific.id, text: "one more", version: specific.version, .by(alice))
                } == .transitionNotAllowed)
            }
        }
    }

    @Test("attaching a check to another patient's consultation is denied on the proposed state, naming that patient; nothing attached")
    func attachDecidedOnProposedState() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let bob = try await clinic.patient(world, name: "Bob")
            guard case .patient(_, let bobPatient) = bob else { return }
            var view = try await world.triage.start(complaint: "sore throat and a cough", sex: "female", country: nil, .by(alice))
            view = try await world.triage.finish(view.id, version: view.version, .by(alice))
            let bobs = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(2), modality: .video, .by(bob))
            let before = try await world.stores.audit.auditSize()
            // Alice may update her own session (stored state), but attached to Bob's consultation it would be Bob's.
            #expect(await isDenied { try await world.triage.attach(view.id, to: bobs.record.id, .by(alice)) })
            let entries = try await world.stores.audit.encodedEntries(from: before, limit: 10).map { try AuditEntry(encoded: $0) }
            #expect(entries.contains { $0.decision == .denied && $0.resourceType == "triage-session" && $0.patientID == bobPatient.description })
            #expect(try await world.triage.session(view.id, .by(alice)).consultation == nil)
            #expect(try await world.triage.sessions(consultation: bobs.record.id, .by(clinic.gp)).isEmpty)
            // Her own consultation: both states allow.
            let hers = try await world.clinic.book(clinician: clinic.gpAccount, start: clinic.slot(3), modality: .video, .by(alice))
            try await world.triage.attach(view.id, to: hers.record.id, .by(alice))
            #expect(try await world.triage.session(view.id, .by(alice)).consultation == hers.record.id)
        }
    }

    @Test("bad input: empty or huge text, an unknown sex, unknown question ids, questions never asked, a finished session")
    func badInput() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            #expect(await clinicErrorCode { _ = try await world.triage.start(complaint: "   ", sex: "female", country: nil, .by(alice)) } == .validation)
            let huge = String(repeating: "a", count: TriageService.maxComplaintLength + 1)
            #expect(await clinicErrorCode { _ = try await world.triage.start(complaint: huge, sex: "female", country: nil, .by(alice)) } == .validation)
            #expect(await clinicErrorCode { _ = try await world.triage.start(complaint: "headache", sex: "x", country: nil, .by(alice)) } == .validation)
            #expect(try await world.triage.sessions(.by(alice)).isEmpty, "nothing stored for refused starts")
            var view = try await world.triage.start(complaint: "headache", sex: "male", country: nil, .by(alice))
            let asked = try #require(view.question)
            #expect(await clinicErrorCode { _ = try await world.triage.answer(view.id, finding: "no_such_finding", answer: .yes, version: nil, .by(alice)) } == .validation)
            let other = try #require(world.triage.engine.knowledge.findings.first { $0.kind != .demographic && $0.id != asked.id })
            #expect(await clinicErrorCode { _ = try await world.triage.answer(view.id, finding: other.id, answer: .yes, version: nil, .by(alice)) } == .notAsked)
            #expect(await clinicErrorCode { _ = try await world.triage.back(view.id, version: nil, .by(alice)) } == .transitionNotAllowed)
            #expect(await clinicErrorCode { _ = try await world.triage.answer(view.id, finding: asked.id, answer: .yes, version: view.version + 5, .by(alice)) } == .conflict)
            // The refused answers changed nothing, and each was audited as refused.
            let unchanged = try await world.triage.session(view.id, .by(alice))
            #expect(unchanged.answers.isEmpty && unchanged.version == view.version)
            let refused = try await auditEntries(world).filter { $0.resourceID == view.id && $0.decision == .refused }
            #expect(refused.count == 3)
            view = try await world.triage.finish(view.id, version: nil, .by(alice))
            #expect(await clinicErrorCode { _ = try await world.triage.finish(view.id, version: nil, .by(alice)) } == .transitionNotAllowed)
        }
    }

    @Test("another patient, a clinician without a relation and the operator see nothing; the booked clinician sees the attached check")
    func access() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let bob = try await clinic.patient(world, name: "Bob")
            var view = try await world.triage.start(complaint: "cough and fever for three days", sex: "female", country: nil, .by(alice))
            for who in [bob, clinic.gp, clinic.nurse, clinic.practiceAdmin, clinic.operator_] {
                #expect(await isDenied { _ = try await world.triage.session(view.id, .by(who)) })
                #expect(await isDenied { _ = try await world.triage.finish(view.id, version: nil, .by(who)) })
                #expect(try await world.triage.sessions(.by(who)).isEmpty)
            }
            #expect(await isDenied { _ = try await world.triage.answer(view.id, finding: view.question!.id, answer: .yes, version: nil, .by(bob)) })
            // An open check cannot be booked with; a finished one can, and only by its patient.
            let slot = clinic.slot(3)
            #expect(
                await clinicErrorCode {
                    _ = try await world.triage.book(with: world.clinic, triage: view.id, clinician: clinic.gpAccount, start: slot, modality: .video, .by(alice))
                } == .conflict)
            view = try await world.triage.finish(view.id, version: nil, .by(alice))
            #expect(
                await isDenied {
                    _ = try await world.triage.book(with: world.clinic, triage: view.id, clinician: clinic.gpAccount, start: slot, modality: .video, .by(bob))
                })
            #expect(try await world.clinic.consultations(from: nil, to: nil, .by(bob)).isEmpty, "a refused check books nothing")
            let booked = try await world.triage.book(
                with: world.clinic, triage: view.id, clinician: clinic.gpAccount, start: slot, modality: .video, .by(alice))
            let attached = try await world.triage.sessions(consultation: booked.record.id, .by(clinic.gp))
            #expect(attached.map(\.id) == [view.id])
            #expect(attached.first?.outcome?.conditions.isEmpty == false)
            #expect(try await world.triage.session(view.id, .by(clinic.gp)).id == view.id)
            // The nurse (not the consultation's clinician; in the care team only with consent) does not.
            #expect(await isDenied { _ = try await world.triage.session(view.id, .by(clinic.nurse)) })
            // Attached once: a second booking with it is refused and books nothing.
            #expect(
                await clinicErrorCode {
                    _ = try await world.triage.book(with: world.clinic, triage: view.id, clinician: clinic.gpAccount, start: clinic.slot(5), modality: .video, .by(alice))
                } == .conflict)
            #expect(try await world.clinic.consultations(from: nil, to: nil, .by(alice)).count == 1)
        }
    }

    @Test("a red flag in the opening message ends the conversation at once with emergency advice")
    func redFlagFirst() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let alice = try await clinic.patient(world, name: "Alice")
            let view = try await world.triage.start(
                complaint: "Crushing chest pain and I'm sweating, it's going down my left arm", sex: "male", country: nil, .by(alice))
            #expect(view.status == .finished)
            #expect(view.outcome?.disposition == .emergency)
            #expect(view.outcome?.advice.headline.contains("999") == true)
            #expect(view.outcome?.redFlags.isEmpty == false)
        }
    }
}
