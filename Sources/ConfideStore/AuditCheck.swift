public import ConfideAudit

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
        while stream.count < size {
            let want = Int(min(UInt64(batch), size - stream.count))
            let entries = try await audit.encodedEntries(from: stream.count, limit: want)
            let leaves = try await audit.leafHashes(from: stream.count, limit: want)
            storedLeaves += UInt64(leaves.count)
            for (i, data) in entries.enumerated() { stream.add(data, storedLeafHash: i < leaves.count ? leaves[i] : nil) }
            if entries.count < want { break }  // fewer entries than the size said: the report names the gap
        }
        return stream.finish(storedLeafHashCount: storedLeaves)
    }
}
