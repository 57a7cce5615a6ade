import ConfideCore
import ConfidePolicy

/// The test-side facts loader: the facts of a world's resource relative to the principal asking,
/// with the meaning of the SQL loaders (`ClinicFactsStore`, `FactsStore`, and the facts the
/// clinic service builds for a booking or a consent). Relations are computed as the SQL does:
/// from membership rows (practice, account, role) and from team membership plus active consents.
extension World {
    private struct MemberRow {
        let practice: Practice.ID
        let account: Account.ID
        let role: String
    }

    private var memberRows: [MemberRow] {
        clinicians.flatMap { c in c.practices.map { MemberRow(practice: $0, account: c.account, role: "clinician") } }
            + practiceAdmins.flatMap { a in a.practices.map { MemberRow(practice: $0, account: a.account, role: "admin") } }
    }

    /// `relations(patient:practice:principal:)` of the SQL stores: all false without an account.
    private func relations(patient: Patient.ID?, practice: Practice.ID?, principal: Principal)
        -> (careTeamConsent: Bool, practiceAdmin: Bool, practiceMember: Bool)
    {
        guard let account = principal.account else { return (false, false, false) }
        var consent = false
        if let patient {
            let teamsOfAccount = Set(teams.filter { $0.members.contains(account) }.map(\.id))
            consent = consents.contains { $0.patient == patient && $0.active && teamsOfAccount.contains($0.team) }
        }
        var roles: [String] = []
        if let practice { roles = memberRows.filter { $0.practice == practice && $0.account == account }.map(\.role) }
        return (consent, roles.contains("admin"), roles.contains("clinician"))
    }

    private func consultationFacts(_ id: Consultation.ID, for principal: Principal) -> ResourceFacts? {
        guard let v = visit(id) else { return nil }
        let r = relations(patient: v.patient, practice: v.practice, principal: principal)
        return ResourceFacts(
            resourceID: id.description, owningPatient: v.patient, practice: v.practice, assignedClinician: v.clinician,
            careTeamConsent: r.careTeamConsent, practiceAdmin: r.practiceAdmin, practiceMember: r.practiceMember,
            callGuest: principal.account != nil && v.callGuest == principal.account)
    }

    /// The facts of `resource` for `principal`; `nil` when the resource does not exist.
    func facts(of resource: WorldResource, for principal: Principal) -> ResourceFacts? {
        switch resource {
        case .practice(let id):
            guard practices.contains(id) else { return nil }
            let r = relations(patient: nil, practice: id, principal: principal)
            return ResourceFacts(resourceID: id.description, practice: id, practiceAdmin: r.practiceAdmin, practiceMember: r.practiceMember)
        case .availability(let clinician, let practice):
            guard memberRows.contains(where: { $0.practice == practice && $0.account == clinician && $0.role == "clinician" }) else {
                return nil
            }
            let r = relations(patient: nil, practice: practice, principal: principal)
            return ResourceFacts(
                resourceID: "\(clinician)/\(practice)", account: clinician, practice: practice, practiceAdmin: r.practiceAdmin,
                practiceMember: r.practiceMember)
        case .consultation(let id):
            return consultationFacts(id, for: principal)
        case .note(let id):
            guard var f = consultationFacts(id, for: principal), let v = visit(id) else { return nil }
            // Signed when some version is signed.
            f.signed = v.note == .signed || v.note == .signedThenAmending
            return f
        case .prescription(let id):
            // As `ClinicService.prescriptions`/`prescribe`: the consultation's facts.
            return consultationFacts(id, for: principal)
        case .document(let id):
            // As for prescriptions: a document's patient is its consultation's; the consultation's facts.
            return consultationFacts(id, for: principal)
        case .recording(let id):
            // As `recordingFacts`: the consultation's facts (never a call guest), plus the kill switch.
            guard var f = consultationFacts(id, for: principal) else { return nil }
            f.callGuest = false
            f.playbackSuspended = playbackSuspended
            return f
        case .recordingConsent(let id):
            guard var f = consultationFacts(id, for: principal) else { return nil }
            f.callGuest = false
            return f
        case .triageSession(let id):
            // As `triageSessionFacts` for a session attached to a consultation: the consultation's facts.
            guard var f = consultationFacts(id, for: principal) else { return nil }
            f.callGuest = false
            return f
        case .newTriageSession(let patient, let serverAssigned):
            // As `TriageService.start`: the patient fixed by the server.
            return ResourceFacts(resourceID: "new-triage", owningPatient: patient, serverAssignedOwner: serverAssigned)
        case .playbackSwitch:
            return ResourceFacts(resourceID: "playback")
        case .incident:
            return ResourceFacts(resourceID: "incident")
        case .breachNotice(let patient, let sent):
            // As the notice store: the patient it is addressed to; "signed" once sent.
            var f = ResourceFacts(resourceID: "notice-\(patient)-\(sent)", owningPatient: patient)
            f.signed = sent
            return f
        case .regulatorNotice:
            return ResourceFacts(resourceID: "notice-regulator")
        case .newBreachNotice(let patient):
            return ResourceFacts(resourceID: "new-notice", owningPatient: patient, serverAssignedOwner: true)
        case .message(let id):
            // As `messageFacts`: the consultation's facts, a call guest's invitation included.
            return consultationFacts(id, for: principal)
        case .careConsent(let id):
            guard let c = consent(id) else { return nil }
            return ResourceFacts(resourceID: id, owningPatient: c.patient)
        case .patientRecord(let id):
            guard let p = patient(id) else { return nil }
            let r = relations(patient: id, practice: p.practice, principal: principal)
            return ResourceFacts(
                resourceID: id.description, owningPatient: id, practice: p.practice, careTeamConsent: r.careTeamConsent,
                practiceAdmin: r.practiceAdmin, practiceMember: r.practiceMember)
        case .staffAccount(let account):
            guard staff.contains(where: { $0.account == account }) else { return nil }
            return ResourceFacts(resourceID: account.description, account: account)
        case .auditEntry(let id):
            guard patient(id) != nil else { return nil }
            return ResourceFacts(resourceID: "audit", owningPatient: id)
        case .newBooking(let patient, let clinician, let practice, let serverAssigned):
            // As `ClinicService.book`: relation facts of the patient and practice, plus the clinician.
            let r = relations(patient: patient, practice: practice, principal: principal)
            return ResourceFacts(
                resourceID: "new-booking", owningPatient: patient, serverAssignedOwner: serverAssigned, practice: practice,
                assignedClinician: clinician, careTeamConsent: r.careTeamConsent, practiceAdmin: r.practiceAdmin,
                practiceMember: r.practiceMember)
        case .newConsent(let patient, let teamID, let serverAssigned):
            // As `ClinicService.grantConsent`: relation facts of the patient and the team's practice.
            let practice = team(teamID)?.practice
            let r = relations(patient: patient, practice: practice, principal: principal)
            return ResourceFacts(
                resourceID: "new-consent", owningPatient: patient, serverAssignedOwner: serverAssigned, practice: practice,
                careTeamConsent: r.careTeamConsent, practiceAdmin: r.practiceAdmin, practiceMember: r.practiceMember)
        case .newPatientRecord(let id, let serverAssigned):
            // As registration and seeding: the new record's own identity, fixed by the server or not.
            return ResourceFacts(resourceID: id.description, owningPatient: id, serverAssignedOwner: serverAssigned)
        }
    }
}
