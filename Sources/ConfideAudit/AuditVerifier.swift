/// The fsck of the audit log: recomputes everything from the stored entries and checks every signed
/// checkpoint against them (after tessera's `fsck`).
///
/// It checks that
/// - every stored encoding decodes canonically (`AuditEntry(encoded:)`),
/// - every stored leaf hash, when the store keeps them, equals the hash recomputed from the encoding,
/// - every checkpoint note is well-formed, signed by the log's key and names the log's origin,
/// - no checkpoint covers more entries than are stored (which would mean entries were removed),
/// - the root recomputed at every checkpoint size equals the signed root,
/// - consecutive checkpoints (by size) are linked by a consistency proof recomputed from the entries.
///
/// Under the collision resistance of SHA-256, changing any byte of an entry covered by a checkpoint, or any
/// byte of a checkpoint note, produces at least one finding. Entries after the largest checkpoint are
/// checked for well-formedness only, and reported as `uncheckpointedEntries`.
public struct AuditVerifier: Sendable {
    /// The origin every checkpoint must name.
    public let origin: String
    /// Checks checkpoint signatures.
    public let checkpointVerifier: CheckpointVerifier

    /// A verifier for the log called `origin`, signed with the key of `checkpointVerifier`.
    public init(origin: String, checkpointVerifier: CheckpointVerifier) {
        self.origin = origin
        self.checkpointVerifier = checkpointVerifier
    }

    /// Verifies a whole log.
    /// - Parameters:
    ///   - entries: every stored entry encoding, in index order.
    ///   - checkpoints: every stored signed checkpoint note, in any order.
    ///   - storedLeafHashes: the leaf hashes the store kept, if it keeps them; they let a changed entry be
    ///     pinpointed to its index rather than to the range between two checkpoints.
    public func verify(
        entries: [[UInt8]],
        checkpoints: [[UInt8]],
        storedLeafHashes: [MerkleHash]? = nil
    ) -> AuditVerificationReport {
        var findings: [AuditVerificationReport.Finding] = []

        // 1. Entries and leaf hashes.
        var leafHashes: [MerkleHash] = []
        leafHashes.reserveCapacity(entries.count)
        for (i, data) in entries.enumerated() {
            let index = LogIndex(UInt64(i))
            do {
                let entry = try AuditEntry(encoded: data)
                if entry.encoded() != data { findings.append(.malformedEntry(index, reason: "not canonical")) }
            } catch {
                findings.append(.malformedEntry(index, reason: String(describing: error)))
            }
            leafHashes.append(RFC6962.leafHash(data))
        }
        if let storedLeafHashes {
            if storedLeafHashes.count != leafHashes.count {
                findings.append(
                    .leafHashCountMismatch(stored: UInt64(storedLeafHashes.count), entries: UInt64(entries.count))
                )
            }
            for (i, (stored, computed)) in zip(storedLeafHashes, leafHashes).enumerated() where stored != computed {
                findings.append(.leafHashMismatch(LogIndex(UInt64(i))))
            }
        }

        // 2. Checkpoint notes.
        var good: [(position: Int, checkpoint: Checkpoint)] = []
        for (position, note) in checkpoints.enumerated() {
            do {
                let signed = try checkpointVerifier.verify(note: note)
                guard signed.checkpoint.origin == origin else { throw AuditLogError.unexpectedOrigin }
                good.append((position, signed.checkpoint))
            } catch {
                findings.append(.malformedCheckpoint(position: position, reason: String(describing: error)))
            }
        }
        good.sort { ($0.checkpoint.size, $0.position) < ($1.checkpoint.size, $1.position) }

        // 3. Roots at every checkpoint size, in one pass over the leaves.
        let logSize = UInt64(leafHashes.count)
        var range = CompactRange()
        var lastGoodSize: UInt64 = 0
        var covered: [(position: Int, checkpoint: Checkpoint)] = []
        for item in good {
            let size = item.checkpoint.size
            guard size <= logSize else {
                findings.append(.checkpointBeyondLog(position: item.position, size: size, logSize: logSize))
                continue
            }
            while range.size < size { range.append(leafHashes[Int(range.size)]) }
            if range.rootHash == item.checkpoint.rootHash {
                lastGoodSize = size
            } else {
                findings.append(.rootMismatch(position: item.position, size: size, suspectEntries: lastGoodSize..<size))
            }
            covered.append(item)
        }

        // 4. Consistency between consecutive checkpoints, with proofs recomputed from the leaves.
        for (older, newer) in zip(covered, covered.dropFirst()) {
            let ok: Bool
            do {
                let proof = try RFC6962.consistencyProof(
                    from: older.checkpoint.size,
                    to: newer.checkpoint.size,
                    leafHashes: leafHashes
                )
                ok = RFC6962.verifyConsistency(
                    oldSize: older.checkpoint.size,
                    newSize: newer.checkpoint.size,
                    oldRoot: older.checkpoint.rootHash,
                    newRoot: newer.checkpoint.rootHash,
                    proof: proof
                )
            } catch {
                ok = false
            }
            if !ok { findings.append(.inconsistentCheckpoints(older: older.position, newer: newer.position)) }
        }

        let largest = covered.last?.checkpoint.size ?? 0
        return AuditVerificationReport(
            entryCount: logSize,
            checkpointCount: checkpoints.count,
            findings: findings,
            uncheckpointedEntries: largest..<logSize
        )
    }
}

/// What `AuditVerifier` found. Empty `findings` means the log verified.
public struct AuditVerificationReport: Hashable, Sendable {
    /// One problem. Positions count checkpoint notes in the order they were given.
    public enum Finding: Hashable, Sendable {
        /// The stored encoding at this index does not decode, or not canonically.
        case malformedEntry(LogIndex, reason: String)
        /// The stored leaf hash at this index is not the hash of the stored encoding.
        case leafHashMismatch(LogIndex)
        /// The store kept a different number of leaf hashes than entries.
        case leafHashCountMismatch(stored: UInt64, entries: UInt64)
        /// The checkpoint note is malformed, unsigned by the log's key, or from another log.
        case malformedCheckpoint(position: Int, reason: String)
        /// The checkpoint commits to more entries than are stored: entries were removed.
        case checkpointBeyondLog(position: Int, size: UInt64, logSize: UInt64)
        /// The root recomputed at the checkpoint's size differs from the signed root; some entry in
        /// `suspectEntries` (after the last checkpoint that matched) was changed.
        case rootMismatch(position: Int, size: UInt64, suspectEntries: Range<UInt64>)
        /// No consistency proof links these two consecutive checkpoints.
        case inconsistentCheckpoints(older: Int, newer: Int)
    }

    /// How many entries were stored.
    public let entryCount: UInt64
    /// How many checkpoint notes were given.
    public let checkpointCount: Int
    /// Every problem found, entries first, then checkpoints.
    public let findings: [Finding]
    /// The entries after the largest checkpoint that was checked: well-formed, but not yet committed to.
    public let uncheckpointedEntries: Range<UInt64>

    /// True when nothing was found.
    public var isValid: Bool { findings.isEmpty }

    /// The lowest index known or suspected to be bad.
    ///
    /// Exact findings name their index: a malformed entry, a leaf hash mismatch, or the first missing index
    /// when a checkpoint covers more entries than are stored. A root mismatch names only a range; its start
    /// counts when no exact finding falls inside that range (with stored leaf hashes, a changed entry is
    /// always found exactly).
    public var firstBadIndex: LogIndex? {
        var exact: [UInt64] = []
        var ranges: [Range<UInt64>] = []
        for finding in findings {
            switch finding {
            case .malformedEntry(let index, _), .leafHashMismatch(let index): exact.append(index.rawValue)
            case .leafHashCountMismatch(let stored, let entries): exact.append(min(stored, entries))
            case .checkpointBeyondLog(_, _, let logSize): exact.append(logSize)
            case .rootMismatch(_, _, let suspect): ranges.append(suspect)
            case .malformedCheckpoint, .inconsistentCheckpoints: break
            }
        }
        let unexplained = ranges.filter { range in !exact.contains { range.contains($0) } }.map(\.lowerBound)
        return (exact + unexplained).min().map(LogIndex.init(_:))
    }

    /// The lowest position of a checkpoint note that failed any check.
    public var firstBadCheckpoint: Int? {
        findings.compactMap { finding -> Int? in
            switch finding {
            case .malformedCheckpoint(let position, _), .checkpointBeyondLog(let position, _, _),
                .rootMismatch(let position, _, _):
                position
            case .inconsistentCheckpoints(let older, let newer): min(older, newer)
            case .malformedEntry, .leafHashMismatch, .leafHashCountMismatch: nil
            }
        }.min()
    }
}
