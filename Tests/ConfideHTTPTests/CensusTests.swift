import ConfideAccounts
import ConfideClinic
import ConfideCore
import ConfideHTTP
import ConfideStore
import ConfideTesting
import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Routes anyone may call without a session.
let publicRoutes: Set<String> = [
    "GET /", "GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json", "GET /static/app.css",
    "GET /static/local-time.js", "GET /static/waiting-room.js", "GET /static/availability.js", "GET /static/call.js",
    "GET /static/recordings.js", "GET /static/dom.js", "GET /static/triage.js",
    "GET /signin", "POST /signin", "GET /register", "POST /register", "GET /forgot-password", "POST /forgot-password",
    "GET /reset-password", "POST /reset-password", "GET /verify-email", "POST /verify-email",
    "POST /api/v1/accounts", "POST /api/v1/sessions", "POST /api/v1/email-verifications", "POST /api/v1/password-resets",
    "POST /api/v1/password-resets/complete", "GET /api/v1/audit/checkpoints", "GET /api/v1/audit/consistency-proof",
]

/// State-changing routes that act only on the caller's own data, so they may answer 2xx to any
/// signed-in caller. Every other state-changing route must refuse another patient.
let ownDataRoutes: Set<String> = ["POST /api/v1/me/notifications/read"]

/// The names of a route template's `{placeholders}`, in order.
private func placeholders(_ template: String) -> [String] {
    var names: [String] = []
    var rest = template[...]
    while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
        names.append(String(rest[rest.index(after: open)..<close]))
        rest = rest[rest.index(after: close)...]
    }
    return names
}

/// The template with every placeholder filled. A placeholder without a value fails the test: a new
/// path parameter must get probe values here, never be probed as a literal `{name}`.
private func fill(_ template: String, _ values: [String: String], sourceLocation: SourceLocation = #_sourceLocation) -> String {
    var path = template
    for name in placeholders(template) {
        guard let value = values[name] else {
            Issue.record("no probe value for {\(name)} in \(template)", sourceLocation: sourceLocation)
            continue
        }
        path = path.replacingOccurrences(of: "{\(name)}", with: value)
    }
    return path
}

/// The probes of a template: every placeholder at its first candidate, then each placeholder in
/// turn through all of its candidates (the others staying at their first).
private func assignments(_ template: String, _ candidates: [String: [String]]) -> [[String: String]] {
    let names = placeholders(template)
    let first = Dictionary(names.compactMap { n in candidates[n]?.first.map { (n, $0) } }, uniquingKeysWith: { a, _ in a })
    var out = [first]
    for name in names {
        for value in candidates[name] ?? [] {
            var v = first
            v[name] = value
            if !out.contains(v) { out.append(v) }
        }
    }
    return out
}

/// A JSON body.
private func jsonText(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}

@Suite("route census")
struct CensusTests {
    @Test("the OpenAPI document lists exactly the JSON routes the router serves")
    func openAPICensus() async throws {
        try await TestWorld.with { world in
            let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any])
            #expect((document["openapi"] as? String)?.hasPrefix("3.1") == true)
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let methods: Set<String> = ["get", "post", "put", "patch", "delete"]
            let documented = Set(paths.flatMap { path, ops in ops.keys.filter(methods.contains).map { "\($0.uppercased()) \(path)" } })
            let served = Set(
                world.routeCensus().filter {
                    let path = $0.split(separator: " ")[1]
                    return path.hasPrefix("/api/") || ["/healthz", "/readyz", "/metrics", "/openapi.json"].contains(String(path))
                })
            #expect(documented == served, "missing from OpenAPI: \(served.subtracting(documented)); not served: \(documented.subtracting(served))")
        }
    }

    @Test("every route that is not public answers 401 or a sign-in redirect without a session")
    func anonymousProbe() async throws {
        try await TestWorld.with { world in
            let routes = world.routeCensus()
            #expect(routes.count >= 30)
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                _ = try await c.send(.get, "/signin")
                let token = c.cookies["confide_csrf"]
                for route in routes where !publicRoutes.contains(route) {
                    let parts = route.split(separator: " ")
                    // Every path parameter filled: identifiers with fresh random UUIDs, numbers (log
                    // indices, recording segments and chunks) with 0.
                    let fresh: [String: String] = [
                        "practiceID": Practice.ID().description, "consultationID": Consultation.ID().description,
                        "consentID": UUID().uuidString.lowercased(), "accountID": Account.ID().description, "index": "0",
                        "invitationID": UUID().uuidString.lowercased(), "recordingID": UUID().uuidString.lowercased(),
                        "segment": "0", "sessionID": UUID().uuidString.lowercased(), "incidentID": UUID().uuidString.lowercased(),
                        "noticeID": UUID().uuidString.lowercased(),
                    ]
                    let path = fill(String(parts[1]), fresh)
                    #expect(!path.contains("{"), "\(route) was probed with an unfilled parameter")
                    let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                    let isPage = !path.hasPrefix("/api/")
                    let reply = try await c.send(
                        method, path, json: isPage || method == .get ? nil : "{}", form: isPage && method == .post ? ["_csrf": token ?? ""] : nil)
                    if isPage {
                        #expect(reply.status == .seeOther && reply.headers[.location] == "/signin", "\(route) answered \(reply.status)")
                    } else {
                        #expect(reply.status == .unauthorized, "\(route) answered \(reply.status)")
                        #expect(reply.problemType == "urn:confide:problem:unauthenticated")
                    }
                }
            }
        }
    }

    @Test("as another patient, no route returns or changes the first patient's data")
    func twoUserProbe() async throws {
        try await TestWorld.with { world in
            let routes = world.routeCensus()
            // A practice with a GP (weekday hours from 09:00; the clock is Monday 08:00) and a care team.
            let clinic = try await ClinicFixture.make(world)
            let gp = ClinicRequest.by(clinic.gp)
            try await world.application().test(.router) { raw in
                let iso = ISO8601DateFormatter()
                var a = Client(raw)
                var b = Client(raw)
                let alice = Fixtures.alice()
                let bob = Fixtures.bob()
                let aliceProfile = try await a.send(.post, "/api/v1/accounts", json: registrationJSON(alice)).json
                let bobProfile = try await b.send(.post, "/api/v1/accounts", json: registrationJSON(bob)).json
                func patient(_ profile: [String: Any]) throws -> (Account.ID, Patient.ID) {
                    (
                        try #require((profile["account_id"] as? String).flatMap(Account.ID.init(string:))),
                        try #require((profile["patient_id"] as? String).flatMap(Patient.ID.init(string:)))
                    )
                }
                let (aliceAccount, alicePatient) = try patient(aliceProfile)
                let (bobAccount, bobPatient) = try patient(bobProfile)
                let asAlice = ClinicRequest.by(.patient(account: aliceAccount, patient: alicePatient))
                // Both patients registered with the practice; A consents to its care team and holds two consultations:
                // one held and documented with a signed note, one booked later.
                try await world.clinic.registerWithPractice(clinic.practice.id, asAlice)
                try await world.clinic.registerWithPractice(clinic.practice.id, .by(.patient(account: bobAccount, patient: bobPatient)))
                let consent = try await world.clinic.grantConsent(team: clinic.team.id, asAlice)
                let slots = try await world.clinic.searchSlots(SlotQuery(clinician: clinic.gpAccount), asAlice)
                try #require(slots.count >= 3)
                let held = try await world.clinic.book(
                    clinician: clinic.gpAccount, start: slots[0].start, modality: .video, asAlice
                ).record
                let booked = try await world.clinic.book(
                    clinician: clinic.gpAccount, start: slots[1].start, modality: .audio, asAlice
                ).record
                world.clock.advance(by: held.start.timeIntervalSince(world.clock.now()) + 60)
                _ = try await world.clinic.transition(held.id, .start, gp)
                _ = try await world.clinic.transition(held.id, .end, gp)
                let noteText = "census-note-\(UUID().uuidString)"
                _ = try await world.clinic.saveNote(
                    held.id,
                    NoteInput(
                        sections: NoteSections(history: noteText, examination: "", assessment: "", plan: ""), sign: true,
                        amendmentReason: nil, expectedVersion: 0), gp)
                #expect(try await world.clinic.consultation(held.id, asAlice).record.status == .documented)
                func hours() async throws -> AvailabilityDocument {
                    AvailabilityDocument(try await world.clinic.availability(clinician: clinic.gpAccount, practice: clinic.practice.id, gp))
                }
                let availability = try await hours()
                // A's booked consultation has a colleague invited into its call (pending A's answer).
                world.clock.set(booked.start)
                let invitation = try await world.clinic.inviteToCall(booked.id, clinician: clinic.nurse.account!, gp).invitation
                // ... and is being recorded with A's consent: one chunk stored.
                let recordingConsent = try await world.recordings.requestConsent(booked.id, gp)
                _ = try await world.recordings.answerConsent(booked.id, consent: recordingConsent.id, granted: true, asAlice)
                let recording = try await world.recordings.startRecording(booked.id, mode: "audio", gp).record
                let media = Data("census-media-\(UUID().uuidString)".utf8)
                let digest = SHA256.hash(data: media).map { String(format: "%02x", $0) }.joined()
                #expect(try await world.recordings.uploadChunk(recording.id, segment: 0, index: 0, sha256: digest, body: media, gp) == .stored)
                // ... and carries A's finished symptom check, attached for the clinician.
                let complaint = "census-complaint-\(UUID().uuidString) sore throat and fever, no cough"
                let triage = try await world.triage.start(complaint: complaint, sex: "female", country: nil, asAlice)
                _ = try await world.triage.finish(triage.id, version: triage.version, asAlice)
                try await world.triage.attach(triage.id, to: booked.id, asAlice)
                b.bearer = try await b.send(.post, "/api/v1/sessions", json: signInJSON(bob.email, bob.password)).json["token"] as? String
                try #require(b.bearer != nil)

                // Patient A's identifiers, each probed in every path parameter, A's own first.
                let ids = [
                    aliceAccount.description, alicePatient.description, clinic.practice.id.description, held.id.description,
                    booked.id.description, consent.id, clinic.team.id.description, clinic.gpAccount.description,
                ]
                let auditSize = try await world.stores.audit.auditSize()
                let candidates: [String: [String]] = [
                    "practiceID": [clinic.practice.id.description] + ids,
                    "consultationID": [booked.id.description, held.id.description] + ids,
                    "consentID": [consent.id, recordingConsent.id] + ids,
                    "invitationID": [invitation.id] + ids,
                    "recordingID": [recording.id, UUID().uuidString.lowercased()] + ids,
                    // Segment numbers, not identifiers (a non-number answers 422, not 404).
                    "segment": ["0", "1"],
                    "sessionID": [triage.id, UUID().uuidString.lowercased()] + ids,
                    "incidentID": [UUID().uuidString.lowercased()] + ids,
                    "noticeID": [UUID().uuidString.lowercased()] + ids,
                    "accountID": [clinic.gpAccount.description, aliceAccount.description] + ids,
                    // Every audit entry written so far (most are about patient A); also a recording chunk's index.
                    "index": (0..<auditSize).map(String.init) + ids,
                ]
                // Besides `{}`, bodies that pass validation, so the probe reaches the gate and A's objects.
                let note: [String: Any] = ["history": "probe", "examination": "", "assessment": "", "plan": ""]
                let gpID = clinic.gpAccount.description
                let aimed: [String: [String]] = [
                    "POST /api/v1/practices": [
                        jsonText(["name": "Probe", "country": "GB", "region": "England", "time_zone": "UTC"]),
                    ],
                    "POST /api/v1/practices/{practiceID}/members": [
                        jsonText(["account_id": gpID, "role": "clinician"]),
                        jsonText(["account_id": aliceAccount.description, "role": "admin"]),
                    ],
                    "POST /api/v1/practices/{practiceID}/care-teams": [jsonText(["name": "Probe team", "members": [gpID]])],
                    "PUT /api/v1/practices/{practiceID}/holidays": [jsonText(["dates": ["2031-01-01"]])],
                    "PUT /api/v1/practices/{practiceID}/clinicians/{accountID}/availability": [
                        jsonText(["weekly": [[String: Any]]()]),
                    ],
                    // A's slot: taken, never given to B.
                    "POST /api/v1/consultations": [
                        jsonText(["clinician_id": gpID, "start": iso.string(from: booked.start), "modality": "audio"]),
                    ],
                    "POST /api/v1/consultations/{consultationID}/transitions": ["check-in", "start", "end", "cancel", "no-show"].map {
                        jsonText(["event": $0])
                    },
                    "POST /api/v1/consultations/{consultationID}/reschedule": [
                        jsonText(["start": iso.string(from: slots[2].start), "modality": "video"]),
                    ],
                    "POST /api/v1/consultations/{consultationID}/allergies": [jsonText(["substance": "probe"])],
                    "POST /api/v1/consultations/{consultationID}/call/invitations": [jsonText(["clinician_id": clinic.nurse.account!.description])],
                    "POST /api/v1/consultations/{consultationID}/call/invitations/{invitationID}/answer": [jsonText(["consent": true])],
                    "POST /api/v1/consultations/{consultationID}/medicines": [jsonText(["name": "probe"])],
                    "POST /api/v1/consultations/{consultationID}/recordings": [jsonText(["mode": "video"])],
                    "POST /api/v1/consultations/{consultationID}/recording-consents/{consentID}/answer": [jsonText(["consent": false])],
                    "POST /api/v1/recordings/{recordingID}/segments": [jsonText(["mode": "video"])],
                    "POST /api/v1/admin/recordings/{recordingID}/erase": [jsonText(["reason": "probe"])],
                    "PUT /api/v1/admin/playback-switch": [jsonText(["engaged": true, "reason": "probe"])],
                    "POST /api/v1/triage/sessions/{sessionID}/answers": [jsonText(["question": "fever", "answer": "yes"])],
                    "POST /api/v1/consultations/{consultationID}/prescriptions": [
                        jsonText([
                            "medicine": "probe", "dose": "1 tablet", "route": "oral", "frequency": "daily", "quantity": 1,
                            "pharmacy": "probe", "acknowledge_allergy": true,
                        ])
                    ],
                    "PUT /api/v1/consultations/{consultationID}/note": [
                        jsonText(note.merging(["expected_version": 0]) { a, _ in a }),
                        jsonText(note.merging(["expected_version": 1, "sign": true, "amendment_reason": "probe"]) { a, _ in a }),
                    ],
                ]
                // A's consultations and consent: whatever route names them, B gets "not found".
                let alicesObjects: Set<String> = [
                    held.id.description, booked.id.description, consent.id, invitation.id, recording.id, recordingConsent.id, triage.id,
                ]
                let secrets = [
                    alice.givenName, alice.familyName, alice.birthDate, alice.email, noteText, aliceAccount.description,
                    alicePatient.description, held.id.description, booked.id.description, consent.id, invitation.id,
                    recording.id, recordingConsent.id, String(decoding: media, as: UTF8.self), triage.id, complaint,
                ]
                var breakGlass = HTTPFields()
                breakGlass[.init("Confide-Break-Glass-Reason")!] = "census probe"
                let probed = routes.filter {
                    $0.contains("/api/v1/") && !publicRoutes.contains($0) && $0 != "DELETE /api/v1/sessions/current"
                }
                for route in probed {
                    let parts = route.split(separator: " ")
                    let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                    let template = String(parts[1])
                    let bodies: [String?] = method == .get ? [nil] : ["{}"] + (aimed[route] ?? [])
                    for values in assignments(template, candidates) {
                        let path = fill(template, values)
                        for body in bodies {
                            var replies = [try await b.send(method, path, json: body)]
                            // A break-glass reason gives a patient nothing.
                            if method == .get && template.contains("{consultationID}") {
                                replies.append(try await b.send(method, path, headers: breakGlass))
                            }
                            for reply in replies {
                                for secret in secrets {
                                    #expect(!reply.text.contains(secret), "\(method) \(path) leaked patient A's data")
                                }
                                if method != .get && !ownDataRoutes.contains(route) {
                                    #expect(
                                        !(200..<300).contains(reply.status.code),
                                        "\(method) \(path) answered \(reply.status) to the wrong user")
                                }
                                if method == .get || method == .delete, values.values.contains(where: alicesObjects.contains) {
                                    #expect(reply.status == .notFound, "\(method) \(path) answered \(reply.status) to the wrong user")
                                }
                                if reply.status == .notFound {
                                    #expect(
                                        reply.problemType == "urn:confide:problem:not-found",
                                        "\(method) \(path): a denial must look like a missing object")
                                }
                            }
                        }
                    }
                }

                // Patient A and A's objects are untouched.
                a.bearer = try await a.send(.post, "/api/v1/sessions", json: signInJSON(alice.email, alice.password)).json["token"] as? String
                #expect(try await a.send(.get, "/api/v1/me").json["given_name"] as? String == alice.givenName)
                let notices = try #require(
                    try await a.send(.get, "/api/v1/me/notifications").json["notifications"] as? [[String: Any]])
                #expect(!notices.isEmpty && notices.allSatisfy { $0["read"] as? Bool == false })
                let after = try await world.clinic.consultation(booked.id, asAlice).record
                #expect(after.status == .booked)
                #expect(after.start == booked.start && after.end == booked.end && after.modality == booked.modality)
                #expect(try await world.clinic.consultation(held.id, asAlice).record.status == .documented)
                #expect(try await world.clinic.note(held.id, gp).versions.map(\.sections.history) == [noteText])
                let consents = try await world.clinic.consents(asAlice)
                #expect(consents.map(\.id) == [consent.id])
                #expect(consents.allSatisfy { $0.withdrawnAt == nil })
                #expect(try await world.clinic.registeredPractice(asAlice)?.id == clinic.practice.id)
                // The practice and the GP's hours are untouched too.
                let detail = try await world.clinic.practice(clinic.practice.id, asAlice)
                #expect(detail.careTeams == [clinic.team] && detail.holidays.isEmpty && detail.members.count == 3)
                #expect(try await world.clinic.practices(asAlice).map(\.id) == [clinic.practice.id])
                #expect(try await hours() == availability)
                // A's recording and its consent are untouched.
                let stillRecording = try await world.recordings.recording(recording.id, asAlice)
                #expect(stillRecording.record.status == .recording && stillRecording.segments.map(\.chunks) == [1])
                #expect(try await world.recordings.consents(booked.id, asAlice).map(\.status) == [.granted])
                #expect(try await world.recordings.play(recording.id, segment: 0, range: nil, asAlice).data == media)
            }
        }
    }

    @Test("metrics count requests by route template, never by raw path")
    func metrics() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let id = Account.ID().description
                _ = try await c.send(.post, "/api/v1/staff/\(id)/deactivation?email=someone@example.com", json: "{}")
                _ = try await c.send(.get, "/no/such/\(id)")
                let metrics = try await c.send(.get, "/metrics")
                #expect(metrics.text.contains("# TYPE confide_http_requests_total counter"))
                #expect(metrics.text.contains(#"route="/api/v1/staff/{accountID}/deactivation""#))
                #expect(metrics.text.contains(#"route="unmatched""#))
                #expect(!metrics.text.contains(id))
                #expect(!metrics.text.contains("someone@example.com"))
            }
        }
    }

    @Test("health and readiness answer over a real socket")
    func live() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.live) { raw in
                var c = Client(raw)
                let health = try await c.send(.get, "/healthz")
                #expect(health.json["status"] as? String == "ok")
                let ready = try await c.send(.get, "/readyz")
                #expect(ready.json["status"] as? String == "ready")
                let created = try await c.send(.post, "/api/v1/accounts", json: registrationJSON(Fixtures.alice()))
                #expect(created.status == .created)
            }
            #expect(world.logLinesWithPersonalData().isEmpty)
            #expect(!world.logs.lines(containingAnyOf: ["confide.route=/api/v1/accounts"]).isEmpty)
        }
    }

    @Test("readiness fails with 503 when the database is gone")
    func notReady() async throws {
        try await TestWorld.with { world in
            try await world.stores.system.shutdown()
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let reply = try await c.send(.get, "/readyz")
                #expect(reply.status == .serviceUnavailable)
                #expect(reply.problemType == "urn:confide:problem:not-ready")
            }
        }
    }
}
