public import ConfideCore
public import ConfidePolicy
public import Foundation

/// A breach notice: a plain-language letter to one affected patient, or the summary for the
/// regulator. Drafted by the breach report, reviewed, edited and sent by an operator. It says what
/// was seen and when, never clinical content.
public struct BreachNoticeRecord: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case patient, regulator
    }

    public enum Status: String, Sendable, CaseIterable {
        case draft, sent
    }

    public var id: String
    public var kind: Kind
    /// The patient it is addressed to (`nil` for the regulator summary).
    public var patient: Patient.ID?
    public var subject: String
    public var body: String
    public var status: Status
    /// The report window it was drafted from.
    public var windowFrom: Date
    public var windowTo: Date
    public var createdAt: Date
    public var updatedAt: Date
    public var updatedBy: String?
    public var sentAt: Date?
    public var sentBy: String?
    public var version: Int

    public init(
        id: String, kind: Kind, patient: Patient.ID?, subject: String, body: String, status: Status = .draft, windowFrom: Date, windowTo: Date,
        createdAt: Date, updatedAt: Date? = nil, updatedBy: String? = nil, sentAt: Date? = nil, sentBy: String? = nil, version: Int = 1
    ) {
        self.id = id
        self.kind = kind
        self.patient = patient
        self.subject = subject
        self.body = body
        self.status = status
        self.windowFrom = windowFrom
        self.windowTo = windowTo
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.updatedBy = updatedBy
        self.sentAt = sentAt
        self.sentBy = sentBy
        self.version = version
    }
}

/// Where breach notices are kept.
public protocol BreachNoticeStore: Sendable {
    /// The facts of a notice: the patient it is addressed to, and `signed` once it is sent.
    func noticeFacts(_ id: String) async throws -> ResourceFacts?
    /// Stores drafted notices with their audit entries, in one transaction.
    func createNotices(_ notices: [BreachNoticeRecord], writes: [AuditedWrite<BreachNoticeResource>]) async throws
    /// The notices the scope admits, newest first.
    func notices(_ scope: Scope<BreachNoticeResource>, limit: Int) async throws -> [BreachNoticeRecord]
    /// One notice.
    func notice(_ grant: Grant<BreachNoticeResource>) async throws -> BreachNoticeRecord?
    /// The account of the patient a notice is addressed to (for delivery), if any.
    func recipient(_ grant: Grant<BreachNoticeResource>) async throws -> Account.ID?
    /// Replaces a draft's subject and body if it is still a draft at `expectedVersion`; `false` otherwise.
    func editNotice(
        subject: String, body: String, by: String, at: Date, expectedVersion: Int, write: AuditedWrite<BreachNoticeResource>
    ) async throws -> Bool
    /// Marks a draft sent, with the patient's in-app notification and the email that only says a
    /// notice awaits, in one transaction; `false` when it is not a draft (nothing is stored).
    func sendNotice(by: String, at: Date, notification: NotificationRecord?, email: OutgoingEmail?, write: AuditedWrite<BreachNoticeResource>)
        async throws -> Bool
}
