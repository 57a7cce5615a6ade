public import ConfideAudit
import Foundation

/// `confide audit verify`: recomputes the whole tree from the stored entries and checks every
/// checkpoint against it.
public enum AuditCheck {

    /// Verifies the whole log in batches of `batch` entries: memory holds one batch, never the log.
    /// On a live server it checks a snapshot: the checkpoints first, then the entries up to the size
    /// read after them (every checkpoint is within it), so appends meanwhile are not mistaken for
    /// tampering.
    public static func verify(audit: any AuditStore, key: CheckpointVerifier, origin: String, batch: Int = 5_000) async throws
        -> AuditVerificationReport
    {
        var stream = AuditStreamVerifier(origin: origin, checkpointVerifier: key, checkpoints: try await audit.checkpointNotes())
        let size = try await audit.auditSize()
        var storedLeaves: UInt64 = 0
        @Sendable func fetch(_ start: UInt64) async throws -> [(entry: [UInt8], leafHash: MerkleHash?)] {
            guard start < size else { return [] }
            return try await audit.entriesWithLeafHashes(from: start, limit: Int(min(UInt64(batch), size - start)))
        }
        var rows = try await fetch(0)
        while !rows.isEmpty {
            let complete = rows.count >= Int(min(UInt64(batch), size - stream.count))
            let following = stream.count + UInt64(rows.count)
            // The next batch is read while this one is checked (on every core), then added in order.
            async let upcoming = complete ? fetch(following) : []
            let checked = await checkAll(rows.map(\.entry))
            for (row, entry) in zip(rows, checked) {
                if row.leafHash != nil { storedLeaves += 1 }
                stream.add(entry, storedLeafHash: row.leafHash)
            }
            rows = try await upcoming  // fewer entries than the size said: the report names the gap
        }
        return stream.finish(storedLeafHashCount: storedLeaves)
    }

    /// `AuditStreamVerifier.check` over a batch, split across the cores, in order.
    static func checkAll(_ entries: [[UInt8]]) async -> [AuditStreamVerifier.CheckedEntry] {
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        guard parts > 1, entries.count >= 512 else { return entries.map(AuditStreamVerifier.check) }
        let chunk = (entries.count + parts - 1) / parts
        return await withTaskGroup(of: (Int, [AuditStreamVerifier.CheckedEntry]).self) { group in
            for part in 0..<parts {
                let slice = entries[min(entries.count, part * chunk)..<min(entries.count, (part + 1) * chunk)]
                group.addTask { (part, slice.map(AuditStreamVerifier.check)) }
            }
            var results = [[AuditStreamVerifier.CheckedEntry]](repeating: [], count: parts)
            for await (part, checked) in group { results[part] = checked }
            return results.flatMap { $0 }
        }
    }
}
