/// What a principal wants to do: FHIR restful interactions plus a few domain verbs.
public enum Action: String, Sendable, Hashable, Codable, CaseIterable {
    case read, search, create, update, delete
    case list, play, download, join, record
}

/// The kinds of resource the engine decides about. Later issues add facts for each.
public enum ResourceKind: String, Sendable, Hashable, Codable, CaseIterable {
    case patientRecord = "patient-record"
    case consultation
    case recording
    case note
    case prescription
    case triageSession = "triage-session"
    case message
    case auditEntry = "audit-entry"
    /// A clinician's or admin's account (not patient data, but still decided here).
    case staffAccount = "staff-account"
    /// A practice: name, country, zone, members, care teams (not patient data).
    case practice
    /// A clinician's availability and the slots it offers (not patient data).
    case availability
    /// A patient's consent that a care team may see their record (patient data).
    case careConsent = "care-consent"
    /// A document issued in a consultation: a referral, a fit note or a letter (clinical content).
    case document
    /// A patient's answer to "may this consultation be recorded?" (patient data; a record of its own).
    case recordingConsent = "recording-consent"
    /// The platform-wide playback kill switch (not patient data).
    case playbackSwitch = "playback-switch"
    /// Something the detection raised (egress guard, canaries): identifiers and metadata, never
    /// clinical content.
    case incident
    /// A breach notice: a letter to an affected patient (theirs once sent) or the regulator summary.
    /// It tells what was seen and when, never clinical content.
    case breachNotice = "breach-notice"
}
