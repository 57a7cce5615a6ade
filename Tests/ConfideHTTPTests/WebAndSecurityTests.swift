import ConfideAccounts
import ConfideCore
import ConfideHTTP
import ConfideStore
import ConfideTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The hidden `_csrf` value in a page.
func csrfField(_ html: String) -> String? {
    guard let range = html.range(of: #"name="_csrf" value=""#) else { return nil }
    return String(html[range.upperBound...].prefix { $0 != "\"" })
}

@Suite("web pages, cookies and anti-forgery")
struct WebAndSecurityTests {
    @Test("register in the browser flow, see my account, sign out, and a wrong password reads clearly")
    func pageFlow() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let page = try await c.send(.get, "/register")
                #expect(page.status == .ok)
                #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
                let token = try #require(csrfField(page.text))
                #expect(c.cookies["confide_csrf"] == token)
                let alice = Fixtures.alice()
                let form = [
                    "_csrf": token, "email": alice.email, "password": alice.password, "given_name": alice.givenName,
                    "family_name": alice.familyName, "birth_date": alice.birthDate,
                ]
                let registered = try await c.send(.post, "/register", form: form)
                #expect(registered.status == .seeOther)
                #expect(registered.headers[.location] == "/account")
                let cookie = try #require(registered.headers[values: .setCookie].first { $0.hasPrefix("confide_session=") })
                #expect(cookie.contains("HttpOnly"))
                #expect(cookie.contains("SameSite=Lax"))
                let account = try await c.send(.get, "/account")
                #expect(account.text.contains("<h1>My account</h1>"))
                #expect(account.text.contains("Zephyrine Quillfeather"))
                let signOutToken = try #require(csrfField(account.text))
                let wrongCurrent = try await c.send(
                    .post, "/account/password", form: ["_csrf": signOutToken, "current_password": "nope-nope-nope-1", "new_password": "x"])
                #expect(wrongCurrent.status == .unprocessableContent)
                #expect(wrongCurrent.text.contains("The current password is incorrect."))
                let changed = try await c.send(
                    .post, "/account/password",
                    form: ["_csrf": signOutToken, "current_password": alice.password, "new_password": "juniper-atlas-kettle-52"])
                #expect(changed.headers[.location] == "/account?notice=password-changed")
                let out = try await c.send(.post, "/signout", form: ["_csrf": signOutToken])
                #expect(out.headers[.location] == "/signin?notice=signed-out")
                #expect(try await c.send(.get, "/account").headers[.location] == "/signin")

                let signin = try await c.send(.get, "/signin")
                let wrong = try await c.send(
                    .post, "/signin", form: ["_csrf": try #require(csrfField(signin.text)), "email": alice.email, "password": alice.password])
                #expect(wrong.status == .unauthorized)
                #expect(wrong.text.contains(#"<div role="alert" class="error">The email or password is incorrect.</div>"#))
                // The old password no longer works, and is never echoed back.
                #expect(!wrong.text.contains(alice.password))
            }
            #expect(world.logLinesWithPersonalData().isEmpty)
        }
    }

    @Test("form posts without the anti-forgery token, or with another one, are refused")
    func formCSRF() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                _ = try await c.send(.get, "/signin")
                let missing = try await c.send(.post, "/signin", form: ["email": "a@example.com", "password": "x"])
                #expect(missing.status == .forbidden)
                #expect(missing.problemType == "urn:confide:problem:csrf-failed")
                let forged = try await c.send(.post, "/signin", form: ["_csrf": String(repeating: "0", count: 64), "email": "a@example.com", "password": "x"])
                #expect(forged.status == .forbidden)
                var noCookie = Client(raw)
                let cross = try await noCookie.send(.post, "/register", form: ["_csrf": "anything", "email": "a@example.com"])
                #expect(cross.status == .forbidden)
            }
            let failures = try await world.stores.credentials.loginFailures(key: "address:unknown", since: .distantPast)
            #expect(failures == 0)
        }
    }

    @Test(
        "a cross-site post in any non-JSON body type cannot sign a browser in (login forgery)",
        arguments: ["text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", ""])
    func loginForgery(_ contentType: String) async throws {
        try await TestWorld.with { world in
            let alice = Fixtures.alice()
            _ = try await world.accounts.register(alice, meta: RequestMeta(requestID: "t", clientAddress: "x"))
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let body = "email=\(alice.email)&password=\(alice.password)&z=1"
                let reply = try await c.send(.post, "/signin", json: body, headers: [.contentType: contentType, .origin: "https://evil.example"])
                #expect(reply.status == .forbidden)
                #expect(reply.cookie("confide_session") == nil)
                var sameSite = Client(raw)
                let noOrigin = try await sameSite.send(.post, "/signin", json: body, headers: [.contentType: contentType])
                #expect(noOrigin.status == .forbidden)
            }
        }
    }

    @Test("behind https, cookies are Secure with the __Host- prefix and responses carry HSTS")
    func secureCookies() async throws {
        try await TestWorld.with(secure: true) { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let page = try await c.send(.get, "/signin")
                let csrf = try #require(page.headers[values: .setCookie].first { $0.hasPrefix("__Host-confide_csrf=") })
                #expect(csrf.contains("Secure"))
                #expect(page.headers[.strictTransportSecurity]?.contains("max-age=") == true)
                let token = try #require(csrfField(page.text))
                let alice = Fixtures.alice()
                _ = try await world.accounts.register(alice, meta: RequestMeta(requestID: "t", clientAddress: "x"))
                let signedIn = try await c.send(
                    .post, "/signin", form: ["_csrf": token, "email": alice.email, "password": alice.password],
                    headers: [.cookie: "__Host-confide_csrf=\(token)"])
                let session = try #require(signedIn.headers[values: .setCookie].first { $0.hasPrefix("__Host-confide_session=") })
                #expect(session.contains("Secure"))
                #expect(session.contains("HttpOnly"))
                // A plain-named cookie planted by a sibling subdomain is ignored.
                var planted = Client(raw)
                let reply = try await planted.send(.get, "/account", headers: [.cookie: "confide_session=whatever"])
                #expect(reply.headers[.location] == "/signin")
            }
        }
    }

    @Test("cookie-authenticated JSON writes need the CSRF header and a matching Origin; bearer requests do not")
    func cookieJSON() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let alice = try await c.registerAndSignInWithCookie(Fixtures.alice())
                let account = try await c.send(.get, "/account")
                let sessionCSRF = try #require(csrfField(account.text))
                #expect(try await c.send(.get, "/api/v1/me").status == .ok)
                let body = #"{"given_name":"Zed","family_name":"Quillfeather"}"#
                let noHeader = try await c.send(.patch, "/api/v1/me", json: body)
                #expect(noHeader.status == .forbidden)
                c.csrf = sessionCSRF
                let crossOrigin = try await c.send(.patch, "/api/v1/me", json: body, headers: [.origin: "https://evil.example"])
                #expect(crossOrigin.status == .forbidden)
                let nullOrigin = try await c.send(.patch, "/api/v1/me", json: body, headers: [.origin: "null"])
                #expect(nullOrigin.status == .forbidden)
                let ok = try await c.send(.patch, "/api/v1/me", json: body)
                #expect(ok.status == .ok)

                var api = Client(raw)
                api.bearer = try await api.send(.post, "/api/v1/sessions", json: signInJSON(alice.email, alice.password)).json["token"] as? String
                #expect(try await api.send(.patch, "/api/v1/me", json: body).status == .ok)
            }
        }
    }

    @Test("every page and API response carries the security headers and a strict CSP", arguments: ["/", "/signin", "/register", "/healthz", "/api/v1/me", "/nope"])
    func securityHeaders(_ path: String) async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let reply = try await c.send(.get, path)
                let csp = try #require(reply.headers[.contentSecurityPolicy])
                #expect(csp.contains("default-src 'self'"))
                #expect(csp.contains("frame-ancestors 'none'"))
                #expect(!csp.contains("unsafe-inline"))
                #expect(reply.headers[.xContentTypeOptions] == "nosniff")
                #expect(reply.headers[.init("X-Frame-Options")!] == "DENY")
                #expect(reply.headers[.init("Referrer-Policy")!] == "same-origin")
                #expect(reply.headers[.init("X-Request-ID")!] != nil)
            }
        }
    }

    @Test("unknown routes answer a problem, and pages escape what they show")
    func notFoundAndEscaping() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                let nope = try await c.send(.get, "/no/such/page")
                #expect(nope.status == .notFound)
                #expect(nope.problemType == "urn:confide:problem:not-found")
                let page = try await c.send(.get, "/reset-password?token=%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
                #expect(!page.text.contains("<script>alert(1)"))
                #expect(page.text.contains("&quot;&gt;&lt;script&gt;"))
            }
        }
    }
}

@Suite("several instances")
struct MultiInstanceTests {
    @Test("a session started on one instance works, and ends, on another sharing the database")
    func sharedSessions() async throws {
        try await TestWorld.with { world in
            let other = try world.sibling()
            let alice = Fixtures.alice()
            let token: String? = try await world.application().test(.router) { raw in
                var c = Client(raw)
                _ = try await c.send(.post, "/api/v1/accounts", json: registrationJSON(alice))
                return try await c.send(.post, "/api/v1/sessions", json: signInJSON(alice.email, alice.password)).json["token"] as? String
            }
            try await other.application().test(.router) { raw in
                var c = Client(raw)
                c.bearer = token
                let me = try await c.send(.get, "/api/v1/me")
                #expect(me.status == .ok)
                let out = try await c.send(.delete, "/api/v1/sessions/current")
                #expect(out.status == .noContent)
            }
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                c.bearer = token
                let me = try await c.send(.get, "/api/v1/me")
                #expect(me.status == .unauthorized)
            }
        }
    }

    @Test("the sign-in lockout counts failures from every instance")
    func sharedThrottle() async throws {
        try await TestWorld.with { world in
            let other = try world.sibling()
            let alice = Fixtures.alice()
            _ = try await world.accounts.register(alice, meta: RequestMeta(requestID: "t", clientAddress: "x"))
            for (index, instance) in [world, other, world, other, world].enumerated() {
                try await instance.application().test(.router) { raw in
                    var c = Client(raw)
                    let reply = try await c.send(.post, "/api/v1/sessions", json: signInJSON(alice.email, "wrong-password-\(index)x"))
                    #expect(reply.status == .unauthorized)
                }
            }
            try await other.application().test(.router) { raw in
                var c = Client(raw)
                let reply = try await c.send(.post, "/api/v1/sessions", json: signInJSON(alice.email, alice.password))
                #expect(reply.status == .tooManyRequests)
            }
        }
    }

    @Test("a cookie-authenticated WebSocket upgrade from another origin is refused")
    func websocketOrigin() async throws {
        try await TestWorld.with { world in
            try await world.application().test(.router) { raw in
                var c = Client(raw)
                try await c.registerAndSignInWithCookie(Fixtures.alice())
                let upgrade = try await c.send(
                    .get, "/api/v1/me", headers: [.upgrade: "websocket", .connection: "Upgrade", .origin: "https://evil.example"])
                #expect(upgrade.status == .forbidden)
                #expect(upgrade.problemType == "urn:confide:problem:csrf-failed")
            }
        }
    }
}

@Suite("client address behind proxies")
struct ClientAddressTests {
    let proxies = [IPNetwork("10.0.0.0/8")!, IPNetwork("fd00::/8")!]

    @Test("X-Forwarded-For is believed only from a trusted proxy, right-most untrusted hop first")
    func forwarded() {
        #expect(ClientAddress.resolve(peer: "203.0.113.9", forwardedFor: "198.51.100.1", trusted: proxies) == "203.0.113.9")
        #expect(ClientAddress.resolve(peer: "10.1.2.3", forwardedFor: "198.51.100.1", trusted: proxies) == "198.51.100.1")
        #expect(ClientAddress.resolve(peer: "10.1.2.3", forwardedFor: "6.6.6.6, 198.51.100.1, 10.9.9.9", trusted: proxies) == "198.51.100.1")
        #expect(ClientAddress.resolve(peer: "10.1.2.3", forwardedFor: "not-an-ip", trusted: proxies) == "10.1.2.3")
        #expect(ClientAddress.resolve(peer: "10.1.2.3", forwardedFor: nil, trusted: []) == "10.1.2.3")
        #expect(ClientAddress.resolve(peer: nil, forwardedFor: "198.51.100.1", trusted: proxies) == "unknown")
    }

    @Test("IPv6 clients are keyed by their /64")
    func ipv6() {
        let a = ClientAddress.resolve(peer: "2001:db8:1:2::1", forwardedFor: nil, trusted: [])
        let b = ClientAddress.resolve(peer: "2001:db8:1:2:ffff::9", forwardedFor: nil, trusted: [])
        let c = ClientAddress.resolve(peer: "2001:db8:1:3::1", forwardedFor: nil, trusted: [])
        #expect(a == b)
        #expect(a != c)
        #expect(IPNetwork("fd00::/8")!.contains("fd12::1"))
        #expect(!IPNetwork("10.0.0.0/8")!.contains("11.0.0.1"))
        #expect(IPNetwork("10.0.0.0/40") == nil)
    }
}
