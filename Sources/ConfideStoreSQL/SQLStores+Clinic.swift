import ConfideAudit
public import ConfideCore
public import ConfidePolicy
public import ConfideStore
public import Foundation
import SQLKit

// MARK: - row mapping

extension SQLRow {
    func practiceRecord() throws -> PracticeRecord {
        guard let country = try? CountryCode(try decode(column: "country", as: String.self)) else { throw RowError(column: "country") }
        guard let zone = try? ZoneName(try decode(column: "time_zone", as: String.self)) else { throw RowError(column: "time_zone") }
        return PracticeRecord(
            id: try id("id"), name: try decode(column: "name", as: String.self), country: country,
            region: try decode(column: "region", as: String.self), zone: zone, createdAt: try ms("created_at"))
    }

    func consultationRecord() throws -> ConsultationRecord {
        guard let modality = Modality(rawValue: try decode(column: "modality", as: String.self)) else { throw RowError(column: "modality") }
        guard let status = ConsultationStatus(rawValue: try decode(column: "status", as: String.self)) else { throw RowError(column: "status") }
        return ConsultationRecord(
            id: try id("id"), patient: try id("patient_id"), clinician: try id("clinician_id"), practice: try id("practice_id"),
            start: try ms("starts_at"), end: try ms("ends_at"), modality: modality, status: status, createdAt: try ms("created_at"),
            updatedAt: try ms("updated_at"))
    }

    func consultationView() throws -> ConsultationView {
        let clinicianName: PersonName
        do {
            clinicianName = try PersonName(
                given: try decode(column: "clinician_given", as: String.self), family: try decode(column: "clinician_family", as: String.self))
        } catch { throw RowError(column: "clinician_given") }
        guard let zone = try? ZoneName(try decode(column: "time_zone", as: String.self)) else { throw RowError(column: "time_zone") }
        return ConsultationView(
            record: try consultationRecord(), patientName: try name(), clinicianName: clinicianName,
            clinicianRole: try decode(column: "clinician_role", as: String?.self).flatMap(StaffRole.init(rawValue:)),
            practiceName: try decode(column: "practice_name", as: String.self), zone: zone)
    }

    func noteVersion() throws -> NoteVersion {
        guard let status = NoteStatus(rawValue: try decode(column: "status", as: String.self)) else { throw RowError(column: "status") }
        return NoteVersion(
            consultation: try id("consultation_id"), version: Int(try decode(column: "version", as: Int64.self)),
            sections: NoteSections(
                history: try decode(column: "history", as: String.self), examination: try decode(column: "examination", as: String.self),
                assessment: try decode(column: "assessment", as: String.self), plan: try decode(column: "plan", as: String.self)),
            status: status, author: try id("author"), amendmentReason: try decode(column: "amendment_reason", as: String?.self),
            signedAt: try msOptional("signed_at"), savedAt: try ms("saved_at"))
    }
}

/// The consultation columns a scope's predicate refers to (`c` is the consultations table).
let consultationColumns = ScopeColumns(patient: "c.patient_id", clinician: "c.clinician_id", practice: "c.practice_id", consultation: "c.id")

let consultationViewSelect: SQLQueryString = """
    SELECT c.*, p.given_name, p.family_name, s.given_name AS clinician_given, s.family_name AS clinician_family,
        s.role AS clinician_role, pr.name AS practice_name, pr.time_zone
    FROM consultations c
    JOIN patients p ON p.id = c.patient_id
    JOIN staff s ON s.account_id = c.clinician_id
    JOIN practices pr ON pr.id = c.practice_id
    """

extension SQLStores {
    /// Runs a write and appends its audit entry last, in one transaction: both commit or neither.
    /// The entry goes last so a transaction holding the sequencer lock waits for nothing else.
    func audited<R: Sendable, Resource: PolicyResource>(
        _ write: AuditedWrite<Resource>, _ body: @escaping @Sendable (any SQLDatabase) async throws -> R
    ) async throws -> R {
        try await backend.transaction { db in
            let result = try await body(db)
            _ = try await self.append([write.entry], on: db)
            return result
        }
    }

    func check<R: PolicyResource>(_ write: AuditedWrite<R>, _ actions: Set<Action>, id: String? = nil) throws {
        guard actions.contains(write.grant.action), id == nil || write.grant.resourceID == id,
            write.entry.resourceID == write.grant.resourceID
        else { throw StoreError(.capabilityMismatch) }
    }
}

extension SQLStores {
    /// Serialises bookings so the overlap check and the insert are one step across instances
    /// (PostgreSQL: the audit sequencer's transaction lock, which the write takes anyway; SQLite
    /// serialises transactions already).
    func lockClinicianSlots(_ db: any SQLDatabase) async throws {
        if let lock = backend.sequencerLockStatement { try await db.raw(SQLQueryString(lock)).run() }
    }

    /// INVARIANT: a clinician never holds two active bookings that overlap in time (slots of
    /// different lengths, two practices, a changed plan). The unique index catches equal starts;
    /// this catches the rest.
    func checkNoOverlap(_ db: any SQLDatabase, clinician: String, start: Date, end: Date, except: String?) async throws {
        let overlapping = try await db.raw(
            """
            SELECT id FROM consultations WHERE clinician_id = \(bind: clinician)
            AND status IN ('booked', 'checked-in', 'in-progress')
            AND starts_at < \(bind: end.epochMilliseconds) AND ends_at > \(bind: start.epochMilliseconds)
            """
        ).all().map { try $0.decode(column: "id", as: String.self) }
        if overlapping.contains(where: { $0 != except }) { throw StoreError(.slotTaken) }
    }

    func checkNoOverlap(_ db: any SQLDatabase, clinicianOf id: String, start: Date, end: Date) async throws {
        guard let row = try await db.raw("SELECT clinician_id FROM consultations WHERE id = \(bind: id)").first() else {
            throw StoreError(.conflict)
        }
        try await checkNoOverlap(db, clinician: try row.decode(column: "clinician_id", as: String.self), start: start, end: end, except: id)
    }
}

extension SQLStores: ClinicStore {
    // MARK: practices

    public func createPractice(_ practice: PracticeRecord, write: AuditedWrite<PracticeResource>) async throws {
        try check(write, [.create], id: practice.id.description)
        try await audited(write) { db in
            try await db.raw(
                """
                INSERT INTO practices (id, name, country, region, time_zone, created_at)
                VALUES (\(bind: practice.id.description), \(bind: practice.name), \(bind: practice.country.value), \(bind: practice.region),
                    \(bind: practice.zone.identifier), \(bind: practice.createdAt.epochMilliseconds))
                """
            ).run()
        }
    }

    public func practice(id: Practice.ID) async throws -> PracticeRecord? {
        try await read { db in try await db.raw("SELECT * FROM practices WHERE id = \(bind: id.description)").first()?.practiceRecord() }
    }

    public func practices(_ scope: Scope<PracticeResource>) async throws -> [PracticeRecord] {
        let predicate = scope.predicate.sql(ScopeColumns(practice: "id"))
        return try await read { db in
            try await db.raw("SELECT * FROM practices WHERE \(predicate) ORDER BY name, id").all().map { try $0.practiceRecord() }
        }
    }

    public func addMember(_ account: Account.ID, role: PracticeRole, at: Date, write: AuditedWrite<PracticeResource>) async throws {
        try check(write, [.update, .create])
        try await audited(write) { db in
            let exists = try await db.raw(
                """
                SELECT 1 AS x FROM practice_members WHERE practice_id = \(bind: write.grant.resourceID)
                AND account_id = \(bind: account.description) AND role = \(bind: role.rawValue)
                """
            ).first()
            guard exists == nil else { return }
            try await db.raw(
                """
                INSERT INTO practice_members (practice_id, account_id, role, added_at)
                VALUES (\(bind: write.grant.resourceID), \(bind: account.description), \(bind: role.rawValue), \(bind: at.epochMilliseconds))
                """
            ).run()
        }
    }

    public func members(practice: Practice.ID) async throws -> [PracticeMember] {
        try await read { db in
            try await db.raw(
                """
                SELECT m.account_id, m.role AS practice_role, s.given_name, s.family_name, s.role
                FROM practice_members m JOIN staff s ON s.account_id = m.account_id
                WHERE m.practice_id = \(bind: practice.description) ORDER BY s.family_name, s.given_name, m.role
                """
            ).all().map { row in
                guard let role = PracticeRole(rawValue: try row.decode(column: "practice_role", as: String.self)) else {
                    throw RowError(column: "practice_role")
                }
                return PracticeMember(
                    account: try row.id("account_id"), role: role, name: try row.name(),
                    staffRole: try row.decode(column: "role", as: String?.self).flatMap(StaffRole.init(rawValue:)))
            }
        }
    }

    public func memberships(account: Account.ID) async throws -> [PracticeMembership] {
        try await read { db in
            try await db.raw("SELECT practice_id, role FROM practice_members WHERE account_id = \(bind: account.description) ORDER BY practice_id")
                .all().map { row in
                    guard let role = PracticeRole(rawValue: try row.decode(column: "role", as: String.self)) else { throw RowError(column: "role") }
                    return PracticeMembership(practice: try row.id("practice_id"), role: role)
                }
        }
    }

    public func createCareTeam(_ team: CareTeamRecord, write: AuditedWrite<PracticeResource>) async throws {
        try check(write, [.update], id: team.practice.description)
        try await audited(write) { db in
            try await db.raw(
                "INSERT INTO care_teams (id, practice_id, name) VALUES (\(bind: team.id.description), \(bind: team.practice.description), \(bind: team.name))"
            ).run()
            for member in Set(team.members) {
                try await db.raw(
                    "INSERT INTO care_team_members (team_id, account_id) VALUES (\(bind: team.id.description), \(bind: member.description))"
                ).run()
            }
        }
    }

    public func careTeams(practice: Practice.ID) async throws -> [CareTeamRecord] {
        try await read { db in
            let teams = try await db.raw("SELECT * FROM care_teams WHERE practice_id = \(bind: practice.description) ORDER BY name, id").all()
            var out: [CareTeamRecord] = []
            for row in teams {
                out.append(try await self.careTeam(row: row, db: db))
            }
            return out
        }
    }

    public func careTeam(id: CareTeam.ID) async throws -> CareTeamRecord? {
        try await read { db in
            guard let row = try await db.raw("SELECT * FROM care_teams WHERE id = \(bind: id.description)").first() else { return nil }
            return try await self.careTeam(row: row, db: db)
        }
    }

    func careTeam(row: any SQLRow, db: any SQLDatabase) async throws -> CareTeamRecord {
        let id: CareTeam.ID = try row.id("id")
        let members: [Account.ID] = try await db.raw(
            "SELECT account_id FROM care_team_members WHERE team_id = \(bind: id.description) ORDER BY account_id"
        ).all().map { try $0.id("account_id") }
        return CareTeamRecord(id: id, practice: try row.id("practice_id"), name: try row.decode(column: "name", as: String.self), members: members)
    }

    public func setHolidays(_ dates: Set<CalendarDate>, write: AuditedWrite<PracticeResource>) async throws {
        try check(write, [.update])
        try await audited(write) { db in
            try await db.raw("DELETE FROM practice_holidays WHERE practice_id = \(bind: write.grant.resourceID)").run()
            for d in dates.sorted() {
                try await db.raw(
                    "INSERT INTO practice_holidays (practice_id, day) VALUES (\(bind: write.grant.resourceID), \(bind: d.description))"
                ).run()
            }
        }
    }

    public func holidays(practice: Practice.ID) async throws -> Set<CalendarDate> {
        try await read { db in try await self.holidays(practice: practice.description, db: db) }
    }

    func holidays(practice: String, db: any SQLDatabase) async throws -> Set<CalendarDate> {
        Set(
            try await db.raw("SELECT day FROM practice_holidays WHERE practice_id = \(bind: practice)").all().compactMap {
                CalendarDate(iso8601: try $0.decode(column: "day", as: String.self))
            })
    }

    // MARK: registration

    public func registeredPractice(patient: Patient.ID) async throws -> Practice.ID? {
        try await read { db in
            try await db.raw("SELECT practice_id FROM patients WHERE id = \(bind: patient.description)").first()?
                .decode(column: "practice_id", as: String?.self).flatMap(Practice.ID.init(string:))
        }
    }

    public func setRegisteredPractice(_ practice: Practice.ID, write: AuditedWrite<PatientRecordResource>) async throws {
        try check(write, [.update])
        try await audited(write) { db in
            try await db.raw(
                "UPDATE patients SET practice_id = \(bind: practice.description) WHERE id = \(bind: write.grant.resourceID)"
            ).run()
        }
    }

    // MARK: consents

    public func grantConsent(_ consent: CareConsentRecord, write: AuditedWrite<CareConsentResource>) async throws {
        try check(write, [.create], id: consent.id)
        // INVARIANT: the consent's patient is the one the grant was minted for, never a client's choice.
        guard write.grant.patient == consent.patient else { throw StoreError(.capabilityMismatch) }
        do {
            try await audited(write) { db in
                try await db.raw(
                    """
                    INSERT INTO care_consents (id, patient_id, team_id, granted_at)
                    VALUES (\(bind: consent.id), \(bind: consent.patient.description), \(bind: consent.team.description),
                        \(bind: consent.grantedAt.epochMilliseconds))
                    """
                ).run()
            }
        } catch where backend.isUniqueViolation(error) {
            throw StoreError(.conflict)
        }
    }

    public func withdrawConsent(at: Date, write: AuditedWrite<CareConsentResource>) async throws -> Bool {
        try check(write, [.update])
        return try await audited(write) { db in
            let open = try await db.raw(
                "SELECT id FROM care_consents WHERE id = \(bind: write.grant.resourceID) AND withdrawn_at IS NULL"
            ).first()
            guard open != nil else { throw StoreError(.conflict) }
            try await db.raw(
                "UPDATE care_consents SET withdrawn_at = \(bind: at.epochMilliseconds) WHERE id = \(bind: write.grant.resourceID)"
            ).run()
            return true
        }
    }

    public func consents(_ scope: Scope<CareConsentResource>) async throws -> [CareConsentRecord] {
        let predicate = scope.predicate.sql(ScopeColumns(patient: "cc.patient_id"))
        return try await read { db in
            try await db.raw(
                """
                SELECT cc.*, t.name AS team_name FROM care_consents cc JOIN care_teams t ON t.id = cc.team_id
                WHERE \(predicate) ORDER BY cc.granted_at DESC, cc.id
                """
            ).all().map { row in
                CareConsentRecord(
                    id: try row.decode(column: "id", as: String.self), patient: try row.id("patient_id"), team: try row.id("team_id"),
                    teamName: try row.decode(column: "team_name", as: String.self), grantedAt: try row.ms("granted_at"),
                    withdrawnAt: try row.msOptional("withdrawn_at"))
            }
        }
    }

    // MARK: availability

    func plan(row: any SQLRow, db: any SQLDatabase) async throws -> AvailabilityPlan {
        let json = try row.decode(column: "plan", as: String.self)
        let practice = try row.decode(column: "practice_id", as: String.self)
        guard let document = try? JSONDecoder().decode(AvailabilityDocument.self, from: Data(json.utf8)) else { throw RowError(column: "plan") }
        do {
            return try document.plan(holidays: try await holidays(practice: practice, db: db))
        } catch { throw RowError(column: "plan") }
    }

    /// The availability grant's resource identifier: `<clinician account>/<practice>`.
    static func availabilityKey(_ id: String) -> (account: String, practice: String)? {
        let parts = id.split(separator: "/").map(String.init)
        guard parts.count == 2 else { return nil }
        return (parts[0], parts[1])
    }

    public func availability(_ grant: Grant<AvailabilityResource>) async throws -> AvailabilityPlan? {
        guard let key = Self.availabilityKey(grant.resourceID) else { throw StoreError(.capabilityMismatch) }
        return try await read { db in
            guard
                let row = try await db.raw(
                    "SELECT * FROM availability WHERE account_id = \(bind: key.account) AND practice_id = \(bind: key.practice)"
                ).first()
            else { return nil }
            return try await self.plan(row: row, db: db)
        }
    }

    public func replaceAvailability(_ plan: AvailabilityPlan, at: Date, write: AuditedWrite<AvailabilityResource>) async throws {
        try check(write, [.update])
        guard let key = Self.availabilityKey(write.grant.resourceID) else { throw StoreError(.capabilityMismatch) }
        let json = String(decoding: try JSONEncoder().encode(AvailabilityDocument(plan)), as: UTF8.self)
        try await audited(write) { db in
            try await db.raw(
                "DELETE FROM availability WHERE account_id = \(bind: key.account) AND practice_id = \(bind: key.practice)"
            ).run()
            try await db.raw(
                """
                INSERT INTO availability (account_id, practice_id, plan, updated_at)
                VALUES (\(bind: key.account), \(bind: key.practice), \(bind: json), \(bind: at.epochMilliseconds))
                """
            ).run()
        }
    }

    public func publishedPlans(_ scope: Scope<AvailabilityResource>, practice: Practice.ID?) async throws -> [PublishedPlan] {
        let predicate = scope.predicate.sql(ScopeColumns(account: "a.account_id", practice: "a.practice_id"))
        let practiceFilter: SQLQueryString = practice.map { "a.practice_id = \(bind: $0.description)" } ?? "1 = 1"
        return try await read { db in
            let rows = try await db.raw(
                """
                SELECT a.*, s.given_name, s.family_name, s.role, acc.status
                FROM availability a JOIN staff s ON s.account_id = a.account_id JOIN accounts acc ON acc.id = a.account_id
                JOIN practice_members m ON m.account_id = a.account_id AND m.practice_id = a.practice_id AND m.role = 'clinician'
                WHERE \(predicate) AND \(practiceFilter) AND acc.status = 'active'
                ORDER BY s.family_name, s.given_name, a.account_id
                """
            ).all()
            var out: [PublishedPlan] = []
            var practices: [String: PracticeRecord] = [:]
            for row in rows {
                let practiceID = try row.decode(column: "practice_id", as: String.self)
                if practices[practiceID] == nil {
                    practices[practiceID] = try await db.raw("SELECT * FROM practices WHERE id = \(bind: practiceID)").first()?.practiceRecord()
                }
                guard let record = practices[practiceID] else { continue }
                out.append(
                    PublishedPlan(
                        clinician: try row.id("account_id"), clinicianName: try row.name(),
                        role: try row.decode(column: "role", as: String?.self).flatMap(StaffRole.init(rawValue:)), practice: record,
                        plan: try await self.plan(row: row, db: db)))
            }
            return out
        }
    }

    public func takenIntervals(clinician: Account.ID, from: Date, to: Date) async throws -> [DateInterval] {
        try await read { db in
            try await db.raw(
                """
                SELECT starts_at, ends_at FROM consultations WHERE clinician_id = \(bind: clinician.description)
                AND ends_at > \(bind: from.epochMilliseconds) AND starts_at < \(bind: to.epochMilliseconds)
                AND status IN ('booked', 'checked-in', 'in-progress')
                ORDER BY starts_at
                """
            ).all().map { DateInterval(start: try $0.ms("starts_at"), end: try $0.ms("ends_at")) }
        }
    }

    public func upcomingBookings(patient: Patient.ID, after: Date) async throws -> Int {
        try await read { db in
            Int(
                try await db.raw(
                    """
                    SELECT COUNT(*) AS n FROM consultations WHERE patient_id = \(bind: patient.description)
                    AND status IN ('booked', 'checked-in') AND starts_at > \(bind: after.epochMilliseconds)
                    """
                ).first()?.decode(column: "n", as: Int64.self) ?? 0)
        }
    }

    // MARK: consultations

    public func book(_ c: ConsultationRecord, write: AuditedWrite<ConsultationResource>) async throws {
        try check(write, [.create], id: c.id.description)
        // INVARIANT: the booking's patient is the one the grant was minted for (the signed-in patient).
        guard write.grant.patient == c.patient, c.status == .booked else { throw StoreError(.capabilityMismatch) }
        do {
            try await audited(write) { db in
                try await self.lockClinicianSlots(db)
                try await self.checkNoOverlap(db, clinician: c.clinician.description, start: c.start, end: c.end, except: nil)
                try await db.raw(
                    """
                    INSERT INTO consultations (id, patient_id, clinician_id, practice_id, starts_at, ends_at, modality, status, created_at, updated_at)
                    VALUES (\(bind: c.id.description), \(bind: c.patient.description), \(bind: c.clinician.description),
                        \(bind: c.practice.description), \(bind: c.start.epochMilliseconds), \(bind: c.end.epochMilliseconds),
                        \(bind: c.modality.rawValue), \(bind: c.status.rawValue), \(bind: c.createdAt.epochMilliseconds),
                        \(bind: c.updatedAt.epochMilliseconds))
                    """
                ).run()
            }
        } catch where backend.isUniqueViolation(error) {
            throw StoreError(.slotTaken)
        }
    }

    public func consultation(_ grant: Grant<ConsultationResource>) async throws -> ConsultationView? {
        try await read { db in
            try await db.raw("\(consultationViewSelect) WHERE c.id = \(bind: grant.resourceID)").first()?.consultationView()
        }
    }

    public func consultations(
        _ scope: Scope<ConsultationResource>, from: Date?, to: Date?, statuses: Set<ConsultationStatus>?, assignedTo: Account.ID?, limit: Int
    ) async throws -> [ConsultationView] {
        let predicate = scope.predicate.sql(consultationColumns)
        let assigned: SQLQueryString = assignedTo.map { "c.clinician_id = \(bind: $0.description)" } ?? "1 = 1"
        let lower: SQLQueryString = from.map { "c.starts_at >= \(bind: $0.epochMilliseconds)" } ?? "1 = 1"
        let upper: SQLQueryString = to.map { "c.starts_at < \(bind: $0.epochMilliseconds)" } ?? "1 = 1"
        let status: SQLQueryString =
            statuses.map { s in s.isEmpty ? "1 = 0" : "c.status IN (\(binds: s.map(\.rawValue).sorted()))" } ?? "1 = 1"
        let cap = Int64(min(max(limit, 1), 500))
        return try await read { db in
            try await db.raw(
                "\(consultationViewSelect) WHERE (\(predicate)) AND \(assigned) AND \(lower) AND \(upper) AND \(status) ORDER BY c.starts_at, c.id LIMIT \(bind: cap)"
            ).all().map { try $0.consultationView() }
        }
    }

    public func transition(
        from: ConsultationStatus, to: ConsultationStatus, event: ConsultationEvent, at: Date, write: AuditedWrite<ConsultationResource>
    ) async throws -> Bool {
        try check(write, [.update, .join])
        let id = write.grant.resourceID
        do {
            return try await audited(write) { db in
                let current = try await db.raw("SELECT status FROM consultations WHERE id = \(bind: id)").first()?
                    .decode(column: "status", as: String.self)
                guard current == from.rawValue else { throw StoreError(.conflict) }
                // INVARIANT: the row must actually change (a concurrent transition may have won
                // since the read above); otherwise nothing is recorded and the caller hears "conflict".
                let changed = try await db.raw(
                    """
                    UPDATE consultations SET status = \(bind: to.rawValue), updated_at = \(bind: at.epochMilliseconds)
                    WHERE id = \(bind: id) AND status = \(bind: from.rawValue) RETURNING id
                    """
                ).all()
                guard changed.count == 1 else { throw StoreError(.conflict) }
                try await db.raw(
                    """
                    INSERT INTO consultation_events (consultation_id, at, event, from_status, to_status, actor)
                    VALUES (\(bind: id), \(bind: at.epochMilliseconds), \(bind: event.rawValue), \(bind: from.rawValue), \(bind: to.rawValue),
                        \(bind: write.grant.principal.description))
                    """
                ).run()
                return true
            }
        } catch let error as StoreError where error.code == .conflict {
            return false
        }
    }

    public func reschedule(start: Date, end: Date, modality: Modality, at: Date, write: AuditedWrite<ConsultationResource>) async throws -> Bool {
        try check(write, [.update])
        let id = write.grant.resourceID
        do {
            return try await audited(write) { db in
                let current = try await db.raw("SELECT status FROM consultations WHERE id = \(bind: id)").first()?
                    .decode(column: "status", as: String.self)
                guard current == ConsultationStatus.booked.rawValue else { throw StoreError(.conflict) }
                try await self.lockClinicianSlots(db)
                try await self.checkNoOverlap(db, clinicianOf: id, start: start, end: end)
                let changed = try await db.raw(
                    """
                    UPDATE consultations SET starts_at = \(bind: start.epochMilliseconds), ends_at = \(bind: end.epochMilliseconds),
                        modality = \(bind: modality.rawValue), updated_at = \(bind: at.epochMilliseconds)
                    WHERE id = \(bind: id) AND status = 'booked' RETURNING id
                    """
                ).all()
                guard changed.count == 1 else { throw StoreError(.conflict) }
                // The new time gets its own reminders.
                try await db.raw("DELETE FROM reminders_sent WHERE consultation_id = \(bind: id)").run()
                try await db.raw(
                    """
                    INSERT INTO consultation_events (consultation_id, at, event, from_status, to_status, actor)
                    VALUES (\(bind: id), \(bind: at.epochMilliseconds), 'reschedule', 'booked', 'booked', \(bind: write.grant.principal.description))
                    """
                ).run()
                return true
            }
        } catch let error as StoreError where error.code == .conflict {
            return false
        } catch where backend.isUniqueViolation(error) {
            throw StoreError(.slotTaken)
        }
    }

    // MARK: notes

    public func noteVersions(_ grant: Grant<NoteResource>) async throws -> [NoteVersion] {
        guard grant.action == .read || grant.action == .update || grant.action == .create else { throw StoreError(.capabilityMismatch) }
        return try await read { db in
            try await db.raw("SELECT * FROM note_versions WHERE consultation_id = \(bind: grant.resourceID) ORDER BY version").all()
                .map { try $0.noteVersion() }
        }
    }

    public func saveNote(_ v: NoteVersion, expectedVersion: Int, write: AuditedWrite<NoteResource>) async throws -> Bool {
        try check(write, [.create, .update], id: v.consultation.description)
        guard v.version == expectedVersion + 1 else { throw StoreError(.capabilityMismatch) }
        do {
            return try await audited(write) { db in
                let latest = try await db.raw(
                    "SELECT MAX(version) AS v FROM note_versions WHERE consultation_id = \(bind: v.consultation.description)"
                ).first()?.decode(column: "v", as: Int64?.self) ?? 0
                guard latest == Int64(expectedVersion) else { throw StoreError(.conflict) }
                try await db.raw(
                    """
                    INSERT INTO note_versions (consultation_id, version, history, examination, assessment, plan, status, author,
                        amendment_reason, signed_at, saved_at)
                    VALUES (\(bind: v.consultation.description), \(bind: Int64(v.version)), \(bind: v.sections.history),
                        \(bind: v.sections.examination), \(bind: v.sections.assessment), \(bind: v.sections.plan), \(bind: v.status.rawValue),
                        \(bind: v.author.description), \(bind: v.amendmentReason), \(bind: v.signedAt?.epochMilliseconds),
                        \(bind: v.savedAt.epochMilliseconds))
                    """
                ).run()
                return true
            }
        } catch let error as StoreError where error.code == .conflict {
            return false
        } catch where backend.isUniqueViolation(error) {
            return false
        }
    }
}

// MARK: - facts

extension SQLStores: ClinicFactsStore {
    /// The principal's relations to a patient and a practice, as booleans (never `nil`: the
    /// question always has an answer once the resource exists).
    func relations(patient: String?, practice: String?, principal: Principal, db: any SQLDatabase) async throws
        -> (careTeamConsent: Bool, practiceAdmin: Bool, practiceMember: Bool)
    {
        guard let account = principal.account?.description else { return (false, false, false) }
        var consent = false
        if let patient {
            consent =
                try await db.raw(
                    """
                    SELECT 1 AS x FROM care_consents cc JOIN care_team_members tm ON tm.team_id = cc.team_id
                    WHERE cc.patient_id = \(bind: patient) AND tm.account_id = \(bind: account) AND cc.withdrawn_at IS NULL
                    """
                ).first() != nil
        }
        var admin = false
        var member = false
        if let practice {
            let roles = try await db.raw(
                "SELECT role FROM practice_members WHERE practice_id = \(bind: practice) AND account_id = \(bind: account)"
            ).all().map { try $0.decode(column: "role", as: String.self) }
            admin = roles.contains(PracticeRole.admin.rawValue)
            member = roles.contains(PracticeRole.clinician.rawValue)
        }
        return (consent, admin, member)
    }

    public func relationFacts(patient: Patient.ID?, practice: Practice.ID?, for principal: Principal) async throws -> ResourceFacts {
        try await read { db in
            let r = try await self.relations(patient: patient?.description, practice: practice?.description, principal: principal, db: db)
            return ResourceFacts(
                owningPatient: patient, practice: practice, careTeamConsent: r.careTeamConsent, practiceAdmin: r.practiceAdmin,
                practiceMember: r.practiceMember)
        }
    }

    public func practiceFacts(_ id: Practice.ID, for principal: Principal) async throws -> ResourceFacts? {
        try await read { db in
            guard try await db.raw("SELECT id FROM practices WHERE id = \(bind: id.description)").first() != nil else { return nil }
            let r = try await self.relations(patient: nil, practice: id.description, principal: principal, db: db)
            return ResourceFacts(resourceID: id.description, practice: id, practiceAdmin: r.practiceAdmin, practiceMember: r.practiceMember)
        }
    }

    public func availabilityFacts(clinician: Account.ID, practice: Practice.ID, for principal: Principal) async throws -> ResourceFacts? {
        try await read { db in
            // The availability of a clinician at a practice exists when they are a clinician member there.
            guard
                try await db.raw(
                    """
                    SELECT 1 AS x FROM practice_members WHERE practice_id = \(bind: practice.description)
                    AND account_id = \(bind: clinician.description) AND role = 'clinician'
                    """
                ).first() != nil
            else { return nil }
            let r = try await self.relations(patient: nil, practice: practice.description, principal: principal, db: db)
            return ResourceFacts(
                resourceID: "\(clinician)/\(practice)", account: clinician, practice: practice, practiceAdmin: r.practiceAdmin,
                practiceMember: r.practiceMember)
        }
    }

    func consultationFacts(_ id: String, principal: Principal, db: any SQLDatabase) async throws -> ResourceFacts? {
        guard let row = try await db.raw("SELECT patient_id, clinician_id, practice_id FROM consultations WHERE id = \(bind: id)").first()
        else { return nil }
        let patient = try row.decode(column: "patient_id", as: String.self)
        let practice = try row.decode(column: "practice_id", as: String.self)
        let r = try await relations(patient: patient, practice: practice, principal: principal, db: db)
        // invited-to-call with consent: an accepted (not withdrawn) invitation of this account.
        var guest = false
        if let account = principal.account?.description {
            guest =
                try await db.raw(
                    "SELECT 1 AS x FROM call_invitations WHERE consultation_id = \(bind: id) AND invitee = \(bind: account) AND status = 'accepted'"
                ).first() != nil
        }
        return ResourceFacts(
            resourceID: id, owningPatient: Patient.ID(string: patient), practice: Practice.ID(string: practice),
            assignedClinician: Account.ID(string: try row.decode(column: "clinician_id", as: String.self)),
            careTeamConsent: r.careTeamConsent, practiceAdmin: r.practiceAdmin, practiceMember: r.practiceMember, callGuest: guest)
    }

    public func consultationFacts(_ id: Consultation.ID, for principal: Principal) async throws -> ResourceFacts? {
        try await read { db in try await self.consultationFacts(id.description, principal: principal, db: db) }
    }

    public func noteFacts(_ consultation: Consultation.ID, for principal: Principal) async throws -> ResourceFacts? {
        try await read { db in
            // The note's patient is its consultation's patient: the ground truth, never a copy on the note.
            guard var facts = try await self.consultationFacts(consultation.description, principal: principal, db: db) else { return nil }
            facts.signed =
                try await db.raw(
                    "SELECT 1 AS x FROM note_versions WHERE consultation_id = \(bind: consultation.description) AND status = 'signed'"
                ).first() != nil
            return facts
        }
    }

    public func careConsentFacts(_ id: String, for principal: Principal) async throws -> ResourceFacts? {
        try await read { db in
            guard let row = try await db.raw("SELECT patient_id FROM care_consents WHERE id = \(bind: id)").first() else { return nil }
            return ResourceFacts(resourceID: id, owningPatient: Patient.ID(string: try row.decode(column: "patient_id", as: String.self)))
        }
    }

    public func patientRecordFacts(_ id: Patient.ID, for principal: Principal) async throws -> ResourceFacts? {
        try await read { db in
            guard let row = try await db.raw("SELECT practice_id FROM patients WHERE id = \(bind: id.description)").first() else { return nil }
            let practice = try row.decode(column: "practice_id", as: String?.self)
            let r = try await self.relations(patient: id.description, practice: practice, principal: principal, db: db)
            return ResourceFacts(
                resourceID: id.description, owningPatient: id, practice: practice.flatMap(Practice.ID.init(string:)),
                careTeamConsent: r.careTeamConsent, practiceAdmin: r.practiceAdmin, practiceMember: r.practiceMember)
        }
    }
}

// MARK: - reminders and notifications

extension SQLStores {
    static let remindable: SQLQueryString = "c.status IN ('booked', 'checked-in')"

    public func dueReminderCount(kind: String, from: Date, to: Date) async throws -> Int {
        try await read { db in
            Int(
                try await db.raw(
                    """
                    SELECT COUNT(*) AS n FROM consultations c WHERE \(Self.remindable)
                    AND c.starts_at > \(bind: from.epochMilliseconds) AND c.starts_at <= \(bind: to.epochMilliseconds)
                    AND NOT EXISTS (SELECT 1 FROM reminders_sent r WHERE r.consultation_id = c.id AND r.kind = \(bind: kind))
                    """
                ).first()?.decode(column: "n", as: Int64.self) ?? 0)
        }
    }

    public func dueReminders(_ scope: Scope<ConsultationResource>, kind: String, from: Date, to: Date, limit: Int) async throws -> [DueReminder] {
        let predicate = scope.predicate.sql(consultationColumns)
        return try await read { db in
            try await db.raw(
                """
                SELECT c.id, c.patient_id, c.starts_at, p.account_id FROM consultations c JOIN patients p ON p.id = c.patient_id
                WHERE (\(predicate)) AND \(Self.remindable)
                AND c.starts_at > \(bind: from.epochMilliseconds) AND c.starts_at <= \(bind: to.epochMilliseconds)
                AND NOT EXISTS (SELECT 1 FROM reminders_sent r WHERE r.consultation_id = c.id AND r.kind = \(bind: kind))
                ORDER BY c.starts_at, c.id LIMIT \(bind: Int64(min(max(limit, 1), 500)))
                """
            ).all().map { row in
                DueReminder(
                    consultation: try row.id("id"), patient: try row.id("patient_id"), patientAccount: try row.id("account_id"),
                    start: try row.ms("starts_at"))
            }
        }
    }

    public func claimReminder(
        consultation: Consultation.ID, kind: String, at: Date, notification: NotificationRecord, email: OutgoingEmail?
    ) async throws -> Bool {
        do {
            try await backend.transaction { db in
                try await db.raw(
                    """
                    INSERT INTO reminders_sent (consultation_id, kind, sent_at)
                    VALUES (\(bind: consultation.description), \(bind: kind), \(bind: at.epochMilliseconds))
                    """
                ).run()
                try await db.raw(insertNotificationSQL(notification)).run()
                if let email { try await db.raw(insertEmailSQL(email)).run() }
            }
            return true
        } catch where backend.isUniqueViolation(error) {
            return false
        }
    }

    public func addNotification(_ notification: NotificationRecord) async throws {
        try await read { db in try await db.raw(insertNotificationSQL(notification)).run() }
    }

    public func notifications(account: Account.ID, limit: Int) async throws -> [NotificationRecord] {
        try await read { db in
            try await db.raw(
                """
                SELECT * FROM notifications WHERE account_id = \(bind: account.description)
                ORDER BY created_at DESC, id LIMIT \(bind: Int64(min(max(limit, 1), 200)))
                """
            ).all().map { row in
                NotificationRecord(
                    id: try row.decode(column: "id", as: String.self), account: try row.id("account_id"),
                    kind: try row.decode(column: "kind", as: String.self),
                    consultation: try row.decode(column: "consultation_id", as: String?.self).flatMap(Consultation.ID.init(string:)),
                    text: try row.decode(column: "text", as: String.self), createdAt: try row.ms("created_at"), readAt: try row.msOptional("read_at"))
            }
        }
    }

    public func markNotificationsRead(account: Account.ID, at: Date) async throws {
        try await read { db in
            try await db.raw(
                """
                UPDATE notifications SET read_at = \(bind: at.epochMilliseconds)
                WHERE account_id = \(bind: account.description) AND read_at IS NULL
                """
            ).run()
        }
    }
}

func insertNotificationSQL(_ n: NotificationRecord) -> SQLQueryString {
    """
    INSERT INTO notifications (id, account_id, kind, consultation_id, text, created_at)
    VALUES (\(bind: n.id), \(bind: n.account.description), \(bind: n.kind), \(bind: n.consultation?.description), \(bind: n.text),
        \(bind: n.createdAt.epochMilliseconds))
    """
}

// MARK: - allergies, medicines, prescriptions

extension SQLRow {
    func prescriptionRecord() throws -> PrescriptionRecord {
        PrescriptionRecord(
            id: try decode(column: "id", as: String.self), consultation: try id("consultation_id"),
            medicine: try decode(column: "medicine", as: String.self), dose: try decode(column: "dose", as: String.self),
            route: try decode(column: "route", as: String.self), frequency: try decode(column: "frequency", as: String.self),
            quantity: Int(try decode(column: "quantity", as: Int64.self)), pharmacy: try decode(column: "pharmacy", as: String.self),
            status: try decode(column: "status", as: String.self), allergyOverride: try decode(column: "allergy_override", as: String?.self),
            issuedAt: try ms("issued_at"), author: try id("author"),
            cancellationReason: try decode(column: "cancellation_reason", as: String?.self))
    }
}

extension SQLStores {
    public func cancelPrescription(id: String, reason: String, at: Date, write: AuditedWrite<PrescriptionResource>) async throws -> Bool {
        try check(write, [.update])
        do {
            return try await audited(write) { db in
                // INVARIANT: only a prescription of the consultation the grant names, and only once.
                let changed = try await db.raw(
                    """
                    UPDATE prescriptions SET status = 'cancelled', cancelled_at = \(bind: at.epochMilliseconds),
                        cancellation_reason = \(bind: reason)
                    WHERE id = \(bind: id) AND consultation_id = \(bind: write.grant.resourceID) AND status = 'issued' RETURNING id
                    """
                ).all()
                guard changed.count == 1 else { throw StoreError(.conflict) }
                return true
            }
        } catch let error as StoreError where error.code == .conflict {
            return false
        }
    }

    func background(patient: String, db: any SQLDatabase) async throws -> (allergies: [AllergyRecord], medicines: [MedicineRecord]) {
        let allergies = try await db.raw(
            "SELECT * FROM patient_allergies WHERE patient_id = \(bind: patient) ORDER BY recorded_at, id"
        ).all().map { row in
            AllergyRecord(
                id: try row.decode(column: "id", as: String.self), patient: try row.id("patient_id"),
                substance: try row.decode(column: "substance", as: String.self), reaction: try row.decode(column: "reaction", as: String.self),
                recordedAt: try row.ms("recorded_at"), recordedBy: try row.id("recorded_by"))
        }
        let medicines = try await db.raw(
            "SELECT * FROM patient_medicines WHERE patient_id = \(bind: patient) ORDER BY recorded_at, id"
        ).all().map { row in
            MedicineRecord(
                id: try row.decode(column: "id", as: String.self), patient: try row.id("patient_id"),
                name: try row.decode(column: "name", as: String.self), dose: try row.decode(column: "dose", as: String.self),
                recordedAt: try row.ms("recorded_at"), recordedBy: try row.id("recorded_by"))
        }
        return (allergies, medicines)
    }

    /// The patient of a consultation: the ground truth for everything that hangs off it.
    func consultationPatient(_ consultation: String, db: any SQLDatabase) async throws -> String {
        guard let row = try await db.raw("SELECT patient_id FROM consultations WHERE id = \(bind: consultation)").first() else {
            throw StoreError(.capabilityMismatch)
        }
        return try row.decode(column: "patient_id", as: String.self)
    }

    public func background(consultation grant: Grant<NoteResource>) async throws -> (allergies: [AllergyRecord], medicines: [MedicineRecord]) {
        try await read { db in
            try await self.background(patient: try await self.consultationPatient(grant.resourceID, db: db), db: db)
        }
    }

    public func background(patient grant: Grant<PatientRecordResource>) async throws -> (allergies: [AllergyRecord], medicines: [MedicineRecord]) {
        guard grant.action == .read else { throw StoreError(.capabilityMismatch) }
        return try await read { db in try await self.background(patient: grant.resourceID, db: db) }
    }

    public func addAllergy(substance: String, reaction: String, id: String, at: Date, write: AuditedWrite<NoteResource>) async throws {
        try check(write, [.update, .create])
        guard let author = write.grant.principal.account else { throw StoreError(.capabilityMismatch) }
        try await audited(write) { db in
            let patient = try await self.consultationPatient(write.grant.resourceID, db: db)
            try await db.raw(
                """
                INSERT INTO patient_allergies (id, patient_id, substance, reaction, recorded_at, recorded_by)
                VALUES (\(bind: id), \(bind: patient), \(bind: substance), \(bind: reaction), \(bind: at.epochMilliseconds), \(bind: author.description))
                """
            ).run()
        }
    }

    public func addMedicine(name: String, dose: String, id: String, at: Date, write: AuditedWrite<NoteResource>) async throws {
        try check(write, [.update, .create])
        guard let author = write.grant.principal.account else { throw StoreError(.capabilityMismatch) }
        try await audited(write) { db in
            let patient = try await self.consultationPatient(write.grant.resourceID, db: db)
            try await db.raw(
                """
                INSERT INTO patient_medicines (id, patient_id, name, dose, recorded_at, recorded_by)
                VALUES (\(bind: id), \(bind: patient), \(bind: name), \(bind: dose), \(bind: at.epochMilliseconds), \(bind: author.description))
                """
            ).run()
        }
    }

    public func issuePrescription(_ p: PrescriptionRecord, write: AuditedWrite<PrescriptionResource>) async throws {
        try check(write, [.create], id: p.consultation.description)
        try await audited(write) { db in
            try await db.raw(
                """
                INSERT INTO prescriptions (id, consultation_id, medicine, dose, route, frequency, quantity, pharmacy, status, allergy_override,
                    issued_at, author)
                VALUES (\(bind: p.id), \(bind: p.consultation.description), \(bind: p.medicine), \(bind: p.dose), \(bind: p.route),
                    \(bind: p.frequency), \(bind: Int64(p.quantity)), \(bind: p.pharmacy), \(bind: p.status), \(bind: p.allergyOverride),
                    \(bind: p.issuedAt.epochMilliseconds), \(bind: p.author.description))
                """
            ).run()
        }
    }

    public func prescriptions(consultation grant: Grant<PrescriptionResource>) async throws -> [PrescriptionRecord] {
        try await read { db in
            try await db.raw("SELECT * FROM prescriptions WHERE consultation_id = \(bind: grant.resourceID) ORDER BY issued_at, id").all()
                .map { try $0.prescriptionRecord() }
        }
    }

    public func prescriptions(_ scope: Scope<PrescriptionResource>, limit: Int) async throws -> [(PrescriptionRecord, Patient.ID)] {
        let predicate = scope.predicate.sql(consultationColumns)
        return try await read { db in
            try await db.raw(
                """
                SELECT rx.*, c.patient_id AS rx_patient FROM prescriptions rx JOIN consultations c ON c.id = rx.consultation_id
                WHERE \(predicate) ORDER BY rx.issued_at DESC, rx.id LIMIT \(bind: Int64(min(max(limit, 1), 500)))
                """
            ).all().map { row in (try row.prescriptionRecord(), try row.id("rx_patient")) }
        }
    }
}

// MARK: - break-glass

extension SQLStores {
    public func recordBreakGlass(
        requestID: String, account: Account.ID, resourceType: String, resourceID: String, patient: Patient.ID?, reason: String, at: Date
    ) async throws {
        try await read { db in
            try await db.raw(
                """
                INSERT INTO break_glass_reasons (id, request_id, account_id, resource_type, resource_id, patient_id, reason, at)
                VALUES (\(bind: UUID().uuidString.lowercased()), \(bind: requestID), \(bind: account.description), \(bind: resourceType),
                    \(bind: resourceID), \(bind: patient?.description), \(bind: reason), \(bind: at.epochMilliseconds))
                """
            ).run()
        }
    }
}

// MARK: - referrals, fit notes, letters

extension SQLRow {
    func documentRecord() throws -> DocumentRecord {
        guard let kind = DocumentKind(rawValue: try decode(column: "kind", as: String.self)) else { throw RowError(column: "kind") }
        return DocumentRecord(
            id: try decode(column: "id", as: String.self), consultation: try id("consultation_id"), kind: kind,
            recipient: try decode(column: "recipient", as: String.self), urgency: try decode(column: "urgency", as: String.self),
            body: try decode(column: "body", as: String.self),
            validFrom: try decode(column: "valid_from", as: String?.self).flatMap(CalendarDate.init(iso8601:)),
            validUntil: try decode(column: "valid_until", as: String?.self).flatMap(CalendarDate.init(iso8601:)),
            issuedAt: try ms("issued_at"), author: try id("author"))
    }
}

extension SQLStores {
    public func issueDocument(_ d: DocumentRecord, write: AuditedWrite<DocumentResource>) async throws {
        try check(write, [.create], id: d.consultation.description)
        try await audited(write) { db in
            try await db.raw(
                """
                INSERT INTO documents (id, consultation_id, kind, recipient, urgency, body, valid_from, valid_until, issued_at, author)
                VALUES (\(bind: d.id), \(bind: d.consultation.description), \(bind: d.kind.rawValue), \(bind: d.recipient), \(bind: d.urgency),
                    \(bind: d.body), \(bind: d.validFrom?.description), \(bind: d.validUntil?.description), \(bind: d.issuedAt.epochMilliseconds),
                    \(bind: d.author.description))
                """
            ).run()
        }
    }

    public func documents(consultation grant: Grant<DocumentResource>) async throws -> [DocumentRecord] {
        try await read { db in
            try await db.raw("SELECT * FROM documents WHERE consultation_id = \(bind: grant.resourceID) ORDER BY issued_at, id").all()
                .map { try $0.documentRecord() }
        }
    }

    public func documents(_ scope: Scope<DocumentResource>, limit: Int) async throws -> [(DocumentRecord, Patient.ID)] {
        let predicate = scope.predicate.sql(consultationColumns)
        return try await read { db in
            try await db.raw(
                """
                SELECT d.*, c.patient_id AS doc_patient FROM documents d JOIN consultations c ON c.id = d.consultation_id
                WHERE \(predicate) ORDER BY d.issued_at DESC, d.id LIMIT \(bind: Int64(min(max(limit, 1), 500)))
                """
            ).all().map { row in (try row.documentRecord(), try row.id("doc_patient")) }
        }
    }
}
