public import ConfideStore
import Foundation
public import Logging

/// Delivers the database outbox through a transport. Each email is claimed atomically before it
/// is sent, so several server instances never send the same email twice; a failed send releases
/// the claim and is retried on the next round.
public struct OutboxDelivery: Sendable {
    let credentials: any CredentialStore
    let transport: any MailTransport
    let from: String
    let open: @Sendable (OutgoingEmail) throws -> OutgoingEmail
    let logger: Logger

    /// - Parameter open: unseals a queued email's body (`AccountService.openOutgoing`).
    public init(
        credentials: any CredentialStore, transport: any MailTransport, from: String,
        open: @escaping @Sendable (OutgoingEmail) throws -> OutgoingEmail, logger: Logger
    ) {
        self.credentials = credentials
        self.transport = transport
        self.from = from
        self.open = open
        self.logger = logger
    }

    /// Sends what is pending now; returns how many were sent.
    @discardableResult
    public func deliverPending() async throws -> Int {
        var sent = 0
        for email in try await credentials.pendingEmails(limit: 50) {
            guard try await credentials.claimEmail(id: email.id, at: Date()) else { continue }
            do {
                try await transport.send(try open(email), from: from)
                try await credentials.redactEmail(id: email.id)
                sent += 1
            } catch {
                try await credentials.releaseEmail(id: email.id)
                logger.warning("email delivery failed; will retry", metadata: ["confide.error": "\(error)", "confide.mail.id": "\(email.id)"])
            }
        }
        if sent > 0 { logger.info("emails delivered", metadata: ["confide.mail.count": "\(sent)"]) }
        return sent
    }

    /// Polls every `interval` until cancelled.
    public func run(interval: Duration = .seconds(2)) async throws {
        while !Task.isCancelled {
            do { try await deliverPending() } catch {
                logger.warning("mail outbox unavailable", metadata: ["confide.error.type": "\(type(of: error))"])
            }
            try? await Task.sleep(for: interval)
        }
    }
}
