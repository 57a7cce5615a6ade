import ConfideAccounts
public import ConfideStore
import Foundation
public import Logging
import ConfideCore

/// Delivers queued emails. Without an SMTP relay (a later issue), demo mode writes each email as
/// an `.eml` file into `<data-dir>/mail/`, where a developer can open the links.
public struct FileMailDelivery: Sendable {
    let credentials: any CredentialStore
    let directory: String
    let logger: Logger

    public init(credentials: any CredentialStore, directory: String, logger: Logger) {
        self.credentials = credentials
        self.directory = directory
        self.logger = logger
    }

    /// Writes every pending email; returns how many.
    @discardableResult
    public func deliverPending() async throws -> Int {
        let pending = try await credentials.pendingEmails(limit: 50)
        guard !pending.isEmpty else { return 0 }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for email in pending {
            let text = "To: \(email.to.value)\r\nSubject: \(email.subject)\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\(email.body)\r\n"
            let path = (directory as NSString).appendingPathComponent("\(email.createdAt.timeIntervalSince1970)-\(email.id).eml")
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw ConfigurationError("cannot write to the demo mailbox directory")
            }
            try await credentials.markEmailSent(id: email.id, at: Date())
        }
        logger.info("emails written to the demo mailbox", metadata: ["confide.mail.count": "\(pending.count)"])
        return pending.count
    }

    /// Polls until cancelled.
    public func run() async throws {
        while !Task.isCancelled {
            do { try await deliverPending() } catch {
                logger.warning("mail delivery failed", metadata: ["confide.error.type": "\(type(of: error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
