extension PolicySet {
    /// The rules in force. Review changes to this list like code: each rule has an ID that
    /// appears in every decision it takes part in.
    public static let confide = PolicySet(
        version: "2026-11-25.2",
        rules: [
            Rule(
                id: "patient.own-record.v1", effect: .permit, principals: [.patient],
                actions: [.read, .update], resources: [.patientRecord], when: .principalIsOwningPatient,
                rationale: "a patient may see and correct their own demographics"),
            Rule(
                id: "patient.own-access-log.v1", effect: .permit, principals: [.patient],
                actions: [.list, .read], resources: [.auditEntry], when: .principalIsOwningPatient,
                rationale: "a patient may see who accessed their data"),
            Rule(
                id: "anonymous.self-registration.v1", effect: .permit, principals: [.anonymous],
                actions: [.create], resources: [.patientRecord], when: .ownerAssignedByServer,
                rationale: "anyone may register as a patient; the server assigns the new record's identity"),
            Rule(
                id: "system.seed.v1", effect: .permit, principals: [.system],
                actions: [.create], resources: [.patientRecord], when: .ownerAssignedByServer,
                rationale: "the demo seeder and operator bootstrap create records on the visibly separate system path"),
            Rule(
                id: "admin.manage-staff.v1", effect: .permit, principals: [.admin, .system],
                actions: [.create, .update, .read, .list], resources: [.staffAccount],
                rationale: "platform operators create and deactivate clinician and admin accounts"),
            Rule(
                id: "staff.own-account.v1", effect: .permit, principals: [.clinician, .admin],
                actions: [.read, .update], resources: [.staffAccount], when: .principalIsResourceAccount,
                rationale: "staff may see and update their own account"),
            Rule(
                id: "admin.no-clinical-content.v1", effect: .forbid, principals: [.admin],
                actions: Set(Action.allCases),
                resources: [.patientRecord, .consultation, .recording, .note, .prescription, .triageSession, .message],
                rationale: "operators run the service; they never see clinical content or media"),
        ])
}
