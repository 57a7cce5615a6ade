import ConfideAudit
public import ConfideCore
public import ConfidePolicy
public import ConfideStore
public import Foundation
import SQLKit

extension SQLRow {
    func triageSession() throws -> TriageSessionRecord {
        guard let status = TriageSessionRecord.Status(rawValue: try decode(column: "status", as: String.self)) else {
            throw RowError(column: "status")
        }
        return TriageSessionRecord(
            id: try decode(column: "id", as: String.self), patient: try id("patient_id"),
            practice: try decode(column: "practice_id", as: String?.self).flatMap(Practice.ID.init(string:)),
            country: try decode(column: "country", as: String.self), age: Int(try decode(column: "age", as: Int64.self)),
            sex: try decode(column: "sex", as: String.self), complaint: try decode(column: "complaint", as: String.self),
            state: try decode(column: "state", as: String.self), status: status, disposition: try decode(column: "disposition", as: String?.self),
            result: try decode(column: "result", as: String?.self), knowledgeVersion: try decode(column: "kb_version", as: String.self),
            consultation: try decode(column: "consultation_id", as: String?.self).flatMap(Consultation.ID.init(string:)),
            version: Int(try decode(column: "version", as: Int64.self)), createdAt: try ms("created_at"), updatedAt: try ms("updated_at"))
    }
}

/// The columns a triage scope refers to. The clinician and practice are those of the consultation the
/// session is attached to (none before): an unattached session is in no clinician's scope.
let triageColumns = ScopeColumns(patient: "t.patient_id", clinician: "c.clinician_id", practice: "c.practice_id", consultation: "t.consultation_id")

extension SQLStores: TriageStore {
    public func triageSessionFacts(_ id: String, for principal: Principal) async throws -> ResourceFacts? {
        try await read { db in
            guard let row = try await db.raw("SELECT patient_id, consultation_id FROM triage_sessions WHERE id = \(bind: id)").first()
            else { return nil }
            let patient = try row.decode(column: "patient_id", as: String.self)
            if let consultation = try row.decode(column: "consultation_id", as: String?.self),
                var facts = try await self.consultationFacts(consultation, principal: principal, db: db)
            {
                // Attachment checked the patients agree; the session's own patient is the owner all the same.
                guard facts.owningPatient?.description == patient else { return nil }
                facts.resourceID = id
                facts.callGuest = false
                return facts
            }
            let r = try await self.relations(patient: patient, practice: nil, principal: principal, db: db)
            return ResourceFacts(resourceID: id, owningPatient: Patient.ID(string: patient), careTeamConsent: r.careTeamConsent)
        }
    }

    public func createTriageSession(_ session: TriageSessionRecord, write: AuditedWrite<TriageSessionResource>) async throws {
        try check(write, [.create], id: session.id)
        guard write.entry.patientID == session.patient.description else { throw StoreError(.capabilityMismatch) }
        try await audited(write) { db in
            try await db.raw(
                """
                INSERT INTO triage_sessions (id, patient_id, practice_id, country, age, sex, complaint, state, status, disposition, result,
                    kb_version, consultation_id, version, created_at, updated_at)
                VALUES (\(bind: session.id), \(bind: session.patient.description), \(bind: session.practice?.description), \(bind: session.country),
                    \(bind: Int64(session.age)), \(bind: session.sex), \(bind: session.complaint), \(bind: session.state),
                    \(bind: session.status.rawValue), \(bind: session.disposition), \(bind: session.result), \(bind: session.knowledgeVersion),
                    NULL, 1, \(bind: session.createdAt.epochMilliseconds), \(bind: session.updatedAt.epochMilliseconds))
                """
            ).run()
        }
    }

    public func triageSession(_ grant: Grant<TriageSessionResource>) async throws -> TriageSessionRecord? {
        try await read { db in
            try await db.raw("SELECT * FROM triage_sessions WHERE id = \(bind: grant.resourceID)").first()?.triageSession()
        }
    }

    public func updateTriageSession(_ session: TriageSessionRecord, expectedVersion: Int, write: AuditedWrite<TriageSessionResource>)
        async throws -> Bool
    {
        try check(write, [.update], id: session.id)
        do {
            return try await audited(write) { db in
                // Only the conversation changes; patient, practice, country and profile are fixed at creation.
                let changed = try await db.raw(
                    """
                    UPDATE triage_sessions SET state = \(bind: session.state), status = \(bind: session.status.rawValue),
                        disposition = \(bind: session.disposition), result = \(bind: session.result), version = version + 1,
                        updated_at = \(bind: session.updatedAt.epochMilliseconds)
                    WHERE id = \(bind: session.id) AND version = \(bind: Int64(expectedVersion)) AND status = 'open' RETURNING id
                    """
                ).all()
                guard changed.count == 1 else { throw StoreError(.conflict) }
                return true
            }
        } catch let error as StoreError where error.code == .conflict {
            return false
        }
    }

    public func attachTriageSession(consultation: Consultation.ID, at: Date, write: AuditedWrite<TriageSessionResource>) async throws -> Bool {
        try check(write, [.update])
        do {
            return try await audited(write) { db in
                let changed = try await db.raw(
                    """
                    UPDATE triage_sessions SET consultation_id = \(bind: consultation.description), updated_at = \(bind: at.epochMilliseconds)
                    WHERE id = \(bind: write.grant.resourceID) AND consultation_id IS NULL AND status = 'finished'
                    AND patient_id = (SELECT patient_id FROM consultations WHERE id = \(bind: consultation.description)) RETURNING id
                    """
                ).all()
                guard changed.count == 1 else { throw StoreError(.conflict) }
                return true
            }
        } catch let error as StoreError where error.code == .conflict {
            return false
        } catch where backend.isUniqueViolation(error) {
            return false
        }
    }

    public func triageSessions(_ scope: Scope<TriageSessionResource>, consultation: Consultation.ID?, limit: Int) async throws
        -> [TriageSessionRecord]
    {
        let predicate = scope.predicate.sql(triageColumns)
        let filter: SQLQueryString = consultation.map { "t.consultation_id = \(bind: $0.description)" } ?? "1 = 1"
        let cap = Int64(min(max(limit, 1), 200))
        return try await read { db in
            try await db.raw(
                """
                SELECT t.* FROM triage_sessions t LEFT JOIN consultations c ON c.id = t.consultation_id
                WHERE (\(predicate)) AND \(filter) ORDER BY t.created_at DESC, t.id LIMIT \(bind: cap)
                """
            ).all().map { try $0.triageSession() }
        }
    }
}
