public import ConfideAudit
import ConfideCore
public import ConfidePolicy
public import ConfideStore
public import Foundation
import SQLKit

extension SQLStores: AuditStore {
    public func append(_ entries: [AuditEntry]) async throws -> [LogIndex] {
        try await backend.transaction { db in try await self.append(entries, on: db) }
    }

    /// Appends entries inside the caller's transaction on `db` (a write and its audit entry commit
    /// together). Takes the sequencer lock, held until that transaction ends.
    func append(_ entries: [AuditEntry], on db: any SQLDatabase) async throws -> [LogIndex] {
        let rows = entries.map { entry -> (encoded: String, leaf: String, entry: AuditEntry) in
            let bytes = entry.encoded()
            return (Data(bytes).base64EncodedString(), RFC6962.leafHash(bytes).hex, entry)
        }
        let lock = backend.sequencerLockStatement
        // INVARIANT: one sequencer. The next index is read and written inside the same locked
        // transaction, so indices are gap-free across instances; a rollback leaves no gap.
        if let lock { try await db.raw(SQLQueryString(lock)).run() }
        let last = try await db.raw("SELECT MAX(idx) AS last FROM audit_entries").first()?.decode(column: "last", as: Int64?.self)
        var next = (last ?? -1) + 1
        var indices: [LogIndex] = []
        indices.reserveCapacity(rows.count)
        // Many rows per statement (a group commit carries hundreds): 7 binds a row stays far below
        // SQLite's and PostgreSQL's bind limits.
        var start = 0
        while start < rows.count {
            let chunk = rows[start..<min(start + 256, rows.count)]
            var values: [SQLQueryString] = []
            values.reserveCapacity(chunk.count)
            for row in chunk {
                values.append(
                    """
                    (\(bind: next), \(bind: row.leaf), \(bind: row.encoded), \(bind: row.entry.time), \(bind: row.entry.actor),
                        \(bind: row.entry.patientID), \(bind: row.entry.decision.rawValue))
                    """)
                indices.append(LogIndex(UInt64(next)))
                next += 1
            }
            try await db.raw(
                "INSERT INTO audit_entries (idx, leaf_hash, entry, time, actor, patient_id, decision) VALUES "
                    + values.joined(separator: ", ")
            ).run()
            start += chunk.count
        }
        return indices
    }

    public func auditSize() async throws -> UInt64 {
        try await read { db in
            UInt64(try await db.raw("SELECT COUNT(*) AS n FROM audit_entries").first()?.decode(column: "n", as: Int64.self) ?? 0)
        }
    }

    public func encodedEntries(from start: UInt64, limit: Int) async throws -> [[UInt8]] {
        try await read { db in
            try await db.raw(
                "SELECT entry FROM audit_entries WHERE idx >= \(bind: Int64(start)) ORDER BY idx LIMIT \(bind: Int64(limit))"
            ).all().map { row in
                guard let data = Data(base64Encoded: try row.decode(column: "entry", as: String.self)) else { return [] }
                return Array(data)
            }
        }
    }

    public func leafHashes() async throws -> [MerkleHash] {
        try await read { db in try await db.raw("SELECT leaf_hash FROM audit_entries ORDER BY idx").all().map(Self.leafHash) }
    }

    public func leafHashes(from start: UInt64, limit: Int) async throws -> [MerkleHash] {
        try await read { db in
            try await db.raw(
                "SELECT leaf_hash FROM audit_entries WHERE idx >= \(bind: Int64(start)) ORDER BY idx LIMIT \(bind: Int64(max(limit, 0)))"
            ).all().map(Self.leafHash)
        }
    }

    public func entriesWithLeafHashes(from start: UInt64, limit: Int) async throws -> [(entry: [UInt8], leafHash: MerkleHash?)] {
        try await read { db in
            try await db.raw(
                """
                SELECT entry, leaf_hash FROM audit_entries WHERE idx >= \(bind: Int64(start)) ORDER BY idx LIMIT \(bind: Int64(max(limit, 0)))
                """
            ).all().map { row in
                let entry = Data(base64Encoded: try row.decode(column: "entry", as: String.self)).map(Array.init) ?? []
                return (entry, try Self.leafHash(row))
            }
        }
    }

    static func leafHash(_ row: any SQLRow) throws -> MerkleHash {
        guard let hash = MerkleHash(hex: try row.decode(column: "leaf_hash", as: String.self)) else { throw RowError(column: "leaf_hash") }
        return hash
    }

    public func storeCheckpoint(_ checkpoint: SignedCheckpoint, at: Date) async throws {
        let note = String(decoding: checkpoint.note, as: UTF8.self)
        do {
            try await read { db in
                try await db.raw(
                    """
                    INSERT INTO audit_checkpoints (size, note, created_at)
                    VALUES (\(bind: Int64(checkpoint.checkpoint.size)), \(bind: note), \(bind: at.epochMilliseconds))
                    """
                ).run()
            }
        } catch where backend.isUniqueViolation(error) {
            // Another instance published this size already.
        }
    }

    public func checkpointNotes() async throws -> [[UInt8]] {
        try await read { db in
            try await db.raw("SELECT note FROM audit_checkpoints ORDER BY size").all().map {
                Array(try $0.decode(column: "note", as: String.self).utf8)
            }
        }
    }

    public func latestCheckpointNote() async throws -> [UInt8]? {
        try await read { db in
            try await db.raw("SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1").first().map {
                Array(try $0.decode(column: "note", as: String.self).utf8)
            }
        }
    }

    public func encodedEntry(at index: LogIndex) async throws -> [UInt8]? {
        try await read { db in
            guard let row = try await db.raw("SELECT entry FROM audit_entries WHERE idx = \(bind: Int64(index.rawValue))").first() else {
                return nil
            }
            guard let data = Data(base64Encoded: try row.decode(column: "entry", as: String.self)) else { throw RowError(column: "entry") }
            return Array(data)
        }
    }

    public func auditEntryFacts(_ index: UInt64) async throws -> ResourceFacts? {
        try await read { db in
            guard let row = try await db.raw("SELECT patient_id FROM audit_entries WHERE idx = \(bind: Int64(index))").first() else {
                return nil
            }
            let patient = try row.decode(column: "patient_id", as: String?.self).flatMap(Patient.ID.init(string:))
            // An entry about nobody's data has no owner: only rules that need none can match.
            return ResourceFacts(resourceID: String(index), owningPatient: patient)
        }
    }

    public func searchEntries(_ scope: Scope<AuditEntryResource>, filter: AuditSearchFilter, before: UInt64?, limit: Int, scanLimit: Int)
        async throws -> (entries: [(LogIndex, AuditEntry)], scannedTo: UInt64?)
    {
        var conditions: [SQLQueryString] = [scope.predicate.sql(ScopeColumns(patient: "patient_id"))]
        if let p = filter.patient { conditions.append("patient_id = \(bind: p)") }
        if let a = filter.actor {
            // An account id matches it under every kind of principal, exactly (no pattern).
            let actors = a.contains(":") ? [a] : ["patient", "clinician", "practice-admin", "admin"].map { "\($0):\(a)" }
            conditions.append("actor IN (\(binds: actors))")
        }
        if let from = filter.from { conditions.append("time >= \(bind: from)") }
        if let to = filter.to { conditions.append("time < \(bind: to)") }
        conditions.append("idx < \(bind: Int64(clamping: before ?? UInt64(Int64.max)))")
        let whereClause = conditions.dropFirst().reduce(conditions[0]) { $0 + " AND " + $1 }
        let wanted = min(max(limit, 1), 500)
        return try await read { db in
            let rows = try await db.raw(
                "SELECT idx, entry FROM audit_entries WHERE \(whereClause) ORDER BY idx DESC LIMIT \(bind: Int64(max(scanLimit, wanted)))"
            ).all()
            var out: [(LogIndex, AuditEntry)] = []
            var last: UInt64?
            for row in rows {
                guard let data = Data(base64Encoded: try row.decode(column: "entry", as: String.self)) else { throw RowError(column: "entry") }
                let index = UInt64(try row.decode(column: "idx", as: Int64.self))
                last = index
                let entry = try AuditEntry(encoded: Array(data))
                if let t = filter.resourceType, entry.resourceType != t { continue }
                if let id = filter.resourceID, entry.resourceID != id { continue }
                out.append((LogIndex(index), entry))
                if out.count == wanted { break }
            }
            // Where a next page starts: after the last row looked at, unless the scan ran out of rows.
            let more = out.count == wanted || rows.count == max(scanLimit, wanted)
            return (out, more ? last : nil)
        }
    }

    public func accessLog(_ scope: Scope<AuditEntryResource>, before: UInt64?, limit: Int) async throws -> [(LogIndex, AuditEntry)] {
        // INVARIANT: nobody lists every patient's access log here: a scope without a patient
        // condition admits nothing.
        let predicate: SQLQueryString =
            scope.predicate == .constant(true) ? "1 = 0" : scope.predicate.sql(ScopeColumns(patient: "patient_id"))
        let upper = Int64(clamping: before ?? UInt64(Int64.max))
        return try await read { db in
            try await db.raw(
                """
                SELECT idx, entry FROM audit_entries WHERE \(predicate) AND idx < \(bind: upper)
                ORDER BY idx DESC LIMIT \(bind: Int64(min(max(limit, 1), 200)))
                """
            ).all().map { row in
                guard let data = Data(base64Encoded: try row.decode(column: "entry", as: String.self)) else { throw RowError(column: "entry") }
                return (LogIndex(UInt64(try row.decode(column: "idx", as: Int64.self))), try AuditEntry(encoded: Array(data)))
            }
        }
    }
}
