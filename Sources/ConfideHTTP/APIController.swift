import ConfideAccounts
import ConfideAudit
import ConfideCore
import ConfideStore
import Foundation
import Hummingbird

/// The JSON API under `/api/v1`.
struct APIController {
    let accounts: AccountService
    let settings: HTTPSettings

    func register(on router: Router<ConfideRequestContext>) {
        let api = router.group("api/v1")
        // Anonymous entry points: no principal exists here, so no patient data can be reached.
        api.post("accounts", use: registerPatient)
        api.post("sessions", use: createSession)
        api.post("email-verifications", use: verifyEmail)
        api.post("password-resets", use: requestPasswordReset)
        api.post("password-resets/complete", use: completePasswordReset)

        // Any session, also one that must still set up TOTP.
        let session = api.group(context: SessionContext.self)
        session.delete("sessions/current", use: deleteCurrentSession)
        session.post("me/totp", use: startTOTP)
        session.post("me/totp/confirm", use: confirmTOTP)

        // Fully signed in: the principal is non-optional in this context.
        let signedIn = api.group(context: SignedInContext.self)
        signedIn.get("me", use: getMe)
        signedIn.patch("me", use: updateMe)
        signedIn.put("me/password", use: changePassword)
        signedIn.get("me/access-log", use: accessLog)
        signedIn.get("me/access-log/:index/proof", use: accessLogProof)
        signedIn.get("staff", use: listStaff)
        signedIn.post("staff", use: createStaff)
        signedIn.post("staff/:accountID/deactivation", use: deactivateStaff)
    }

    // MARK: anonymous

    @Sendable func registerPatient(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        var request = request
        let body = try await request.decodeStrict(RegistrationBody.self, limit: settings.maxBodyBytes)
        let profile = try await accounts.register(
            RegistrationInput(
                email: body.email, password: body.password, givenName: body.given_name, familyName: body.family_name,
                birthDate: body.birth_date),
            meta: context.meta)
        return try jsonResponse(ProfileJSON(profile), status: .created)
    }

    @Sendable func createSession(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        var request = request
        let body = try await request.decodeStrict(SignInBody.self, limit: settings.maxBodyBytes)
        let signedIn = try await accounts.signIn(email: body.email, password: body.password, totp: body.totp, kind: .bearer, meta: context.meta)
        return try jsonResponse(SessionJSON(signedIn), status: .created)
    }

    @Sendable func verifyEmail(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        var request = request
        let body = try await request.decodeStrict(TokenBody.self, limit: settings.maxBodyBytes)
        try await accounts.verifyEmail(token: body.token)
        return Response(status: .noContent)
    }

    @Sendable func requestPasswordReset(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        var request = request
        let body = try await request.decodeStrict(EmailBody.self, limit: settings.maxBodyBytes)
        try await accounts.requestPasswordReset(email: body.email, meta: context.meta)
        return Response(status: .accepted)
    }

    @Sendable func completePasswordReset(_ request: Request, context: ConfideRequestContext) async throws -> Response {
        var request = request
        let body = try await request.decodeStrict(ResetBody.self, limit: settings.maxBodyBytes)
        try await accounts.completePasswordReset(token: body.token, newPassword: body.password, meta: context.meta)
        return Response(status: .noContent)
    }

    // MARK: any session

    @Sendable func deleteCurrentSession(_ request: Request, context: SessionContext) async throws -> Response {
        try await accounts.signOut(context.auth)
        var response = Response(status: .noContent)
        if context.auth.session.kind == .cookie { response.setCookie(settings.expiredSessionCookie()) }
        return response
    }

    struct TOTPStartJSON: Encodable {
        let secret: String
        let otpauth_uri: String
    }

    @Sendable func startTOTP(_ request: Request, context: SessionContext) async throws -> Response {
        var request = request
        var password: String?
        if request.headers[.contentType] != nil {
            password = try await request.decodeStrict(OptionalPasswordBody.self, limit: settings.maxBodyBytes).password
        }
        let enrolment = try await accounts.startTOTPEnrolment(context.auth, currentPassword: password)
        return try jsonResponse(TOTPStartJSON(secret: enrolment.secretBase32, otpauth_uri: enrolment.provisioningURI), status: .created)
    }

    struct TOTPConfirmJSON: Encodable {
        let recovery_codes: [String]
        let token: String?
    }

    @Sendable func confirmTOTP(_ request: Request, context: SessionContext) async throws -> Response {
        var request = request
        let body = try await request.decodeStrict(CodeBody.self, limit: settings.maxBodyBytes)
        let codes = try await accounts.confirmTOTPEnrolment(context.auth, code: body.code)
        let fresh = try await accounts.reissueSession(after: context.auth)
        if fresh.session.kind == .bearer {
            return try jsonResponse(TOTPConfirmJSON(recovery_codes: codes, token: fresh.token))
        }
        var response = try jsonResponse(TOTPConfirmJSON(recovery_codes: codes, token: nil))
        response.setCookie(settings.sessionCookie(fresh.token))
        return response
    }

    // MARK: signed in

    @Sendable func getMe(_ request: Request, context: SignedInContext) async throws -> Response {
        try jsonResponse(ProfileJSON(try await accounts.profile(of: context.auth, meta: context.meta)))
    }

    @Sendable func updateMe(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let body = try await request.decodeStrict(NameBody.self, limit: settings.maxBodyBytes)
        let profile = try await accounts.updateName(
            of: context.auth, givenName: body.given_name, familyName: body.family_name, meta: context.meta)
        return try jsonResponse(ProfileJSON(profile))
    }

    @Sendable func changePassword(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let body = try await request.decodeStrict(PasswordChangeBody.self, limit: settings.maxBodyBytes)
        try await accounts.changePassword(of: context.auth, current: body.current_password, new: body.new_password, meta: context.meta)
        return Response(status: .noContent)
    }

    struct AccessLogJSON: Encodable {
        struct Item: Encodable {
            let index: UInt64
            let time: String
            let who: String
            let role: String
            let action: String
            let resource_type: String
            let decision: String
            let rules: [String]
            let purpose: String
        }
        let entries: [Item]
        let next_before: UInt64?
    }

    @Sendable func accessLog(_ request: Request, context: SignedInContext) async throws -> Response {
        let page = try AccessLogPage(request.uri)
        let items = try await accounts.accessLog(of: context.auth, before: page.before, limit: page.limit, meta: context.meta)
        let formatter = ISO8601DateFormatter()
        return try jsonResponse(
            AccessLogJSON(
                entries: items.map {
                    AccessLogJSON.Item(
                        index: $0.index.rawValue, time: formatter.string(from: $0.time), who: $0.who, role: $0.role, action: $0.action,
                        resource_type: $0.resourceType, decision: $0.decision.rawValue, rules: $0.rules, purpose: $0.purpose)
                },
                next_before: items.count == page.limit ? items.last?.index.rawValue : nil))
    }

    struct ProofJSON: Encodable {
        let index: UInt64
        let tree_size: UInt64
        let entry: String
        let inclusion_proof: [String]
        let checkpoint: String
    }

    @Sendable func accessLogProof(_ request: Request, context: SignedInContext) async throws -> Response {
        guard let raw = context.parameters.get("index"), let index = UInt64(raw) else { throw Problem.notFound }
        let proof = try await accounts.accessLogProof(of: context.auth, index: index, meta: context.meta)
        return try jsonResponse(
            ProofJSON(
                index: proof.index.rawValue, tree_size: proof.proof.treeSize, entry: Data(proof.entry).base64EncodedString(),
                inclusion_proof: proof.proof.hashes.map(\.hex), checkpoint: proof.checkpointNote))
    }

    struct StaffListJSON: Encodable { let staff: [StaffMemberJSON] }

    @Sendable func listStaff(_ request: Request, context: SignedInContext) async throws -> Response {
        let members = try await accounts.listStaff(by: context.principal, meta: context.meta)
        return try jsonResponse(
            StaffListJSON(
                staff: members.map {
                    StaffMemberJSON(
                        account_id: $0.profile.account.description, given_name: $0.profile.name.given,
                        family_name: $0.profile.name.family, kind: $0.kind.rawValue, staff_role: $0.profile.role?.rawValue,
                        registration_number: $0.profile.registrationNumber?.value, status: $0.status.rawValue)
                }))
    }

    struct CreatedAccountJSON: Encodable { let account_id: String }

    @Sendable func createStaff(_ request: Request, context: SignedInContext) async throws -> Response {
        var request = request
        let body = try await request.decodeStrict(StaffBody.self, limit: settings.maxBodyBytes)
        guard let kind = AccountKind(rawValue: body.kind), kind != .patient else {
            throw Problem(.unprocessableContent, "invalid-value", "choose `clinician` or `admin`", field: "kind")
        }
        let id = try await accounts.createStaff(
            StaffInput(
                email: body.email, givenName: body.given_name, familyName: body.family_name, kind: kind, role: body.staff_role,
                registrationNumber: body.registration_number),
            by: context.principal, meta: context.meta)
        return try jsonResponse(CreatedAccountJSON(account_id: id.description), status: .created)
    }

    @Sendable func deactivateStaff(_ request: Request, context: SignedInContext) async throws -> Response {
        guard let raw = context.parameters.get("accountID"), let id = Account.ID(string: raw) else { throw Problem.notFound }
        try await accounts.deactivateStaff(id, by: context.principal, meta: context.meta)
        return Response(status: .noContent)
    }
}


