import ConfideAudit
import ConfideCore
import ConfidePolicy
import ConfideServer
import ConfideStore
import ConfideTesting
import Crypto
import Foundation
import Logging
import Synchronization
import Testing

/// Forwards to a real audit store and records how it is read: the size of every batch, and any
/// read of the whole log at once.
final class CountingAuditStore: AuditStore {
    let inner: any AuditStore
    let reads = Mutex<(largestBatch: Int, wholeLog: Int)>((0, 0))

    init(_ inner: any AuditStore) { self.inner = inner }

    func append(_ entries: [AuditEntry]) async throws -> [LogIndex] { try await inner.append(entries) }
    func auditSize() async throws -> UInt64 { try await inner.auditSize() }
    func encodedEntries(from start: UInt64, limit: Int) async throws -> [[UInt8]] {
        reads.withLock { $0.largestBatch = max($0.largestBatch, limit) }
        return try await inner.encodedEntries(from: start, limit: limit)
    }
    func leafHashes() async throws -> [MerkleHash] {
        reads.withLock { $0.wholeLog += 1 }
        return try await inner.leafHashes()
    }
    func leafHashes(from start: UInt64, limit: Int) async throws -> [MerkleHash] {
        reads.withLock { $0.largestBatch = max($0.largestBatch, limit) }
        return try await inner.leafHashes(from: start, limit: limit)
    }
    func storeCheckpoint(_ checkpoint: SignedCheckpoint, at: Date) async throws { try await inner.storeCheckpoint(checkpoint, at: at) }
    func checkpointNotes() async throws -> [[UInt8]] { try await inner.checkpointNotes() }
    func encodedEntry(at index: LogIndex) async throws -> [UInt8]? { try await inner.encodedEntry(at: index) }
    func searchEntries(_ scope: Scope<AuditEntryResource>, filter: AuditSearchFilter, before: UInt64?, limit: Int, scanLimit: Int)
        async throws -> (entries: [(LogIndex, AuditEntry)], scannedTo: UInt64?)
    {
        try await inner.searchEntries(scope, filter: filter, before: before, limit: limit, scanLimit: scanLimit)
    }
    func accessLog(_ scope: Scope<AuditEntryResource>, before: UInt64?, limit: Int) async throws -> [(LogIndex, AuditEntry)] {
        try await inner.accessLog(scope, before: before, limit: limit)
    }
}

@Suite("audit verify streams the log")
struct AuditCheckTests {
    func entry(_ n: Int) throws -> AuditEntry {
        try AuditEntry(
            time: 1_795_000_000_000 + Int64(n), actor: "system:test", action: "read", resourceType: "patient-record", resourceID: "r\(n)",
            patientID: nil, decision: .allowed, ruleIDs: ["rule.v1"], requestID: "req\(n)", purpose: "care")
    }

    @Test("verification reads the log in batches (never all of it), agrees with the in-memory verifier, and names a changed entry")
    func batched() async throws {
        try await TestDatabase.withStores { stores in
            let signer = try CheckpointSigner(keyName: "confide.test", privateKey: Curve25519.Signing.PrivateKey())
            // 47 entries with checkpoints at 10, 20 and 47 (batches of 7 straddle every checkpoint).
            for i in 0..<47 {
                _ = try await stores.audit.append([try entry(i)])
                if [10, 20, 47].contains(i + 1) {
                    let log = MerkleLog(encodedEntries: try await stores.audit.encodedEntries(from: 0, limit: 100))
                    try await stores.audit.storeCheckpoint(try signer.sign(try log.checkpoint(origin: "confide.test")), at: Date())
                }
            }
            let counting = CountingAuditStore(stores.audit)
            let clean = try await AuditCheck.verify(audit: counting, key: signer.verifier, origin: "confide.test", batch: 7)
            #expect(clean.isValid && clean.entryCount == 47 && clean.checkpointCount == 3, "\(clean.findings)")
            #expect(counting.reads.withLock { $0 } == (7, 0))
            let inMemory = AuditVerifier(origin: "confide.test", checkpointVerifier: signer.verifier).verify(
                entries: try await stores.audit.encodedEntries(from: 0, limit: 100), checkpoints: try await stores.audit.checkpointNotes(),
                storedLeafHashes: try await stores.audit.leafHashes())
            #expect(inMemory == clean)
            // The store's own one-query read (entries with their leaf hashes) gives the same report,
            // with batches small enough that checking splits across cores (512 and more).
            #expect(try await AuditCheck.verify(audit: stores.audit, key: signer.verifier, origin: "confide.test", batch: 7) == clean)
            #expect(try await AuditCheck.verify(audit: stores.audit, key: signer.verifier, origin: "confide.test") == clean)
            // Change entry 13 (leaving its stored leaf hash): both verifiers name it, and the same findings.
            var changed = try await stores.audit.encodedEntries(from: 13, limit: 1)[0]
            changed[changed.count - 1] ^= 0x01
            try await TestDatabase.execute(
                ["UPDATE audit_entries SET entry = '\(Data(changed).base64EncodedString())' WHERE idx = 13"], on: stores)
            let tampered = try await AuditCheck.verify(audit: counting, key: signer.verifier, origin: "confide.test", batch: 7)
            #expect(!tampered.isValid && tampered.firstBadIndex == LogIndex(13))
            let tamperedInMemory = AuditVerifier(origin: "confide.test", checkpointVerifier: signer.verifier).verify(
                entries: try await stores.audit.encodedEntries(from: 0, limit: 100), checkpoints: try await stores.audit.checkpointNotes(),
                storedLeafHashes: try await stores.audit.leafHashes())
            #expect(tamperedInMemory == tampered)
            #expect(try await AuditCheck.verify(audit: stores.audit, key: signer.verifier, origin: "confide.test", batch: 7) == tampered)
            #expect(counting.reads.withLock { $0.wholeLog } == 0)
        }
    }

    @Test("the checkpoint publisher reads only the leaves appended since its last interval, and its roots are the whole log's")
    func incrementalCheckpoints() async throws {
        try await TestDatabase.withStores { stores in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("confide-ckpt-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let key = try AuditSigningKey.generate(origin: "confide.test", into: dir + "/audit.key")
            let counting = CountingAuditStore(stores.audit)
            let publisher = CheckpointPublisher(audit: counting, key: key, logger: Logger(label: "test"))
            let before = try await stores.audit.auditSize()
            var sizes: [UInt64] = []
            for round in 0..<4 {
                for i in 0..<(round * 9 + 3) { _ = try await stores.audit.append([try entry(round * 100 + i)]) }
                let published = try #require(try await publisher.publish())
                let all = try await stores.audit.leafHashes(from: 0, limit: 100_000)
                #expect(published.size == UInt64(all.count) && published.rootHash == MerkleLog(leafHashes: all).rootHash)
                sizes.append(published.size)
            }
            #expect(try await publisher.publish() == nil)  // nothing new
            #expect(counting.reads.withLock { $0.wholeLog } == 0)
            // Another instance's larger checkpoint: this one does not publish a smaller one after it.
            let other = CheckpointPublisher(audit: stores.audit, key: key, logger: Logger(label: "test"))
            _ = try await stores.audit.append([try entry(999)])
            #expect(try await other.publish()?.size == sizes.last! + 1)
            #expect(try await publisher.publish() == nil)
            _ = try await stores.audit.append([try entry(1000)])
            #expect(try await publisher.publish()?.size == sizes.last! + 2)
            // And the whole log with its checkpoints verifies.
            let report = try await AuditCheck.verify(audit: stores.audit, key: key.signer.verifier, origin: "confide.test")
            #expect(report.isValid && report.entryCount == sizes.last! + 2 && before <= sizes[0])
        }
    }

    @Test("batches large enough to be checked on several cores give the in-memory verifier's report, and name a changed entry")
    func parallelBatches() async throws {
        try await TestDatabase.withStores { stores in
            let signer = try CheckpointSigner(keyName: "confide.test", privateKey: Curve25519.Signing.PrivateKey())
            for part in 0..<3 { _ = try await stores.audit.append(try (0..<400).map { try entry(part * 400 + $0) }) }
            let log = MerkleLog(encodedEntries: try await stores.audit.encodedEntries(from: 0, limit: 2_000))
            try await stores.audit.storeCheckpoint(try signer.sign(try log.checkpoint(origin: "confide.test")), at: Date())
            func inMemory() async throws -> AuditVerificationReport {
                AuditVerifier(origin: "confide.test", checkpointVerifier: signer.verifier).verify(
                    entries: try await stores.audit.encodedEntries(from: 0, limit: 2_000), checkpoints: try await stores.audit.checkpointNotes(),
                    storedLeafHashes: try await stores.audit.leafHashes())
            }
            let clean = try await AuditCheck.verify(audit: stores.audit, key: signer.verifier, origin: "confide.test", batch: 1_000)
            #expect(clean.isValid && clean.entryCount == 1_200)
            #expect(try await inMemory() == clean)
            var changed = try await stores.audit.encodedEntries(from: 777, limit: 1)[0]
            changed[changed.count - 1] ^= 0x01
            try await TestDatabase.execute(["UPDATE audit_entries SET entry = '\(Data(changed).base64EncodedString())' WHERE idx = 777"], on: stores)
            let tampered = try await AuditCheck.verify(audit: stores.audit, key: signer.verifier, origin: "confide.test", batch: 1_000)
            #expect(!tampered.isValid && tampered.firstBadIndex == LogIndex(777))
            #expect(try await inMemory() == tampered)
        }
    }
}
