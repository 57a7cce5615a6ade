import ArgumentParser
import ConfideAccounts
import ConfideAudit
import ConfideClinic
import ConfideCore
import ConfideHTTP
import ConfideMail
import ConfideObjectStore
import ConfideServer
import ConfideStore
import ConfideStoreSQL
import ConfideVault
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

@main
struct Confide: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confide",
        abstract: "Confide: a telehealth service where every access to patient data passes one policy engine.",
        subcommands: [Serve.self, Migrate.self, User.self, Audit.self, Vault.self, Triage.self, Breach.self, Canary.self, DevCert.self])
}

/// Options shared by every command that opens the database.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "Directory for the SQLite database and key material (env CONFIDE_DATA_DIR; default ./confide-data).")
    var dataDir: String?

    @Option(help: "PostgreSQL URL, postgres://user:password@host:port/db (env DATABASE_URL; default: SQLite in the data directory).")
    var databaseURL: String?

    @Flag(help: "Demo mode: generate missing keys into the data directory and seed a demo practice (env CONFIDE_DEMO).")
    var demo = false

    @Option(help: "The audit checkpoint signing key file, kept apart from the database (env CONFIDE_AUDIT_KEY_FILE; see `confide audit keygen`).")
    var auditKeyFile: String?

    @Option(help: "The recording vault's key-encryption key file (env CONFIDE_VAULT_KEY_FILE; see `confide vault keygen`).")
    var vaultKeyFile: String?

    @Option(help: "An earlier vault key-encryption key file, still unwrapping keys not yet re-wrapped (repeatable; env CONFIDE_VAULT_PREVIOUS_KEY_FILES).")
    var vaultPreviousKeyFile: [String] = []

    @Option(help: "The vault's naming key file, for opaque blob names (env CONFIDE_VAULT_NAMING_KEY_FILE).")
    var vaultNamingKeyFile: String?

    @Option(help: "Directory for sealed recording chunks (env CONFIDE_MEDIA_DIR; default <data-dir>/media).")
    var mediaDir: String?

    @Option(help: "Keep sealed recording chunks in an S3-compatible object store at this URL instead (env CONFIDE_S3_ENDPOINT).")
    var s3Endpoint: String?

    @Option(help: "The S3 bucket (env CONFIDE_S3_BUCKET; created when missing).")
    var s3Bucket: String?

    @Option(help: "The S3 region (env CONFIDE_S3_REGION; default us-east-1).")
    var s3Region: String?

    @Option(help: "A key prefix inside the bucket (env CONFIDE_S3_PREFIX).")
    var s3Prefix: String?

    @Option(help: "File holding the S3 access key id (env CONFIDE_S3_ACCESS_KEY_FILE).")
    var s3AccessKeyFile: String?

    @Option(help: "File holding the S3 secret access key, mode 0600 (env CONFIDE_S3_SECRET_KEY_FILE).")
    var s3SecretKeyFile: String?

    func flags() -> ServeFlags {
        var flags = ServeFlags()
        flags.vaultKeyFile = vaultKeyFile
        flags.vaultPreviousKeyFiles = vaultPreviousKeyFile
        flags.vaultNamingKeyFile = vaultNamingKeyFile
        flags.mediaDir = mediaDir
        flags.s3Endpoint = s3Endpoint
        flags.s3Bucket = s3Bucket
        flags.s3Region = s3Region
        flags.s3Prefix = s3Prefix
        flags.s3AccessKeyFile = s3AccessKeyFile
        flags.s3SecretKeyFile = s3SecretKeyFile
        flags.dataDir = dataDir
        flags.databaseURL = databaseURL
        flags.demo = demo
        flags.auditKeyFile = auditKeyFile
        return flags
    }
}

func makeLogger() -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = ProcessInfo.processInfo.environment["CONFIDE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        return handler
    }
    return Logger(label: "confide")
}

/// Resolves the configuration from flags and the environment; a bad setting exits with a
/// readable message (EX_CONFIG), never a stack trace.
func resolveConfiguration(_ flags: ServeFlags, requireSecret: Bool = true, requireAuditKey: Bool = true) throws -> ServerConfiguration {
    do {
        return try ServerConfiguration.resolve(
            flags: flags, environment: ProcessInfo.processInfo.environment, requireSecret: requireSecret, requireAuditKey: requireAuditKey)
    } catch let error as ConfigurationError {
        throw fail(error.description)
    }
}

func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("confide: \(message)\n".utf8))
    return ExitCode(78)  // EX_CONFIG
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server (applies pending migrations first).")

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Address to listen on (env CONFIDE_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on, 0 for any free port (env CONFIDE_PORT; default 8080).")
    var port: Int?

    @Option(help: "bcrypt cost, 12 to 16 (env CONFIDE_BCRYPT_COST; default 12).")
    var bcryptCost: Int?

    @Option(help: "Base URL used in emailed links (env CONFIDE_PUBLIC_URL; default http://HOST:PORT).")
    var publicURL: String?

    @Option(help: "Largest accepted request body in bytes (env CONFIDE_MAX_BODY_BYTES; default 1048576).")
    var maxBodyBytes: Int?

    @Option(help: "PEM certificate chain for https (env CONFIDE_TLS_CERT); see `confide dev-cert`.")
    var tlsCert: String?

    @Option(help: "PEM private key for https (env CONFIDE_TLS_KEY).")
    var tlsKey: String?

    @Option(help: "Reverse proxies whose X-Forwarded-For is believed, e.g. 10.0.0.0/8,fd00::/8 (env CONFIDE_TRUSTED_PROXIES).")
    var trustedProxy: String?

    @Option(help: "SMTP relay for outgoing email, smtp://host:port (env CONFIDE_SMTP_URL).")
    var smtpURL: String?

    @Option(help: "Sender address of outgoing email (env CONFIDE_MAIL_FROM; default no-reply@<public host>).")
    var mailFrom: String?

    @Option(help: "Minutes before the appointment a call may be joined (env CONFIDE_CALL_OPENS_MINUTES_BEFORE; default 15).")
    var callOpensMinutesBefore: Int?

    @Option(help: "Minutes after the start a call that has not started may be joined (env CONFIDE_CALL_CLOSES_MINUTES_AFTER; default 60).")
    var callClosesMinutesAfter: Int?

    @Option(help: "Minutes after everyone left an in-progress call before the system ends it (env CONFIDE_CALL_ABANDON_MINUTES; default 30).")
    var callAbandonMinutes: Int?

    @Option(help: "A STUN server for calls, e.g. stun:stun.example:3478 (repeatable; env CONFIDE_STUN_URLS, comma-separated).")
    var stunURL: [String] = []

    @Option(help: "A TURN server for calls, e.g. turn:turn.example:3478?transport=udp (repeatable; env CONFIDE_TURN_URLS).")
    var turnURL: [String] = []

    @Option(help: "File holding the TURN REST API secret shared with coturn's use-auth-secret (env CONFIDE_TURN_SECRET_FILE or CONFIDE_TURN_SECRET).")
    var turnSecretFile: String?

    @Option(help: "`relay` sends every call through TURN, so neither party learns the other's address (env CONFIDE_ICE_TRANSPORT_POLICY; default all).")
    var iceTransportPolicy: String?

    @Option(help: "ffmpeg, to make recordings seekable (env CONFIDE_FFMPEG; default /usr/bin/ffmpeg when present).")
    var ffmpeg: String?

    @Option(help: "Seconds without an upload before a recording is finalised as incomplete (env CONFIDE_RECORDING_UPLOAD_TIMEOUT_SECONDS; default 300).")
    var recordingUploadTimeoutSeconds: Int?

    @Option(help: "Recording retention per country, COUNTRY=DAYS, e.g. GB=3650 (repeatable; env CONFIDE_RECORDING_RETENTION, comma-separated).")
    var recordingRetention: [String] = []

    @Option(help: "The egress guard: `enforce` withholds a response to a patient that carries another patient's data; `observe` only raises the incident, for drills (env CONFIDE_EGRESS_GUARD; default enforce).")
    var egressGuard: String?

    @Option(help: "An operator address emailed when an incident is raised: the kind and the incident id only, never patient data; at most one email per kind in 10 minutes (repeatable; env CONFIDE_INCIDENT_EMAIL, comma-separated).")
    var incidentEmail: [String] = []

    func run() async throws {
        var flags = database.flags()
        flags.host = host
        flags.port = port
        flags.bcryptCost = bcryptCost
        flags.publicURL = publicURL
        flags.maxBodyBytes = maxBodyBytes
        flags.tlsCertificate = tlsCert
        flags.tlsKey = tlsKey
        flags.smtpURL = smtpURL
        flags.trustedProxies = trustedProxy
        flags.mailFrom = mailFrom
        flags.callOpensMinutesBefore = callOpensMinutesBefore
        flags.callClosesMinutesAfter = callClosesMinutesAfter
        flags.callAbandonMinutes = callAbandonMinutes
        flags.stunURLs = stunURL
        flags.turnURLs = turnURL
        flags.turnSecretFile = turnSecretFile
        flags.iceTransportPolicy = iceTransportPolicy
        flags.ffmpeg = ffmpeg
        flags.recordingUploadTimeoutSeconds = recordingUploadTimeoutSeconds
        flags.recordingRetention = recordingRetention
        flags.egressGuard = egressGuard
        flags.incidentEmails = incidentEmail
        let configuration = try resolveConfiguration(flags)
        let logger = makeLogger()
        keepLargeBuffersInTheHeap()
        if configuration.faults != .none {
            logger.critical("test-only faults are injected (CONFIDE_TEST_FAULTS): this server is for drills only")
        }
        let (stores, events, calls) = try await openDatabase(
            configuration.database, dataDir: configuration.dataDir, logger: logger, faults: configuration.faults)
        let applied = try await stores.system.migrate()
        if !applied.isEmpty { logger.info("migrations applied", metadata: ["confide.migrations": "\(applied)"]) }
        let assembly: ConfideAssembly
        do {
            assembly = try ConfideAssembly(configuration: configuration, stores: stores, events: events, calls: calls, logger: logger)
        } catch let error as ConfigurationError {
            await calls.shutdown()
            await events.shutdown()
            try await stores.system.shutdown()
            throw fail(error.description)
        }
        var background: [(name: String, job: @Sendable () async throws -> Void)] = []
        var banner: [String] = []
        if configuration.demo {
            let loginsPath = (configuration.dataDir as NSString).appendingPathComponent("demo-logins.txt")
            if let logins = try await DemoSeeder.seed(assembly.accounts, clinic: assembly.clinic, incidents: assembly.incidents) {
                let text = DemoSeeder.describe(logins)
                if !FileManager.default.createFile(atPath: loginsPath, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) {
                    logger.warning("could not write demo-logins.txt into the data directory")
                }
                banner.append(text)
            } else if let text = try? String(contentsOfFile: loginsPath, encoding: .utf8) {
                banner.append(text)
            }
        }
        if let key = assembly.auditKey {
            let publisher = CheckpointPublisher(audit: stores.audit, key: key, logger: logger)
            let interval = Int(ProcessInfo.processInfo.environment["CONFIDE_AUDIT_CHECKPOINT_SECONDS"] ?? "") ?? 10
            background.append((name: "audit-checkpoints", job: { try await publisher.run(interval: .seconds(max(1, interval))) }))
            if let health = assembly.auditHealth {
                let every = Int(ProcessInfo.processInfo.environment["CONFIDE_AUDIT_VERIFY_SECONDS"] ?? "") ?? 600
                background.append((name: "audit-verify", job: { await health.run(interval: .seconds(max(1, every))) }))
            }
        }
        // Reminders: every instance runs the job; the database lets exactly one send each.
        background.append((name: "reminders", job: { [clinic = assembly.clinic] in try await clinic.runReminders(interval: .seconds(60)) }))
        // Calls everyone left long ago: every instance checks; a compare-and-set ends each once.
        background.append((name: "call-timeouts", job: { [clinic = assembly.clinic] in try await clinic.runCallTimeouts(every: .seconds(60)) }))
        if let s3 = assembly.recordings?.blobStore as? S3BlobStore {
            do { try await s3.ensureBucket() } catch {
                await calls.shutdown()
                await events.shutdown()
                try await stores.system.shutdown()
                throw fail("the S3 bucket is not reachable: \(error)")
            }
        }
        if let recordings = assembly.recordings {
            // Stalled uploads, seekable versions, retention: every instance runs them; row locks and
            // compare-and-set updates make each step happen once.
            let seconds = max(1, Int(ProcessInfo.processInfo.environment["CONFIDE_RECORDING_JOB_SECONDS"] ?? "") ?? 30)
            background.append((name: "recordings", job: { await recordings.runJobs(every: .seconds(seconds)) }))
        } else {
            logger.warning("recordings are disabled: give `--vault-key-file` and `--vault-naming-key-file` (see `confide vault keygen`)")
        }
        if let url = configuration.smtpURL, let smtp = SMTPTransport(url: url) {
            let mail = OutboxDelivery(credentials: stores.credentials, transport: smtp, from: configuration.mailFrom,
                open: { [accounts = assembly.accounts] in try accounts.openOutgoing($0) }, logger: logger)
            background.append((name: "mail", job: { try await mail.run() }))
        } else if configuration.demo {
            let directory = (configuration.dataDir as NSString).appendingPathComponent("mail")
            let mail = OutboxDelivery(
                credentials: stores.credentials, transport: FileTransport(directory: directory), from: configuration.mailFrom,
                open: { [accounts = assembly.accounts] in try accounts.openOutgoing($0) }, logger: logger)
            background.append((name: "mail", job: { try await mail.run(interval: .seconds(1)) }))
            banner.append("Emails (verification and reset links) are written to \(directory)/.")
        } else {
            logger.warning("no mail transport is configured (`--smtp-url`): emails stay queued in the database outbox")
        }
        let host = configuration.host
        let bannerText = banner.joined(separator: "\n")
        let scheme = configuration.tls == nil ? "http" : "https"
        try await runServer(
            assembly.http, host: host, port: configuration.port,
            tls: configuration.tls.map { TLSFiles(certificateChain: $0.certificate, privateKey: $0.key) }, logger: logger,
            background: background,
            onRunning: { port in
                let text = "Confide is running at \(scheme)://\(host):\(port)\n" + (bannerText.isEmpty ? "" : bannerText + "\n")
                FileHandle.standardOutput.write(Data(text.utf8))
            },
            afterShutdown: {
                await calls.shutdown()
                await events.shutdown()
                try await stores.system.shutdown()
            })
    }
}

struct Vault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The recording vault's keys: make key files, rotate the key-encryption key (re-wraps data keys; media untouched).",
        subcommands: [Keygen.self, Rotate.self])

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new vault key file (32 random bytes, base64, mode 0600): a key-encryption key or the naming key.")

        @Option(help: "Where to write the key file (never overwritten).")
        var out: String

        func run() async throws {
            do {
                let key = try KeyEncryptionKey.generate(path: out)
                print("Wrote \(out) (key id \(key.id)). Keep it apart from the database and its backups.")
            } catch {
                throw fail("cannot make the key file: \(error)")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-wrap every recording's data key under a new key-encryption key (run while serving or stopped; resumable).",
            discussion: """
                Give the current key with --vault-key-file (and any older ones with --vault-previous-key-file), the naming key,
                and the new key with --new-key-file. Afterwards serve with --vault-key-file NEW; once this reports that every
                key is current, the old key file can be destroyed (which also shreds database backups made before).
                """)

        @OptionGroup var database: DatabaseOptions

        @Option(help: "The new key-encryption key file (see `confide vault keygen`).")
        var newKeyFile: String

        func run() async throws {
            let configuration = try resolveConfiguration(database.flags(), requireSecret: false)
            guard configuration.vaultKeyFile != nil, let vault = try configuration.vault() else {
                throw fail("give the current keys: --vault-key-file and --vault-naming-key-file")
            }
            let next: KeyEncryptionKey
            do { next = try KeyEncryptionKey.load(path: newKeyFile) } catch { throw fail("cannot read --new-key-file: \(error)") }
            let stores = try await openStores(configuration.database, dataDir: configuration.dataDir, logger: makeLogger())
            do {
                let (rewrapped, current) = try await RecordingService.rewrapAll(store: stores.recordings, ring: vault.keys.rotated(to: next))
                print("Re-wrapped \(rewrapped) data keys under key \(next.id); \(current) were already under it.")
                print("Serve with --vault-key-file \(newKeyFile); the old key file may be destroyed once no server uses it.")
            } catch {
                try? await stores.system.shutdown()
                throw fail("rotation stopped: \(error) (run it again to resume)")
            }
            try await stores.system.shutdown()
        }
    }
}

struct DevCert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-cert",
        abstract: "Make a self-signed certificate for https on localhost (development only).")

    @Option(help: "Where to write cert.pem and key.pem (default: <data-dir>/tls).")
    var outDir: String?

    @Option(help: "Data directory (env CONFIDE_DATA_DIR; default ./confide-data).")
    var dataDir: String?

    func run() async throws {
        let base = dataDir ?? ProcessInfo.processInfo.environment["CONFIDE_DATA_DIR"] ?? "./confide-data"
        let directory = outDir ?? (base as NSString).appendingPathComponent("tls")
        let (cert, key) = try DevelopmentCertificate.write(into: directory)
        print("Wrote \(cert) and \(key) (valid 90 days for localhost, 127.0.0.1 and ::1).")
        print("Run: confide serve --tls-cert \(cert) --tls-key \(key)")
        print("Your browser will warn that the certificate is self-signed; accept it for local development only.")
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The tamper-evident audit log: make a signing key, verify the stored log, check a proof offline.",
        subcommands: [Keygen.self, Verify.self, CheckProof.self, CheckConsistency.self])

    struct CheckProof: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-proof",
            abstract: "Check offline that an entry (a downloaded GET /api/v1/me/access-log/{index}/proof) is in the signed log.")

        @Argument(help: "The proof JSON file.")
        var file: String

        @Option(help: "The log's verifier key, as published at /api/v1/audit/checkpoints.")
        var verifierKey: String

        struct ProofFile: Decodable {
            let index: UInt64
            let tree_size: UInt64
            let entry: String
            let inclusion_proof: [String]
            let checkpoint: String
        }

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file), let proof = try? JSONDecoder().decode(ProofFile.self, from: data),
                let entryBytes = Data(base64Encoded: proof.entry)
            else { throw fail("`\(file)` is not a proof file") }
            let verifier: CheckpointVerifier
            do { verifier = try CheckpointVerifier(verifierKey: verifierKey) } catch { throw fail("the verifier key is malformed") }
            let signed: SignedCheckpoint
            do { signed = try verifier.verify(note: Array(proof.checkpoint.utf8)) } catch {
                throw fail("the checkpoint's signature does not verify with this key")
            }
            let hashes = proof.inclusion_proof.compactMap(MerkleHash.init(hex:))
            guard hashes.count == proof.inclusion_proof.count, signed.checkpoint.size == proof.tree_size,
                let entry = try? AuditEntry(encoded: Array(entryBytes))
            else { throw fail("the proof file is inconsistent") }
            let inclusion = InclusionProof(index: LogIndex(proof.index), treeSize: proof.tree_size, hashes: hashes)
            guard inclusion.verify(entry: entry, root: signed.checkpoint.rootHash) else {
                print("FAILED: entry \(proof.index) is not in the log of size \(proof.tree_size) signed by \(signed.checkpoint.origin).")
                throw ExitCode(1)
            }
            print("OK: entry \(proof.index) (\(entry.actor) \(entry.action) \(entry.resourceType), \(entry.decision.rawValue)) is in the log of size \(proof.tree_size) signed by \(signed.checkpoint.origin).")
        }
    }

    struct CheckConsistency: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-consistency",
            abstract: "Check offline that a newer signed checkpoint extends an older one (nothing was rewritten in between).",
            discussion: """
                Give two signed checkpoint notes (as published at /api/v1/audit/checkpoints, one note per file) and the
                consistency proof between their sizes (the JSON of GET /api/v1/audit/consistency-proof?from=OLD&to=NEW).
                """)

        @Argument(help: "The older checkpoint note file.")
        var old: String

        @Argument(help: "The newer checkpoint note file.")
        var new: String

        @Option(help: "The consistency proof JSON file.")
        var proof: String

        @Option(help: "The log's verifier key, as published at /api/v1/audit/checkpoints.")
        var verifierKey: String

        struct ProofFile: Decodable {
            let from: UInt64
            let to: UInt64
            let consistency_proof: [String]
        }

        func run() async throws {
            let verifier: CheckpointVerifier
            do { verifier = try CheckpointVerifier(verifierKey: verifierKey) } catch { throw fail("the verifier key is malformed") }
            func checkpoint(_ path: String) throws -> Checkpoint {
                guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read `\(path)`") }
                do { return try verifier.verify(note: Array(data)).checkpoint } catch {
                    throw fail("`\(path)` is not a checkpoint signed with this key")
                }
            }
            let older = try checkpoint(old)
            let newer = try checkpoint(new)
            guard let data = FileManager.default.contents(atPath: proof), let file = try? JSONDecoder().decode(ProofFile.self, from: data)
            else { throw fail("`\(proof)` is not a consistency proof file") }
            let hashes = file.consistency_proof.compactMap(MerkleHash.init(hex:))
            guard hashes.count == file.consistency_proof.count, file.from == older.size, file.to == newer.size else {
                throw fail("the proof is for sizes \(file.from) to \(file.to), the checkpoints are \(older.size) and \(newer.size)")
            }
            guard ConsistencyProof(oldSize: older.size, newSize: newer.size, hashes: hashes).verify(old: older, new: newer) else {
                print("FAILED: the log of size \(newer.size) does not extend the log of size \(older.size): entries were altered or removed.")
                throw ExitCode(1)
            }
            print("OK: the log of size \(newer.size) extends the log of size \(older.size) (signed by \(newer.origin)).")
        }
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a new checkpoint signing key file (Ed25519, mode 0600).")

        @Option(help: "Where to write the key file.")
        var out: String

        @Option(help: "The log's origin (its name in every checkpoint), e.g. confide.example.org/audit.")
        var origin: String = "confide.localhost/audit"

        func run() async throws {
            do {
                let key = try AuditSigningKey.generate(origin: origin, into: out)
                print("Wrote \(out). Keep it apart from the database; publish the verifier key:")
                print(key.signer.verifierKey)
            } catch let error as ConfigurationError {
                throw fail(error.description)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the whole Merkle tree from the stored entries and check every signed checkpoint (works while the server is stopped).")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let configuration = try resolveConfiguration(database.flags(), requireSecret: false)
            let key: AuditSigningKey
            do { key = try configuration.auditSigningKey() } catch let error as ConfigurationError { throw fail(error.description) }
            let stores = try await openStores(configuration.database, dataDir: configuration.dataDir, logger: makeLogger())
            let report: AuditVerificationReport
            do {
                report = try await AuditCheck.verify(audit: stores.audit, key: key.signer.verifier, origin: key.origin)
            } catch {
                try? await stores.system.shutdown()
                throw error
            }
            try await stores.system.shutdown()
            print("Audit log: \(report.entryCount) entries, \(report.checkpointCount) signed checkpoints.")
            if report.isValid {
                print("OK: every entry, leaf hash and checkpoint verifies.")
                if !report.uncheckpointedEntries.isEmpty {
                    print("Entries \(report.uncheckpointedEntries.lowerBound)..<\(report.uncheckpointedEntries.upperBound) are after the newest checkpoint.")
                }
                return
            }
            if let index = report.firstBadIndex { print("FAILED: first bad index \(index.rawValue).") }
            if let checkpoint = report.firstBadCheckpoint { print("FAILED: first bad checkpoint at position \(checkpoint).") }
            for finding in report.findings.prefix(20) { print("  \(finding)") }
            throw ExitCode(1)
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let configuration = try resolveConfiguration(database.flags(), requireSecret: false)
        let stores = try await openStores(configuration.database, dataDir: configuration.dataDir, logger: makeLogger())
        do {
            let applied = try await stores.system.migrate()
            let all = try await stores.system.appliedMigrations()
            print(applied.isEmpty ? "Schema up to date (version \(all.last ?? 0))." : "Applied migrations \(applied); schema version \(all.last ?? 0).")
        } catch {
            try? await stores.system.shutdown()
            throw error
        }
        try await stores.system.shutdown()
    }
}

struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage staff accounts.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an admin or clinician account with TOTP enrolled (prints the otpauth URI once).")

        @OptionGroup var database: DatabaseOptions

        @Option(help: "admin or clinician.")
        var role: String

        @Option(help: "Email address (the sign-in name).")
        var email: String

        @Option(help: "Given name.")
        var givenName: String

        @Option(help: "Family name.")
        var familyName: String

        @Option(help: "For clinicians: gp, nurse, pharmacist or therapist.")
        var staffRole: String?

        @Option(help: "For clinicians: professional registration number.")
        var registrationNumber: String?

        @Option(help: "Read the password from this file (first line) instead of prompting.")
        var passwordFile: String?

        func readPassword() throws -> String {
            if let passwordFile {
                guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8),
                    let line = text.split(whereSeparator: \.isNewline).first
                else { throw fail("cannot read a password from `--password-file`") }
                return String(line)
            }
            guard let first = getpass("Password: ").map({ String(cString: $0) }),
                let second = getpass("Repeat password: ").map({ String(cString: $0) }), first == second
            else { throw fail("the passwords do not match") }
            return first
        }

        func run() async throws {
            guard let kind = AccountKind(rawValue: role), kind != .patient else { throw fail("`--role` must be admin or clinician") }
            let configuration = try resolveConfiguration(database.flags(), requireAuditKey: false)
            let password = try readPassword()
            let logger = makeLogger()
            let stores = try await openStores(configuration.database, dataDir: configuration.dataDir, logger: logger)
            do {
                _ = try await stores.system.migrate()
                let assembly = try ConfideAssembly(
                    configuration: configuration, stores: stores, events: LocalEventChannel(), logger: logger, withAuditKey: false)
                let (id, uri) = try await assembly.accounts.createStaffWithCredentials(
                    StaffInput(
                        email: email, givenName: givenName, familyName: familyName, kind: kind, role: staffRole,
                        registrationNumber: registrationNumber),
                    password: password, job: "cli-user-create")
                print("Created \(kind.rawValue) account \(id).")
                print("TOTP (add to an authenticator app now; it is not shown again): \(uri)")
            } catch let error as AccountsError {
                try? await stores.system.shutdown()
                let text = error.validation.map { "`\($0.field)`: \($0.message)" } ?? error.code.rawValue
                throw fail(text)
            } catch {
                try? await stores.system.shutdown()
                throw error
            }
            try await stores.system.shutdown()
        }
    }
}

struct Canary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Canary patients: synthetic records nobody has a reason to touch; any access raises an incident at once.",
        subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a canary patient (optionally registered with a practice) and print its id.")

        @OptionGroup var database: DatabaseOptions
        @Option(help: "Register the canary with this practice (its id), so that it looks like any other patient there.")
        var practice: String?

        func run() async throws {
            let configuration = try resolveConfiguration(database.flags(), requireAuditKey: false)
            let practiceID: Practice.ID?
            if let practice {
                guard let id = Practice.ID(string: practice) else { throw fail("--practice \(practice) is not a practice id") }
                practiceID = id
            } else {
                practiceID = nil
            }
            let logger = makeLogger()
            let stores = try await openStores(configuration.database, dataDir: configuration.dataDir, logger: logger)
            do {
                _ = try await stores.system.migrate()
                let assembly = try ConfideAssembly(
                    configuration: configuration, stores: stores, events: LocalEventChannel(), logger: logger, withAuditKey: false)
                let patient = try await DemoSeeder.createCanary(assembly.accounts, clinic: assembly.clinic, incidents: assembly.incidents, practice: practiceID)
                print("Created canary patient \(patient). Any access to it is an incident on /clinic/incidents.")
            } catch let error as ClinicError {
                try? await stores.system.shutdown()
                throw fail(error.code == .notFound ? "no such practice" : error.message)
            } catch {
                try? await stores.system.shutdown()
                throw error
            }
            try await stores.system.shutdown()
        }
    }
}

/// A recording chunk passes through buffers of up to 8 MiB (the request body, the sealed chunk, the
/// aligned write). glibc maps each one fresh and unmaps it when freed, so every chunk faulted in and
/// zeroed megabytes of new pages: a fifth of the server's CPU per 1 MiB chunk (`perf stat`: about 300
/// page faults per chunk, under 1 with this). Buffers up to 16 MiB now come from the heap, and free
/// memory is returned to the system only above 32 MiB per arena. An operator's `GLIBC_TUNABLES` wins.
func keepLargeBuffersInTheHeap() {
    #if canImport(Glibc)
        guard ProcessInfo.processInfo.environment["GLIBC_TUNABLES"] == nil else { return }
        // malloc.h is not in Glibc's module: mallopt by name, with glibc's parameter numbers.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3
        _ = mallopt(mmapThreshold, 16 << 20)
        _ = mallopt(trimThreshold, 32 << 20)
    #endif
}
