import ConfideAccounts
import ConfideAudit
import ConfideCore
import ConfideStore
import ConfideTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("JSON API")
struct APITests {
    @Test("register, sign in with a bearer token, read my profile, sign out")
    func happyPath() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let alice = Fixtures.alice()
                let created = try await c.send(.post, "/api/v1/accounts", json: registrationJSON(alice))
                #expect(created.status == .created)
                #expect(created.json["given_name"] as? String == "Zephyrine")
                #expect(created.json["password"] == nil)
                let session = try await c.send(.post, "/api/v1/sessions", json: signInJSON(alice.email, alice.password))
                #expect(session.status == .created)
                #expect(session.json["token_type"] as? String == "Bearer")
                c.bearer = try #require(session.json["token"] as? String)
                let me = try await c.send(.get, "/api/v1/me")
                #expect(me.status == .ok)
                #expect(me.json["birth_date"] as? String == alice.birthDate)
                let patched = try await c.send(.patch, "/api/v1/me", json: #"{"given_name":"Zeph","family_name":"Quillfeather"}"#)
                #expect(patched.json["given_name"] as? String == "Zeph")
                #expect(try await c.send(.delete, "/api/v1/sessions/current").status == .noContent)
                let after = try await c.send(.get, "/api/v1/me")
                #expect(after.status == .unauthorized)
                #expect(after.headers[.contentType] == "application/problem+json")
            }
            #expect(world.logLinesWithPersonalData(extra: ["Zeph"]).isEmpty)
        }
    }

    struct BadInput: Sendable, CustomTestStringConvertible {
        let name: String
        let body: String
        var contentType = "application/json"
        let status: HTTPResponse.Status
        let type: String
        var testDescription: String { name }
    }

    static let badInputs: [BadInput] = [
        BadInput(name: "malformed JSON", body: #"{"email": "#, status: .badRequest, type: "malformed-json"),
        BadInput(name: "a JSON array", body: "[1,2]", status: .badRequest, type: "malformed-json"),
        BadInput(name: "not JSON at all", body: "email=a", contentType: "text/plain", status: .unsupportedMediaType, type: "unsupported-media-type"),
        BadInput(
            name: "an unknown field",
            body: #"{"email":"a@example.com","password":"orchid-lantern-basalt-91","given_name":"A","family_name":"B","birth_date":"1990-01-01","role":"admin"}"#,
            status: .unprocessableContent, type: "unknown-field"),
        BadInput(
            name: "a wrong type", body: #"{"email":"a@example.com","password":"orchid-lantern-basalt-91","given_name":"A","family_name":"B","birth_date":19900101}"#,
            status: .unprocessableContent, type: "invalid-field"),
        BadInput(name: "a missing field", body: #"{"email":"a@example.com"}"#, status: .unprocessableContent, type: "missing-field"),
        BadInput(
            name: "an invalid email", body: #"{"email":"not-an-email","password":"orchid-lantern-basalt-91","given_name":"A","family_name":"B","birth_date":"1990-01-01"}"#,
            status: .unprocessableContent, type: "invalid-email"),
        BadInput(
            name: "a weak password", body: #"{"email":"a@example.com","password":"password1234","given_name":"A","family_name":"B","birth_date":"1990-01-01"}"#,
            status: .unprocessableContent, type: "weak-password"),
        BadInput(
            name: "a short password", body: #"{"email":"a@example.com","password":"abc","given_name":"A","family_name":"B","birth_date":"1990-01-01"}"#,
            status: .unprocessableContent, type: "weak-password"),
        BadInput(
            name: "a future birth date", body: #"{"email":"a@example.com","password":"orchid-lantern-basalt-91","given_name":"A","family_name":"B","birth_date":"2999-01-01"}"#,
            status: .unprocessableContent, type: "invalid-birth-date"),
        BadInput(
            name: "an oversized body",
            body: #"{"email":"a@example.com","password":"orchid-lantern-basalt-91","given_name":""# + String(repeating: "x", count: 70_000) + #"","family_name":"B","birth_date":"1990-01-01"}"#,
            status: .contentTooLarge, type: "body-too-large"),
    ]

    @Test("bad registration input gets a clear problem and creates nothing", arguments: badInputs)
    func badInput(_ bad: BadInput) async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let reply = try await c.send(.post, "/api/v1/accounts", json: bad.body, headers: [.contentType: bad.contentType])
                #expect(reply.status == bad.status)
                #expect(reply.headers[.contentType] == "application/problem+json")
                #expect(reply.problemType == "urn:confide:problem:\(bad.type)")
                #expect(reply.json["status"] as? Int == Int(bad.status.code))
                #expect(!reply.text.contains("orchid"))
            }
            #expect(try await world.stores.credentials.account(email: try EmailAddress("a@example.com")) == nil)
        }
    }

    @Test("a second registration with the same email in other case is a conflict")
    func duplicate() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                var alice = Fixtures.alice()
                #expect(try await c.send(.post, "/api/v1/accounts", json: registrationJSON(alice)).status == .created)
                alice.email = alice.email.uppercased()
                let again = try await c.send(.post, "/api/v1/accounts", json: registrationJSON(alice))
                #expect(again.status == .conflict)
                #expect(again.problemType == "urn:confide:problem:email-taken")
            }
        }
    }

    @Test("forged, malformed and revoked tokens answer 401", arguments: ["Bearer forged-token", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + String(repeating: "a", count: 500)])
    func forgedTokens(_ header: String) async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let reply = try await c.send(.get, "/api/v1/me", headers: [.authorization: header])
                #expect(reply.status == .unauthorized)
                #expect(reply.problemType == "urn:confide:problem:unauthenticated")
            }
        }
    }

    @Test("a wrong password and an unknown email get identical answers")
    func noEnumeration() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let alice = Fixtures.alice()
                _ = try await c.send(.post, "/api/v1/accounts", json: registrationJSON(alice))
                let wrong = try await c.send(.post, "/api/v1/sessions", json: signInJSON(alice.email, "incorrect-password-1"))
                let unknown = try await c.send(.post, "/api/v1/sessions", json: signInJSON("ghost@example.com", "incorrect-password-1"))
                #expect(wrong.status == .unauthorized)
                #expect(wrong.problemWithoutRequestID == unknown.problemWithoutRequestID)
                let reset1 = try await c.send(.post, "/api/v1/password-resets", json: #"{"email":"\#(alice.email)"}"#)
                let reset2 = try await c.send(.post, "/api/v1/password-resets", json: #"{"email":"ghost@example.com"}"#)
                #expect(reset1.status == .accepted)
                #expect(reset2.status == .accepted)
                #expect(reset1.text == reset2.text)
            }
        }
    }

    @Test("an admin creates a clinician, who must set up TOTP before anything else; a replayed code is refused")
    func staffOnboarding() async throws {
        try await TestWorld.with { world in
            let adminEmail = Fixtures.email("admin")
            let (_, adminURI) = try await world.accounts.createStaffWithCredentials(
                StaffInput(email: adminEmail, givenName: "Ada", familyName: "Admin", kind: .admin, role: nil, registrationNumber: nil),
                password: Fixtures.password, job: "test")
            try await world.application().test(.router) { raw in
                var admin = Client(raw)
                let adminCode = try totpCode(adminURI, at: world.clock.now())
                let adminSession = try await admin.send(.post, "/api/v1/sessions", json: signInJSON(adminEmail, Fixtures.password, totp: adminCode))
                #expect(adminSession.status == .created)
                admin.bearer = adminSession.json["token"] as? String
                var replay = Client(raw)
                let replayed = try await replay.send(.post, "/api/v1/sessions", json: signInJSON(adminEmail, Fixtures.password, totp: adminCode))
                #expect(replayed.problemType == "urn:confide:problem:invalid-totp")

                let email = Fixtures.email("ottoline.marchbank")
                let created = try await admin.send(
                    .post, "/api/v1/staff",
                    json: #"{"email":"\#(email)","given_name":"Ottoline","family_name":"Marchbank","kind":"clinician","staff_role":"gp","registration_number":"GMC-7777777"}"#)
                #expect(created.status == .created)
                let list = try await admin.send(.get, "/api/v1/staff")
                #expect((list.json["staff"] as? [[String: Any]])?.count == 2)

                let mail = try #require(try await world.outbox(limit: 10).first { $0.to.value == email })
                let token = String(try #require(mail.body.components(separatedBy: "token=").last?.split(whereSeparator: \.isNewline).first))
                var clinician = Client(raw)
                #expect(
                    try await clinician.send(.post, "/api/v1/password-resets/complete", json: #"{"token":"\#(token)","password":"tangerine-quasar-lobby-8"}"#).status
                        == .noContent)
                let first = try await clinician.send(.post, "/api/v1/sessions", json: signInJSON(email, "tangerine-quasar-lobby-8"))
                #expect(first.json["totp_enrolment_required"] as? Bool == true)
                clinician.bearer = first.json["token"] as? String
                let blocked = try await clinician.send(.get, "/api/v1/me")
                #expect(blocked.status == .forbidden)
                #expect(blocked.problemType == "urn:confide:problem:totp-enrolment-required")
                let start = try await clinician.send(.post, "/api/v1/me/totp")
                #expect(start.status == .created)
                let uri = try #require(start.json["otpauth_uri"] as? String)
                let confirm = try await clinician.send(.post, "/api/v1/me/totp/confirm", json: #"{"code":"\#(try totpCode(uri, at: world.clock.now()))"}"#)
                #expect(confirm.status == .ok)
                #expect((confirm.json["recovery_codes"] as? [String])?.count == 10)
                let oldToken = clinician.bearer
                clinician.bearer = confirm.json["token"] as? String
                #expect(clinician.bearer != oldToken)
                let me = try await clinician.send(.get, "/api/v1/me")
                #expect(me.json["staff_role"] as? String == "gp")
                #expect(me.json["totp_enabled"] as? Bool == true)

                // Deactivation ends the clinician's session at once.
                let id = try #require(created.json["account_id"] as? String)
                #expect(try await admin.send(.post, "/api/v1/staff/\(id)/deactivation").status == .noContent)
                #expect(try await clinician.send(.get, "/api/v1/me").status == .unauthorized)
            }
            #expect(world.logLinesWithPersonalData().isEmpty)
        }
    }

    @Test("a denied object and a missing object answer the same 404")
    func deniedLooksMissing() async throws {
        try await TestWorld.with { world in
            let (staffID, _) = try await world.accounts.createStaffWithCredentials(
                StaffInput(email: Fixtures.email("nurse"), givenName: "N", familyName: "Urse", kind: .clinician, role: "nurse", registrationNumber: "NMC-1"),
                password: Fixtures.password, job: "test")
            try await world.application().test(.router) { raw in
                var patient = Client(raw)
                let alice = Fixtures.alice()
                _ = try await patient.send(.post, "/api/v1/accounts", json: registrationJSON(alice))
                patient.bearer = try await patient.send(.post, "/api/v1/sessions", json: signInJSON(alice.email, alice.password)).json["token"] as? String
                let denied = try await patient.send(.post, "/api/v1/staff/\(staffID)/deactivation")
                let missing = try await patient.send(.post, "/api/v1/staff/\(Account.ID())/deactivation")
                let garbage = try await patient.send(.post, "/api/v1/staff/not-an-id/deactivation")
                #expect(denied.status == .notFound)
                #expect(denied.problemWithoutRequestID == missing.problemWithoutRequestID)
                #expect(denied.problemWithoutRequestID == garbage.problemWithoutRequestID)
                #expect(denied.headers[.contentType] == missing.headers[.contentType])
                let list = try await patient.send(.get, "/api/v1/staff")
                #expect((list.json["staff"] as? [Any])?.isEmpty == true)
            }
            // Inside, the audit log tells denial and absence apart.
            let entries = try await world.stores.audit.encodedEntries(from: 0, limit: 1000).map { try AuditEntry(encoded: $0) }
            #expect(entries.contains { $0.decision == .denied && $0.resourceID == staffID.description && $0.action == "update" })
            #expect(entries.contains { $0.decision == .notFound && $0.resourceType == "staff-account" })
        }
    }
}

func totpCode(_ uri: String, at date: Date) throws -> String {
    let secret = try #require(URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value)
    let totp = try #require(TOTP(base32: secret))
    return totp.code(step: TOTP.step(at: date))
}

@Suite("who has seen my data")
struct AccessLogTests {
    @Test("a patient sees every access to their own record, newest first, and nobody else's")
    func ownLog() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var a = Client(raw)
                var b = Client(raw)
                let alice = Fixtures.alice()
                let bob = Fixtures.bob()
                _ = try await a.send(.post, "/api/v1/accounts", json: registrationJSON(alice))
                _ = try await b.send(.post, "/api/v1/accounts", json: registrationJSON(bob))
                a.bearer = try await a.send(.post, "/api/v1/sessions", json: signInJSON(alice.email, alice.password)).json["token"] as? String
                b.bearer = try await b.send(.post, "/api/v1/sessions", json: signInJSON(bob.email, bob.password)).json["token"] as? String
                _ = try await a.send(.get, "/api/v1/me")
                _ = try await a.send(.get, "/api/v1/me")
                _ = try await b.send(.get, "/api/v1/me")
                let log = try await a.send(.get, "/api/v1/me/access-log")
                #expect(log.status == .ok)
                let entries = try #require(log.json["entries"] as? [[String: Any]])
                #expect(entries.count == 3)  // registration (not signed in) and two reads by the patient
                #expect(entries.first?["who"] as? String == "You")
                #expect(entries.first?["action"] as? String == "read")
                #expect(entries.last?["who"] as? String == "Someone not signed in")
                #expect(entries.last?["action"] as? String == "create")
                let indices = entries.compactMap { $0["index"] as? Int }
                #expect(indices == indices.sorted(by: >))
                let paged = try await a.send(.get, "/api/v1/me/access-log?limit=1&before=\(indices[0])")
                #expect((paged.json["entries"] as? [[String: Any]])?.first?["index"] as? Int == indices[1])
                #expect(try await a.send(.get, "/api/v1/me/access-log?limit=5000").status == .unprocessableContent)
                #expect(try await a.send(.get, "/api/v1/me/access-log?before=-1").status == .unprocessableContent)
                let bobs = try await b.send(.get, "/api/v1/me/access-log")
                #expect((bobs.json["entries"] as? [[String: Any]])?.count == 2)
                #expect(!bobs.text.contains(alice.givenName))
            }
        }
    }
}

@Suite("audit proofs over the API")
struct AuditProofAPITests {
    @Test("the public consistency proof links an older tree to the current one")
    func consistency() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                for _ in 0..<3 { _ = try await c.send(.post, "/api/v1/accounts", json: registrationJSON(Fixtures.alice())) }
                let hashes = try await world.stores.audit.leafHashes()
                let size = UInt64(hashes.count)
                #expect(size >= 3)
                let reply = try await c.send(.get, "/api/v1/audit/consistency-proof?from=2&to=\(size)")
                #expect(reply.status == .ok)
                let proof = ConsistencyProof(
                    oldSize: 2, newSize: size,
                    hashes: (reply.json["consistency_proof"] as? [String] ?? []).compactMap(MerkleHash.init(hex:)))
                let log = MerkleLog(leafHashes: hashes)
                #expect(proof.verify(oldRoot: try log.rootHash(size: 2), newRoot: log.rootHash))
                #expect(!proof.verify(oldRoot: try log.rootHash(size: 1), newRoot: log.rootHash))
                #expect(try await c.send(.get, "/api/v1/audit/consistency-proof?from=2&to=\(size + 5)").status == .unprocessableContent)
                #expect(try await c.send(.get, "/api/v1/audit/consistency-proof?from=5&to=2").status == .unprocessableContent)
                #expect(try await c.send(.get, "/api/v1/audit/consistency-proof").status == .unprocessableContent)
            }
        }
    }
}
