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

    /// Verifies a whole log held in memory (tests, small logs). The same checks as
    /// `AuditStreamVerifier`, which this feeds.
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
        var stream = AuditStreamVerifier(origin: origin, checkpointVerifier: checkpointVerifier, checkpoints: checkpoints)
        for (i, data) in entries.enumerated() {
            stream.add(data, storedLeafHash: storedLeafHashes.flatMap { i < $0.count ? $0[i] : nil })
        }
        return stream.finish(storedLeafHashCount: storedLeafHashes.map { UInt64($0.count) })
    }
}

/// The same fsck over a log read in batches: it holds one batch, the checkpoints and O(log n)
/// subtree roots, never the log. Roots at every checkpoint size come from one compact range over
/// the stream. Two consecutive checkpoints count as consistent when equal sizes have equal roots,
/// the empty tree has the empty root, and otherwise both signed roots are the ones recomputed from
/// the stored entries. On an intact log that is what a recomputed consistency proof decides. When
/// both checkpoints already fail their root check, a proof recomputed from tampered entries may
/// still link them (it need not touch the changed leaves); this verifier then adds an
/// inconsistency finding too. Validity, the first bad index and the first bad checkpoint are the
/// same either way.
public struct AuditStreamVerifier: Sendable {
    struct Covered: Sendable {
        let position: Int
        let checkpoint: Checkpoint
        let matched: Bool
    }

    var malformed: [AuditVerificationReport.Finding] = []
    var leafMismatches: [AuditVerificationReport.Finding] = []
    var checkpointFindings: [AuditVerificationReport.Finding] = []
    /// The well-formed checkpoints, by size; `next` is the first not yet reached.
    var good: [(position: Int, checkpoint: Checkpoint)] = []
    var next = 0
    var covered: [Covered] = []
    var rootFindings: [AuditVerificationReport.Finding] = []
    var range = CompactRange()
    var lastGoodSize: UInt64 = 0
    let checkpointCount: Int

    /// Checks the checkpoint notes (few); entries follow with `add`.
    public init(origin: String, checkpointVerifier: CheckpointVerifier, checkpoints: [[UInt8]]) {
        checkpointCount = checkpoints.count
        for (position, note) in checkpoints.enumerated() {
            do {
                let signed = try checkpointVerifier.verify(note: note)
                guard signed.checkpoint.origin == origin else { throw AuditLogError.unexpectedOrigin }
                good.append((position, signed.checkpoint))
            } catch {
                checkpointFindings.append(.malformedCheckpoint(position: position, reason: String(describing: error)))
            }
        }
        good.sort { ($0.checkpoint.size, $0.position) < ($1.checkpoint.size, $1.position) }
        reachCheckpoints()
    }

    /// The number of entries added so far.
    public var count: UInt64 { range.size }

    /// What one entry's bytes say on their own: its leaf hash, and why it is malformed (if it is).
    /// Pure and independent of every other entry, so callers may check a batch on several cores
    /// and then `add` the results in log order.
    public struct CheckedEntry: Sendable {
        public let leafHash: MerkleHash
        public let problem: String?
    }

    public static func check(_ data: [UInt8]) -> CheckedEntry {
        var problem: String?
        do {
            // The decoder accepts only the canonical encoding (fixed-width integers, visible-ASCII
            // tokens, known markers, nothing trailing), so a decodable entry needs no re-encoding to
            // compare: `AuditEntryTests.canonical` shows every decodable byte string re-encodes to
            // itself.
            _ = try AuditEntry(encoded: data)
        } catch {
            problem = String(describing: error)
        }
        return CheckedEntry(leafHash: RFC6962.leafHash(data), problem: problem)
    }

    /// Adds the next entry's stored encoding, with the leaf hash the store kept for it (if any).
    public mutating func add(_ data: [UInt8], storedLeafHash: MerkleHash?) {
        add(Self.check(data), storedLeafHash: storedLeafHash)
    }

    /// Adds the next entry, already checked with `check`, in log order.
    public mutating func add(_ checked: CheckedEntry, storedLeafHash: MerkleHash?) {
        let index = LogIndex(range.size)
        if let problem = checked.problem { malformed.append(.malformedEntry(index, reason: problem)) }
        if let storedLeafHash, storedLeafHash != checked.leafHash { leafMismatches.append(.leafHashMismatch(index)) }
        range.append(checked.leafHash)
        reachCheckpoints()
    }

    /// Checks the root of every checkpoint whose size the stream has just reached.
    mutating func reachCheckpoints() {
        while next < good.count, good[next].checkpoint.size == range.size {
            let item = good[next]
            let matched = range.rootHash == item.checkpoint.rootHash
            if matched {
                lastGoodSize = item.checkpoint.size
            } else {
                rootFindings.append(.rootMismatch(position: item.position, size: item.checkpoint.size, suspectEntries: lastGoodSize..<item.checkpoint.size))
            }
            covered.append(Covered(position: item.position, checkpoint: item.checkpoint, matched: matched))
            next += 1
        }
    }

    /// The report, once every entry was added. `storedLeafHashCount`: how many leaf hashes the store
    /// kept (`nil` when it keeps none).
    public func finish(storedLeafHashCount: UInt64?) -> AuditVerificationReport {
        let logSize = range.size
        var findings = malformed
        if let stored = storedLeafHashCount, stored != logSize {
            findings.append(.leafHashCountMismatch(stored: stored, entries: logSize))
        }
        findings += leafMismatches + checkpointFindings + rootFindings
        for item in good[next...] {
            findings.append(.checkpointBeyondLog(position: item.position, size: item.checkpoint.size, logSize: logSize))
        }
        for (older, newer) in zip(covered, covered.dropFirst()) {
            let ok: Bool
            if older.checkpoint.size == newer.checkpoint.size {
                ok = older.checkpoint.rootHash == newer.checkpoint.rootHash
            } else if older.checkpoint.size == 0 {
                ok = older.checkpoint.rootHash == RFC6962.emptyRoot
            } else {
                ok = older.matched && newer.matched
            }
            if !ok { findings.append(.inconsistentCheckpoints(older: older.position, newer: newer.position)) }
        }
        let largest = covered.last?.checkpoint.size ?? 0
        return AuditVerificationReport(
            entryCount: logSize, checkpointCount: checkpointCount, findings: findings, uncheckpointedEntries: largest..<logSize)
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
