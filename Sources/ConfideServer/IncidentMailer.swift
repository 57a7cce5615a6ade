import ConfideAccounts
public import ConfideCore
public import ConfideStore
public import Foundation
public import Logging
import Synchronization

/// Emails operators when an incident is raised (`--incident-email`, optional). The email names the
/// kind of incident, when, and its id, and points to the incidents page: never a patient, a record
/// or a name (emails leave our control). A flood of incidents of one kind (a spree, a broken
/// release tripping the egress guard) is one email per kind per `quiet` interval; the page lists
/// them all.
public final class IncidentMailer: Sendable {
    public typealias Send = @Sendable (EmailAddress, String, String) async throws -> Void

    let recipients: [EmailAddress]
    let publicURL: String
    let quiet: TimeInterval
    let logger: Logger
    let state = Mutex<(send: Send?, last: [String: Date])>((nil, [:]))

    public init(recipients: [EmailAddress], publicURL: String, quiet: TimeInterval = 600, logger: Logger) {
        self.recipients = recipients
        self.publicURL = publicURL
        self.quiet = quiet
        self.logger = logger
    }

    /// Where emails go (bound once the account service, which queues them, exists).
    public func bind(_ send: @escaping Send) { state.withLock { $0.send = send } }

    /// The subject and body of the email for `incident` (no patient data).
    public func message(_ incident: IncidentRecord, at time: Date) -> (subject: String, body: String) {
        let what: String
        switch incident.kind {
        case .egressWithheld: what = "the egress guard withheld a response that carried another patient's data"
        case .egressObserved: what = "the egress guard saw a response that carried another patient's data (observe-only: it went out)"
        case .canaryAccess: what = "someone accessed a canary record (a synthetic patient nobody has a reason to touch)"
        case .spree: what = "an account opened the records of more distinct patients within an hour than its role allows"
        }
        let quietMinutes = Int(quiet / 60)
        return (
            "Confide incident: \(incident.kind.rawValue)",
            """
            An incident was raised at \(ISO8601DateFormatter().string(from: time)): \(what).

            Incident \(incident.id). Review it, suspend the account behind it or suspend all playback at:
            \(publicURL)/clinic/incidents

            Further incidents of this kind in the next \(quietMinutes) minutes are listed there but not emailed.
            This email carries no patient data; sign in to see the details.
            """
        )
    }

    /// Emails every recipient about `incident`, unless one of its kind was emailed within `quiet`.
    /// Returns at once; delivery goes through the outbox.
    public func notify(_ incident: IncidentRecord, at now: Date = Date()) {
        guard !recipients.isEmpty else { return }
        let kind = incident.kind.rawValue
        let send: Send? = state.withLock { s in
            // Not yet bound (start-up): nothing is sent, and the quiet interval does not start.
            guard let send = s.send else { return nil }
            if let last = s.last[kind], now.timeIntervalSince(last) < quiet { return nil }
            s.last[kind] = now
            return send
        }
        guard let send else { return }
        let (subject, body) = message(incident, at: now)
        let (recipients, logger) = (self.recipients, self.logger)
        // Detached: the request's task-locals (the egress ledger) are not the email's business.
        Task.detached { [self] in
            var queued = 0
            for to in recipients {
                do {
                    try await send(to, subject, body)
                    queued += 1
                } catch {
                    logger.error("incident email could not be queued", metadata: ["incident": "\(incident.id)", "confide.error.type": "\(type(of: error))"])
                }
            }
            // Nothing queued: the next incident of this kind tries again rather than waiting out the interval.
            if queued == 0 { self.state.withLock { if $0.last[kind] == now { $0.last[kind] = nil } } }
        }
    }
}
