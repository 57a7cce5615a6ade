public import ConfideAccounts
public import ConfideClinic
public import ConfideCore
public import ConfideHTTP
public import ConfideVault
public import ConfideBreach
public import ConfideStoreSQL
public import ConfideObjectStore
import AsyncHTTPClient
import Foundation

/// Where the data lives.
public enum DatabaseLocation: Sendable, Hashable {
    /// An SQLite file (the embedded default).
    case sqlite(path: String)
    /// A PostgreSQL URL (production; several instances may share it).
    case postgres(url: String)
}

/// Settings given on the command line; `nil` means "not given".
public struct ServeFlags: Sendable {
    public var host: String?
    public var port: Int?
    public var dataDir: String?
    public var databaseURL: String?
    public var demo: Bool = false
    public var bcryptCost: Int?
    public var publicURL: String?
    public var maxBodyBytes: Int?
    public var tlsCertificate: String?
    public var tlsKey: String?
    public var smtpURL: String?
    public var mailFrom: String?
    public var auditKeyFile: String?
    public var trustedProxies: String?
    public var callOpensMinutesBefore: Int?
    public var callClosesMinutesAfter: Int?
    public var callAbandonMinutes: Int?
    public var stunURLs: [String] = []
    public var turnURLs: [String] = []
    public var turnSecretFile: String?
    public var iceTransportPolicy: String?
    public var vaultKeyFile: String?
    public var vaultPreviousKeyFiles: [String] = []
    public var vaultNamingKeyFile: String?
    public var mediaDir: String?
    public var ffmpeg: String?
    public var recordingUploadTimeoutSeconds: Int?
    public var recordingRetention: [String] = []
    public var s3Endpoint: String?
    public var s3Region: String?
    public var s3Bucket: String?
    public var s3Prefix: String?
    public var s3AccessKeyFile: String?
    public var s3SecretKeyFile: String?
    public var egressGuard: String?
    public var incidentEmails: [String] = []

    public init() {}
}

/// The validated configuration of a server or CLI run. Precedence: flags, then environment,
/// then defaults. Secrets have no defaults outside demo mode.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var dataDir: String
    public var database: DatabaseLocation
    public var demo: Bool
    public var publicURL: String
    public var maxBodyBytes: Int
    /// PEM certificate chain and key paths; plain HTTP when `nil`.
    public var tls: (certificate: String, key: String)?
    public var accounts: AccountsConfiguration
    /// The SMTP relay (`smtp://host:port`); without one, emails wait in the outbox (demo mode
    /// writes them into `<data-dir>/mail/`).
    public var smtpURL: String?
    /// The sender address of every email.
    public var mailFrom: String
    /// The checkpoint signing key file (kept apart from the database). Demo mode creates
    /// `<data-dir>/audit-signing.key`; otherwise it is required.
    public var auditKeyFile: String?
    /// Reverse proxies whose `X-Forwarded-For` is believed (throttling by client address).
    public var trustedProxies: [IPNetwork] = []
    /// The master key as base64, from `CONFIDE_SECRET_KEY`; `nil` only in demo mode, where it
    /// is generated into the data directory.
    public var secretKey: String?
    /// The call join window, timeouts and ICE servers.
    public var calls = CallConfiguration()
    /// The recording vault's key-encryption key file (current), older ones still unwrapping, and
    /// the naming key file. Demo mode creates `<data-dir>/vault-kek.key` and `vault-naming.key`;
    /// otherwise recordings are disabled until both are given.
    public var vaultKeyFile: String?
    public var vaultPreviousKeyFiles: [String] = []
    public var vaultNamingKeyFile: String?
    /// Where sealed recording chunks live (default `<data-dir>/media`).
    public var mediaDir: String = ""
    /// ffmpeg for making recordings seekable; `nil`: found on the usual paths, or none.
    public var ffmpeg: String?
    public var recordings = RecordingConfiguration()
    /// Sealed chunks in an S3-compatible object store instead of `mediaDir` (credentials from files; no defaults).
    public var s3: S3Configuration?
    /// What the egress guard does with a response that carries another patient's data.
    public var egress: EgressMode = .enforce
    /// Operators emailed when an incident is raised (kind and id only, never patient data).
    public var incidentEmails: [EmailAddress] = []
    /// Test-only faults from `CONFIDE_TEST_FAULTS` (drills); a release build refuses to start with any.
    public var faults: InjectedFaults = .none

    /// Resolves and validates the configuration.
    /// - Parameters:
    ///   - flags: command-line values.
    ///   - environment: the process environment.
    ///   - requireSecret: whether a missing secret is an error (serving: yes; migrating: no).
    /// - Throws: `ConfigurationError` naming the setting at fault (never its value).
    public static func resolve(
        flags: ServeFlags, environment: [String: String], requireSecret: Bool = true, requireAuditKey: Bool = true
    ) throws -> ServerConfiguration {
        func env(_ key: String) -> String? {
            guard let value = environment[key]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        func int(_ flag: Int?, _ key: String, _ fallback: Int) throws -> Int {
            if let flag { return flag }
            guard let raw = env(key) else { return fallback }
            guard let value = Int(raw) else { throw ConfigurationError("`\(key)` must be a whole number") }
            return value
        }
        let demo = flags.demo || ["1", "true", "yes"].contains(env("CONFIDE_DEMO")?.lowercased() ?? "")
        let host = flags.host ?? env("CONFIDE_HOST") ?? "127.0.0.1"
        let port = try int(flags.port, "CONFIDE_PORT", 8080)
        guard (0...65535).contains(port) else { throw ConfigurationError("`--port` must be between 0 and 65535") }
        guard !host.isEmpty, !host.contains(" ") else { throw ConfigurationError("`--host` must be a host name or address") }
        let dataDir = flags.dataDir ?? env("CONFIDE_DATA_DIR") ?? "./confide-data"
        // The demo seeds accounts with a published password: never on a reachable address.
        if demo, !["127.0.0.1", "localhost", "::1"].contains(host) {
            throw ConfigurationError("`--demo` listens on loopback only (`--host 127.0.0.1`); it seeds accounts with a published password")
        }

        let database: DatabaseLocation
        if let url = flags.databaseURL ?? env("DATABASE_URL") {
            guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
                throw ConfigurationError("`--database-url` must start with `postgres://` (leave it unset for SQLite)")
            }
            database = .postgres(url: url)
        } else {
            database = .sqlite(path: (dataDir as NSString).appendingPathComponent("confide.sqlite"))
        }

        let cost = try int(flags.bcryptCost, "CONFIDE_BCRYPT_COST", 12)
        guard (12...16).contains(cost) else { throw ConfigurationError("`--bcrypt-cost` must be between 12 and 16") }
        let maxBody = try int(flags.maxBodyBytes, "CONFIDE_MAX_BODY_BYTES", 1 << 20)
        guard (1024...(64 << 20)).contains(maxBody) else {
            throw ConfigurationError("`--max-body-bytes` must be between 1024 and 67108864")
        }
        let idle = try int(nil, "CONFIDE_SESSION_IDLE_SECONDS", 30 * 60)
        let absolute = try int(nil, "CONFIDE_SESSION_ABSOLUTE_SECONDS", 12 * 3600)
        guard idle >= 60, absolute >= idle else {
            throw ConfigurationError("session timeouts: idle must be at least 60 s and not longer than the absolute timeout")
        }
        let tlsCertificate = flags.tlsCertificate ?? env("CONFIDE_TLS_CERT")
        let tlsKey = flags.tlsKey ?? env("CONFIDE_TLS_KEY")
        var tls: (certificate: String, key: String)?
        switch (tlsCertificate, tlsKey) {
        case (nil, nil): tls = nil
        case (let cert?, let key?):
            guard FileManager.default.isReadableFile(atPath: cert), FileManager.default.isReadableFile(atPath: key) else {
                throw ConfigurationError("`--tls-cert` and `--tls-key` must be readable PEM files (make a local one with `confide dev-cert`)")
            }
            tls = (cert, key)
        default: throw ConfigurationError("give both `--tls-cert` and `--tls-key`, or neither")
        }
        let displayHost = host == "0.0.0.0" || host == "::" ? "localhost" : host
        let scheme = tls == nil ? "http" : "https"
        let publicURL = flags.publicURL ?? env("CONFIDE_PUBLIC_URL") ?? "\(scheme)://\(displayHost):\(port)"
        guard let url = URL(string: publicURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw ConfigurationError("`--public-url` must be an http or https URL")
        }
        let smtpURL = flags.smtpURL ?? env("CONFIDE_SMTP_URL")
        if let smtpURL {
            guard let parsed = URLComponents(string: smtpURL), parsed.scheme == "smtp", !(parsed.host ?? "").isEmpty else {
                throw ConfigurationError("`--smtp-url` must look like `smtp://relay.example:25`")
            }
        }
        let mailFrom = flags.mailFrom ?? env("CONFIDE_MAIL_FROM") ?? "no-reply@\(URL(string: publicURL)?.host ?? "localhost")"
        guard (try? EmailAddress(mailFrom)) != nil || mailFrom.hasSuffix("@localhost") else {
            throw ConfigurationError("`--mail-from` must be an email address")
        }
        let auditKeyFile = flags.auditKeyFile ?? env("CONFIDE_AUDIT_KEY_FILE")
        var trustedProxies: [IPNetwork] = []
        for item in (flags.trustedProxies ?? env("CONFIDE_TRUSTED_PROXIES") ?? "").split(separator: ",") {
            guard let network = IPNetwork(item.trimmingWhitespace()) else {
                throw ConfigurationError("`--trusted-proxy` takes addresses or networks like `10.0.0.0/8,fd00::/8`")
            }
            trustedProxies.append(network)
        }
        let secret = env("CONFIDE_SECRET_KEY")
        if requireSecret, !demo, secret == nil {
            throw ConfigurationError(
                "`CONFIDE_SECRET_KEY` is required (32 random bytes as base64, e.g. `openssl rand -base64 32`); "
                    + "use `--demo` for a local demonstration with generated keys")
        }
        if let secret { _ = try MasterKey(base64: secret) }
        if requireSecret, requireAuditKey, !demo, auditKeyFile == nil {
            throw ConfigurationError(
                "`--audit-key-file` (env `CONFIDE_AUDIT_KEY_FILE`) is required: the key that signs audit checkpoints, "
                    + "kept apart from the database; make one with `confide audit keygen --out FILE`")
        }
        var calls = CallConfiguration()
        calls.opensMinutesBefore = try int(flags.callOpensMinutesBefore, "CONFIDE_CALL_OPENS_MINUTES_BEFORE", 15)
        calls.closesMinutesAfter = try int(flags.callClosesMinutesAfter, "CONFIDE_CALL_CLOSES_MINUTES_AFTER", 60)
        calls.abandonMinutes = try int(flags.callAbandonMinutes, "CONFIDE_CALL_ABANDON_MINUTES", 30)
        guard (0...(60 * 24 * 30)).contains(calls.opensMinutesBefore), (0...(60 * 24)).contains(calls.closesMinutesAfter),
            (1...(60 * 24)).contains(calls.abandonMinutes)
        else {
            throw ConfigurationError(
                "call windows: `--call-opens-minutes-before` 0...43200, `--call-closes-minutes-after` 0...1440, `--call-abandon-minutes` 1...1440")
        }
        let stun = flags.stunURLs.isEmpty ? (env("CONFIDE_STUN_URLS")?.split(separator: ",").map(String.init) ?? []) : flags.stunURLs
        let turn = flags.turnURLs.isEmpty ? (env("CONFIDE_TURN_URLS")?.split(separator: ",").map(String.init) ?? []) : flags.turnURLs
        for url in stun where !url.hasPrefix("stun:") && !url.hasPrefix("stuns:") {
            throw ConfigurationError("`--stun-url` must start with `stun:` or `stuns:`")
        }
        for url in turn where !url.hasPrefix("turn:") && !url.hasPrefix("turns:") {
            throw ConfigurationError("`--turn-url` must start with `turn:` or `turns:`")
        }
        var turnSecret = env("CONFIDE_TURN_SECRET")
        if let file = flags.turnSecretFile ?? env("CONFIDE_TURN_SECRET_FILE") {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigurationError("`--turn-secret-file` must be a readable file")
            }
            turnSecret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if !turn.isEmpty, (turnSecret ?? "").count < 16 {
            throw ConfigurationError(
                "`--turn-url` needs the TURN REST API secret shared with the TURN server (`--turn-secret-file` or `CONFIDE_TURN_SECRET`, at least 16 characters)")
        }
        let policy = flags.iceTransportPolicy ?? env("CONFIDE_ICE_TRANSPORT_POLICY") ?? "all"
        guard ["all", "relay"].contains(policy) else { throw ConfigurationError("`--ice-transport-policy` must be `all` or `relay`") }
        if policy == "relay", turn.isEmpty { throw ConfigurationError("`--ice-transport-policy relay` needs a `--turn-url`") }
        calls.ice = IceConfiguration(stunURLs: stun, turnURLs: turn, turnSecret: turn.isEmpty ? nil : turnSecret, relayOnly: policy == "relay")
        var configuration = ServerConfiguration(
            host: host, port: port, dataDir: dataDir, database: database, demo: demo,
            publicURL: publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL, maxBodyBytes: maxBody, tls: tls,
            accounts: AccountsConfiguration(
                bcryptCost: UInt8(cost), sessionIdleSeconds: Double(idle), sessionAbsoluteSeconds: Double(absolute),
                publicURL: publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL),
            smtpURL: smtpURL, mailFrom: mailFrom, auditKeyFile: auditKeyFile, trustedProxies: trustedProxies, secretKey: secret)
        configuration.calls = calls
        configuration.vaultKeyFile = flags.vaultKeyFile ?? env("CONFIDE_VAULT_KEY_FILE")
        configuration.vaultPreviousKeyFiles =
            flags.vaultPreviousKeyFiles.isEmpty
            ? (env("CONFIDE_VAULT_PREVIOUS_KEY_FILES")?.split(separator: ",").map(String.init) ?? []) : flags.vaultPreviousKeyFiles
        configuration.vaultNamingKeyFile = flags.vaultNamingKeyFile ?? env("CONFIDE_VAULT_NAMING_KEY_FILE")
        if (configuration.vaultKeyFile == nil) != (configuration.vaultNamingKeyFile == nil) {
            throw ConfigurationError("`--vault-key-file` and `--vault-naming-key-file` go together (make each with `confide vault keygen --out FILE`)")
        }
        configuration.mediaDir = flags.mediaDir ?? env("CONFIDE_MEDIA_DIR") ?? (dataDir as NSString).appendingPathComponent("media")
        let egress = flags.egressGuard ?? env("CONFIDE_EGRESS_GUARD") ?? "enforce"
        guard let mode = EgressMode(rawValue: egress) else { throw ConfigurationError("`--egress-guard` must be `enforce` or `observe`") }
        configuration.egress = mode
        let incidentEmails = flags.incidentEmails.isEmpty
            ? (env("CONFIDE_INCIDENT_EMAIL")?.split(separator: ",").map(String.init) ?? []) : flags.incidentEmails
        configuration.incidentEmails = try incidentEmails.map { raw in
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            guard let address = try? EmailAddress(trimmed) else {
                throw ConfigurationError("`--incident-email` must be an email address (one per option, or comma-separated in CONFIDE_INCIDENT_EMAIL)")
            }
            return address
        }
        do {
            configuration.faults = try InjectedFaults.parse(env("CONFIDE_TEST_FAULTS") ?? "")
        } catch {
            throw ConfigurationError("`CONFIDE_TEST_FAULTS`: \(error.message)")
        }
        // Test-only faults also need demo mode (fictional data only), in debug builds too.
        if configuration.faults != .none, !demo { throw ConfigurationError("`CONFIDE_TEST_FAULTS` is for drills on demo data: add `--demo`") }
        configuration.ffmpeg = flags.ffmpeg ?? env("CONFIDE_FFMPEG")
        if let ffmpeg = configuration.ffmpeg, !FileManager.default.isExecutableFile(atPath: ffmpeg) {
            throw ConfigurationError("`--ffmpeg` must name an executable file")
        }
        configuration.recordings.uploadTimeoutSeconds = try int(
            flags.recordingUploadTimeoutSeconds, "CONFIDE_RECORDING_UPLOAD_TIMEOUT_SECONDS", 300)
        guard (5...86_400).contains(configuration.recordings.uploadTimeoutSeconds) else {
            throw ConfigurationError("`--recording-upload-timeout-seconds` must be 5...86400")
        }
        if let endpoint = flags.s3Endpoint ?? env("CONFIDE_S3_ENDPOINT") {
            guard let url = URL(string: endpoint), let bucket = flags.s3Bucket ?? env("CONFIDE_S3_BUCKET"),
                let accessFile = flags.s3AccessKeyFile ?? env("CONFIDE_S3_ACCESS_KEY_FILE"),
                let secretFile = flags.s3SecretKeyFile ?? env("CONFIDE_S3_SECRET_KEY_FILE")
            else {
                throw ConfigurationError(
                    "`--s3-endpoint` needs `--s3-bucket`, `--s3-access-key-file` and `--s3-secret-key-file` (credentials are read from files, 0600)")
            }
            do {
                configuration.s3 = try S3Configuration.load(
                    endpoint: url, region: flags.s3Region ?? env("CONFIDE_S3_REGION") ?? "us-east-1", bucket: bucket,
                    prefix: flags.s3Prefix ?? env("CONFIDE_S3_PREFIX") ?? "", accessKeyFile: accessFile, secretKeyFile: secretFile)
            } catch {
                throw ConfigurationError("the S3 settings are not usable: \(error)")
            }
        }
        let retention = flags.recordingRetention.isEmpty
            ? (env("CONFIDE_RECORDING_RETENTION")?.split(separator: ",").map(String.init) ?? []) : flags.recordingRetention
        for item in retention {
            let parts = item.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let country = try? CountryCode(parts[0]), let days = Int(parts[1]), (1...36_500).contains(days) else {
                throw ConfigurationError("`--recording-retention` takes COUNTRY=DAYS, e.g. GB=3650 (1...36500 days)")
            }
            configuration.recordings.retentionDays[country.value] = days
        }
        return configuration
    }

    /// The audit signing key: the configured file, or (demo only) one created in the data directory.
    public func auditSigningKey() throws -> AuditSigningKey {
        if let auditKeyFile { return try AuditSigningKey(file: auditKeyFile) }
        guard demo else { throw ConfigurationError("`--audit-key-file` is required") }
        let path = (dataDir as NSString).appendingPathComponent("audit-signing.key")
        if FileManager.default.fileExists(atPath: path) { return try AuditSigningKey(file: path) }
        return try AuditSigningKey.generate(origin: "confide.localhost/demo", into: path)
    }

    /// The recording vault: its key ring from the configured key files, or (demo only) keys read or
    /// created in the data directory, over the filesystem blob store; `nil` when no keys are
    /// configured outside demo mode (recordings are then disabled).
    public func vault() throws -> Vault? {
        let ring: KeyRing
        if let kekFile = vaultKeyFile, let namingFile = vaultNamingKeyFile {
            ring = KeyRing(
                current: try KeyEncryptionKey.load(path: kekFile), previous: try vaultPreviousKeyFiles.map { try KeyEncryptionKey.load(path: $0) },
                naming: try NamingKey.load(path: namingFile))
        } else if demo {
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            let kekPath = (dataDir as NSString).appendingPathComponent("vault-kek.key")
            let namingPath = (dataDir as NSString).appendingPathComponent("vault-naming.key")
            let kek = FileManager.default.fileExists(atPath: kekPath) ? try KeyEncryptionKey.load(path: kekPath) : try KeyEncryptionKey.generate(path: kekPath)
            let naming = FileManager.default.fileExists(atPath: namingPath) ? try NamingKey.load(path: namingPath) : try NamingKey.generate(path: namingPath)
            ring = KeyRing(current: kek, naming: naming)
        } else {
            return nil
        }
        if let s3 { return Vault(keys: ring, store: S3BlobStore(configuration: s3, httpClient: HTTPClient.shared)) }
        return Vault(keys: ring, store: try FileBlobStore(root: mediaDir))
    }

    /// The remuxer that makes recordings seekable, if ffmpeg is available.
    public func remuxer() -> FFmpegRemuxer? {
        if let ffmpeg { return FFmpegRemuxer(executable: ffmpeg) }
        return FFmpegRemuxer.find()
    }

    /// The master key: from the configuration, or (demo only) read or created in the data directory.
    public func masterKey() throws -> MasterKey {
        if let secretKey { return try MasterKey(base64: secretKey) }
        guard demo else { throw ConfigurationError("`CONFIDE_SECRET_KEY` is required") }
        let path = (dataDir as NSString).appendingPathComponent("secret.key")
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) { return try MasterKey(base64: existing) }
        let (key, base64) = MasterKey.generate()
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data(base64.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot write the demo key into `--data-dir`")
        }
        return key
    }
}
