extension PolicySet {
    /// The rules in force. Review changes to this list like code: each rule has an ID that
    /// appears in every decision it takes part in. `docs/design/authorization.md` explains them.
    public static let confide = PolicySet(
        version: "2026-11-30.4",
        rules: [
            // MARK: patients: their own data
            Rule(
                id: "patient.own-record.v1", effect: .permit, principals: [.patient],
                actions: [.read, .update], resources: [.patientRecord], when: .principalIsOwningPatient,
                rationale: "a patient may see and correct their own demographics"),
            Rule(
                id: "patient.own-access-log.v1", effect: .permit, principals: [.patient],
                actions: [.list, .read], resources: [.auditEntry], when: .principalIsOwningPatient,
                rationale: "a patient may see who accessed their data"),
            Rule(
                id: "patient.own-consultations.v1", effect: .permit, principals: [.patient],
                actions: [.read, .list, .update, .join], resources: [.consultation], when: .principalIsOwningPatient,
                rationale: "a patient sees, checks in to, cancels, reschedules and joins their own consultations"),
            Rule(
                id: "patient.book.v1", effect: .permit, principals: [.patient],
                actions: [.create], resources: [.consultation], when: .all([.ownerAssignedByServer, .principalIsOwningPatient]),
                rationale: "a patient books for themselves; the server sets the patient, never the client"),
            Rule(
                id: "patient.own-signed-notes.v1", effect: .permit, principals: [.patient],
                actions: [.read, .list], resources: [.note], when: .all([.principalIsOwningPatient, .resourceIsSigned]),
                rationale: "a patient reads the notes of their consultations once the clinician has signed them"),
            Rule(
                id: "patient.own-prescriptions.v1", effect: .permit, principals: [.patient],
                actions: [.read, .list], resources: [.prescription], when: .principalIsOwningPatient,
                rationale: "a patient sees the prescriptions issued to them"),
            Rule(
                id: "patient.own-documents.v1", effect: .permit, principals: [.patient],
                actions: [.read, .list], resources: [.document], when: .principalIsOwningPatient,
                rationale: "a patient sees the referrals, fit notes and letters issued to them"),
            Rule(
                id: "patient.own-consents.v1", effect: .permit, principals: [.patient],
                actions: [.read, .list, .update], resources: [.careConsent], when: .principalIsOwningPatient,
                rationale: "a patient sees and withdraws their care-team consents"),
            Rule(
                id: "patient.grant-consent.v1", effect: .permit, principals: [.patient],
                actions: [.create], resources: [.careConsent], when: .all([.ownerAssignedByServer, .principalIsOwningPatient]),
                rationale: "a patient grants a care team access to their record"),
            Rule(
                id: "patient.own-recordings.v1", effect: .permit, principals: [.patient],
                actions: [.read, .list, .play], resources: [.recording], when: .principalIsOwningPatient,
                rationale: "a patient sees and plays the recordings of their own consultations"),
            Rule(
                id: "patient.own-recording-consents.v1", effect: .permit, principals: [.patient],
                actions: [.read, .list, .update], resources: [.recordingConsent], when: .principalIsOwningPatient,
                rationale: "a patient sees, answers and withdraws the requests to record their consultations"),
            Rule(
                id: "patient.own-breach-notices.v1", effect: .permit, principals: [.patient],
                actions: [.read, .list], resources: [.breachNotice], when: .all([.principalIsOwningPatient, .resourceIsSigned]),
                rationale: "a patient reads the breach notices sent to them (never a draft)"),
            Rule(
                id: "patient.own-triage.v1", effect: .permit, principals: [.patient],
                actions: [.read, .list, .update], resources: [.triageSession], when: .principalIsOwningPatient,
                rationale: "a patient sees, answers and finishes their own symptom-checker sessions"),
            Rule(
                id: "patient.start-triage.v1", effect: .permit, principals: [.patient],
                actions: [.create], resources: [.triageSession], when: .all([.ownerAssignedByServer, .principalIsOwningPatient]),
                rationale: "a patient starts a symptom-checker session for themselves; the server sets the patient"),
            Rule(
                id: "patient.own-call-chat.v1", effect: .permit, principals: [.patient],
                actions: [.read, .list, .create], resources: [.message], when: .principalIsOwningPatient,
                rationale: "a patient reads and writes the chat of their own consultations' calls (the server binds each line to the consultation)"),
            Rule(
                id: "anonymous.self-registration.v1", effect: .permit, principals: [.anonymous],
                actions: [.create], resources: [.patientRecord], when: .ownerAssignedByServer,
                rationale: "anyone may register as a patient; the server assigns the new record's identity"),

            // MARK: clinicians: assigned-clinician-of, care-team-member-of (with consent), break-glass
            Rule(
                id: "clinician.assigned-consultations.v1", effect: .permit, principals: [.clinician],
                actions: [.read, .list, .update, .join], resources: [.consultation], when: .principalIsAssignedClinician,
                rationale: "the clinician a consultation is booked with runs it"),
            Rule(
                id: "clinician.invited-to-call.v1", effect: .permit, principals: [.clinician],
                actions: [.join], resources: [.consultation], when: .principalInvitedToCall,
                rationale: "a second clinician of the practice joins a consultation's call when its clinician invited them and the patient consented; its chat opens with the call (clinician.call-chat.v1); nothing else of the consultation opens to them"),
            Rule(
                id: "clinician.call-chat.v1", effect: .permit, principals: [.clinician],
                actions: [.read, .list, .create], resources: [.message], when: .any([.principalIsAssignedClinician, .principalInvitedToCall]),
                rationale: "the consultation's clinician, and a second clinician invited into its call with the patient's consent, read and write the call's chat (a care team and break-glass do not open it)"),
            Rule(
                id: "clinician.assigned-notes.v1", effect: .permit, principals: [.clinician],
                actions: [.read, .list, .create, .update], resources: [.note], when: .principalIsAssignedClinician,
                rationale: "the consultation's clinician writes, signs and amends its notes"),
            Rule(
                id: "clinician.assigned-prescriptions.v1", effect: .permit, principals: [.clinician],
                actions: [.read, .list, .create, .update], resources: [.prescription], when: .principalIsAssignedClinician,
                rationale: "the consultation's clinician prescribes in it and may cancel what they prescribed"),
            Rule(
                id: "clinician.assigned-documents.v1", effect: .permit, principals: [.clinician],
                actions: [.read, .list, .create], resources: [.document], when: .principalIsAssignedClinician,
                rationale: "the consultation's clinician issues referrals, fit notes and letters in it"),
            Rule(
                id: "clinician.assigned-recordings.v1", effect: .permit, principals: [.clinician],
                actions: [.create, .record, .update, .read, .list, .play], resources: [.recording], when: .principalIsAssignedClinician,
                rationale: "the consultation's clinician records its call (only with the patient's consent, which the service checks), uploads it, stops it and plays it back"),
            Rule(
                id: "clinician.assigned-recording-consents.v1", effect: .permit, principals: [.clinician],
                actions: [.create, .read, .list], resources: [.recordingConsent], when: .principalIsAssignedClinician,
                rationale: "the consultation's clinician asks the patient for consent to record it and sees the answer (the server sets the patient from the consultation)"),
            Rule(
                id: "clinician.assigned-triage.v1", effect: .permit, principals: [.clinician],
                actions: [.read, .list], resources: [.triageSession], when: .principalIsAssignedClinician,
                rationale: "the clinician of a consultation sees the triage summary the patient attached to it"),
            Rule(
                id: "clinician.care-team-triage.v1", effect: .permit, principals: [.clinician],
                actions: [.read, .list], resources: [.triageSession], when: .principalInConsentedCareTeam,
                rationale: "care-team members the patient consented to see the patient's triage sessions"),
            Rule(
                id: "clinician.care-team-recordings.v1", effect: .permit, principals: [.clinician],
                actions: [.read, .list, .play], resources: [.recording], when: .principalInConsentedCareTeam,
                rationale: "members of a care team the patient has consented to may see and play the patient's recordings"),
            Rule(
                id: "clinician.care-team.v1", effect: .permit, principals: [.clinician],
                actions: [.read, .list], resources: [.patientRecord, .consultation, .note, .prescription, .document], when: .principalInConsentedCareTeam,
                rationale: "members of a care team the patient has consented to may read the patient's record"),
            Rule(
                id: "clinician.break-glass.v1", effect: .permit, principals: [.clinician],
                actions: [.read], resources: [.patientRecord, .consultation, .note, .prescription, .document],
                when: .all([.breakGlassInvoked, .principalWorksAtPractice]),
                rationale:
                    "in an emergency a clinician of the practice that holds the record (a consultation's own practice; for the patient record, the patient's registered practice) may read it, with a stated reason; audited and flagged"),

            // MARK: not patient data
            Rule(
                id: "signed-in.practices.v1", effect: .permit, principals: [.patient, .clinician, .practiceAdmin, .admin],
                actions: [.read, .list], resources: [.practice],
                rationale: "practices (name, country, zone) are a public directory for signed-in users"),
            Rule(
                id: "signed-in.slots.v1", effect: .permit, principals: [.patient, .clinician, .practiceAdmin],
                actions: [.search, .list], resources: [.availability],
                rationale: "patients, clinicians and practice admins may search the slots clinicians offer (operators run the platform; they do not book)"),
            Rule(
                id: "clinician.own-availability.v1", effect: .permit, principals: [.clinician],
                actions: [.read, .update], resources: [.availability], when: .principalIsResourceAccount,
                rationale: "clinicians publish their own availability"),
            Rule(
                id: "practice-admin.availability.v1", effect: .permit, principals: [.practiceAdmin],
                actions: [.read, .update], resources: [.availability], when: .principalAdministersPractice,
                rationale: "a practice admin edits the availability of their practice's clinicians"),
            Rule(
                id: "operator.practices.v1", effect: .permit, principals: [.admin, .system],
                actions: [.create, .update], resources: [.practice],
                rationale: "platform operators open practices and manage their members"),
            Rule(
                id: "practice-admin.own-practice.v1", effect: .permit, principals: [.practiceAdmin],
                actions: [.update], resources: [.practice], when: .principalAdministersPractice,
                rationale: "a practice admin manages their own practice's members and care teams"),
            Rule(
                id: "practice-admin.consultation-metadata.v1", effect: .permit, principals: [.practiceAdmin],
                actions: [.read, .list], resources: [.consultation], when: .principalAdministersPractice,
                rationale: "a practice admin sees the appointment book of their practice (times, status; never notes or media)"),
            Rule(
                id: "system.reminders.v1", effect: .permit, principals: [.system],
                actions: [.list], resources: [.consultation],
                rationale: "the reminder job lists upcoming consultations (identifiers and times) to send content-free reminders"),
            Rule(
                id: "system.abandoned-calls.v1", effect: .permit, principals: [.system],
                actions: [.update], resources: [.consultation],
                rationale: "the call-timeout job ends an in-progress consultation whose call everyone left long ago (the lifecycle lets the system only start, end or mark a no-show)"),
            Rule(
                id: "system.recording-lifecycle.v1", effect: .permit, principals: [.system],
                actions: [.list, .update, .delete], resources: [.recording],
                rationale: "the recording jobs finalise uploads that stopped and erase recordings past their practice's retention period (never reading media)"),
            Rule(
                id: "operator.lawful-erasure.v1", effect: .permit, principals: [.admin],
                actions: [.delete], resources: [.recording],
                rationale: "a platform operator erases a recording on a lawful request, with a stated reason; erasure destroys its key and shows nothing of it"),
            Rule(
                id: "operator.playback-switch.v1", effect: .permit, principals: [.admin],
                actions: [.read, .update], resources: [.playbackSwitch],
                rationale: "platform operators can disable all playback at once in an incident, and enable it again"),
            Rule(
                id: "operator.incidents.v1", effect: .permit, principals: [.admin],
                actions: [.read, .list, .update], resources: [.incident],
                rationale: "platform operators see the incidents the detection raised (identifiers and metadata only) and acknowledge them"),
            Rule(
                id: "operator.audit-search.v1", effect: .permit, principals: [.admin],
                actions: [.search, .read], resources: [.auditEntry],
                rationale: "platform operators search the audit log by patient, actor, resource and time (identifiers and metadata; entries never hold clinical text)"),
            Rule(
                id: "operator.breach-notices.v1", effect: .permit, principals: [.admin],
                actions: [.read, .list, .update], resources: [.breachNotice],
                rationale: "platform operators review, edit and send the drafted breach notices (what was seen and when; never clinical content)"),
            Rule(
                id: "system.breach-notices.v1", effect: .permit, principals: [.system],
                actions: [.create], resources: [.breachNotice], when: .ownerAssignedByServer,
                rationale: "the breach report drafts a notice per affected patient and a regulator summary on the visibly separate system path"),
            Rule(
                id: "system.seed.v1", effect: .permit, principals: [.system],
                actions: [.create], resources: [.patientRecord], when: .ownerAssignedByServer,
                rationale: "the demo seeder and operator bootstrap create records on the visibly separate system path"),
            Rule(
                id: "admin.manage-staff.v1", effect: .permit, principals: [.admin, .system],
                actions: [.create, .update, .read, .list], resources: [.staffAccount],
                rationale: "platform operators create and deactivate clinician and admin accounts"),
            Rule(
                id: "staff.own-account.v1", effect: .permit, principals: [.clinician, .admin, .practiceAdmin],
                actions: [.read, .update], resources: [.staffAccount], when: .principalIsResourceAccount,
                rationale: "staff may see and update their own account"),

            // MARK: forbids
            Rule(
                id: "admin.no-clinical-content.v1", effect: .forbid, principals: [.admin],
                actions: Set(Action.allCases),
                resources: [.patientRecord, .consultation, .note, .prescription, .document, .triageSession, .message, .careConsent, .recordingConsent],
                rationale: "platform operators run the service; they never see patient data, clinical content or media"),
            Rule(
                id: "admin.no-media.v1", effect: .forbid, principals: [.admin],
                actions: Set(Action.allCases).subtracting([.delete]),
                resources: [.recording],
                rationale: "platform operators never list, read or play recordings; the only thing they may do to one is erase it on a lawful request"),
            Rule(
                id: "practice-admin.no-clinical-content.v1", effect: .forbid, principals: [.practiceAdmin],
                actions: Set(Action.allCases),
                resources: [.patientRecord, .recording, .note, .prescription, .document, .triageSession, .message, .careConsent, .recordingConsent],
                rationale: "practice admins see appointment metadata only, never clinical content or media"),
            Rule(
                id: "platform.playback-suspended.v1", effect: .forbid, principals: Set(PrincipalKind.allCases),
                actions: [.play, .download], resources: [.recording], when: .playbackSuspended,
                rationale: "while an operator has engaged the playback kill switch nobody plays or downloads any recording"),
        ])
}
