public import ConfideAccounts
public import ConfideCore
public import Hummingbird
public import HummingbirdWebSocket
import ConfideStore
import Logging
public import NIOCore

/// The context of every request: the client address and, once the session middleware ran, the
/// verified session (if any).
public struct ConfideRequestContext: RequestContext, RemoteAddressRequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// Set by a WebSocket route that accepted the upgrade (the call signalling).
    public let webSocket = WebSocketHandlerReference<Self>()
    /// The verified session, set only by `SessionMiddleware`.
    public internal(set) var auth: AuthenticatedSession?
    /// The anti-forgery token the page forms must carry.
    public internal(set) var csrfToken: String?
    /// Whether the response must set a fresh anonymous anti-forgery cookie.
    var issueAnonymousCSRFCookie = false
    /// The client address after trusted-proxy resolution (set by `SessionMiddleware`).
    var resolvedClientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// The request identifier also carried by every log line of the request.
    public var requestID: String { logger[metadataKey: "hb.request.id"]?.description ?? "-" }

    /// The client's address for throttling.
    public var clientAddress: String { resolvedClientAddress ?? remoteAddress?.ipAddress ?? "unknown" }

    var meta: RequestMeta { RequestMeta(requestID: requestID, clientAddress: clientAddress) }
}

/// Any valid session, also one that still has to set up TOTP (enrolment and sign-out only).
public struct SessionContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let auth: AuthenticatedSession
    let meta: RequestMeta

    /// - Throws: `Problem.unauthenticated` (401) without a valid session.
    public init(context: ConfideRequestContext) throws {
        guard let auth = context.auth else { throw Problem.unauthenticated }
        self.coreContext = context.coreContext
        self.auth = auth
        self.meta = context.meta
    }
}

/// A fully signed-in principal. Every route that touches patient data lives in a group with
/// this context: a handler outside such a group has no principal to act with.
public struct SignedInContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let auth: AuthenticatedSession
    let meta: RequestMeta
    /// Who acts; never optional here.
    public var principal: Principal { auth.principal }

    /// - Throws: 401 without a session; 403 while TOTP enrolment is pending.
    public init(context: ConfideRequestContext) throws {
        guard let auth = context.auth else { throw Problem.unauthenticated }
        guard !auth.needsTOTPEnrolment else { throw Problem.totpEnrolment }
        self.coreContext = context.coreContext
        self.auth = auth
        self.meta = context.meta
    }
}

/// A redirect thrown by page contexts (303 See Other).
struct Redirect: HTTPResponseError {
    let location: String
    var status: HTTPResponse.Status { .seeOther }
    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}

/// A signed-in page: redirects to the sign-in page (or TOTP set-up) instead of answering 401.
public struct SignedInPageContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let auth: AuthenticatedSession
    let meta: RequestMeta
    let csrfToken: String

    public init(context: ConfideRequestContext) throws {
        guard let auth = context.auth else { throw Redirect(location: "/signin") }
        guard !auth.needsTOTPEnrolment else { throw Redirect(location: "/account/totp") }
        self.coreContext = context.coreContext
        self.auth = auth
        self.meta = context.meta
        self.csrfToken = auth.session.csrfToken
    }
}

/// A page for any session, including one that must still set up TOTP.
public struct SessionPageContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let auth: AuthenticatedSession
    let meta: RequestMeta
    let csrfToken: String

    public init(context: ConfideRequestContext) throws {
        guard let auth = context.auth else { throw Redirect(location: "/signin") }
        self.coreContext = context.coreContext
        self.auth = auth
        self.meta = context.meta
        self.csrfToken = auth.session.csrfToken
    }
}
