import ConfideAudit
public import ConfideCore
public import ConfidePolicy
public import ConfideStore
public import Foundation
import SQLKit

extension SQLRow {
    func callSeat() throws -> CallSeat {
        CallSeat(
            consultation: try id("consultation_id"), role: try decode(column: "role", as: String.self), account: try id("account_id"),
            connection: try decode(column: "connection_id", as: String.self), connected: try decode(column: "connected", as: Int64.self) != 0,
            leaseUntil: try ms("lease_until"), mode: try decode(column: "mode", as: String.self),
            muted: try decode(column: "muted", as: Int64.self) != 0, updatedAt: try ms("updated_at"))
    }

    func callChatLine() throws -> CallChatLine {
        CallChatLine(
            id: try decode(column: "id", as: String.self), consultation: try id("consultation_id"), role: try decode(column: "role", as: String.self),
            author: try id("author"), text: try decode(column: "text", as: String.self), at: try ms("at"))
    }
}

/// The chat columns a scope's predicate refers to: a line's patient, clinician and practice are
/// its consultation's (`c`), the same ground truth as its facts.
let messageColumns = ScopeColumns(patient: "c.patient_id", clinician: "c.clinician_id", practice: "c.practice_id", consultation: "m.consultation_id")

/// Rolls a chat line back when the rows no longer bind it to its consultation.
private struct ChatLineRefused: Error {}

/// Rolls a seat claim back without writing anything.
private struct SeatOccupied: Error {}

extension SQLStores: CallStore {
    /// A grant or write for call content must be a `join` of the consultation it names.
    func checkJoin(_ grant: Grant<ConsultationResource>) throws {
        guard grant.action == .join else { throw StoreError(.capabilityMismatch) }
    }

    func callEvent(_ db: any SQLDatabase, _ write: AuditedWrite<ConsultationResource>, role: String, event: String, detail: String, at: Date)
        async throws
    {
        guard let account = write.grant.principal.account else { throw StoreError(.capabilityMismatch) }
        try await db.raw(
            """
            INSERT INTO call_events (consultation_id, at, role, account_id, event, detail)
            VALUES (\(bind: write.grant.resourceID), \(bind: at.epochMilliseconds), \(bind: role), \(bind: account.description),
                \(bind: event), \(bind: detail))
            """
        ).run()
    }

    public func claimSeat(
        role: String, account: Account.ID, connection: String, resumeHash: String, presentedResumeHash: String?, mode: String, muted: Bool,
        at: Date, leaseUntil: Date, write: AuditedWrite<ConsultationResource>
    ) async throws -> SeatClaim {
        try check(write, [.join])
        let id = write.grant.resourceID
        do {
            return try await audited(write) { db in
                // One claim at a time across instances (PostgreSQL: the audit sequencer's lock).
                try await self.lockClinicianSlots(db)
                let current = try await db.raw("SELECT * FROM call_seats WHERE consultation_id = \(bind: id) AND role = \(bind: role)")
                    .first()?.callSeat()
                var replaced: String?
                var resumed = false
                if let current, current.isLive(at: at) {
                    let stored = try await db.raw(
                        "SELECT resume_hash FROM call_seats WHERE consultation_id = \(bind: id) AND role = \(bind: role)"
                    ).first()?.decode(column: "resume_hash", as: String.self)
                    // INVARIANT: a live seat changes hands only to the holder of its resume token.
                    guard let presentedResumeHash, let stored, constantTimeEquals(stored, presentedResumeHash) else { throw SeatOccupied() }
                    replaced = current.connection
                    resumed = true
                }
                try await db.raw("DELETE FROM call_seats WHERE consultation_id = \(bind: id) AND role = \(bind: role)").run()
                try await db.raw(
                    """
                    INSERT INTO call_seats (consultation_id, role, account_id, connection_id, resume_hash, connected, lease_until, mode, muted, updated_at)
                    VALUES (\(bind: id), \(bind: role), \(bind: account.description), \(bind: connection), \(bind: resumeHash), 1,
                        \(bind: leaseUntil.epochMilliseconds), \(bind: mode), \(bind: muted.flag), \(bind: at.epochMilliseconds))
                    """
                ).run()
                try await self.callEvent(db, write, role: role, event: "joined", detail: resumed ? "resumed" : "", at: at)
                return .claimed(replaced: replaced)
            }
        } catch is SeatOccupied {
            return .occupied
        }
    }

    public func renewSeat(consultation: Consultation.ID, role: String, connection: String, leaseUntil: Date) async throws -> Bool {
        try await backend.withDatabase { db in
            try await db.raw(
                """
                UPDATE call_seats SET lease_until = \(bind: leaseUntil.epochMilliseconds)
                WHERE consultation_id = \(bind: consultation.description) AND role = \(bind: role)
                AND connection_id = \(bind: connection) AND connected = 1 RETURNING role
                """
            ).all().count == 1
        }
    }

    /// Applies `change` to the seat this connection holds, with a call event; `false` (nothing
    /// written) when another connection holds it now.
    func seatChange(
        _ write: AuditedWrite<ConsultationResource>, role: String, connection: String, set: SQLQueryString, event: String, detail: String, at: Date
    ) async throws -> Bool {
        try check(write, [.join])
        let id = write.grant.resourceID
        do {
            return try await audited(write) { db in
                let changed = try await db.raw(
                    """
                    UPDATE call_seats SET \(set), updated_at = \(bind: at.epochMilliseconds)
                    WHERE consultation_id = \(bind: id) AND role = \(bind: role) AND connection_id = \(bind: connection) RETURNING role
                    """
                ).all()
                guard changed.count == 1 else { throw StoreError(.conflict) }
                try await self.callEvent(db, write, role: role, event: event, detail: detail, at: at)
                return true
            }
        } catch let error as StoreError where error.code == .conflict {
            return false
        }
    }

    public func leaveSeat(role: String, connection: String, reason: String, at: Date, write: AuditedWrite<ConsultationResource>) async throws
        -> Bool
    {
        try await seatChange(write, role: role, connection: connection, set: "connected = 0", event: "left", detail: reason, at: at)
    }

    public func changeMedia(
        role: String, connection: String, mode: String, muted: Bool, at: Date, write: AuditedWrite<ConsultationResource>
    ) async throws -> Bool {
        try await seatChange(
            write, role: role, connection: connection, set: "mode = \(bind: mode), muted = \(bind: muted.flag)", event: "media",
            detail: muted ? "\(mode),muted" : mode, at: at)
    }

    public func seats(consultation: Consultation.ID) async throws -> [CallSeat] {
        try await read { db in
            try await db.raw("SELECT * FROM call_seats WHERE consultation_id = \(bind: consultation.description) ORDER BY role")
                .all().map { try $0.callSeat() }
        }
    }

    public func messageFacts(_ id: String, in consultation: Consultation.ID, for principal: Principal) async throws -> ResourceFacts? {
        try await read { db in
            guard try await db.raw("SELECT id FROM call_chat WHERE id = \(bind: id) AND consultation_id = \(bind: consultation.description)").first() != nil,
                var facts = try await self.consultationFacts(consultation.description, principal: principal, db: db)
            else { return nil }
            facts.resourceID = id
            return facts
        }
    }

    public func addChatLine(_ line: CallChatLine, write: AuditedWrite<MessageResource>) async throws -> Bool {
        try check(write, [.create], id: line.id)
        guard let patient = write.grant.patient else { throw StoreError(.capabilityMismatch) }
        // The author's place in the call, as the rows say at the moment of the insert.
        let author: SQLQueryString
        switch line.role {
        case "patient": author = "EXISTS (SELECT 1 FROM patients p WHERE p.id = c.patient_id AND p.account_id = \(bind: line.author.description))"
        case "clinician": author = "c.clinician_id = \(bind: line.author.description)"
        case "guest":
            author = """
                EXISTS (SELECT 1 FROM call_invitations ci WHERE ci.consultation_id = c.id AND ci.invitee = \(bind: line.author.description) \
                AND ci.status = 'accepted')
                """
        default: throw StoreError(.capabilityMismatch)
        }
        do {
            try await audited(write) { db in
                // Bound by the server, once: the line joins its consultation only if that consultation's
                // patient is the one the gate decided for, and its author still has that place in the call.
                let inserted = try await db.raw(
                    """
                    INSERT INTO call_chat (id, consultation_id, role, author, text, at)
                    SELECT \(bind: line.id), c.id, \(bind: line.role), \(bind: line.author.description), \(bind: line.text), \(bind: line.at.epochMilliseconds)
                    FROM consultations c WHERE c.id = \(bind: line.consultation.description) AND c.patient_id = \(bind: patient.description) AND \(author)
                    RETURNING id
                    """
                ).all()
                guard inserted.count == 1 else { throw ChatLineRefused() }
            }
            return true
        } catch is ChatLineRefused {
            return false
        }
    }

    public func chat(_ scope: Scope<MessageResource>, consultation: Consultation.ID?, limit: Int) async throws
        -> [(line: CallChatLine, patient: Patient.ID)]
    {
        guard scope.action == .list else { throw StoreError(.capabilityMismatch) }
        let predicate = scope.predicate.sql(messageColumns)
        let only: SQLQueryString = consultation.map { "m.consultation_id = \(bind: $0.description)" } ?? "1 = 1"
        return try await read { db in
            try await db.raw(
                """
                SELECT m.*, c.patient_id AS line_patient FROM call_chat m JOIN consultations c ON c.id = m.consultation_id
                WHERE \(only) AND (\(predicate)) ORDER BY m.at DESC, m.id DESC LIMIT \(bind: max(1, min(limit, 1_000)))
                """
            ).all().map { (try $0.callChatLine(), try $0.id("line_patient")) }.reversed()
        }
    }

    public func chatLine(_ grant: Grant<MessageResource>) async throws -> CallChatLine? {
        guard grant.action == .read else { throw StoreError(.capabilityMismatch) }
        return try await read { db in
            try await db.raw("SELECT * FROM call_chat WHERE id = \(bind: grant.resourceID)").first()?.callChatLine()
        }
    }

    public func addLocation(_ location: CallLocation, write: AuditedWrite<ConsultationResource>) async throws {
        try check(write, [.join], id: location.consultation.description)
        try await audited(write) { db in
            try await db.raw(
                """
                INSERT INTO call_locations (id, consultation_id, address, at)
                VALUES (\(bind: location.id), \(bind: write.grant.resourceID), \(bind: location.address), \(bind: location.at.epochMilliseconds))
                """
            ).run()
        }
    }

    public func latestLocation(_ grant: Grant<ConsultationResource>) async throws -> CallLocation? {
        try checkJoin(grant)
        return try await read { db in
            guard
                let row = try await db.raw(
                    "SELECT * FROM call_locations WHERE consultation_id = \(bind: grant.resourceID) ORDER BY at DESC, id DESC LIMIT 1"
                ).first()
            else { return nil }
            return CallLocation(
                id: try row.decode(column: "id", as: String.self), consultation: try row.id("consultation_id"),
                address: try row.decode(column: "address", as: String.self), at: try row.ms("at"))
        }
    }

    public func createInvitation(_ invitation: CallInvitation, write: AuditedWrite<ConsultationResource>) async throws -> Bool {
        try check(write, [.join], id: invitation.consultation.description)
        do {
            return try await audited(write) { db in
                try await self.lockClinicianSlots(db)
                let active = try await db.raw(
                    """
                    SELECT id FROM call_invitations WHERE consultation_id = \(bind: write.grant.resourceID)
                    AND status IN ('pending', 'accepted')
                    """
                ).first()
                guard active == nil else { throw StoreError(.conflict) }
                try await db.raw(
                    """
                    INSERT INTO call_invitations (id, consultation_id, invitee, inviter, status, created_at, decided_at)
                    VALUES (\(bind: invitation.id), \(bind: write.grant.resourceID), \(bind: invitation.invitee.description),
                        \(bind: invitation.inviter.description), \(bind: invitation.status.rawValue), \(bind: invitation.createdAt.epochMilliseconds), NULL)
                    """
                ).run()
                return true
            }
        } catch let error as StoreError where error.code == .conflict {
            return false
        }
    }

    public func invitations(_ grant: Grant<ConsultationResource>) async throws -> [CallInvitation] {
        try checkJoin(grant)
        return try await read { db in
            try await db.raw("SELECT * FROM call_invitations WHERE consultation_id = \(bind: grant.resourceID) ORDER BY created_at, id")
                .all().map { row in
                    guard let status = CallInvitation.Status(rawValue: try row.decode(column: "status", as: String.self)) else {
                        throw RowError(column: "status")
                    }
                    return CallInvitation(
                        id: try row.decode(column: "id", as: String.self), consultation: try row.id("consultation_id"), invitee: try row.id("invitee"),
                        inviter: try row.id("inviter"), status: status, createdAt: try row.ms("created_at"), decidedAt: try row.msOptional("decided_at"))
                }
        }
    }

    public func decideInvitation(
        id: String, from: Set<CallInvitation.Status>, to: CallInvitation.Status, at: Date, write: AuditedWrite<ConsultationResource>
    ) async throws -> Bool {
        try check(write, [.join])
        let allowed = from.map(\.rawValue).sorted()
        do {
            return try await audited(write) { db in
                let current = try await db.raw(
                    "SELECT status FROM call_invitations WHERE id = \(bind: id) AND consultation_id = \(bind: write.grant.resourceID)"
                ).first()?.decode(column: "status", as: String.self)
                guard let current, allowed.contains(current) else { throw StoreError(.conflict) }
                let changed = try await db.raw(
                    """
                    UPDATE call_invitations SET status = \(bind: to.rawValue), decided_at = \(bind: at.epochMilliseconds),
                        accepted_at = CASE WHEN \(bind: to.rawValue) = 'accepted' THEN \(bind: at.epochMilliseconds) ELSE accepted_at END
                    WHERE id = \(bind: id) AND status = \(bind: current) RETURNING id
                    """
                ).all()
                guard changed.count == 1 else { throw StoreError(.conflict) }
                if to == .withdrawn {
                    // A withdrawn guest leaves the call with the withdrawal (they can no longer act in it).
                    let guest = try await db.raw("SELECT invitee FROM call_invitations WHERE id = \(bind: id)").first()?
                        .decode(column: "invitee", as: String.self)
                    let seat = try await db.raw(
                        """
                        UPDATE call_seats SET connected = 0, updated_at = \(bind: at.epochMilliseconds)
                        WHERE consultation_id = \(bind: write.grant.resourceID) AND role = 'guest' AND connected = 1 RETURNING role
                        """
                    ).all()
                    if let guest, !seat.isEmpty {
                        try await db.raw(
                            """
                            INSERT INTO call_events (consultation_id, at, role, account_id, event, detail)
                            VALUES (\(bind: write.grant.resourceID), \(bind: at.epochMilliseconds), 'guest', \(bind: guest), 'left', 'withdrawn')
                            """
                        ).run()
                    }
                }
                return true
            }
        } catch let error as StoreError where error.code == .conflict {
            return false
        }
    }

    public func abandonedCalls(idleBefore: Date, now: Date, limit: Int) async throws -> [Consultation.ID] {
        try await read { db in
            try await db.raw(
                """
                SELECT c.id FROM consultations c WHERE c.status = 'in-progress'
                AND NOT EXISTS (SELECT 1 FROM call_seats s WHERE s.consultation_id = c.id AND s.connected = 1
                    AND s.lease_until > \(bind: now.epochMilliseconds))
                AND COALESCE((SELECT MAX(CASE WHEN s.connected = 1 THEN s.lease_until ELSE s.updated_at END) FROM call_seats s
                    WHERE s.consultation_id = c.id), c.updated_at) < \(bind: idleBefore.epochMilliseconds)
                ORDER BY c.starts_at LIMIT \(bind: limit)
                """
            ).all().map { try $0.id("id") }
        }
    }
}
