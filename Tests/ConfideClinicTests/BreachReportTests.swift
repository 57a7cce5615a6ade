import ConfideAccounts
import ConfideAudit
import ConfideBreach
import ConfideClinic
import ConfideCore
import ConfideStore
import ConfideStoreSQL
import ConfideTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

extension BearerClient {
    /// Signs a staff member in with their password and a TOTP code for `at`.
    mutating func signIn(_ email: String, totpURI: String, at: Date) async throws {
        let secret = try #require(URLComponents(string: totpURI)?.queryItems?.first { $0.name == "secret" }?.value)
        let code = try #require(TOTP(base32: secret)).code(step: TOTP.step(at: at))
        let body = #"{"email":"\#(email)","password":"\#(Fixtures.password)","totp":"\#(code)"}"#
        let reply = try await client.executeRequest(
            uri: "/api/v1/sessions", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
        #expect(reply.status == .created)
        let json = try JSONSerialization.jsonObject(with: Data(String(buffer: reply.body).utf8)) as? [String: Any]
        token = json?["token"] as? String
    }

    func post(_ uri: String, json: String) async throws -> (status: HTTPResponse.Status, body: String) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        let reply = try await client.executeRequest(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
        return (reply.status, String(buffer: reply.body))
    }
}

func jsonObject(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
}

@Suite("breach report over HTTP")
struct BreachReportTests {
    static let window = "from=2026-11-29&to=2026-12-01"

    @Test("an operator runs the report (JSON and CSV, streamed) and drafts the notices; it names exactly the patient whose recording another saw")
    func reportOverHTTP() async throws {
        try await TestWorld.with(egress: .observe, faults: try InjectedFaults.parse("recording-owner-from-row")) { world in
            let (clinic, alice, bob, bobEmail, id) = try await misboundRecording(world)
            // The broken read path shows Bob Alice's recording: listed, then opened.
            _ = try await world.recordings.recordings(consultation: nil, .by(bob))
            _ = try await world.recordings.recording(id, .by(bob))
            let alicePatient = try #require(patientID(alice)).description
            let (expected, _) = try await breachFindings(world)
            #expect(!expected.isEmpty && expected.allSatisfy { $0.patient == alicePatient && $0.actor == bob.description })
            try await world.application().test(.router) { raw in
                var op = BearerClient(client: raw)
                try await op.signIn(clinic.operatorEmail, totpURI: clinic.operatorTOTPURI, at: world.clock.now())
                let json = try await op.get("/api/v1/admin/breach-report?\(Self.window)")
                #expect(json.status == .ok, "\(json.body)")
                let report = jsonObject(json.body)
                let findings = try #require(report["findings"] as? [[String: Any]])
                #expect(findings.map { $0["index"] as? Int } == expected.map { Int($0.index) })
                #expect(Set(findings.compactMap { $0["exposure"] as? String }) == ["presented", "opened"])
                #expect(findings.allSatisfy { $0["resource_id"] as? String == id && $0["recorded_patient"] as? String == patientID(bob)?.description })
                #expect(report["affected_patients"] as? [String] == [alicePatient])
                let summary = try #require(report["summary"] as? [String: Any])
                #expect(summary["patients_affected"] as? Int == 1 && summary["findings"] as? Int == expected.count)
                let csv = try await op.get("/api/v1/admin/breach-report?\(Self.window)&format=csv")
                #expect(csv.status == .ok)
                let lines = csv.body.split(separator: "\n")
                #expect(lines.first == Substring(BreachReporter.csvHeader) && lines.count == expected.count + 1)
                // The actor filter is exact: Bob's account as a clinician finds nothing, as a patient all of it.
                let bobAccount = try #require(bob.account).description
                let asClinician = jsonObject(try await op.get("/api/v1/admin/breach-report?\(Self.window)&actor=clinician:\(bobAccount)").body)
                #expect((asClinician["findings"] as? [Any])?.isEmpty == true)
                for actor in ["patient:\(bobAccount)", bobAccount] {
                    let asPatient = jsonObject(try await op.get("/api/v1/admin/breach-report?\(Self.window)&actor=\(actor)").body)
                    #expect((asPatient["findings"] as? [Any])?.count == expected.count)
                }
                // Filters: another actor or resource type finds nothing; a window before it all finds nothing.
                let gpOnly = jsonObject(try await op.get("/api/v1/admin/breach-report?\(Self.window)&actor=\(clinic.gp.description)").body)
                #expect((gpOnly["findings"] as? [Any])?.isEmpty == true)
                let notes = jsonObject(try await op.get("/api/v1/admin/breach-report?\(Self.window)&resource_type=note").body)
                #expect((notes["findings"] as? [Any])?.isEmpty == true)

                // Bad input: clear 422s naming the field, never a report.
                for (query, field, type) in [
                    ("from=2026-12-01&to=2026-11-29", "from", "invalid-value"),
                    ("from=2026-11-29", "to", "missing-field"),
                    ("from=yesterday&to=2026-12-01", "from", "invalid-value"),
                    ("\(Self.window)&actor=clinician:\(UUID().uuidString.lowercased())", "actor", "unknown-actor"),
                    ("\(Self.window)&resource_type=practice", "resource_type", "invalid-value"),
                    ("\(Self.window)&format=xml", "format", "invalid-value"),
                ] {
                    let bad = try await op.get("/api/v1/admin/breach-report?\(query)")
                    let problem = jsonObject(bad.body)
                    #expect(bad.status == .unprocessableContent, "\(query)")
                    #expect(problem["field"] as? String == field && problem["type"] as? String == "urn:confide:problem:\(type)", "\(query): \(bad.body)")
                }

                // Nobody else runs it: a patient, a clinician and a practice admin see a missing page.
                var patient = BearerClient(client: raw)
                try await patient.signIn(bobEmail)
                var gp = BearerClient(client: raw)
                try await gp.signIn(clinic.gpEmail, totpURI: clinic.gpTOTPURI, at: world.clock.now())
                let missing = try await patient.get("/api/v1/recordings/\(UUID().uuidString.lowercased())")
                for who in [patient, gp] {
                    // Whatever they send: the same answer as a missing object, never a 422 that shows the route is there.
                    for query in [Self.window, "from=yesterday", "format=xml", ""] {
                        let denied = try await who.get("/api/v1/admin/breach-report?\(query)")
                        #expect(denied.status == .notFound && problemWithoutRequestID(denied.body) == problemWithoutRequestID(missing.body), "\(query)")
                    }
                    let page = try await who.get("/clinic/breach-report?from=yesterday")
                    #expect(page.status == .notFound && !page.body.contains("report-form"))
                    let draft = try await who.post("/api/v1/admin/breach-report/notices", json: #"{"from":"2026-11-29","to":"2026-12-01","contact":"DPO"}"#)
                    #expect(draft.status == .notFound)
                }

                // Drafting: one letter for Alice and the regulator summary, nothing sent.
                let noContact = try await op.post("/api/v1/admin/breach-report/notices", json: #"{"from":"2026-11-29","to":"2026-12-01"}"#)
                #expect(noContact.status == .unprocessableContent && jsonObject(noContact.body)["field"] as? String == "contact")
                let drafted = try await op.post(
                    "/api/v1/admin/breach-report/notices", json: #"{"from":"2026-11-29","to":"2026-12-01","contact":"Our DPO, dpo@example.org"}"#)
                #expect(drafted.status == .created, "\(drafted.body)")
                let notices = try #require(jsonObject(drafted.body)["notices"] as? [[String: Any]])
                #expect(notices.compactMap { $0["patient_id"] as? String } == [alicePatient])
                #expect(notices.map { $0["kind"] as? String }.sorted { ($0 ?? "") < ($1 ?? "") } == ["patient", "regulator"])
                let stored = try await NoticeService(clinic: world.clinic).notices(.by(clinic.operator_))
                #expect(stored.filter { $0.kind == .patient }.map { $0.patient?.description } == [alicePatient])
                #expect(stored.allSatisfy { $0.status == .draft })

                // Every run is audited, and so is each finding shown to the operator.
                let mine = try await world.stores.audit.encodedEntries(from: 0, limit: 100_000).map { try AuditEntry(encoded: $0) }
                    .filter { $0.actor == clinic.operator_.description && $0.purpose == "breach-report" }
                // The gate decides before any input is read: JSON, CSV, five filters, six bad inputs and two drafts.
                #expect(mine.filter { $0.resourceID == "-" }.count == 15)
                // Each finding the downloads carried is an entry presented to the operator; drafting shows none.
                #expect(mine.filter { $0.resourceID == String(expected[0].index) }.count == 4)
                #expect(mine.contains { $0.resourceID == String(expected[0].index) && $0.patientID == alicePatient })

                // A tampered log is refused, naming where it breaks; nothing of a report goes out.
                try await TestDatabase.execute(
                    ["UPDATE audit_entries SET entry = (SELECT entry FROM audit_entries WHERE idx = 2) WHERE idx = 3"], on: world.stores)
                let refused = try await op.get("/api/v1/admin/breach-report?\(Self.window)")
                #expect(refused.status == .conflict)
                #expect(jsonObject(refused.body)["type"] as? String == "urn:confide:problem:audit-log-does-not-verify")
                #expect(refused.body.contains("first bad index 3") && !refused.body.contains("findings"))
            }
        }
    }

    @Test("each run verifies the whole log, so one operator may start 20 an hour (counted in the database): the 21st is 429 on the API and a readable message on the page, and an hour later it runs again")
    func reportRateLimit() async throws {
        try await TestWorld.with { world in
            let clinic = try await ClinicFixture.make(world)
            let limit = world.incidents.breachReportsPerHour
            #expect(limit == 20)
            try await world.application().test(.router) { raw in
                var op = BearerClient(client: raw)
                try await op.signIn(clinic.operatorEmail, totpURI: clinic.operatorTOTPURI, at: world.clock.now())
                // Bad input is refused before a run starts, and does not count.
                for _ in 0..<3 { #expect(try await op.get("/api/v1/admin/breach-report?from=yesterday").status == .unprocessableContent) }
                for i in 0..<limit {
                    let run = try await op.get(i % 2 == 0 ? "/api/v1/admin/breach-report?\(Self.window)" : "/clinic/breach-report?\(Self.window)")
                    #expect(run.status == .ok, "run \(i + 1): \(run.body.prefix(200))")
                }
                let api = try await op.get("/api/v1/admin/breach-report?\(Self.window)")
                #expect(api.status == .tooManyRequests)
                #expect(jsonObject(api.body)["type"] as? String == "urn:confide:problem:too-many-requests")
                #expect(!api.body.contains("findings"))
                let page = try await op.get("/clinic/breach-report?\(Self.window)")
                #expect(page.status == .tooManyRequests && page.body.contains("id=\"report-error\"") && page.body.contains("an hour"))
                let draft = try await op.post("/api/v1/admin/breach-report/notices", json: #"{"from":"2026-11-29","to":"2026-12-01","contact":"DPO"}"#)
                #expect(draft.status == .tooManyRequests)
                // The count is per operator account and over the last hour: an hour on, it runs again
                // (signed in again: the session idled out meanwhile).
                world.clock.advance(by: 3601)
                try await op.signIn(clinic.operatorEmail, totpURI: clinic.operatorTOTPURI, at: world.clock.now())
                #expect(try await op.get("/api/v1/admin/breach-report?\(Self.window)").status == .ok)
            }
        }
    }

    @Test("CSV fields: quoted for commas, quotes and line breaks; a value a spreadsheet would run as a formula is defused")
    func csvFields() {
        #expect(BreachReporter.csvField("=HYPERLINK(\"x\")") == #""'=HYPERLINK(""x"")""#)
        #expect(BreachReporter.csvField("a,b") == #""a,b""#)
        #expect(BreachReporter.csvField("line\nbreak") == "\"line\nbreak\"")
        #expect(BreachReporter.csvField("-1+2") == "'-1+2")
        #expect(BreachReporter.csvField("@x") == "'@x" && BreachReporter.csvField("+1") == "'+1")
        #expect(BreachReporter.csvField("patient:0b1c") == "patient:0b1c")
    }
}
