import ConfideAudit
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Crypto
import Foundation
import Testing

@Suite("audit store conformance")
struct AuditStoreTests {
    func entry(_ n: Int, patient: Patient.ID? = nil) throws -> AuditEntry {
        try AuditEntry(
            time: 1_795_000_000_000 + Int64(n), actor: "system:test", action: "read", resourceType: "patient-record",
            resourceID: "r\(n)", patientID: patient?.description, decision: .allowed, ruleIDs: ["rule.v1"], requestID: "req\(n)",
            purpose: "care")
    }

    @Test("concurrent appends get gap-free indices and the stored log verifies")
    func gapFree() async throws {
        try await TestDatabase.withStores { stores in
            let audit = stores.audit
            let indices = try await withThrowingTaskGroup(of: [LogIndex].self) { group in
                for i in 0..<40 { group.addTask { try await audit.append([try entry(i), try entry(i + 1000)]) } }
                return try await group.reduce(into: [LogIndex]()) { $0 += $1 }
            }
            #expect(indices.map(\.rawValue).sorted() == Array(0..<80))
            #expect(try await audit.auditSize() == 80)
            let encodings = try await audit.encodedEntries(from: 0, limit: 1000)
            let hashes = try await audit.leafHashes()
            #expect(encodings.count == 80)
            let key = Curve25519.Signing.PrivateKey()
            let signer = try CheckpointSigner(keyName: "confide.test", privateKey: key)
            let log = MerkleLog(encodedEntries: encodings)
            let signed = try signer.sign(try log.checkpoint(origin: "confide.test"))
            try await audit.storeCheckpoint(signed, at: Date())
            try await audit.storeCheckpoint(signed, at: Date())  // a second instance publishing the same size
            let notes = try await audit.checkpointNotes()
            #expect(notes.count == 1)
            let report = AuditVerifier(origin: "confide.test", checkpointVerifier: signer.verifier)
                .verify(entries: encodings, checkpoints: notes, storedLeafHashes: hashes)
            #expect(report.isValid, "\(report.findings)")
        }
    }

    @Test("a patient's access log lists only entries about that patient, newest first")
    func accessLog() async throws {
        try await TestDatabase.withStores { stores in
            let a = Patient.ID()
            let b = Patient.ID()
            for i in 0..<5 { _ = try await stores.audit.append([try entry(i, patient: i.isMultiple(of: 2) ? a : b)]) }
            let engine = PolicyEngine()
            let principal = Principal.patient(account: Account.ID(), patient: a)
            let (_, scope) = engine.scope(AccessRequest(principal: principal, action: .list, resource: .auditEntry), as: AuditEntryResource.self)
            let rows = try await stores.audit.accessLog(scope, before: nil, limit: 50)
            #expect(rows.map(\.0.rawValue) == [4, 2, 0])
            #expect(rows.allSatisfy { $0.1.patientID == a.description })
            let page = try await stores.audit.accessLog(scope, before: 4, limit: 1)
            #expect(page.map(\.0.rawValue) == [2])
            let (_, other) = engine.scope(
                AccessRequest(principal: .clinician(account: Account.ID(), role: .gp), action: .list, resource: .auditEntry),
                as: AuditEntryResource.self)
            #expect(try await stores.audit.accessLog(other, before: nil, limit: 50).isEmpty)
        }
    }
}
