/// The schema, as an ordered list of migrations. Portable SQL: the same text runs on SQLite and
/// PostgreSQL (TEXT identifiers, BIGINT times in epoch milliseconds, BIGINT 0/1 flags).
///
/// INVARIANT: migrations are append-only; an applied migration is never edited.
enum Migrations {
    struct Migration: Sendable {
        let version: Int
        let name: String
        let statements: [String]
    }

    static let all: [Migration] = [
        Migration(
            version: 1, name: "accounts, demographics, sessions",
            statements: [
                """
                CREATE TABLE accounts (
                    id TEXT PRIMARY KEY,
                    email TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    status TEXT NOT NULL,
                    email_verified_at BIGINT,
                    totp_secret_sealed TEXT,
                    totp_enabled BIGINT NOT NULL DEFAULT 0,
                    totp_last_step BIGINT NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL,
                    password_changed_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE patients (
                    id TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL UNIQUE REFERENCES accounts(id),
                    given_name TEXT NOT NULL,
                    family_name TEXT NOT NULL,
                    birth_date TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE staff (
                    account_id TEXT PRIMARY KEY REFERENCES accounts(id),
                    given_name TEXT NOT NULL,
                    family_name TEXT NOT NULL,
                    role TEXT,
                    registration_number TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE sessions (
                    token_hash TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    kind TEXT NOT NULL,
                    csrf_token TEXT NOT NULL,
                    mfa_satisfied BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL,
                    absolute_expires_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX sessions_account ON sessions (account_id)",
                "CREATE TABLE login_failures (throttle_key TEXT NOT NULL, at BIGINT NOT NULL)",
                "CREATE INDEX login_failures_key ON login_failures (throttle_key, at)",
                """
                CREATE TABLE one_time_tokens (
                    token_hash TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    purpose TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    used_at BIGINT
                )
                """,
                """
                CREATE TABLE recovery_codes (
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    code_hash TEXT NOT NULL,
                    used_at BIGINT,
                    PRIMARY KEY (account_id, code_hash)
                )
                """,
                """
                CREATE TABLE email_outbox (
                    id TEXT PRIMARY KEY,
                    to_address TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    body TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    sent_at BIGINT
                )
                """,
            ]),
        Migration(
            version: 2, name: "audit log",
            statements: [
                """
                CREATE TABLE audit_entries (
                    idx BIGINT PRIMARY KEY,
                    leaf_hash TEXT NOT NULL,
                    entry TEXT NOT NULL,
                    time BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    patient_id TEXT,
                    decision TEXT NOT NULL
                )
                """,
                "CREATE INDEX audit_entries_patient ON audit_entries (patient_id, idx)",
                """
                CREATE TABLE audit_checkpoints (
                    size BIGINT PRIMARY KEY,
                    note TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
            ]),
        Migration(
            version: 3, name: "sign-in attempts recorded before their outcome",
            statements: [
                // Concurrent guesses count each other: an attempt is a row before it is tried.
                "ALTER TABLE login_failures ADD COLUMN attempt TEXT",
                "CREATE INDEX login_failures_attempt ON login_failures (attempt)",
            ]),
        Migration(
            version: 4, name: "practices, care teams, consents, availability, consultations, notes",
            statements: [
                """
                CREATE TABLE practices (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    country TEXT NOT NULL,
                    region TEXT NOT NULL,
                    time_zone TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE practice_members (
                    practice_id TEXT NOT NULL REFERENCES practices(id),
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    role TEXT NOT NULL,
                    added_at BIGINT NOT NULL,
                    PRIMARY KEY (practice_id, account_id, role)
                )
                """,
                "CREATE INDEX practice_members_account ON practice_members (account_id, role)",
                """
                CREATE TABLE practice_holidays (
                    practice_id TEXT NOT NULL REFERENCES practices(id),
                    day TEXT NOT NULL,
                    PRIMARY KEY (practice_id, day)
                )
                """,
                """
                CREATE TABLE care_teams (
                    id TEXT PRIMARY KEY,
                    practice_id TEXT NOT NULL REFERENCES practices(id),
                    name TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE care_team_members (
                    team_id TEXT NOT NULL REFERENCES care_teams(id),
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    PRIMARY KEY (team_id, account_id)
                )
                """,
                "CREATE INDEX care_team_members_account ON care_team_members (account_id)",
                """
                CREATE TABLE care_consents (
                    id TEXT PRIMARY KEY,
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    team_id TEXT NOT NULL REFERENCES care_teams(id),
                    granted_at BIGINT NOT NULL,
                    withdrawn_at BIGINT
                )
                """,
                "CREATE INDEX care_consents_patient ON care_consents (patient_id)",
                // One active consent per patient and team; withdrawn ones stay as history.
                "CREATE UNIQUE INDEX care_consents_active ON care_consents (patient_id, team_id) WHERE withdrawn_at IS NULL",
                "ALTER TABLE patients ADD COLUMN practice_id TEXT REFERENCES practices(id)",
                """
                CREATE TABLE availability (
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    practice_id TEXT NOT NULL REFERENCES practices(id),
                    plan TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (account_id, practice_id)
                )
                """,
                """
                CREATE TABLE consultations (
                    id TEXT PRIMARY KEY,
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    clinician_id TEXT NOT NULL REFERENCES accounts(id),
                    practice_id TEXT NOT NULL REFERENCES practices(id),
                    starts_at BIGINT NOT NULL,
                    ends_at BIGINT NOT NULL,
                    modality TEXT NOT NULL,
                    status TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                // INVARIANT: exactly one active booking per clinician and slot start, enforced by
                // the database itself, so concurrent bookings on any instance have one winner.
                """
                CREATE UNIQUE INDEX consultations_one_per_slot ON consultations (clinician_id, starts_at)
                WHERE status IN ('booked', 'checked-in', 'in-progress')
                """,
                "CREATE INDEX consultations_patient ON consultations (patient_id, starts_at)",
                "CREATE INDEX consultations_practice ON consultations (practice_id, starts_at)",
                """
                CREATE TABLE consultation_events (
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    at BIGINT NOT NULL,
                    event TEXT NOT NULL,
                    from_status TEXT NOT NULL,
                    to_status TEXT NOT NULL,
                    actor TEXT NOT NULL
                )
                """,
                "CREATE INDEX consultation_events_consultation ON consultation_events (consultation_id, at)",
                """
                CREATE TABLE note_versions (
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    version BIGINT NOT NULL,
                    history TEXT NOT NULL,
                    examination TEXT NOT NULL,
                    assessment TEXT NOT NULL,
                    plan TEXT NOT NULL,
                    status TEXT NOT NULL,
                    author TEXT NOT NULL REFERENCES accounts(id),
                    amendment_reason TEXT,
                    signed_at BIGINT,
                    saved_at BIGINT NOT NULL,
                    PRIMARY KEY (consultation_id, version)
                )
                """,
            ]),
        Migration(
            version: 5, name: "reminders sent once, in-app notifications",
            statements: [
                // INVARIANT: one row per consultation and reminder kind: the instance whose insert
                // wins sends it, so reminders go out exactly once however many instances run.
                """
                CREATE TABLE reminders_sent (
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    kind TEXT NOT NULL,
                    sent_at BIGINT NOT NULL,
                    PRIMARY KEY (consultation_id, kind)
                )
                """,
                """
                CREATE TABLE notifications (
                    id TEXT PRIMARY KEY,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    kind TEXT NOT NULL,
                    consultation_id TEXT,
                    text TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    read_at BIGINT
                )
                """,
                "CREATE INDEX notifications_account ON notifications (account_id, created_at)",
            ]),
        Migration(
            version: 6, name: "allergies, current medicines, prescriptions",
            statements: [
                """
                CREATE TABLE patient_allergies (
                    id TEXT PRIMARY KEY,
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    substance TEXT NOT NULL,
                    reaction TEXT NOT NULL,
                    recorded_at BIGINT NOT NULL,
                    recorded_by TEXT NOT NULL REFERENCES accounts(id)
                )
                """,
                "CREATE INDEX patient_allergies_patient ON patient_allergies (patient_id)",
                """
                CREATE TABLE patient_medicines (
                    id TEXT PRIMARY KEY,
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    name TEXT NOT NULL,
                    dose TEXT NOT NULL,
                    recorded_at BIGINT NOT NULL,
                    recorded_by TEXT NOT NULL REFERENCES accounts(id)
                )
                """,
                "CREATE INDEX patient_medicines_patient ON patient_medicines (patient_id)",
                // A prescription has no patient column: its patient is its consultation's.
                """
                CREATE TABLE prescriptions (
                    id TEXT PRIMARY KEY,
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    medicine TEXT NOT NULL,
                    dose TEXT NOT NULL,
                    route TEXT NOT NULL,
                    frequency TEXT NOT NULL,
                    quantity BIGINT NOT NULL,
                    pharmacy TEXT NOT NULL,
                    status TEXT NOT NULL,
                    allergy_override TEXT,
                    issued_at BIGINT NOT NULL,
                    author TEXT NOT NULL REFERENCES accounts(id)
                )
                """,
                "CREATE INDEX prescriptions_consultation ON prescriptions (consultation_id)",
            ]),
        Migration(
            version: 7, name: "break-glass reasons",
            statements: [
                // The stated reason of each break-glass access, for review (the audit entry with the
                // same request id carries the flag; the free text stays out of the log).
                """
                CREATE TABLE break_glass_reasons (
                    id TEXT PRIMARY KEY,
                    request_id TEXT NOT NULL,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    resource_type TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    patient_id TEXT,
                    reason TEXT NOT NULL,
                    at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX break_glass_reasons_patient ON break_glass_reasons (patient_id, at)",
            ]),
        Migration(
            version: 8, name: "referrals, fit notes and letters",
            statements: [
                // A document has no patient column: its patient is its consultation's.
                """
                CREATE TABLE documents (
                    id TEXT PRIMARY KEY,
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    kind TEXT NOT NULL,
                    recipient TEXT NOT NULL,
                    urgency TEXT NOT NULL,
                    body TEXT NOT NULL,
                    valid_from TEXT,
                    valid_until TEXT,
                    issued_at BIGINT NOT NULL,
                    author TEXT NOT NULL REFERENCES accounts(id)
                )
                """,
                "CREATE INDEX documents_consultation ON documents (consultation_id)",
            ]),
        Migration(
            version: 9, name: "prescription cancellation",
            statements: [
                "ALTER TABLE prescriptions ADD COLUMN cancelled_at BIGINT",
                "ALTER TABLE prescriptions ADD COLUMN cancellation_reason TEXT",
            ]),
        Migration(
            version: 10, name: "calls: seats, call events, chat, locations, relayed signals",
            statements: [
                // One row per participant role; the primary key makes a second live seat impossible.
                """
                CREATE TABLE call_seats (
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    role TEXT NOT NULL,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    connection_id TEXT NOT NULL,
                    resume_hash TEXT NOT NULL,
                    connected INTEGER NOT NULL,
                    lease_until BIGINT NOT NULL,
                    mode TEXT NOT NULL,
                    muted INTEGER NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (consultation_id, role)
                )
                """,
                "CREATE INDEX call_seats_updated ON call_seats (updated_at)",
                // The call's timeline: joins, leaves, media changes (no free text).
                """
                CREATE TABLE call_events (
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    at BIGINT NOT NULL,
                    role TEXT NOT NULL,
                    account_id TEXT NOT NULL REFERENCES accounts(id),
                    event TEXT NOT NULL,
                    detail TEXT NOT NULL
                )
                """,
                "CREATE INDEX call_events_consultation ON call_events (consultation_id, at)",
                """
                CREATE TABLE call_chat (
                    id TEXT PRIMARY KEY,
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    role TEXT NOT NULL,
                    author TEXT NOT NULL REFERENCES accounts(id),
                    text TEXT NOT NULL,
                    at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX call_chat_consultation ON call_chat (consultation_id, at)",
                """
                CREATE TABLE call_locations (
                    id TEXT PRIMARY KEY,
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    address TEXT NOT NULL,
                    at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX call_locations_consultation ON call_locations (consultation_id, at)",
                // Signalling in flight between instances (PostgreSQL); deleted within minutes.
                """
                CREATE TABLE call_signals (
                    id TEXT PRIMARY KEY,
                    consultation_id TEXT NOT NULL,
                    body TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX call_signals_created ON call_signals (created_at)",
            ]),
        Migration(
            version: 11, name: "a second clinician invited into a call, with the patient's consent",
            statements: [
                """
                CREATE TABLE call_invitations (
                    id TEXT PRIMARY KEY,
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    invitee TEXT NOT NULL REFERENCES accounts(id),
                    inviter TEXT NOT NULL REFERENCES accounts(id),
                    status TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    decided_at BIGINT
                )
                """,
                "CREATE INDEX call_invitations_consultation ON call_invitations (consultation_id, status)",
                "CREATE INDEX call_invitations_invitee ON call_invitations (invitee, status)",
            ]),
        Migration(
            version: 12, name: "recordings: consents, recordings, segments, chunks, the playback kill switch",
            statements: [
                // The patient's answer to a request to record (who asked, when, what it covers).
                """
                CREATE TABLE recording_consents (
                    id TEXT PRIMARY KEY,
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    requested_by TEXT NOT NULL REFERENCES accounts(id),
                    requested_at BIGINT NOT NULL,
                    status TEXT NOT NULL,
                    answered_at BIGINT,
                    withdrawn_at BIGINT,
                    scope TEXT NOT NULL
                )
                """,
                // At most one open request or grant per consultation, whatever the instance.
                "CREATE UNIQUE INDEX recording_consents_one_open ON recording_consents (consultation_id) WHERE status IN ('requested', 'granted')",
                // Bound once, at creation, from the consultation row; no statement updates these columns.
                """
                CREATE TABLE recordings (
                    id TEXT PRIMARY KEY,
                    consultation_id TEXT NOT NULL REFERENCES consultations(id),
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    clinician_id TEXT NOT NULL REFERENCES accounts(id),
                    practice_id TEXT NOT NULL REFERENCES practices(id),
                    consent_id TEXT NOT NULL REFERENCES recording_consents(id),
                    status TEXT NOT NULL,
                    wrapped_key TEXT,
                    started_at BIGINT NOT NULL,
                    last_chunk_at BIGINT NOT NULL,
                    finished_at BIGINT,
                    ended_reason TEXT,
                    retain_until BIGINT NOT NULL,
                    erased_at BIGINT,
                    erasure_reason TEXT
                )
                """,
                "CREATE UNIQUE INDEX recordings_one_active ON recordings (consultation_id) WHERE status = 'recording'",
                "CREATE INDEX recordings_consultation ON recordings (consultation_id, started_at)",
                "CREATE INDEX recordings_status ON recordings (status, last_chunk_at)",
                "CREATE INDEX recordings_retention ON recordings (retain_until)",
                """
                CREATE TABLE recording_segments (
                    recording_id TEXT NOT NULL REFERENCES recordings(id),
                    segment BIGINT NOT NULL,
                    mode TEXT NOT NULL,
                    chunks BIGINT NOT NULL,
                    bytes BIGINT NOT NULL,
                    closed BIGINT NOT NULL,
                    started_at BIGINT NOT NULL,
                    playable_chunk_size BIGINT,
                    playable_chunks BIGINT,
                    playable_bytes BIGINT,
                    playable_type TEXT,
                    PRIMARY KEY (recording_id, segment)
                )
                """,
                // One row per acknowledged chunk: the acknowledgement is this row's commit.
                """
                CREATE TABLE recording_chunks (
                    recording_id TEXT NOT NULL REFERENCES recordings(id),
                    segment BIGINT NOT NULL,
                    idx BIGINT NOT NULL,
                    size BIGINT NOT NULL,
                    sha256 TEXT NOT NULL,
                    stored_at BIGINT NOT NULL,
                    PRIMARY KEY (recording_id, segment, idx)
                )
                """,
                // Platform-wide switches (the playback kill switch); one row per switch.
                """
                CREATE TABLE platform_switches (
                    name TEXT PRIMARY KEY,
                    engaged BIGINT NOT NULL,
                    reason TEXT NOT NULL,
                    changed_by TEXT NOT NULL,
                    changed_at BIGINT NOT NULL
                )
                """,
            ]),
        Migration(
            version: 13,
            name: "triage sessions",
            statements: [
                // A symptom-checker conversation. patient_id is set at creation from the principal and never
                // updated; consultation_id is set once, by attaching the finished session to a booking.
                """
                CREATE TABLE triage_sessions (
                    id TEXT PRIMARY KEY,
                    patient_id TEXT NOT NULL REFERENCES patients(id),
                    practice_id TEXT REFERENCES practices(id),
                    country TEXT NOT NULL,
                    age BIGINT NOT NULL,
                    sex TEXT NOT NULL,
                    complaint TEXT NOT NULL,
                    state TEXT NOT NULL,
                    status TEXT NOT NULL,
                    disposition TEXT,
                    result TEXT,
                    kb_version TEXT NOT NULL,
                    consultation_id TEXT REFERENCES consultations(id),
                    version BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX triage_sessions_patient ON triage_sessions (patient_id, created_at)",
                "CREATE UNIQUE INDEX triage_sessions_consultation ON triage_sessions (consultation_id)",
            ]),
        Migration(
            version: 14,
            name: "incidents",
            statements: [
                // What the detection raised (the egress guard, later canaries and sprees), for the
                // operators' incidents page: identifiers and metadata only, never clinical content.
                """
                CREATE TABLE incidents (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    detected_at BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    patient_id TEXT,
                    recorded_patient_id TEXT,
                    resource_type TEXT NOT NULL,
                    resource_id TEXT NOT NULL,
                    action TEXT NOT NULL,
                    request_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    acknowledged_by TEXT,
                    acknowledged_at BIGINT
                )
                """,
                "CREATE INDEX incidents_detected ON incidents (detected_at, id)",
            ]),
        Migration(
            version: 15,
            name: "breach notices",
            statements: [
                // Drafted by the breach report (one letter per affected patient, one regulator
                // summary), reviewed, edited and sent by an operator. patient_id is set at drafting
                // from the report's ground truth and never changed.
                """
                CREATE TABLE breach_notices (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    patient_id TEXT REFERENCES patients(id),
                    subject TEXT NOT NULL,
                    body TEXT NOT NULL,
                    status TEXT NOT NULL,
                    window_from BIGINT NOT NULL,
                    window_to BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    updated_by TEXT,
                    sent_at BIGINT,
                    sent_by TEXT,
                    version BIGINT NOT NULL
                )
                """,
                "CREATE INDEX breach_notices_patient ON breach_notices (patient_id, created_at)",
            ]),
        Migration(
            version: 16,
            name: "canary patients",
            statements: [
                // Synthetic patient records nobody has a reason to touch: any access is an incident.
                "CREATE TABLE canary_patients (patient_id TEXT PRIMARY KEY REFERENCES patients(id), created_at BIGINT NOT NULL)",
            ]),
        Migration(
            version: 17,
            name: "when a call invitation was accepted",
            statements: [
                // `decided_at` is overwritten by a withdrawal; the acceptance time is kept apart so the
                // breach check can tell whether a guest's access fell inside the accepted period.
                "ALTER TABLE call_invitations ADD COLUMN accepted_at BIGINT",
                "UPDATE call_invitations SET accepted_at = decided_at WHERE status = 'accepted'",
                // Withdrawn before this column existed: whether it had been accepted is unknown; the
                // check gives it the benefit of the doubt from its creation to its withdrawal.
                "UPDATE call_invitations SET accepted_at = created_at WHERE status = 'withdrawn'",
            ]),
    ]
}
