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
    ]
}
