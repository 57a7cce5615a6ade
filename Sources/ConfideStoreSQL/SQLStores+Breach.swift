public import ConfideBreach
import Foundation
import SQLKit

/// The breach check's evidence: plain queries over the rows the server wrote, never the policy's
/// scopes or facts loaders. Ownership always comes through the consultation (the ground truth),
/// never from a copy of the patient kept on a recording or consent row.
extension SQLStores: BreachEvidence {
    /// The tables of the kinds whose ground truth is the consultation a row names.
    static let consultationLinkedTables = [
        "prescription": "prescriptions", "document": "documents", "recording": "recordings", "recording-consent": "recording_consents",
        "message": "call_chat",
    ]

    func consultationTruth(_ id: String, db: any SQLDatabase) async throws -> GroundTruth? {
        guard let row = try await db.raw("SELECT patient_id, clinician_id, practice_id FROM consultations WHERE id = \(bind: id)").first()
        else { return nil }
        return GroundTruth(
            patient: try row.decode(column: "patient_id", as: String.self), consultation: id,
            clinician: try row.decode(column: "clinician_id", as: String.self), practice: try row.decode(column: "practice_id", as: String.self))
    }

    func consultationOf(_ table: String, _ id: String, db: any SQLDatabase) async throws -> String? {
        try await db.raw("SELECT consultation_id FROM \(unsafeRaw: table) WHERE id = \(bind: id)").first()?
            .decode(column: "consultation_id", as: String?.self)
    }

    public func groundTruth(resourceType: String, resourceID id: String) async throws -> GroundTruth {
        try await read { db in
            switch resourceType {
            case "patient-record":
                let exists = try await db.raw("SELECT id FROM patients WHERE id = \(bind: id)").first() != nil
                return GroundTruth(patient: exists ? id : nil)
            case "consultation", "note":
                return try await self.consultationTruth(id, db: db) ?? GroundTruth(patient: nil)
            case "prescription", "document", "recording", "recording-consent", "message":
                let table = Self.consultationLinkedTables[resourceType]!
                if let consultation = try await self.consultationOf(table, id, db: db) {
                    return try await self.consultationTruth(consultation, db: db) ?? GroundTruth(patient: nil)
                }
                // Reads of a consultation's prescriptions or documents name the consultation (a chat
                // line is always named by its own id).
                guard resourceType != "message" else { return GroundTruth(patient: nil) }
                return try await self.consultationTruth(id, db: db) ?? GroundTruth(patient: nil)
            case "triage-session":
                guard let row = try await db.raw("SELECT patient_id, consultation_id FROM triage_sessions WHERE id = \(bind: id)").first() else {
                    return GroundTruth(patient: nil)
                }
                var truth = GroundTruth(patient: try row.decode(column: "patient_id", as: String.self))
                if let consultation = try row.decode(column: "consultation_id", as: String?.self),
                    let c = try await self.consultationTruth(consultation, db: db), c.patient == truth.patient
                {
                    truth = c
                }
                return truth
            case "breach-notice":
                let patient = try await db.raw("SELECT patient_id FROM breach_notices WHERE id = \(bind: id)").first()?
                    .decode(column: "patient_id", as: String?.self)
                return GroundTruth(patient: patient)
            case "care-consent":
                let patient = try await db.raw("SELECT patient_id FROM care_consents WHERE id = \(bind: id)").first()?
                    .decode(column: "patient_id", as: String.self)
                return GroundTruth(patient: patient)
            default:
                return GroundTruth(patient: nil)
            }
        }
    }

    /// The same answers as `groundTruth`, for many items in one read: one `IN (...)` query per
    /// table (in chunks), whatever the number of items.
    public func groundTruths(_ items: [(resourceType: String, resourceID: String)]) async throws -> [String: GroundTruth] {
        var byType: [String: Set<String>] = [:]
        for item in items { byType[item.resourceType, default: []].insert(item.resourceID) }
        guard !byType.isEmpty else { return [:] }
        return try await read { [byType] db in
            /// Rows of `sql` for `ids`, 400 binds at a time.
            func rows(_ ids: Set<String>, _ sql: (SQLQueryString) -> SQLQueryString) async throws -> [any SQLRow] {
                let all = Array(ids)
                var out: [any SQLRow] = []
                for start in stride(from: 0, to: all.count, by: 400) {
                    let chunk = all[start..<min(start + 400, all.count)].map { $0 as any Encodable & Sendable }
                    out += try await db.raw(sql("\(binds: chunk)")).all()
                }
                return out
            }
            func consultations(_ ids: Set<String>) async throws -> [String: GroundTruth] {
                var map: [String: GroundTruth] = [:]
                for row in try await rows(ids, { "SELECT id, patient_id, clinician_id, practice_id FROM consultations WHERE id IN (\($0))" }) {
                    let id = try row.decode(column: "id", as: String.self)
                    map[id] = GroundTruth(
                        patient: try row.decode(column: "patient_id", as: String.self), consultation: id,
                        clinician: try row.decode(column: "clinician_id", as: String.self),
                        practice: try row.decode(column: "practice_id", as: String.self))
                }
                return map
            }
            func patients(_ table: String, _ ids: Set<String>) async throws -> [String: String?] {
                var map: [String: String?] = [:]
                for row in try await rows(ids, { "SELECT id, patient_id FROM \(unsafeRaw: table) WHERE id IN (\($0))" }) {
                    map[try row.decode(column: "id", as: String.self)] = try row.decode(column: "patient_id", as: String?.self)
                }
                return map
            }
            var out: [String: GroundTruth] = [:]
            for (type, ids) in byType {
                var truth: [String: GroundTruth] = [:]
                switch type {
                case "patient-record":
                    let existing = Set(try await rows(ids, { "SELECT id FROM patients WHERE id IN (\($0))" }).map { try $0.decode(column: "id", as: String.self) })
                    for id in ids where existing.contains(id) { truth[id] = GroundTruth(patient: id) }
                case "consultation", "note":
                    truth = try await consultations(ids)
                case "prescription", "document", "recording", "recording-consent", "message":
                    let table = Self.consultationLinkedTables[type]!
                    var link: [String: String] = [:]
                    for row in try await rows(ids, { "SELECT id, consultation_id FROM \(unsafeRaw: table) WHERE id IN (\($0))" }) {
                        if let c = try row.decode(column: "consultation_id", as: String?.self) { link[try row.decode(column: "id", as: String.self)] = c }
                    }
                    // Reads of a consultation's prescriptions or documents name the consultation.
                    // Reads of a consultation's prescriptions or documents name the consultation (a chat
                    // line is always named by its own id).
                    let fallback = type != "message"
                    let c = try await consultations(Set(ids.compactMap { link[$0] ?? (fallback ? $0 : nil) }))
                    for id in ids { truth[id] = (link[id] ?? (fallback ? id : nil)).flatMap { c[$0] } }
                case "triage-session":
                    var sessions: [String: (patient: String, consultation: String?)] = [:]
                    for row in try await rows(ids, { "SELECT id, patient_id, consultation_id FROM triage_sessions WHERE id IN (\($0))" }) {
                        sessions[try row.decode(column: "id", as: String.self)] =
                            (try row.decode(column: "patient_id", as: String.self), try row.decode(column: "consultation_id", as: String?.self))
                    }
                    let c = try await consultations(Set(sessions.values.compactMap(\.consultation)))
                    for (id, s) in sessions {
                        if let cid = s.consultation, let linked = c[cid], linked.patient == s.patient { truth[id] = linked } else { truth[id] = GroundTruth(patient: s.patient) }
                    }
                case "breach-notice":
                    for (id, patient) in try await patients("breach_notices", ids) { truth[id] = GroundTruth(patient: patient) }
                case "care-consent":
                    for (id, patient) in try await patients("care_consents", ids) { truth[id] = GroundTruth(patient: patient) }
                default:
                    break
                }
                for id in ids { out[GroundTruth.key(resourceType: type, resourceID: id)] = truth[id] ?? GroundTruth(patient: nil) }
            }
            return out
        }
    }

    public func patient(ofAccount account: String) async throws -> String? {
        try await read { db in
            try await db.raw("SELECT id FROM patients WHERE account_id = \(bind: account)").first()?.decode(column: "id", as: String.self)
        }
    }

    public func careTeamConsent(account: String, patient: String, at time: Int64) async throws -> Bool {
        try await read { db in
            try await db.raw(
                """
                SELECT 1 AS x FROM care_consents cc JOIN care_team_members m ON m.team_id = cc.team_id
                WHERE cc.patient_id = \(bind: patient) AND m.account_id = \(bind: account) AND cc.granted_at <= \(bind: time)
                AND (cc.withdrawn_at IS NULL OR cc.withdrawn_at > \(bind: time))
                """
            ).first() != nil
        }
    }

    public func breakGlass(requestID: String, account: String) async throws -> Bool {
        try await read { db in
            try await db.raw(
                "SELECT 1 AS x FROM break_glass_reasons WHERE request_id = \(bind: requestID) AND account_id = \(bind: account)"
            ).first() != nil
        }
    }

    public func practiceAdmin(account: String, practice: String) async throws -> Bool {
        try await read { db in
            try await db.raw(
                "SELECT 1 AS x FROM practice_members WHERE practice_id = \(bind: practice) AND account_id = \(bind: account) AND role = 'admin'"
            ).first() != nil
        }
    }

    public func callGuest(account: String, consultation: String, at time: Int64) async throws -> Bool {
        try await read { db in
            // Accepted at or before the access, and not withdrawn before it (an invitation withdrawn
            // while still pending was never accepted: no acceptance time).
            try await db.raw(
                """
                SELECT 1 AS x FROM call_invitations WHERE consultation_id = \(bind: consultation) AND invitee = \(bind: account)
                AND accepted_at IS NOT NULL AND accepted_at <= \(bind: time)
                AND (status = 'accepted' OR (status = 'withdrawn' AND decided_at >= \(bind: time)))
                """
            ).first() != nil
        }
    }

    public func accountExists(_ account: String) async throws -> Bool {
        try await read { db in try await db.raw("SELECT id FROM accounts WHERE id = \(bind: account)").first() != nil }
    }
}
