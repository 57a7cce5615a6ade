public import ConfideBreach
import Foundation
import SQLKit

/// The breach check's evidence: plain queries over the rows the server wrote, never the policy's
/// scopes or facts loaders. Ownership always comes through the consultation (the ground truth),
/// never from a copy of the patient kept on a recording or consent row.
extension SQLStores: BreachEvidence {
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
            case "prescription", "document", "recording", "recording-consent":
                let table = ["prescription": "prescriptions", "document": "documents", "recording": "recordings", "recording-consent": "recording_consents"][resourceType]!
                if let consultation = try await self.consultationOf(table, id, db: db) {
                    return try await self.consultationTruth(consultation, db: db) ?? GroundTruth(patient: nil)
                }
                // Reads of a consultation's prescriptions or documents name the consultation.
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

    public func callGuest(account: String, consultation: String) async throws -> Bool {
        try await read { db in
            try await db.raw(
                """
                SELECT 1 AS x FROM call_invitations WHERE consultation_id = \(bind: consultation) AND invitee = \(bind: account)
                AND status IN ('accepted', 'withdrawn')
                """
            ).first() != nil
        }
    }

    public func accountExists(_ account: String) async throws -> Bool {
        try await read { db in try await db.raw("SELECT id FROM accounts WHERE id = \(bind: account)").first() != nil }
    }
}
