import ConfideAccounts
import ConfideAudit
import ConfideCore
import ConfidePolicy
import ConfideStore
import Foundation
import Hummingbird
import Logging

/// Server-rendered pages. They call the same `AccountService` as the JSON API and hold no
/// authorization logic of their own.
struct WebController {
    let accounts: AccountService
    let settings: HTTPSettings

    func register(on router: Router<ConfideRequestContext>) {
        router.get("/", use: home)
        router.get("static/app.css") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: .init(byteBuffer: ByteBuffer(string: Layout.stylesheet)))
        }
        router.get("signin", use: signInPage)
        router.post("signin", use: signIn)
        router.get("register", use: registerPage)
        router.post("register", use: registerSubmit)
        router.get("forgot-password", use: forgotPage)
        router.post("forgot-password", use: forgotSubmit)
        router.get("reset-password", use: resetPage)
        router.post("reset-password", use: resetSubmit)
        router.get("verify-email", use: verifyPage)
        router.post("verify-email", use: verifySubmit)

        let session = router.group(context: SessionPageContext.self)
        session.post("signout", use: signOut)
        session.get("account/totp", use: totpPage)
        session.post("account/totp/start", use: totpStart)
        session.post("account/totp", use: totpSubmit)

        let signedIn = router.group(context: SignedInPageContext.self)
        signedIn.get("account", use: accountPage)
        signedIn.get("account/password", use: passwordPage)
        signedIn.get("account/access-log", use: accessLogPage)
        signedIn.post("account/password", use: passwordSubmit)
    }

    /// The urlencoded form of a page post; any other body type is refused (415).
    func form(_ request: inout Request) async throws -> FormData {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            throw Problem(.unsupportedMediaType, "unsupported-media-type", "send the form as `application/x-www-form-urlencoded`")
        }
        return FormData(try await request.collectBody(upTo: settings.maxBodyBytes))
    }

    func message(for error: any Error, logger: Logger) -> String {
        let problem = ProblemMiddleware.problem(for: error, logger: logger)
        let text = problem.title
        return text.prefix(1).uppercased() + text.dropFirst() + "."
    }

    // MARK: public pages

    @Sendable func home(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        if context.auth != nil { return Response(status: .seeOther, headers: [.location: "/account"]) }
        let body = """
            <h1>See a GP from your phone</h1>
            <p>Describe your symptoms, book a video or phone consultation, and find your notes, prescriptions and recordings in your account.</p>
            <p><a href="/register">Create an account</a> or <a href="/signin">sign in</a>.</p>
            """
        return Layout.response(Layout.page(title: "Welcome", signedIn: false, csrf: context.csrfToken, body: body))
    }

    func signInHTML(_ context: ConfideRequestContext, email: String = "", error: String? = nil, notice: String? = nil) -> String {
        let body = """
            <h1>Sign in</h1>
            \(Layout.notice(notice))\(Layout.alert(error))
            <form method="post" action="/signin" novalidate>
            \(Layout.csrfField(context.csrfToken))
            \(Layout.field("email", label: "Email address", type: "email", value: email, autocomplete: "username"))
            \(Layout.field("password", label: "Password", type: "password", autocomplete: "current-password"))
            \(Layout.field("totp", label: "Authenticator code (staff)", autocomplete: "one-time-code", required: false,
                hint: "Clinicians and administrators: the 6-digit code from your authenticator app, or a recovery code."))
            <button type="submit">Sign in</button>
            </form>
            <p><a href="/forgot-password">Forgot your password?</a></p>
            <p>New to Confide? <a href="/register">Create an account</a>.</p>
            """
        return Layout.page(title: "Sign in", signedIn: false, csrf: context.csrfToken, body: body)
    }

    @Sendable func signInPage(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        let notice: String? =
            switch request.uri.queryParameters["notice"].map(String.init) {
            case "signed-out": "You have signed out."
            case "password-reset": "Your password has been changed. Sign in with your new password."
            case "verified": "Thank you, your email address is confirmed."
            default: nil
            }
        return Layout.response(signInHTML(context, notice: notice))
    }

    @Sendable func signIn(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        do {
            let signedIn = try await accounts.signIn(
                email: form.string("email"), password: form.string("password"), totp: form["totp"], kind: .cookie, meta: context.meta)
            var response = Response(
                status: .seeOther, headers: [.location: signedIn.needsTOTPEnrolment ? "/account/totp" : "/account"])
            response.setCookie(settings.sessionCookie(signedIn.token))
            return response
        } catch let error as AccountsError {
            let problem = ProblemMiddleware.problem(for: error)
            let text: String =
                switch error.code {
                case .invalidCredentials: "The email or password is incorrect."
                case .tooManyAttempts: "Too many failed attempts. Wait 15 minutes and try again, or reset your password."
                case .totpRequired: "Enter the 6-digit code from your authenticator app."
                case .invalidTOTP: "That code is wrong, expired or already used. Try the next code."
                default: message(for: error, logger: context.logger)
                }
            return Layout.response(signInHTML(context, email: form.string("email"), error: text), status: problem.status)
        }
    }

    func registerHTML(_ context: ConfideRequestContext, form: FormData? = nil, error: String? = nil, field: String? = nil) -> String {
        func err(_ name: String) -> String? { field == name ? error : nil }
        let body = """
            <h1>Create your account</h1>
            \(Layout.alert(error))
            <form method="post" action="/register" novalidate>
            \(Layout.csrfField(context.csrfToken))
            \(Layout.field("given_name", label: "First name", value: form?.string("given_name") ?? "", autocomplete: "given-name", error: err("given_name")))
            \(Layout.field("family_name", label: "Last name", value: form?.string("family_name") ?? "", autocomplete: "family-name", error: err("family_name")))
            \(Layout.field("birth_date", label: "Date of birth", type: "date", value: form?.string("birth_date") ?? "", autocomplete: "bday", error: err("birth_date")))
            \(Layout.field("email", label: "Email address", type: "email", value: form?.string("email") ?? "", autocomplete: "email", error: err("email")))
            \(Layout.field("password", label: "Password", type: "password", autocomplete: "new-password",
                hint: "At least 12 characters. A few unrelated words make a strong password.", error: err("password")))
            <button type="submit">Create account</button>
            </form>
            <p>Already registered? <a href="/signin">Sign in</a>.</p>
            """
        return Layout.page(title: "Create your account", signedIn: false, csrf: context.csrfToken, body: body)
    }

    @Sendable func registerPage(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        Layout.response(registerHTML(context))
    }

    @Sendable func registerSubmit(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        let input = RegistrationInput(
            email: form.string("email"), password: form.string("password"), givenName: form.string("given_name"),
            familyName: form.string("family_name"), birthDate: form.string("birth_date"))
        do {
            _ = try await accounts.register(input, meta: context.meta)
            let signedIn = try await accounts.signIn(
                email: input.email, password: input.password, totp: nil, kind: .cookie, meta: context.meta)
            var response = Response(status: .seeOther, headers: [.location: "/account"])
            response.setCookie(settings.sessionCookie(signedIn.token))
            return response
        } catch let error as AccountsError {
            let problem = ProblemMiddleware.problem(for: error)
            return Layout.response(
                registerHTML(context, form: form, error: message(for: error, logger: context.logger), field: problem.field),
                status: problem.status)
        }
    }

    @Sendable func forgotPage(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        Layout.response(forgotHTML(context))
    }

    func forgotHTML(_ context: ConfideRequestContext, notice: String? = nil) -> String {
        Layout.page(
            title: "Reset your password", signedIn: false, csrf: context.csrfToken,
            body: """
                <h1>Reset your password</h1>
                \(Layout.notice(notice))
                <form method="post" action="/forgot-password" novalidate>
                \(Layout.csrfField(context.csrfToken))
                \(Layout.field("email", label: "Email address", type: "email", autocomplete: "email"))
                <button type="submit">Email me a link</button>
                </form>
                """)
    }

    @Sendable func forgotSubmit(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        try await accounts.requestPasswordReset(email: form.string("email"), meta: context.meta)
        return Layout.response(
            forgotHTML(context, notice: "If an account uses that address, we have sent it a link. It works once, for one hour."))
    }

    func resetHTML(_ context: ConfideRequestContext, token: String, error: String? = nil) -> String {
        Layout.page(
            title: "Choose a new password", signedIn: false, csrf: context.csrfToken,
            body: """
                <h1>Choose a new password</h1>
                \(Layout.alert(error))
                <form method="post" action="/reset-password" novalidate>
                \(Layout.csrfField(context.csrfToken))
                <input type="hidden" name="token" value="\(esc(token))">
                \(Layout.field("password", label: "New password", type: "password", autocomplete: "new-password",
                    hint: "At least 12 characters. A few unrelated words make a strong password."))
                <button type="submit">Save password</button>
                </form>
                """)
    }

    @Sendable func resetPage(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        Layout.response(resetHTML(context, token: request.uri.queryParameters["token"].map(String.init) ?? ""))
    }

    @Sendable func resetSubmit(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        do {
            try await accounts.completePasswordReset(token: form.string("token"), newPassword: form.string("password"), meta: context.meta)
            return Response(status: .seeOther, headers: [.location: "/signin?notice=password-reset"])
        } catch let error as AccountsError {
            return Layout.response(
                resetHTML(context, token: form.string("token"), error: message(for: error, logger: context.logger)),
                status: ProblemMiddleware.problem(for: error).status)
        }
    }

    @Sendable func verifyPage(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        // A GET never consumes the link (mail scanners open links); the button does.
        let token = request.uri.queryParameters["token"].map(String.init) ?? ""
        return Layout.response(
            Layout.page(
                title: "Confirm your email", signedIn: context.auth != nil, csrf: context.csrfToken,
                body: """
                    <h1>Confirm your email address</h1>
                    <form method="post" action="/verify-email">
                    \(Layout.csrfField(context.csrfToken))
                    <input type="hidden" name="token" value="\(esc(token))">
                    <button type="submit">Confirm my email address</button>
                    </form>
                    """))
    }

    @Sendable func verifySubmit(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        do {
            try await accounts.verifyEmail(token: form.string("token"))
            return Response(status: .seeOther, headers: [.location: context.auth == nil ? "/signin?notice=verified" : "/account"])
        } catch let error as AccountsError {
            return Layout.response(
                Layout.page(
                    title: "Confirm your email", signedIn: context.auth != nil, csrf: context.csrfToken,
                    body: "<h1>Confirm your email address</h1>\(Layout.alert(message(for: error, logger: context.logger)))"),
                status: .badRequest)
        }
    }

    // MARK: signed in

    @Sendable func accountPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let profile = try await accounts.profile(of: context.auth, meta: context.meta)
        var rows = """
            <dt>Name</dt><dd>\(esc(profile.name.display))</dd>
            <dt>Email</dt><dd>\(esc(profile.email.value))\(profile.emailVerified ? "" : " (not confirmed yet: check your inbox)")</dd>
            """
        if let dob = profile.birthDate { rows += "<dt>Date of birth</dt><dd>\(esc(dob.description))</dd>" }
        if let role = profile.staffRole { rows += "<dt>Role</dt><dd>\(esc(role.rawValue))</dd>" }
        if let reg = profile.registrationNumber { rows += "<dt>Registration number</dt><dd>\(esc(reg.value))</dd>" }
        if profile.kind != .patient { rows += "<dt>Account ID</dt><dd><code>\(profile.account)</code></dd>" }
        rows += "<dt>Two-factor authentication</dt><dd>\(profile.totpEnabled ? "On" : "Off")</dd>"
        var links = #"<p><a href="/account/password">Change my password</a></p>"#
        if profile.kind == .patient { links += #"<p><a href="/account/access-log">Who has seen my data</a></p>"# }
        if !profile.totpEnabled { links += #"<p><a href="/account/totp">Set up two-factor authentication</a></p>"# }
        let body = """
            <h1>My account</h1>
            \(Layout.notice(request.uri.queryParameters["notice"] == "password-changed" ? "Your password has been changed. Other devices were signed out." : nil))
            <dl>\(rows)</dl>
            \(ClinicNav.accountSection(for: context.auth.principal))
            \(links)
            <form method="post" action="/signout">\(Layout.csrfField(context.csrfToken))<button type="submit">Sign out</button></form>
            """
        return Layout.response(
            Layout.page(title: "My account", signedIn: true, csrf: context.csrfToken, body: body, links: ClinicNav.links(for: context.auth.principal)))
    }

    @Sendable func accessLogPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        let page = try AccessLogPage(request.uri)
        let items = try await accounts.accessLog(of: context.auth, before: page.before, limit: page.limit, meta: context.meta)
        let formatter = ISO8601DateFormatter()
        let rows = items.map { item in
            """
            <tr><td><time datetime="\(esc(formatter.string(from: item.time)))">\(esc(formatter.string(from: item.time)))</time></td>\
            <td>\(esc(item.who))</td><td>\(esc(item.role))</td><td>\(esc(item.action)) \(esc(item.resourceType))</td>\
            <td>\(esc(item.decision.rawValue))</td><td>\(esc(item.purpose))</td></tr>
            """
        }.joined(separator: "\n")
        let more = items.count == page.limit ? #"<p><a href="/account/access-log?before=\#(items.last!.index.rawValue)">Older entries</a></p>"# : ""
        let body = """
            <h1>Who has seen my data</h1>
            <p>Every time anyone, including you, opened, listed or changed your record, it is written in a tamper-evident log. Newest first.</p>
            <div class="table"><table>
            <caption>Accesses to your record</caption>
            <thead><tr><th scope="col">When (UTC)</th><th scope="col">Who</th><th scope="col">Role</th><th scope="col">What</th><th scope="col">Outcome</th><th scope="col">Why</th></tr></thead>
            <tbody>\(rows)</tbody>
            </table></div>
            \(more)
            <p><a href="/account">Back to my account</a></p>
            """
        return Layout.response(Layout.page(title: "Who has seen my data", signedIn: true, csrf: context.csrfToken, body: body))
    }

    func passwordHTML(_ context: SignedInPageContext, error: String? = nil, field: String? = nil) -> String {
        Layout.page(
            title: "Change my password", signedIn: true, csrf: context.csrfToken,
            body: """
                <h1>Change my password</h1>
                \(Layout.alert(error))
                <form method="post" action="/account/password" novalidate>
                \(Layout.csrfField(context.csrfToken))
                \(Layout.field("current_password", label: "Current password", type: "password", autocomplete: "current-password",
                    error: field == "current_password" ? error : nil))
                \(Layout.field("new_password", label: "New password", type: "password", autocomplete: "new-password",
                    hint: "At least 12 characters. A few unrelated words make a strong password.", error: field == "new_password" ? error : nil))
                <button type="submit">Change password</button>
                </form>
                <p><a href="/account">Back to my account</a></p>
                """)
    }

    @Sendable func passwordPage(_ request: Request, context: SignedInPageContext) async throws -> Response {
        Layout.response(passwordHTML(context))
    }

    @Sendable func passwordSubmit(_ request: Request, context: SignedInPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        do {
            try await accounts.changePassword(
                of: context.auth, current: form.string("current_password"), new: form.string("new_password"), meta: context.meta)
            return Response(status: .seeOther, headers: [.location: "/account?notice=password-changed"])
        } catch let error as AccountsError {
            let problem = ProblemMiddleware.problem(for: error)
            return Layout.response(
                passwordHTML(context, error: message(for: error, logger: context.logger), field: problem.field), status: problem.status)
        }
    }

    @Sendable func signOut(_ request: Request, context: SessionPageContext) async throws -> Response {
        try await accounts.signOut(context.auth)
        var response = Response(status: .seeOther, headers: [.location: "/signin?notice=signed-out"])
        response.setCookie(settings.expiredSessionCookie())
        return response
    }

    func totpHTML(
        _ context: SessionPageContext, enrolment: TOTPEnrolment?, error: String? = nil, codes: [String]? = nil, csrf: String? = nil,
        alreadyOn: Bool = false
    ) -> String {
        let csrf = csrf ?? context.csrfToken
        var body = "<h1>Two-factor authentication</h1>\(Layout.alert(error))"
        if let codes {
            body += """
                <p>Two-factor authentication is on. Keep these recovery codes somewhere safe: each works once if you lose your phone.</p>
                <ul class="codes">\(codes.map { "<li>\(esc($0))</li>" }.joined())</ul>
                <p><a href="/account">Continue to my account</a></p>
                """
        } else if alreadyOn {
            body += #"<p>Two-factor authentication is already on. <a href="/account">Back to my account</a></p>"#
        } else if let enrolment {
            body += """
                <p>Add Confide to your authenticator app with this key, or open the link on your phone:</p>
                <p><code class="secret">\(esc(enrolment.secretBase32))</code></p>
                <p><a href="\(esc(enrolment.provisioningURI))">Open in authenticator app</a></p>
                <form method="post" action="/account/totp" novalidate>
                \(Layout.csrfField(csrf))
                \(Layout.field("code", label: "6-digit code from the app", autocomplete: "one-time-code"))
                <button type="submit">Turn on</button>
                </form>
                """
        } else {
            // Starting is a POST: a GET never changes state.
            let password =
                context.auth.needsTOTPEnrolment
                ? "" : Layout.field("current_password", label: "Current password", type: "password", autocomplete: "current-password")
            body += """
                <p>Protect your account with a 6-digit code from an authenticator app on your phone.</p>
                <form method="post" action="/account/totp/start" novalidate>
                \(Layout.csrfField(csrf))
                \(password)
                <button type="submit">Start set-up</button>
                </form>
                """
        }
        return Layout.page(title: "Two-factor authentication", signedIn: true, csrf: csrf, body: body)
    }

    @Sendable func totpPage(_ request: Request, context: SessionPageContext) async throws -> Response {
        Layout.response(totpHTML(context, enrolment: nil, alreadyOn: context.auth.account.totpEnabled))
    }

    @Sendable func totpStart(_ request: Request, context: SessionPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        do {
            let enrolment = try await accounts.startTOTPEnrolment(context.auth, currentPassword: form["current_password"])
            return Layout.response(totpHTML(context, enrolment: enrolment))
        } catch let error as AccountsError where error.code == .totpAlreadyEnabled {
            return Layout.response(totpHTML(context, enrolment: nil, alreadyOn: true))
        } catch let error as AccountsError where error.code == .wrongCurrentPassword {
            return Layout.response(
                totpHTML(context, enrolment: nil, error: "The current password is incorrect."), status: .unprocessableContent)
        }
    }

    @Sendable func totpSubmit(_ request: Request, context: SessionPageContext) async throws -> Response {
        var request = request
        let form = try await form(&request)
        do {
            let codes = try await accounts.confirmTOTPEnrolment(context.auth, code: form.string("code"))
            let fresh = try await accounts.reissueSession(after: context.auth)
            var response = Layout.response(totpHTML(context, enrolment: nil, codes: codes, csrf: fresh.session.csrfToken))
            response.setCookie(settings.sessionCookie(fresh.token))
            return response
        } catch let error as AccountsError where error.code == .invalidTOTP || error.code == .totpNotStarted {
            // The pending secret is sealed at rest and is not shown again: start over.
            return Layout.response(
                totpHTML(context, enrolment: nil, error: "That code did not match. Start again and add the new key to your app."),
                status: .unprocessableContent)
        } catch let error as AccountsError where error.code == .totpAlreadyEnabled {
            return Layout.response(totpHTML(context, enrolment: nil, alreadyOn: true))
        }
    }
}
