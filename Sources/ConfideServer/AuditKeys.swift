public import ConfideAudit
import ConfideCore
public import ConfideStore
public import ConfideHTTP
import Crypto
import Foundation
import ConfideAccounts
public import Logging

/// The checkpoint signing key: a file of its own, apart from the database, so that whoever can
/// write the database cannot forge a checkpoint. Format: the log's origin on the first line, the
/// Ed25519 private key (32 bytes, base64) on the second.
public struct AuditSigningKey: Sendable {
    public let origin: String
    public let signer: CheckpointSigner

    /// Reads a key file.
    /// - Throws: `ConfigurationError` when the file is missing or malformed.
    public init(file path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError("cannot read the audit signing key `\(path)` (make one with `confide audit keygen`)")
        }
        let lines = text.split(whereSeparator: \.isNewline).map(String.init)
        guard lines.count >= 2, let raw = Data(base64Encoded: lines[1]), raw.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw),
            let signer = try? CheckpointSigner(keyName: lines[0], privateKey: key)
        else { throw ConfigurationError("the audit signing key file is malformed") }
        self.origin = lines[0]
        self.signer = signer
    }

    /// Writes a new key file (mode 0600). Refuses to overwrite.
    public static func generate(origin: String, into path: String) throws -> AuditSigningKey {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw ConfigurationError("`\(path)` exists already; a log keeps its key (move the old one away deliberately)")
        }
        let key = Curve25519.Signing.PrivateKey()
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let text = "\(origin)\n\(key.rawRepresentation.base64EncodedString())\n"
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigurationError("cannot write the audit signing key `\(path)`")
        }
        return try AuditSigningKey(file: path)
    }
}

/// Publishes a signed checkpoint whenever the log has grown (a background job of `serve`). It keeps
/// the log's compact range (O(log n) subtree roots) and reads only the leaf hashes appended since the
/// last interval, so an interval costs the new entries, not the whole log.
public actor CheckpointPublisher {
    let audit: any AuditStore
    let key: AuditSigningKey
    let logger: Logger
    var range = CompactRange()

    public init(audit: any AuditStore, key: AuditSigningKey, logger: Logger) {
        self.audit = audit
        self.key = key
        self.logger = logger
    }

    /// Signs and stores a checkpoint of the current log if it is larger than the last one (from any
    /// instance).
    @discardableResult
    public func publish() async throws -> Checkpoint? {
        let size = try await audit.auditSize()
        while range.size < size {
            let hashes = try await audit.leafHashes(from: range.size, limit: Int(min(10_000, size - range.size)))
            if hashes.isEmpty { break }
            for hash in hashes { range.append(hash) }
        }
        let last = try await audit.latestCheckpointNote().flatMap { try? key.signer.verifier.verify(note: $0).checkpoint.size } ?? 0
        guard range.size > last else { return nil }
        let checkpoint = try Checkpoint(origin: key.origin, size: range.size, rootHash: range.rootHash)
        try await audit.storeCheckpoint(try key.signer.sign(checkpoint), at: Date())
        logger.info("audit checkpoint published", metadata: ["confide.audit.size": "\(checkpoint.size)"])
        return checkpoint
    }

    public func run(interval: Duration) async throws {
        while !Task.isCancelled {
            do { try await publish() } catch {
                logger.error("audit checkpoint failed", metadata: ["confide.error.type": "\(type(of: error))"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}

/// Verifies the whole log in the background (streaming) and keeps the latest result for the
/// operators' audit page; a failed verification is a critical log line and a metric.
public actor AuditHealthMonitor {
    let audit: any AuditStore
    let key: AuditSigningKey
    let logger: Logger
    let record: @Sendable (Bool) -> Void
    var latest: AuditHealth?

    public init(audit: any AuditStore, key: AuditSigningKey, logger: Logger, record: @escaping @Sendable (Bool) -> Void) {
        self.audit = audit
        self.key = key
        self.logger = logger
        self.record = record
    }

    public func current() -> AuditHealth? { latest }

    /// Runs one verification and keeps its result.
    public func check() async {
        do {
            let r = try await AuditCheck.verify(audit: audit, key: key.signer.verifier, origin: key.origin)
            latest = AuditHealth(
                at: Date(), entries: r.entryCount, checkpoints: r.checkpointCount, valid: r.isValid, firstBadIndex: r.firstBadIndex?.rawValue,
                firstBadCheckpoint: r.firstBadCheckpoint, uncheckpointed: UInt64(r.uncheckpointedEntries.count))
            record(r.isValid)
            if !r.isValid {
                logger.critical(
                    "audit log verification failed",
                    metadata: ["confide.audit.first_bad_index": "\(r.firstBadIndex?.rawValue.description ?? "-")"])
            }
        } catch {
            logger.error("audit log verification could not run", metadata: ["confide.error.type": "\(type(of: error))"])
        }
    }

    public func run(interval: Duration) async {
        while !Task.isCancelled {
            await check()
            try? await Task.sleep(for: interval)
        }
    }
}
