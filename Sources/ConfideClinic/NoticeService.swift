public import ConfideBreach
import ConfideCore
import ConfidePolicy
public import ConfideStore
public import Foundation

/// Breach notices: drafted by the breach report on the system path, reviewed, edited and sent by
/// operators, read by the patient they are addressed to once sent. Sending stores the letter as an
/// in-app message, an in-app notification and an email that only says an important notice awaits
/// (emails never carry clinical detail), with the audit entry, in one transaction.
public struct NoticeService: Sendable {
    let clinic: ClinicService

    public init(clinic: ClinicService) { self.clinic = clinic }

    var store: any BreachNoticeStore { clinic.stores.notices }
    var gate: AccessGate { clinic.gate }

    static let maxSubject = 200
    static let maxBody = 20_000
    /// The in-app notification and the email: a prompt only.
    public static let notificationText = "You have an important notice about your information. Open My notices to read it."
    static let emailSubject = "An important notice is waiting in your Confide account"
    static let emailBody = """
        We have sent you an important notice about your information. Sign in to Confide and open My notices to read it.

        This email never contains clinical details.
        """

    /// Stores the drafts of one report run on the system path (each creation audited).
    public static func draft(
        _ drafts: [NoticeDraft], window: (from: Date, to: Date), stores: ConfideStores, gate: AccessGate, at: Date, requestID: String
    ) async throws -> [BreachNoticeRecord] {
        let principal = Principal.system(job: "breach-report")
        var records: [BreachNoticeRecord] = []
        var writes: [AuditedWrite<BreachNoticeResource>] = []
        for d in drafts {
            let id = UUID().uuidString.lowercased()
            let patient = d.patient.flatMap { Patient.ID(string: $0) }
            let facts = ResourceFacts(resourceID: id, owningPatient: patient, serverAssignedOwner: true)
            writes.append(
                try await gate.authorizeWrite(.create, id, facts: facts, by: principal, purpose: "breach-notice", requestID: requestID))
            records.append(
                BreachNoticeRecord(
                    id: id, kind: patient == nil ? .regulator : .patient, patient: patient, subject: d.subject, body: d.body,
                    windowFrom: window.from, windowTo: window.to, createdAt: at))
        }
        try await stores.notices.createNotices(records, writes: writes)
        return records
    }

    /// The notices the caller may see, newest first: every one for operators, the sent ones
    /// addressed to them for a patient.
    public func notices(_ r: ClinicRequest, limit: Int = 200) async throws -> [BreachNoticeRecord] {
        let scope: Scope<BreachNoticeResource> = try await gate.visibleScope(.list, by: r.principal, purpose: "breach-notice", requestID: r.requestID)
        let found = try await store.notices(scope, limit: limit)
        try await gate.recordPresented(scope, items: found.map { ($0.id, $0.patient) }, purpose: "breach-notice", requestID: r.requestID)
        return found
    }

    /// One notice (audited).
    public func notice(_ id: String, _ r: ClinicRequest) async throws -> BreachNoticeRecord {
        let grant: Grant<BreachNoticeResource> = try await gate.authorize(
            .read, id, facts: try await store.noticeFacts(id), by: r.principal, purpose: "breach-notice", requestID: r.requestID)
        guard let n = try await store.notice(grant) else { throw ClinicError(.notFound, "no such notice") }
        return n
    }

    /// Replaces a draft's subject and body (operators; audited with the change).
    public func edit(_ id: String, subject rawSubject: String, body rawBody: String, expectedVersion: Int, _ r: ClinicRequest) async throws
        -> BreachNoticeRecord
    {
        let subject = try ClinicService.text(rawSubject, field: "subject", max: Self.maxSubject)
        let body = try ClinicService.text(rawBody, field: "body", max: Self.maxBody)
        let write: AuditedWrite<BreachNoticeResource> = try await gate.authorizeWrite(
            .update, id, facts: try await store.noticeFacts(id), by: r.principal, purpose: "breach-notice", requestID: r.requestID)
        guard
            try await store.editNotice(
                subject: subject, body: body, by: r.principal.description, at: clinic.clock.now(), expectedVersion: expectedVersion, write: write)
        else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "the notice was sent or changed by someone else; reload it")
        }
        return try await notice(id, r)
    }

    /// Sends a draft (operators; audited with the change). A patient's letter becomes readable in
    /// their account, with a notification and an email that only says a notice awaits.
    public func send(_ id: String, _ r: ClinicRequest) async throws -> BreachNoticeRecord {
        let write: AuditedWrite<BreachNoticeResource> = try await gate.authorizeWrite(
            .update, id, facts: try await store.noticeFacts(id), by: r.principal, purpose: "breach-notice-send", requestID: r.requestID)
        let now = clinic.clock.now()
        var notification: NotificationRecord?
        var email: OutgoingEmail?
        if let account = try await store.recipient(write.grant) {
            notification = NotificationRecord(
                id: UUID().uuidString.lowercased(), account: account, kind: "breach-notice", consultation: nil, text: Self.notificationText,
                createdAt: now)
            email = try await clinic.seal(account, Self.emailSubject, Self.emailBody)
        }
        guard try await store.sendNotice(by: r.principal.description, at: now, notification: notification, email: email, write: write) else {
            try await gate.recordRefusal(write)
            throw ClinicError(.conflict, "the notice has already been sent")
        }
        return try await notice(id, r)
    }
}
