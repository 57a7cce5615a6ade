import ConfideAudit
import ConfideBreach
import ConfideClinic
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Testing

@Suite("operators' audit search")
struct AuditSearchTests {
    @Test("by patient, actor, resource and time, newest first, paged; operators only; every search and every entry shown is audited")
    func search() async throws {
        try await TestWorld.with { world in
            let (clinic, alice, c, _) = try await recordedCall(world)
            let rec = try await world.recordings.startRecording(c.id, mode: "audio", .by(clinic.gp)).record
            _ = try await world.recordings.recordings(consultation: nil, .by(alice))
            let bob = try await clinic.patient(world, name: "Bob")
            _ = try await world.clinic.consultations(from: nil, to: nil, .by(bob))
            let alicePatient = try #require(patientID(alice)).description
            let op = ClinicRequest.by(clinic.operator_)
            let all = try await world.incidents.searchAudit(AuditSearchFilter(), before: nil, limit: 500, op).entries
            #expect(all.count > 10 && all.map(\.0.rawValue) == all.map(\.0.rawValue).sorted(by: >))
            let hers = try await world.incidents.searchAudit(AuditSearchFilter(patient: alicePatient), before: nil, limit: 500, op).entries
            #expect(!hers.isEmpty && hers.allSatisfy { $0.1.patientID == alicePatient })
            let gp = try await world.incidents.searchAudit(AuditSearchFilter(actor: clinic.gpAccount.description), before: nil, limit: 500, op).entries
            #expect(!gp.isEmpty && gp.allSatisfy { $0.1.actor == clinic.gp.description })
            let byKind = try await world.incidents.searchAudit(AuditSearchFilter(actor: clinic.gp.description), before: nil, limit: 500, op).entries
            #expect(byKind.map(\.0) == gp.map(\.0))
            let recording = try await world.incidents.searchAudit(
                AuditSearchFilter(resourceType: "recording", resourceID: rec.id), before: nil, limit: 500, op).entries
            #expect(!recording.isEmpty && recording.allSatisfy { $0.1.resourceType == "recording" && $0.1.resourceID == rec.id })
            #expect(Set(recording.map(\.1.action)).isSuperset(of: ["create", "list"]))
            let now = world.clock.now().epochMilliseconds
            #expect(try await world.incidents.searchAudit(AuditSearchFilter(from: now + 1), before: nil, limit: 500, op).entries.isEmpty)
            // Paging: pages of 3 walk the same entries, newest first, with no gaps or repeats.
            let newest = try await world.incidents.searchAudit(AuditSearchFilter(patient: alicePatient), before: nil, limit: 500, op).entries
            var paged: [UInt64] = []
            var before: UInt64? = newest.first.map { $0.0.rawValue + 1 }
            repeat {
                let page = try await world.incidents.searchAudit(AuditSearchFilter(patient: alicePatient), before: before, limit: 3, op)
                paged += page.entries.map(\.0.rawValue)
                before = page.next
            } while before != nil
            #expect(paged == newest.map(\.0.rawValue))
            // Nobody else searches the log.
            for who in [clinic.gp, clinic.practiceAdmin, alice] {
                #expect(await isDenied { _ = try await world.incidents.searchAudit(AuditSearchFilter(), before: nil, limit: 10, .by(who)) })
            }
            // The searches themselves are in the log, each entry shown as one more entry.
            let searches = try await world.incidents.searchAudit(
                AuditSearchFilter(actor: clinic.operator_.description, resourceType: "audit-entry"), before: nil, limit: 500, op).entries
            #expect(searches.contains { $0.1.action == "search" && $0.1.resourceID == "-" })
            #expect(searches.contains { $0.1.action == "search" && $0.1.resourceID != "-" && $0.1.purpose == "audit-search" })
            let (findings, _) = try await breachFindings(world)
            #expect(findings.isEmpty, "\(findings.map { "\($0.actor) \($0.action) \($0.resourceType) \($0.why)" })")
        }
    }
}
