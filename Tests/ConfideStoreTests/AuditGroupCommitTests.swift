import ConfideAudit
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import PropertyBased
import Testing

/// Group commit (issue 3 item 4) on a real database: concurrent callers share transactions, and
/// each still gets exactly its own entries at gap-free, contiguous indices, or the error.
@Suite("audit group commit")
struct AuditGroupCommitTests {
    static func entry(caller: Int, item: Int) throws -> AuditEntry {
        try AuditEntry(
            time: 1_795_000_000_000 + Int64(caller), actor: "patient:caller-\(caller)", action: "list", resourceType: "consultation",
            resourceID: "c\(caller)-\(item)", patientID: nil, decision: .allowed, ruleIDs: ["rule.v1"], requestID: "req\(caller)",
            purpose: "care")
    }

    @Test("random concurrent callers: each gets its own entries, in order, contiguous; together gap-free")
    func callersGetTheirOwnIndices() async throws {
        await propertyCheck(count: 6, input: Gen.int(in: 1...12).array(of: 1...40), Gen.int(in: 1...30)) { sizes, maxEntries in
            try await TestDatabase.withStores { stores in
                let commits = AuditGroupCommit(store: stores.audit, maxEntries: maxEntries)
                let results = try await withThrowingTaskGroup(of: (Int, [LogIndex]).self) { group in
                    for (caller, size) in sizes.enumerated() {
                        group.addTask {
                            (caller, try await commits.append(try (0..<size).map { try Self.entry(caller: caller, item: $0) }))
                        }
                    }
                    return try await group.reduce(into: [Int: [LogIndex]]()) { $0[$1.0] = $1.1 }
                }
                let total = sizes.reduce(0, +)
                #expect(results.values.flatMap { $0.map(\.rawValue) }.sorted() == (0..<UInt64(total)).map { $0 })
                #expect(try await stores.audit.auditSize() == UInt64(total))
                let stored = try await stores.audit.encodedEntries(from: 0, limit: total + 1)
                for (caller, size) in sizes.enumerated() {
                    let indices = try #require(results[caller]).map { Int($0.rawValue) }
                    #expect(indices.count == size)
                    // Contiguous and in the caller's order: a caller is never split across transactions.
                    #expect(indices == Array(indices[0]..<(indices[0] + size)))
                    for (item, index) in indices.enumerated() {
                        #expect(stored[index] == (try Self.entry(caller: caller, item: item)).encoded())
                    }
                }
            }
        }
    }

    @Test("concurrent gated reads share commits, and each is in the log before its grant is returned")
    func gatedReadsAreDurableFirst() async throws {
        try await TestDatabase.withStores { stores in
            let gate = AccessGate(facts: stores.facts, recorder: AuditLogRecorder(store: stores.audit, clock: SystemWallClock()))
            let patient = Patient.ID(), account = Account.ID(), now = Date()
            let grant = try await gate.createPatientRecord(patient, by: .system(job: "test"), purpose: "seed", requestID: "seed")
            try await stores.patients.createPatientAccount(
                AccountRecord(id: account, email: try EmailAddress("group@commit.confide.test"), passwordHash: "-", kind: .patient, createdAt: now),
                record: PatientRecord(
                    id: patient, account: account, name: try PersonName(given: "Group", family: "Commit"),
                    birthDate: CalendarDate(year: 1980, month: 1, day: 1)!, createdAt: now, updatedAt: now),
                grant: grant)
            let principal = Principal.patient(account: account, patient: patient)
            let before = try await stores.audit.auditSize()
            let sizesSeen = try await withThrowingTaskGroup(of: UInt64.self) { group in
                for i in 0..<64 {
                    group.addTask {
                        _ = try await gate.patientRecord(patient, .read, by: principal, purpose: "self-service", requestID: "r\(i)")
                        // The grant came back, so this request's entry is already stored.
                        return try await stores.audit.auditSize()
                    }
                }
                return try await group.reduce(into: [UInt64]()) { $0.append($1) }
            }
            #expect(sizesSeen.allSatisfy { $0 > before })
            #expect(try await stores.audit.auditSize() == before + 64)
            let requests = try await stores.audit.encodedEntries(from: before, limit: 100).map { try AuditEntry(encoded: $0).requestID }
            #expect(Set(requests) == Set((0..<64).map { "r\($0)" }))
        }
    }

    @Test("when the commit fails, every caller waiting on it gets the error (fail closed)")
    func failureReachesEveryCaller() async throws {
        try await TestDatabase.withStores { stores in
            let commits = AuditGroupCommit(store: stores.audit, maxEntries: 1000)
            _ = try await commits.append([try Self.entry(caller: 0, item: 0)])
            // The log's table goes away under the waiting callers.
            try await TestDatabase.execute(["ALTER TABLE audit_entries RENAME TO audit_entries_gone"], on: stores)
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for caller in 1...20 {
                    group.addTask { (try? await commits.append([try Self.entry(caller: caller, item: 0)])) == nil }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.count == 20 && outcomes.allSatisfy { $0 })
            try await TestDatabase.execute(["ALTER TABLE audit_entries_gone RENAME TO audit_entries"], on: stores)
            // Nothing was half-written, and the next caller commits at the next index.
            #expect(try await commits.append([try Self.entry(caller: 21, item: 0)]).map(\.rawValue) == [1])
        }
    }
}

/// Issue 3 item 2: a write is decided against the stored state and against the proposed state.
@Suite("writes decided on the stored and the proposed state")
struct ProposedStateTests {
    @Test(
        "allowed only when both states allow; a denial is recorded with the denying side's patient",
        arguments: [("self", "self"), ("self", "other"), ("other", "self"), ("other", "other"), ("self", "missing")])
    func bothStates(_ stored: String, _ proposed: String) async throws {
        try await TestDatabase.withStores { stores in
            let gate = AccessGate(facts: stores.facts, recorder: AuditLogRecorder(store: stores.audit, clock: SystemWallClock()))
            let me = Patient.ID(), other = Patient.ID()
            let principal = Principal.patient(account: Account.ID(), patient: me)
            func facts(_ who: String) -> ResourceFacts? {
                who == "missing" ? nil : ResourceFacts(resourceID: "s1", owningPatient: who == "self" ? me : other)
            }
            let before = try await stores.audit.auditSize()
            do {
                let write: AuditedWrite<TriageSessionResource> = try await gate.authorizeWrite(
                    .update, "s1", stored: facts(stored), proposed: facts(proposed), by: principal, purpose: "test", requestID: "r1")
                #expect(stored == "self" && proposed == "self")
                #expect(write.entry.decision == .allowed && write.entry.resourceID == "s1" && write.entry.patientID == me.description)
                #expect(!write.entry.ruleIDs.isEmpty && Set(write.entry.ruleIDs).count == write.entry.ruleIDs.count)
                #expect(try await stores.audit.auditSize() == before, "an allowed write's entry waits for the write's transaction")
            } catch is AccessDenied {
                #expect(!(stored == "self" && proposed == "self"))
                #expect(try await stores.audit.auditSize() == before + 1)
                let entry = try AuditEntry(encoded: try #require(try await stores.audit.encodedEntry(at: LogIndex(before))))
                #expect(entry.resourceID == "s1")
                if stored == "other" {
                    #expect(entry.decision == .denied && entry.patientID == other.description)
                } else if proposed == "other" {
                    #expect(entry.decision == .denied && entry.patientID == other.description, "names whom the data would have moved to")
                } else {
                    #expect(entry.decision == .notFound)
                }
            }
        }
    }
}
