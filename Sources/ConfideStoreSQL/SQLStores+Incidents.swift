public import ConfideAudit
import ConfideCore
public import ConfidePolicy
public import ConfideStore
public import Foundation
import SQLKit

extension SQLStores: IncidentStore {
    public func raise(_ incidents: [IncidentRecord], audit entries: [AuditEntry]) async throws {
        guard !incidents.isEmpty || !entries.isEmpty else { return }
        try await backend.transaction { db in
            for i in incidents {
                try await db.raw(
                    """
                    INSERT INTO incidents (id, kind, detected_at, actor, patient_id, recorded_patient_id, resource_type, resource_id, action,
                        request_id, status)
                    VALUES (\(bind: i.id), \(bind: i.kind.rawValue), \(bind: i.detectedAt.epochMilliseconds), \(bind: i.actor),
                        \(bind: i.patient), \(bind: i.recordedPatient), \(bind: i.resourceType), \(bind: i.resourceID), \(bind: i.action),
                        \(bind: i.requestID), \(bind: i.status.rawValue))
                    """
                ).run()
            }
            _ = try await self.append(entries, on: db)
        }
    }

    public func incidents(_ scope: Scope<IncidentResource>, status: IncidentRecord.Status?, before: Int64?, limit: Int) async throws
        -> [IncidentRecord]
    {
        try await read { db in
            var where_: SQLQueryString = scope.predicate.sql(ScopeColumns())
            if let status { where_ = where_ + " AND status = \(bind: status.rawValue)" }
            if let before { where_ = where_ + " AND detected_at < \(bind: before)" }
            let rows = try await db.raw(
                "SELECT * FROM incidents WHERE \(where_) ORDER BY detected_at DESC, id DESC LIMIT \(bind: Int64(max(0, limit)))"
            ).all()
            return try rows.map(Self.incident)
        }
    }

    static func incident(_ row: any SQLRow) throws -> IncidentRecord {
        guard let kind = IncidentRecord.Kind(rawValue: try row.decode(column: "kind", as: String.self)) else { throw RowError(column: "kind") }
        guard let status = IncidentRecord.Status(rawValue: try row.decode(column: "status", as: String.self)) else {
            throw RowError(column: "status")
        }
        return IncidentRecord(
            id: try row.decode(column: "id", as: String.self), kind: kind, detectedAt: try row.ms("detected_at"),
            actor: try row.decode(column: "actor", as: String.self), patient: try row.decode(column: "patient_id", as: String?.self),
            recordedPatient: try row.decode(column: "recorded_patient_id", as: String?.self),
            resourceType: try row.decode(column: "resource_type", as: String.self),
            resourceID: try row.decode(column: "resource_id", as: String.self), action: try row.decode(column: "action", as: String.self),
            requestID: try row.decode(column: "request_id", as: String.self), status: status,
            acknowledgedBy: try row.decode(column: "acknowledged_by", as: String?.self), acknowledgedAt: try row.msOptional("acknowledged_at"))
    }

    public func incidentExists(_ id: String) async throws -> Bool {
        try await read { db in try await db.raw("SELECT 1 AS x FROM incidents WHERE id = \(bind: id)").first() != nil }
    }

    public func incident(_ grant: Grant<IncidentResource>) async throws -> IncidentRecord? {
        try await read { db in try await db.raw("SELECT * FROM incidents WHERE id = \(bind: grant.resourceID)").first().map(Self.incident) }
    }

    public func canaryPatients() async throws -> Set<String> {
        try await read { db in
            Set(try await db.raw("SELECT patient_id FROM canary_patients").all().map { try $0.decode(column: "patient_id", as: String.self) })
        }
    }

    public func addCanary(_ patient: String, at: Date) async throws {
        try await backend.transaction { db in
            guard try await db.raw("SELECT 1 AS x FROM canary_patients WHERE patient_id = \(bind: patient)").first() == nil else { return }
            try await db.raw("INSERT INTO canary_patients (patient_id, created_at) VALUES (\(bind: patient), \(bind: at.epochMilliseconds))").run()
        }
    }

    public func acknowledge(_ write: AuditedWrite<IncidentResource>, by: String, at: Date) async throws -> Bool {
        try check(write, [.update])
        return try await backend.transaction { db in
            let changed = try await db.raw(
                """
                UPDATE incidents SET status = 'acknowledged', acknowledged_by = \(bind: by), acknowledged_at = \(bind: at.epochMilliseconds)
                WHERE id = \(bind: write.grant.resourceID) AND status = 'open' RETURNING id
                """
            ).all().count == 1
            guard changed else { return false }
            _ = try await self.append([write.entry], on: db)
            return true
        }
    }

    public func suspendPatientAccount(_ write: AuditedWrite<IncidentResource>, account: String, at: Date) async throws -> Bool {
        try check(write, [.update])
        return try await backend.transaction { db in
            let changed = try await db.raw(
                """
                UPDATE accounts SET status = 'deactivated'
                WHERE id = \(bind: account) AND kind = 'patient' AND status = 'active' RETURNING id
                """
            ).all().count == 1
            guard changed else { return false }
            try await db.raw(
                "UPDATE sessions SET revoked_at = \(bind: at.epochMilliseconds) WHERE account_id = \(bind: account) AND revoked_at IS NULL"
            ).run()
            _ = try await self.append([write.entry], on: db)
            return true
        }
    }
}
