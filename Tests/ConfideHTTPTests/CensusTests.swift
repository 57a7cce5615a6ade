import ConfideAccounts
import ConfideCore
import ConfideHTTP
import ConfideStore
import ConfideTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Routes anyone may call without a session.
let publicRoutes: Set<String> = [
    "GET /", "GET /healthz", "GET /readyz", "GET /metrics", "GET /openapi.json", "GET /static/app.css",
    "GET /signin", "POST /signin", "GET /register", "POST /register", "GET /forgot-password", "POST /forgot-password",
    "GET /reset-password", "POST /reset-password", "GET /verify-email", "POST /verify-email",
    "POST /api/v1/accounts", "POST /api/v1/sessions", "POST /api/v1/email-verifications", "POST /api/v1/password-resets",
    "POST /api/v1/password-resets/complete", "GET /api/v1/audit/checkpoints", "GET /api/v1/audit/consistency-proof",
]

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
                    let path = String(parts[1]).replacingOccurrences(of: "{accountID}", with: Account.ID().description)
                        .replacingOccurrences(of: "{index}", with: "0")
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
            let (staffID, _) = try await world.accounts.createStaffWithCredentials(
                StaffInput(email: Fixtures.email("gp"), givenName: "G", familyName: "P", kind: .clinician, role: "gp", registrationNumber: "GMC-2"),
                password: Fixtures.password, job: "test")
            try await world.application().test(.router) { raw in
                var a = Client(raw)
                var b = Client(raw)
                let alice = Fixtures.alice()
                let bob = Fixtures.bob()
                let aliceProfile = try await a.send(.post, "/api/v1/accounts", json: registrationJSON(alice)).json
                _ = try await b.send(.post, "/api/v1/accounts", json: registrationJSON(bob))
                b.bearer = try await b.send(.post, "/api/v1/sessions", json: signInJSON(bob.email, bob.password)).json["token"] as? String
                let aliceIDs = [aliceProfile["account_id"] as? String, aliceProfile["patient_id"] as? String].compactMap { $0 }
                for route in routes where route.contains("/api/v1/") && !publicRoutes.contains(route) && route != "DELETE /api/v1/sessions/current" {
                    let parts = route.split(separator: " ")
                    let method = HTTPRequest.Method(rawValue: String(parts[0]))!
                    // Every audit entry written so far (most are about patient A) and every identifier.
                    for id in aliceIDs + [staffID.description] + (0..<12).map(String.init) {
                        let path = String(parts[1]).replacingOccurrences(of: "{accountID}", with: id).replacingOccurrences(of: "{index}", with: id)
                        let reply = try await b.send(method, path, json: method == .get ? nil : "{}")
                        for secret in [alice.givenName, alice.familyName, alice.birthDate, alice.email] {
                            #expect(!reply.text.contains(secret), "\(route) leaked patient A's data")
                        }
                        #expect(reply.status != .noContent, "\(route) changed something for the wrong user")
                    }
                }
                // Patient A is untouched.
                a.bearer = try await a.send(.post, "/api/v1/sessions", json: signInJSON(alice.email, alice.password)).json["token"] as? String
                #expect(try await a.send(.get, "/api/v1/me").json["given_name"] as? String == alice.givenName)
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
