import ConfideClinic
import ConfideAccounts
import ConfideCore
import ConfidePolicy
import ConfideStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus

/// Logs one line per request (method, route template, status, duration: never the raw path or
/// query, which may carry personal data) and records Prometheus metrics by route template.
struct ObservabilityMiddleware: RouterMiddleware {
    typealias Context = ConfideRequestContext
    let registry: PrometheusCollectorRegistry

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.logger[metadataKey: "confide.request.id"] = .string(context.requestID)
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            record(request, context, status: status, start: start)
            throw error
        }
        response.headers[.init("X-Request-ID")!] = context.requestID
        record(request, context, status: response.status, start: start)
        return response
    }

    func record(_ request: Request, _ context: Context, status: HTTPResponse.Status, start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        // INVARIANT: only the route template is recorded; unmatched paths collapse to one label.
        let route = context.endpointPath.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "unmatched"
        // INVARIANT: label values come from small fixed sets (no client-chosen method tokens).
        let known: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        let method = known.contains(request.method.rawValue) ? request.method.rawValue : "OTHER"
        let labels = [("method", method), ("route", route), ("status", String(status.code))]
        registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "confide", metricName: "http_requests", unitName: "total", helpText: "HTTP requests"),
            labels: labels
        ).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "confide", metricName: "http_request_duration", unitName: "seconds", helpText: "HTTP request latency"),
            labels: [("method", method), ("route", route)],
            buckets: [.milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)]
        ).record(elapsed)
        context.logger.info(
            "request",
            metadata: [
                "confide.http.method": .string(method),
                "confide.route": .string(route),
                "confide.http.status": .stringConvertible(Int(status.code)),
                "confide.http.duration_ms": .stringConvertible(Int(elapsed / .milliseconds(1))),
            ])
    }
}

/// Turns every error into an RFC 9457 problem. Unknown errors become a bare 500 and are logged
/// by type only (their text may hold values).
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = ConfideRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = Self.problem(for: error, logger: context.logger)
            return try problem.response(from: request, context: context)
        }
    }

    static func problem(for error: any Error, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let redirect as Redirect:
            var p = Problem(.seeOther, "redirect", "see other")
            p.headers[.location] = redirect.location
            return p
        case is AccessDenied:
            // INVARIANT: a denial and a missing object give the same answer.
            return .notFound
        case let error as AccountsError:
            return problem(for: error)
        case let error as ClinicError:
            return error.problem
        case let error as ValidationError:
            return Problem(.unprocessableContent, error.code.rawValue, error.message, field: error.field)
        case is NIOTooManyBytesError:
            return .tooLarge
        case let error as HTTPError:
            switch error.status {
            case .notFound: return .notFound
            case .methodNotAllowed: return Problem(.methodNotAllowed, "method-not-allowed", "this method is not allowed here")
            case .contentTooLarge: return .tooLarge
            default:
                return Problem(error.status, "http-\(error.status.code)", error.status.reasonPhrase.lowercased())
            }
        default:
            logger.error("unhandled error", metadata: ["confide.error.type": .string(String(describing: type(of: error)))])
            return .internalError
        }
    }

    static func problem(for error: AccountsError) -> Problem {
        switch error.code {
        case .invalidCredentials: Problem(.unauthorized, "invalid-credentials", "the email or password is incorrect")
        case .tooManyAttempts:
            Problem(.tooManyRequests, "too-many-attempts", "too many failed sign-in attempts; wait 15 minutes and try again")
        case .totpRequired: Problem(.unauthorized, "totp-required", "enter the 6-digit code from your authenticator app", field: "totp")
        case .invalidTOTP: Problem(.unauthorized, "invalid-totp", "the code is wrong, expired or already used", field: "totp")
        case .emailTaken: Problem(.conflict, "email-taken", "an account with this email already exists", field: "email")
        case .invalidToken: Problem(.badRequest, "invalid-token", "this link is not valid any more; ask for a new one", field: "token")
        case .wrongCurrentPassword:
            Problem(.unprocessableContent, "wrong-current-password", "the current password is incorrect", field: "current_password")
        case .totpAlreadyEnabled: Problem(.conflict, "totp-already-enabled", "two-factor authentication is already set up")
        case .totpNotStarted: Problem(.conflict, "totp-not-started", "start two-factor set-up first")
        case .notYetCheckpointed:
            Problem(.conflict, "not-yet-checkpointed", "this entry is not covered by a signed checkpoint yet; retry in a few seconds")
        case .unauthenticated: .unauthenticated
        case .totpEnrolmentRequired: .totpEnrolment
        case .validation:
            error.validation.map { Problem(.unprocessableContent, $0.code.rawValue, $0.message, field: $0.field) }
                ?? Problem(.unprocessableContent, "invalid-value", "a value is not valid")
        }
    }
}

/// Security headers on every response: a strict Content-Security-Policy and friends.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = ConfideRequestContext
    let tls: Bool

    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "media-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("Referrer-Policy")!] = "same-origin"
        response.headers[.init("Cross-Origin-Opener-Policy")!] = "same-origin"
        response.headers[.init("Permissions-Policy")!] = "camera=(self), microphone=(self), geolocation=()"
        if response.headers[.cacheControl] == nil, !request.uri.path.hasPrefix("/static/") {
            response.headers[.cacheControl] = "no-store"
        }
        if tls { response.headers[.strictTransportSecurity] = "max-age=31536000; includeSubDomains" }
        return response
    }
}

/// Authenticates the request (bearer token or session cookie) and enforces anti-forgery checks
/// on every cookie-authenticated or form-encoded state-changing request, and an Origin check on
/// cookie-authenticated requests and WebSocket upgrades.
struct SessionMiddleware: RouterMiddleware {
    typealias Context = ConfideRequestContext
    let accounts: AccountService
    let settings: HTTPSettings


    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        var request = request
        var viaBearer = false
        context.resolvedClientAddress = ClientAddress.resolve(
            peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[.init("X-Forwarded-For")!], trusted: settings.trustedProxies)
        if let authorization = request.headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw Problem.unauthenticated }
            if let auth = try await authenticate(String(parts[1]), .bearer) {
                context.auth = auth
                viaBearer = true
            } else if request.headers[.upgrade]?.lowercased() != "websocket" {
                throw Problem.unauthenticated
            }
            // A WebSocket upgrade with an expired or revoked token goes on without a session: the
            // call route records the attempt in the audit log, then refuses it like any other.
        } else if let cookie = request.cookies[settings.sessionCookieName] {
            context.auth = try await authenticate(cookie.value, .cookie)
        }

        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let isForm = contentType.hasPrefix("application/x-www-form-urlencoded")
        // A browser cannot send `application/json` cross-site without a CORS preflight, which
        // this server never grants; every other body type (forms, text/plain, multipart) can be
        // sent by any page, so it needs the token whether or not a session exists.
        let isJSON = contentType.hasPrefix("application/json")
        let unsafe = ![.get, .head, .options].contains(request.method)
        let upgrade = request.headers[.upgrade]?.lowercased() == "websocket"
        // Anonymous JSON API calls carry no ambient credential and never set a cookie, so they need
        // no token (a non-JSON body there is refused by the decoder with 415).
        let anonymousAPI = context.auth == nil && request.uri.path.hasPrefix("/api/")
        let needsToken = !viaBearer && unsafe && (context.auth != nil || (!isJSON && !anonymousAPI))
        if needsToken || (!viaBearer && upgrade && context.auth != nil) {
            if let origin = request.headers[.origin], !Self.sameOrigin(origin, authority: request.head.authority) {
                throw Problem.csrf
            }
        }
        let anonymousToken = request.cookies[settings.csrfCookieName]?.value.nonEmptyToken
        if needsToken {
            var presented = request.headers[.init("X-CSRF-Token")!]
            if presented == nil, isForm {
                let body = try await request.collectBody(upTo: settings.maxBodyBytes)
                presented = FormData(body)["_csrf"]
            }
            let expected = context.auth?.session.csrfToken ?? anonymousToken
            guard let expected, let presented, constantTimeEquals(expected, presented) else { throw Problem.csrf }
        }

        if let auth = context.auth {
            context.csrfToken = auth.session.csrfToken
        } else if let cookie = anonymousToken {
            context.csrfToken = cookie
        } else {
            context.csrfToken = randomHex(bytes: 32)
            context.issueAnonymousCSRFCookie = true
        }
        var response = try await next(request, context)
        // Only pages carry forms; API responses do not need the anonymous anti-forgery cookie.
        if context.issueAnonymousCSRFCookie, let token = context.csrfToken,
            response.headers[.contentType]?.hasPrefix("text/html") == true
        {
            response.setCookie(settings.csrfCookie(token))
        }
        return response
    }

    func authenticate(_ token: String, _ kind: SessionKind) async throws -> AuthenticatedSession? {
        do {
            return try await accounts.authenticate(token: token, kind: kind)
        } catch let error as AccountsError where error.code == .unauthenticated {
            return nil
        }
    }

    static func sameOrigin(_ origin: String, authority: String?) -> Bool {
        guard let authority, let url = URL(string: origin), let host = url.host else { return false }
        let port = url.port.map { ":\($0)" } ?? ""
        return "\(host)\(port)".lowercased() == authority.lowercased()
    }
}

extension String {
    /// The value when it looks like one of our anti-forgery tokens (64 hex digits), else `nil`.
    var nonEmptyToken: String? {
        count == 64 && allSatisfy(\.isHexDigit) ? self : nil
    }
}

/// A parsed `application/x-www-form-urlencoded` body.
struct FormData {
    private(set) var values: [String: String] = [:]

    init(_ buffer: ByteBuffer) {
        let text = String(buffer: buffer)
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = Self.decode(kv[0]) else { continue }
            values[key] = kv.count > 1 ? Self.decode(kv[1]) ?? "" : ""
        }
    }

    static func decode(_ s: Substring) -> String? {
        s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    subscript(_ key: String) -> String? { values[key] }

    /// The value or an empty string.
    func string(_ key: String) -> String { values[key] ?? "" }
}

/// The egress guard (defence in depth behind the policy engine). Every response to a patient is
/// held until the items of patient data the gate released for it have been resolved to their
/// patient through the ground-truth chain; a response carrying anything that is not the
/// requester's own is withheld and answered exactly as a denial is (404), and raises an incident.
/// In observe-only mode (drills) the response goes out and the incident is still raised.
struct EgressGuardMiddleware: RouterMiddleware {
    typealias Context = ConfideRequestContext
    let incidents: IncidentService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let auth = context.auth, case .patient = auth.principal else { return try await next(request, context) }
        let ledger = EgressLedger()
        let response = try await EgressLedger.$current.withValue(ledger) { try await next(request, context) }
        let released = ledger.items
        // Fails closed: when the ground truth cannot be read, the error answers instead (500).
        if released.isEmpty { return response }
        if try await incidents.screen(released, for: auth.principal, requestID: context.requestID) { return response }
        if response.headers[.contentType]?.hasPrefix("text/html") == true {
            return ClinicNav.notFoundPage(for: auth.principal, csrf: auth.session.csrfToken)
        }
        throw Problem.notFound
    }
}
