import ConfideAudit
public import ConfideCore
public import ConfidePolicy
public import ConfideStore
public import Foundation
import SQLKit

extension SQLRow {
    func breachNotice() throws -> BreachNoticeRecord {
        guard let kind = BreachNoticeRecord.Kind(rawValue: try decode(column: "kind", as: String.self)) else { throw RowError(column: "kind") }
        guard let status = BreachNoticeRecord.Status(rawValue: try decode(column: "status", as: String.self)) else {
            throw RowError(column: "status")
        }
        return BreachNoticeRecord(
            id: try decode(column: "id", as: String.self), kind: kind,
            patient: try decode(column: "patient_id", as: String?.self).flatMap { Patient.ID(string: $0) },
            subject: try decode(column: "subject", as: String.self), body: try decode(column: "body", as: String.self), status: status,
            windowFrom: try ms("window_from"), windowTo: try ms("window_to"), createdAt: try ms("created_at"), updatedAt: try ms("updated_at"),
            updatedBy: try decode(column: "updated_by", as: String?.self), sentAt: try msOptional("sent_at"),
            sentBy: try decode(column: "sent_by", as: String?.self), version: Int(try decode(column: "version", as: Int64.self)))
    }
}

extension SQLStores: BreachNoticeStore {
    public func noticeFacts(_ id: String) async throws -> ResourceFacts? {
        try await read { db in
            guard let row = try await db.raw("SELECT patient_id, status FROM breach_notices WHERE id = \(bind: id)").first() else { return nil }
            var facts = ResourceFacts(resourceID: id, owningPatient: try row.decode(column: "patient_id", as: String?.self).flatMap { Patient.ID(string: $0) })
            facts.signed = try row.decode(column: "status", as: String.self) == BreachNoticeRecord.Status.sent.rawValue
            return facts
        }
    }

    public func createNotices(_ notices: [BreachNoticeRecord], writes: [AuditedWrite<BreachNoticeResource>]) async throws {
        for (n, w) in zip(notices, writes) { try check(w, [.create], id: n.id) }
        guard notices.count == writes.count else { throw StoreError(.conflict) }
        try await backend.transaction { db in
            for n in notices {
                try await db.raw(
                    """
                    INSERT INTO breach_notices (id, kind, patient_id, subject, body, status, window_from, window_to, created_at, updated_at, version)
                    VALUES (\(bind: n.id), \(bind: n.kind.rawValue), \(bind: n.patient?.description), \(bind: n.subject), \(bind: n.body),
                        'draft', \(bind: n.windowFrom.epochMilliseconds), \(bind: n.windowTo.epochMilliseconds), \(bind: n.createdAt.epochMilliseconds),
                        \(bind: n.createdAt.epochMilliseconds), 1)
                    """
                ).run()
            }
            _ = try await self.append(writes.map(\.entry), on: db)
        }
    }

    public func notices(_ scope: Scope<BreachNoticeResource>, limit: Int) async throws -> [BreachNoticeRecord] {
        let predicate = scope.predicate.sql(ScopeColumns(patient: "patient_id", signed: "(CASE WHEN status = 'sent' THEN 1 ELSE 0 END)"))
        return try await read { db in
            try await db.raw(
                """
                SELECT * FROM breach_notices WHERE \(predicate) ORDER BY created_at DESC, id LIMIT \(bind: Int64(min(max(limit, 1), 500)))
                """
            ).all().map { try $0.breachNotice() }
        }
    }

    public func notice(_ grant: Grant<BreachNoticeResource>) async throws -> BreachNoticeRecord? {
        try await read { db in
            try await db.raw("SELECT * FROM breach_notices WHERE id = \(bind: grant.resourceID)").first()?.breachNotice()
        }
    }

    public func recipient(_ grant: Grant<BreachNoticeResource>) async throws -> Account.ID? {
        try await read { db in
            try await db.raw(
                "SELECT p.account_id FROM breach_notices n JOIN patients p ON p.id = n.patient_id WHERE n.id = \(bind: grant.resourceID)"
            ).first()?.decode(column: "account_id", as: String?.self).flatMap { Account.ID(string: $0) }
        }
    }

    public func editNotice(
        subject: String, body: String, by: String, at: Date, expectedVersion: Int, write: AuditedWrite<BreachNoticeResource>
    ) async throws -> Bool {
        try check(write, [.update])
        return try await backend.transaction { db in
            let changed = try await db.raw(
                """
                UPDATE breach_notices SET subject = \(bind: subject), body = \(bind: body), updated_by = \(bind: by),
                    updated_at = \(bind: at.epochMilliseconds), version = version + 1
                WHERE id = \(bind: write.grant.resourceID) AND status = 'draft' AND version = \(bind: Int64(expectedVersion)) RETURNING id
                """
            ).all().count == 1
            guard changed else { return false }
            _ = try await self.append([write.entry], on: db)
            return true
        }
    }

    public func sendNotice(by: String, at: Date, notification: NotificationRecord?, email: OutgoingEmail?, write: AuditedWrite<BreachNoticeResource>)
        async throws -> Bool
    {
        try check(write, [.update])
        return try await backend.transaction { db in
            let changed = try await db.raw(
                """
                UPDATE breach_notices SET status = 'sent', sent_by = \(bind: by), sent_at = \(bind: at.epochMilliseconds), version = version + 1
                WHERE id = \(bind: write.grant.resourceID) AND status = 'draft' RETURNING id
                """
            ).all().count == 1
            guard changed else { return false }
            if let notification { try await db.raw(insertNotificationSQL(notification)).run() }
            if let email { try await db.raw(insertEmailSQL(email)).run() }
            _ = try await self.append([write.entry], on: db)
            return true
        }
    }
}
