import ConfideCore
public import ConfidePolicy
public import SQLKit

/// The columns of one table (or join) that a scope's row predicate refers to.
public struct ScopeColumns: Sendable {
    var patient: String?
    var account: String?
    var clinician: String?
    var practice: String?
    var signed: String?
    /// The consultation the row is or belongs to.
    var consultation: String?

    public init(
        patient: String? = nil, account: String? = nil, clinician: String? = nil, practice: String? = nil, signed: String? = nil,
        consultation: String? = nil
    ) {
        self.consultation = consultation
        self.patient = patient
        self.account = account
        self.clinician = clinician
        self.practice = practice
        self.signed = signed
    }
}

extension RowPredicate {
    /// The predicate as a SQL boolean expression over `columns`.
    ///
    /// INVARIANT: fail closed. A leaf the table has no column for makes the whole predicate
    /// `1 = 0` (never just the leaf: under a NOT that would admit rows).
    public func sql(_ columns: ScopeColumns) -> SQLQueryString {
        compile(columns) ?? "1 = 0"
    }

    func compile(_ c: ScopeColumns) -> SQLQueryString? {
        switch self {
        case .constant(let b):
            return b ? "1 = 1" : "1 = 0"
        case .patientIs(let p):
            guard let col = c.patient else { return nil }
            return "\(unsafeRaw: col) = \(bind: p.description)"
        case .accountIs(let a):
            guard let col = c.account else { return nil }
            return "\(unsafeRaw: col) = \(bind: a.description)"
        case .clinicianIs(let a):
            guard let col = c.clinician else { return nil }
            return "\(unsafeRaw: col) = \(bind: a.description)"
        case .patientConsentedToTeamOf(let a):
            guard let col = c.patient else { return nil }
            return """
                \(unsafeRaw: col) IN (SELECT cc.patient_id FROM care_consents cc JOIN care_team_members tm ON tm.team_id = cc.team_id \
                WHERE tm.account_id = \(bind: a.description) AND cc.withdrawn_at IS NULL)
                """
        case .practiceAdministeredBy(let a):
            guard let col = c.practice else { return nil }
            return """
                \(unsafeRaw: col) IN (SELECT pm.practice_id FROM practice_members pm WHERE pm.account_id = \(bind: a.description) \
                AND pm.role = 'admin')
                """
        case .practiceStaffedBy(let a):
            guard let col = c.practice else { return nil }
            return """
                \(unsafeRaw: col) IN (SELECT pm.practice_id FROM practice_members pm WHERE pm.account_id = \(bind: a.description) \
                AND pm.role = 'clinician')
                """
        case .callGuestIs(let a):
            guard let col = c.consultation else { return nil }
            return """
                \(unsafeRaw: col) IN (SELECT ci.consultation_id FROM call_invitations ci WHERE ci.invitee = \(bind: a.description) \
                AND ci.status = 'accepted')
                """
        case .signed:
            guard let col = c.signed else { return nil }
            return "\(unsafeRaw: col) = 1"
        case .playbackSuspended:
            // A platform-wide fact: the same for every row.
            return "EXISTS (SELECT 1 FROM platform_switches ps WHERE ps.name = 'playback' AND ps.engaged = 1)"
        case .and(let ps), .or(let ps):
            var parts: [SQLQueryString] = []
            for p in ps {
                guard let part = p.compile(c) else { return nil }
                parts.append("(" + part + ")")
            }
            if parts.isEmpty {
                if case .and = self { return "1 = 1" } else { return "1 = 0" }
            }
            if case .and = self { return parts.joined(separator: " AND ") }
            return parts.joined(separator: " OR ")
        case .not(let p):
            guard let inner = p.compile(c) else { return nil }
            return "NOT (" + inner + ")"
        }
    }
}
