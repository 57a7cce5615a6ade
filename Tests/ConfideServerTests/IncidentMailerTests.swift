import ConfideAccounts
import ConfideCore
import ConfideServer
import ConfideStore
import ConfideTesting
import Foundation
import Logging
import Synchronization
import Testing

/// What the mailer handed to the outbox.
final class SentEmails: Sendable {
    let list = Mutex<[(to: String, subject: String, body: String)]>([])
    var count: Int { list.withLock { $0.count } }
}

@Suite("incident emails to operators")
struct IncidentMailerTests {
    static func incident(_ kind: IncidentRecord.Kind) -> IncidentRecord {
        IncidentRecord(
            id: UUID().uuidString.lowercased(), kind: kind, detectedAt: Date(), actor: "patient:\(UUID().uuidString.lowercased())",
            patient: UUID().uuidString.lowercased(), recordedPatient: UUID().uuidString.lowercased(), resourceType: "recording",
            resourceID: UUID().uuidString.lowercased(), action: "play", requestID: "req-1")
    }

    /// Waits until `sent` holds `count` emails (delivery to the outbox is asynchronous).
    static func wait(_ sent: SentEmails, for count: Int) async throws -> [(to: String, subject: String, body: String)] {
        for _ in 0..<200 {
            let now = sent.list.withLock { $0 }
            if now.count >= count { return now }
            try await Task.sleep(for: .milliseconds(10))
        }
        return sent.list.withLock { $0 }
    }

    @Test("each recipient gets one email per kind per quiet interval, naming the kind and the incident id, never a patient or a record")
    func throttledAndFreeOfPatientData() async throws {
        let sent = SentEmails()
        let mailer = IncidentMailer(
            recipients: [try EmailAddress("security@confide.test"), try EmailAddress("oncall@confide.test")],
            publicURL: "https://confide.example", quiet: 600, logger: Logger(label: "test"))
        let t0 = Date()
        // Before the outbox is bound (start-up) nothing is sent, and the quiet interval does not start.
        mailer.notify(Self.incident(.egressWithheld), at: t0.addingTimeInterval(-1))
        mailer.bind { to, subject, body in sent.list.withLock { $0.append((to.description, subject, body)) } }
        let first = Self.incident(.egressWithheld)
        mailer.notify(first, at: t0)
        mailer.notify(Self.incident(.egressWithheld), at: t0.addingTimeInterval(30))  // within the quiet interval: not emailed
        var got = try await Self.wait(sent, for: 2)
        #expect(got.map(\.to).sorted() == ["oncall@confide.test", "security@confide.test"])
        let (_, subject, body) = got[0]
        #expect(subject == "Confide incident: egress-withheld")
        #expect(body.contains(first.id) && body.contains("https://confide.example/clinic/incidents"))
        for secret in [first.patient!, first.recordedPatient!, first.resourceID, first.actor, first.requestID] {
            #expect(!body.contains(secret) && !subject.contains(secret))
        }
        // Another kind is emailed at once; the first kind again only after the quiet interval.
        mailer.notify(Self.incident(.canaryAccess), at: t0.addingTimeInterval(60))
        got = try await Self.wait(sent, for: 4)
        #expect(got.count == 4 && got[2].subject == "Confide incident: canary-access")
        mailer.notify(Self.incident(.egressWithheld), at: t0.addingTimeInterval(601))
        got = try await Self.wait(sent, for: 6)
        #expect(got.count == 6)
        try await Task.sleep(for: .milliseconds(100))
        #expect(sent.count == 6)
    }

    @Test("without recipients nothing is sent; a bad address is a configuration error")
    func configuration() async throws {
        let sent = SentEmails()
        let mailer = IncidentMailer(recipients: [], publicURL: "https://confide.example", logger: Logger(label: "test"))
        mailer.bind { to, subject, body in sent.list.withLock { $0.append((to.description, subject, body)) } }
        mailer.notify(Self.incident(.spree))
        try await Task.sleep(for: .milliseconds(50))
        #expect(sent.count == 0)
        let env = ["CONFIDE_SECRET_KEY": validKey, "CONFIDE_AUDIT_KEY_FILE": "/run/keys/audit.key"]
        var flags = ServeFlags()
        flags.incidentEmails = ["security@confide.test", "oncall@confide.test"]
        #expect(try ServerConfiguration.resolve(flags: flags, environment: env).incidentEmails.map(\.description) == flags.incidentEmails)
        let fromEnv = try ServerConfiguration.resolve(flags: ServeFlags(), environment: env.merging(["CONFIDE_INCIDENT_EMAIL": "a@confide.test, b@confide.test"]) { a, _ in a })
        #expect(fromEnv.incidentEmails.map(\.description) == ["a@confide.test", "b@confide.test"])
        flags.incidentEmails = ["not an address"]
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.resolve(flags: flags, environment: env) }
    }
}
