import ConfideAudit
import PropertyBased
import Testing

/// A log of `count` sample entries with signed checkpoints at `checkpointSizes`.
struct SampleLog {
    let entries: [[UInt8]]
    let checkpoints: [[UInt8]]
    let log: MerkleLog

    init(count: Int, checkpointSizes: [Int], entry: (Int) -> AuditEntry = sampleEntry) throws {
        let signer = try CheckpointSigner(keyName: origin, privateKey: fixedPrivateKey)
        let entries = (0..<count).map { entry($0).encoded() }
        let log = MerkleLog(encodedEntries: entries)
        self.entries = entries
        self.log = log
        self.checkpoints = try checkpointSizes.map { size in
            try signer.sign(Checkpoint(origin: origin, size: UInt64(size), rootHash: log.rootHash(size: UInt64(size))))
                .note
        }
    }
}

@Suite("the audit log verifier")
struct AuditVerifierTests {
    let verifier = AuditVerifier(
        origin: origin,
        checkpointVerifier: try! CheckpointSigner(keyName: origin, privateKey: fixedPrivateKey).verifier
    )

    @Test("an untouched log verifies, and entries after the last checkpoint are reported as such")
    func clean() throws {
        let sample = try SampleLog(count: 20, checkpointSizes: [0, 1, 7, 7, 16])
        let report = verifier.verify(
            entries: sample.entries,
            checkpoints: sample.checkpoints,
            storedLeafHashes: sample.log.leafHashes
        )
        #expect(report.isValid)
        #expect(report.findings == [])
        #expect(report.uncheckpointedEntries == 16..<20)
        #expect(report.firstBadIndex == nil && report.firstBadCheckpoint == nil)
        #expect(verifier.verify(entries: [], checkpoints: []).isValid)
    }

    @Test("flipping any byte of any entry or checkpoint of a small log is reported")
    func exhaustiveFlips() throws {
        // Short entries keep the number of (slow, in debug builds) signature checks down.
        let sample = try SampleLog(count: 5, checkpointSizes: [3, 5]) { i in
            try! AuditEntry(
                time: Int64(i),
                actor: "p:\(i)",
                action: "read",
                resourceType: "P",
                resourceID: "\(i)",
                patientID: i % 2 == 0 ? "\(i)" : nil,
                decision: .allowed,
                ruleIDs: ["r"],
                requestID: "q",
                purpose: ""
            )
        }
        for (i, entry) in sample.entries.enumerated() {
            for position in entry.indices {
                var entries = sample.entries
                entries[i] = flipped(entry, at: position, mask: 0x01)
                let report = verifier.verify(entries: entries, checkpoints: sample.checkpoints)
                #expect(!report.isValid)
                let expected: UInt64 = i < 3 ? 0 : 3
                #expect(report.firstBadIndex.map(\.rawValue).map { $0 >= expected && $0 <= UInt64(i) } == true)
                let exact = verifier.verify(
                    entries: entries,
                    checkpoints: sample.checkpoints,
                    storedLeafHashes: sample.log.leafHashes
                )
                #expect(exact.firstBadIndex == LogIndex(UInt64(i)))
            }
        }
        // Both notes have the same shape, so flipping every byte of the newer one covers every kind of byte.
        for (c, note) in sample.checkpoints.enumerated() where c == 1 {
            for position in note.indices {
                var checkpoints = sample.checkpoints
                checkpoints[c] = flipped(note, at: position, mask: 0x01)
                let report = verifier.verify(entries: sample.entries, checkpoints: checkpoints)
                #expect(report.firstBadCheckpoint == c)
                #expect(report.firstBadIndex == nil)
            }
        }
    }

    @Test("flipping a random byte of a random entry or checkpoint is reported")
    func randomFlips() async throws {
        await propertyCheck(
            count: 60,
            input: Gen.int(in: 1...60),
            Gen.int(in: 0...1_000_000),
            Gen.int(in: 0...1_000_000),
            Gen.uint8(in: 1...255),
            Gen.bool
        ) { count, pickA, pickB, mask, flipEntry in
            let middle = pickA % count
            let sample = try SampleLog(count: count, checkpointSizes: [middle, count])
            if flipEntry {
                let i = pickB % count
                var entries = sample.entries
                entries[i] = flipped(entries[i], at: (pickB / count) % entries[i].count, mask: mask)
                let report = verifier.verify(entries: entries, checkpoints: sample.checkpoints)
                #expect(!report.isValid)
                #expect(report.firstBadIndex.map { $0.rawValue <= UInt64(i) } == true)
                let exact = verifier.verify(
                    entries: entries,
                    checkpoints: sample.checkpoints,
                    storedLeafHashes: sample.log.leafHashes
                )
                #expect(exact.firstBadIndex == LogIndex(UInt64(i)))
            } else {
                let c = pickA % 2
                var checkpoints = sample.checkpoints
                checkpoints[c] = flipped(checkpoints[c], at: pickB % checkpoints[c].count, mask: mask)
                let report = verifier.verify(entries: sample.entries, checkpoints: checkpoints)
                #expect(report.firstBadCheckpoint == c)
            }
        }
    }

    @Test("removing, reordering or inserting entries is reported")
    func structuralTampering() throws {
        let sample = try SampleLog(count: 10, checkpointSizes: [4, 10])
        let truncated = verifier.verify(entries: Array(sample.entries.dropLast()), checkpoints: sample.checkpoints)
        #expect(truncated.findings.contains(.checkpointBeyondLog(position: 1, size: 10, logSize: 9)))
        #expect(truncated.firstBadIndex == LogIndex(9))

        var swapped = sample.entries
        swapped.swapAt(5, 6)
        let reordered = verifier.verify(entries: swapped, checkpoints: sample.checkpoints)
        #expect(reordered.findings.contains(.rootMismatch(position: 1, size: 10, suspectEntries: 4..<10)))
        #expect(reordered.findings.contains(.inconsistentCheckpoints(older: 0, newer: 1)))

        var inserted = sample.entries
        inserted.insert(sampleEntry(99).encoded(), at: 2)
        let grown = verifier.verify(entries: inserted, checkpoints: sample.checkpoints)
        #expect(grown.firstBadIndex == LogIndex(0))
        #expect(grown.firstBadCheckpoint == 0)
    }

    @Test("a checkpoint from another origin or key is reported, and stored leaf hashes are cross-checked")
    func foreignCheckpoints() throws {
        let sample = try SampleLog(count: 3, checkpointSizes: [3])
        let otherOrigin = try CheckpointSigner(keyName: origin, privateKey: fixedPrivateKey)
            .sign(Checkpoint(origin: "other.example/audit", size: 3, rootHash: sample.log.rootHash)).note
        let report = verifier.verify(entries: sample.entries, checkpoints: sample.checkpoints + [otherOrigin])
        #expect(report.firstBadCheckpoint == 1)
        #expect(
            report.findings == [
                .malformedCheckpoint(position: 1, reason: String(describing: AuditLogError.unexpectedOrigin))
            ]
        )

        let hashes = verifier.verify(
            entries: sample.entries,
            checkpoints: sample.checkpoints,
            storedLeafHashes: Array(sample.log.leafHashes.dropLast())
        )
        #expect(hashes.findings == [.leafHashCountMismatch(stored: 2, entries: 3)])
    }
}
