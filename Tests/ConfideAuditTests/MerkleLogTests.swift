import ConfideAudit
import PropertyBased
import Testing

@Suite("the in-memory Merkle log")
struct MerkleLogTests {
    @Test("append returns consecutive indices from zero")
    func indices() {
        var log = MerkleLog()
        for i in 0..<10 { #expect(log.append(sampleEntry(i)) == LogIndex(UInt64(i))) }
        #expect(log.size == 10)
        #expect(log.leafHashes == (0..<10).map { RFC6962.leafHash(sampleEntry($0).encoded()) })
    }

    @Test("the incremental root equals the recursive tree hash at every size")
    func incrementalRoot() throws {
        var log = MerkleLog()
        for n in 1...200 {
            log.append(leafHash: sampleLeaves[n - 1])
            #expect(log.rootHash == RFC6962.rootHash(leafHashes: Array(sampleLeaves.prefix(n))))
        }
    }

    @Test("appended entries are proven included, and every checkpoint is consistent with the next")
    func appendAndVerify() async throws {
        await propertyCheck(count: 30, input: entryGen.array(of: 1...40), Gen.int(in: 0...1000)) { entries, pick in
            var log = MerkleLog()
            var checkpoints: [Checkpoint] = []
            for entry in entries {
                let index = log.append(entry)
                checkpoints.append(try log.checkpoint(origin: origin))
                let proof = try log.inclusionProof(for: index)
                #expect(proof.verify(entry: entry, root: log.rootHash))
            }
            let i = pick % entries.count
            let proof = try log.inclusionProof(for: LogIndex(UInt64(i)))
            #expect(proof.verify(entry: entries[i], root: log.rootHash))
            let other = entries[(i + 1) % entries.count]
            if other != entries[i] { #expect(!proof.verify(entry: other, root: log.rootHash)) }
            for (old, new) in zip(checkpoints, checkpoints.dropFirst()) {
                #expect(try log.consistencyProof(from: old.size, to: new.size).verify(old: old, new: new))
            }
            // A store feeding back its leaf hashes (or its encodings) rebuilds the same log.
            #expect(MerkleLog(leafHashes: log.leafHashes) == log)
            #expect(MerkleLog(encodedEntries: entries.map { $0.encoded() }) == log)
        }
    }

    @Test("proofs and roots beyond the log are refused")
    func outOfRange() {
        var log = MerkleLog()
        log.append(sampleEntry(0))
        #expect(throws: AuditLogError.self) { try log.inclusionProof(for: LogIndex(1)) }
        #expect(throws: AuditLogError.self) { try log.rootHash(size: 2) }
        #expect(throws: AuditLogError.self) { try log.consistencyProof(from: 1, to: 2) }
        #expect(throws: AuditLogError.self) { try log.checkpoint(origin: "") }
    }
}
