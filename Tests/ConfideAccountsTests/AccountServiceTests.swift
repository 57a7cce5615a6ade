@testable import ConfideAccounts
import ConfideCore
import ConfidePolicy
import ConfideStore
import ConfideTesting
import Foundation
import Testing

let meta = RequestMeta(requestID: "test", clientAddress: "192.0.2.1")

func currentCode(_ world: TestWorld, uri: String) throws -> (TOTP, String) {
    let secret = try #require(URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value)
    let totp = try #require(TOTP(base32: secret))
    return (totp, totp.code(step: TOTP.step(at: world.clock.now())))
}

@Suite("account service")
struct AccountServiceTests {
    @Test("a patient registers, signs in and sees their own profile")
    func registerAndSignIn() async throws {
        try await TestWorld.with { world in
            let input = Fixtures.alice()
            let profile = try await world.accounts.register(input, meta: meta)
            #expect(profile.name.given == "Zephyrine")
            let signedIn = try await world.accounts.signIn(
                email: input.email.uppercased(), password: input.password, totp: nil, kind: .bearer, meta: meta)
            #expect(!signedIn.needsTOTPEnrolment)
            let auth = try await world.accounts.authenticate(token: signedIn.token, kind: .bearer)
            let me = try await world.accounts.profile(of: auth, meta: meta)
            #expect(me.birthDate?.description == input.birthDate)
            #expect(world.logLinesWithPersonalData().isEmpty)
            // A verification email was queued with a link.
            let mail = try await world.outbox(limit: 10)
            #expect(mail.count == 1)
            #expect(mail[0].body.contains("http://confide.test/verify-email?token="))
            // At rest the body (a live link) is sealed, not readable from the database alone.
            let stored = try await world.stores.credentials.pendingEmails(limit: 10)
            #expect(stored[0].body.hasPrefix("sealed:"))
            #expect(!stored[0].body.contains("token="))
        }
    }

    @Test("passwords are stored as bcrypt hashes, never in the clear")
    func hashing() async throws {
        try await TestWorld.with { world in
            let input = Fixtures.alice()
            _ = try await world.accounts.register(input, meta: meta)
            let stored = try #require(try await world.stores.credentials.account(email: try EmailAddress(input.email)))
            #expect(stored.passwordHash.hasPrefix("$2b$04$"))
            #expect(!stored.passwordHash.contains(input.password))
        }
    }

    @Test("a wrong password, an unknown email and a deactivated account get the same answer")
    func sameAnswer() async throws {
        try await TestWorld.with { world in
            let input = Fixtures.alice()
            _ = try await world.accounts.register(input, meta: meta)
            await #expect(throws: AccountsError(.invalidCredentials)) {
                _ = try await world.accounts.signIn(email: input.email, password: "wrong-password-123", totp: nil, kind: .bearer, meta: meta)
            }
            await #expect(throws: AccountsError(.invalidCredentials)) {
                _ = try await world.accounts.signIn(email: "nobody@example.com", password: input.password, totp: nil, kind: .bearer, meta: meta)
            }
            await #expect(throws: AccountsError(.invalidCredentials)) {
                _ = try await world.accounts.signIn(email: "not an email", password: input.password, totp: nil, kind: .bearer, meta: meta)
            }
        }
    }

    @Test("five failures lock an account out, registered or not, and the right password then also waits")
    func lockout() async throws {
        try await TestWorld.with { world in
            let input = Fixtures.alice()
            _ = try await world.accounts.register(input, meta: meta)
            for email in [input.email, "ghost@example.com"] {
                for _ in 0..<5 {
                    await #expect(throws: AccountsError(.invalidCredentials)) {
                        _ = try await world.accounts.signIn(email: email, password: "wrong-password-123", totp: nil, kind: .bearer, meta: meta)
                    }
                }
                await #expect(throws: AccountsError(.tooManyAttempts)) {
                    _ = try await world.accounts.signIn(email: email, password: input.password, totp: nil, kind: .bearer, meta: meta)
                }
            }
            world.clock.advance(by: 16 * 60)
            _ = try await world.accounts.signIn(email: input.email, password: input.password, totp: nil, kind: .bearer, meta: meta)
        }
    }

    @Test("concurrent guesses count each other: at most five of twenty are tried")
    func concurrentGuesses() async throws {
        try await TestWorld.with { world in
            let input = Fixtures.alice()
            _ = try await world.accounts.register(input, meta: meta)
            let accounts = world.accounts
            let outcomes = await withTaskGroup(of: String.self) { group in
                for i in 0..<20 {
                    group.addTask {
                        do {
                            _ = try await accounts.signIn(email: input.email, password: "guess-number-\(i)", totp: nil, kind: .bearer, meta: meta)
                            return "signed-in"
                        } catch let error as AccountsError {
                            return error.code.rawValue
                        } catch {
                            return "other"
                        }
                    }
                }
                return await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "invalid-credentials" }.count <= 5)
            #expect(outcomes.filter { $0 == "too-many-attempts" }.count >= 15)
        }
    }

    @Test("a session that raced a password change (signed in with the old password) is dead")
    func sessionRacingPasswordChange() async throws {
        try await TestWorld.with { world in
            let input = Fixtures.alice()
            let profile = try await world.accounts.register(input, meta: meta)
            let before = world.clock.now()
            world.clock.advance(by: 5)
            let mine = try await world.accounts.signIn(email: input.email, password: input.password, totp: nil, kind: .bearer, meta: meta)
            try await world.accounts.changePassword(
                of: try await world.accounts.authenticate(token: mine.token, kind: .bearer), current: input.password,
                new: "marmalade-comet-violin-4", meta: meta)
            // A sign-in that checked the old hash before the change stores its session afterwards.
            try await world.stores.credentials.insertSession(
                SessionRecord(
                    tokenHash: Tokens.digest("raced-token"), account: profile.account, kind: .bearer, csrfToken: "c", mfaSatisfied: true, createdAt: before,
                    lastSeenAt: world.clock.now(), absoluteExpiresAt: world.clock.now().addingTimeInterval(3600)))
            await #expect(throws: AccountsError(.unauthenticated)) {
                _ = try await world.accounts.authenticate(token: "raced-token", kind: .bearer)
            }
            let stored = try #require(try await world.stores.credentials.session(tokenHash: Tokens.digest("raced-token")))
            #expect(stored.revokedAt == nil)  // not revoked, yet refused: the check is on the password's age
            // The caller's own session survives the change it made.
            _ = try await world.accounts.authenticate(token: mine.token, kind: .bearer)
        }
    }

    @Test("self-registrations and reset emails are rate-limited")
    func registrationThrottle() async throws {
        try await TestWorld.with(
            accountsConfiguration: AccountsConfiguration(bcryptCost: 4, maxRegistrationsPerAddress: 2, publicURL: "http://confide.test")
        ) { world in
            _ = try await world.accounts.register(Fixtures.alice(), meta: meta)
            _ = try await world.accounts.register(Fixtures.bob(), meta: meta)
            await #expect(throws: AccountsError(.tooManyAttempts)) { _ = try await world.accounts.register(Fixtures.alice(), meta: meta) }
            for _ in 0..<5 { try await world.accounts.requestPasswordReset(email: "someone@example.com", meta: meta) }
            await #expect(throws: AccountsError(.tooManyAttempts)) {
                try await world.accounts.requestPasswordReset(email: "Someone@example.com ", meta: meta)
            }
        }
    }

    @Test("many failures from one client address lock that address out")
    func addressLockout() async throws {
        try await TestWorld.with(
            accountsConfiguration: AccountsConfiguration(bcryptCost: 4, maxFailuresPerAddress: 3, publicURL: "http://confide.test")
        ) { world in
            for i in 0..<3 {
                _ = try? await world.accounts.signIn(email: "spray\(i)@example.com", password: "x", totp: nil, kind: .bearer, meta: meta)
            }
            await #expect(throws: AccountsError(.tooManyAttempts)) {
                _ = try await world.accounts.signIn(email: "fresh@example.com", password: "x", totp: nil, kind: .bearer, meta: meta)
            }
            let elsewhere = RequestMeta(requestID: "t", clientAddress: "198.51.100.7")
            await #expect(throws: AccountsError(.invalidCredentials)) {
                _ = try await world.accounts.signIn(email: "fresh@example.com", password: "x", totp: nil, kind: .bearer, meta: elsewhere)
            }
        }
    }

    @Test("sessions end after the idle timeout, after the absolute timeout, and on sign-out")
    func sessionExpiry() async throws {
        try await TestWorld.with { world in
            let input = Fixtures.alice()
            _ = try await world.accounts.register(input, meta: meta)
            func signIn() async throws -> String {
                try await world.accounts.signIn(email: input.email, password: input.password, totp: nil, kind: .bearer, meta: meta).token
            }
            let idle = try await signIn()
            world.clock.advance(by: 29 * 60)
            _ = try await world.accounts.authenticate(token: idle, kind: .bearer)
            world.clock.advance(by: 29 * 60)
            _ = try await world.accounts.authenticate(token: idle, kind: .bearer)  // still active: it was used
            world.clock.advance(by: 31 * 60)
            await #expect(throws: AccountsError(.unauthenticated)) { _ = try await world.accounts.authenticate(token: idle, kind: .bearer) }

            let absolute = try await signIn()
            for _ in 0..<25 {
                world.clock.advance(by: 29 * 60)
                _ = try? await world.accounts.authenticate(token: absolute, kind: .bearer)
            }
            await #expect(throws: AccountsError(.unauthenticated)) { _ = try await world.accounts.authenticate(token: absolute, kind: .bearer) }

            let revoked = try await signIn()
            try await world.accounts.signOut(try await world.accounts.authenticate(token: revoked, kind: .bearer))
            await #expect(throws: AccountsError(.unauthenticated)) { _ = try await world.accounts.authenticate(token: revoked, kind: .bearer) }
            // A cookie token is not a bearer token.
            let cookie = try await world.accounts.signIn(email: input.email, password: input.password, totp: nil, kind: .cookie, meta: meta)
            await #expect(throws: AccountsError(.unauthenticated)) { _ = try await world.accounts.authenticate(token: cookie.token, kind: .bearer) }
        }
    }

    @Test("staff sign in with TOTP; a replayed code is refused; recovery codes work once")
    func staffTOTP() async throws {
        try await TestWorld.with { world in
            let email = Fixtures.email("ottoline.marchbank")
            let (_, uri) = try await world.accounts.createStaffWithCredentials(
                StaffInput(email: email, givenName: "Ottoline", familyName: "Marchbank", kind: .clinician, role: "gp", registrationNumber: "GMC-1234567"),
                password: Fixtures.password, job: "test")
            await #expect(throws: AccountsError(.totpRequired)) {
                _ = try await world.accounts.signIn(email: email, password: Fixtures.password, totp: nil, kind: .bearer, meta: meta)
            }
            let (_, code) = try currentCode(world, uri: uri)
            let signedIn = try await world.accounts.signIn(email: email, password: Fixtures.password, totp: code, kind: .bearer, meta: meta)
            let auth = try await world.accounts.authenticate(token: signedIn.token, kind: .bearer)
            guard case .clinician(_, .gp) = auth.principal else { Issue.record("not a GP principal"); return }
            await #expect(throws: AccountsError(.invalidTOTP)) {
                _ = try await world.accounts.signIn(email: email, password: Fixtures.password, totp: code, kind: .bearer, meta: meta)
            }
            #expect(world.logLinesWithPersonalData().isEmpty)
        }
    }

    @Test("a new clinician gets an invitation link, sets a password and must enrol TOTP first")
    func staffEnrolment() async throws {
        try await TestWorld.with { world in
            let admin = Principal.admin(account: Account.ID())
            let email = Fixtures.email("ottoline.marchbank")
            let id = try await world.accounts.createStaff(
                StaffInput(email: email, givenName: "Ottoline", familyName: "Marchbank", kind: .clinician, role: "nurse", registrationNumber: "NMC-12A3456E"),
                by: admin, meta: meta)
            let mail = try #require(try await world.outbox(limit: 10).first)
            let token = try #require(mail.body.components(separatedBy: "token=").last?.split(whereSeparator: \.isNewline).first)
            try await world.accounts.completePasswordReset(token: String(token), newPassword: "tangerine-quasar-lobby-8", meta: meta)
            let first = try await world.accounts.signIn(email: email, password: "tangerine-quasar-lobby-8", totp: nil, kind: .bearer, meta: meta)
            #expect(first.needsTOTPEnrolment)
            let pending = try await world.accounts.authenticate(token: first.token, kind: .bearer)
            let enrolment = try await world.accounts.startTOTPEnrolment(pending)
            let (totp, code) = try currentCode(world, uri: enrolment.provisioningURI)
            await #expect(throws: AccountsError(.invalidTOTP)) { _ = try await world.accounts.confirmTOTPEnrolment(pending, code: "000000") }
            let codes = try await world.accounts.confirmTOTPEnrolment(pending, code: code)
            #expect(codes.count == 10)
            #expect(Set(codes).count == 10)
            // The enrolment session was replaced.
            await #expect(throws: AccountsError(.unauthenticated)) { _ = try await world.accounts.authenticate(token: first.token, kind: .bearer) }
            // A recovery code signs in once.
            _ = try await world.accounts.signIn(email: email, password: "tangerine-quasar-lobby-8", totp: codes[3], kind: .bearer, meta: meta)
            await #expect(throws: AccountsError(.invalidTOTP)) {
                _ = try await world.accounts.signIn(email: email, password: "tangerine-quasar-lobby-8", totp: codes[3], kind: .bearer, meta: meta)
            }
            world.clock.advance(by: 30)
            let next = totp.code(step: TOTP.step(at: world.clock.now()))
            _ = try await world.accounts.signIn(email: email, password: "tangerine-quasar-lobby-8", totp: next, kind: .bearer, meta: meta)

            // Deactivation ends every session at once.
            let live = try await world.accounts.signIn(email: email, password: "tangerine-quasar-lobby-8", totp: codes[4], kind: .bearer, meta: meta)
            try await world.accounts.deactivateStaff(id, by: admin, meta: meta)
            await #expect(throws: AccountsError(.unauthenticated)) { _ = try await world.accounts.authenticate(token: live.token, kind: .bearer) }
            await #expect(throws: AccountsError(.invalidCredentials)) {
                _ = try await world.accounts.signIn(email: email, password: "tangerine-quasar-lobby-8", totp: codes[5], kind: .bearer, meta: meta)
            }
        }
    }

    @Test("a patient turning two-factor on must confirm the password; a double confirm enables once")
    func voluntaryTOTP() async throws {
        try await TestWorld.with { world in
            let input = Fixtures.alice()
            _ = try await world.accounts.register(input, meta: meta)
            let token = try await world.accounts.signIn(email: input.email, password: input.password, totp: nil, kind: .bearer, meta: meta).token
            let auth = try await world.accounts.authenticate(token: token, kind: .bearer)
            await #expect(throws: AccountsError(.wrongCurrentPassword)) { _ = try await world.accounts.startTOTPEnrolment(auth) }
            await #expect(throws: AccountsError(.wrongCurrentPassword)) {
                _ = try await world.accounts.startTOTPEnrolment(auth, currentPassword: "guess-guess-guess")
            }
            let enrolment = try await world.accounts.startTOTPEnrolment(auth, currentPassword: input.password)
            let (_, code) = try currentCode(world, uri: enrolment.provisioningURI)
            let accounts = world.accounts
            let results = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 { group.addTask { (try? await accounts.confirmTOTPEnrolment(auth, code: code)) != nil } }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(results == 1)
            // Enabled stays enabled: a new enrolment cannot replace the secret.
            await #expect(throws: AccountsError(.totpAlreadyEnabled)) {
                _ = try await world.accounts.startTOTPEnrolment(auth, currentPassword: input.password)
            }
            #expect(try await world.stores.credentials.account(id: auth.account.id)?.totpEnabled == true)
        }
    }

    @Test("only an admin can create or deactivate staff; others get not-found")
    func staffPermissions() async throws {
        try await TestWorld.with { world in
            let input = StaffInput(email: Fixtures.email("x"), givenName: "A", familyName: "B", kind: .admin, role: nil, registrationNumber: nil)
            for principal in [Principal.anonymous, .patient(account: Account.ID(), patient: Patient.ID()), .clinician(account: Account.ID(), role: .gp)] {
                await #expect(throws: AccessDenied.self) { _ = try await world.accounts.createStaff(input, by: principal, meta: meta) }
            }
            await #expect(throws: AccessDenied.notFound) {
                try await world.accounts.deactivateStaff(Account.ID(), by: .admin(account: Account.ID()), meta: meta)
            }
        }
    }

    @Test("a password reset link works once, changes the password and ends every session")
    func passwordReset() async throws {
        try await TestWorld.with { world in
            let input = Fixtures.alice()
            _ = try await world.accounts.register(input, meta: meta)
            let old = try await world.accounts.signIn(email: input.email, password: input.password, totp: nil, kind: .bearer, meta: meta)
            try await world.accounts.requestPasswordReset(email: input.email, meta: meta)
            try await world.accounts.requestPasswordReset(email: "nobody@example.com", meta: meta)
            try await world.accounts.requestPasswordReset(email: input.email, meta: meta)
            let mails = try await world.outbox(limit: 10)
            #expect(mails.count == 3)  // verification + two resets; nothing for the unknown address
            let resets = mails.filter { $0.subject.contains("Reset") }
            let reset = try #require(resets.first)
            let otherToken = String(try #require(resets.last?.body.components(separatedBy: "token=").last?.split(whereSeparator: \.isNewline).first))
            let token = String(try #require(reset.body.components(separatedBy: "token=").last?.split(whereSeparator: \.isNewline).first))
            await #expect(throws: AccountsError.self) {
                try await world.accounts.completePasswordReset(token: token, newPassword: "short", meta: meta)
            }
            try await world.accounts.completePasswordReset(token: token, newPassword: "marmalade-comet-violin-4", meta: meta)
            await #expect(throws: AccountsError(.invalidToken)) {
                try await world.accounts.completePasswordReset(token: token, newPassword: "another-long-phrase-99", meta: meta)
            }
            // The completed reset voided the other outstanding link.
            await #expect(throws: AccountsError(.invalidToken)) {
                try await world.accounts.completePasswordReset(token: otherToken, newPassword: "another-long-phrase-99", meta: meta)
            }
            await #expect(throws: AccountsError(.unauthenticated)) { _ = try await world.accounts.authenticate(token: old.token, kind: .bearer) }
            _ = try await world.accounts.signIn(email: input.email, password: "marmalade-comet-violin-4", totp: nil, kind: .bearer, meta: meta)
        }
    }

    @Test("changing the password needs the current one and ends the other sessions")
    func changePassword() async throws {
        try await TestWorld.with { world in
            let input = Fixtures.alice()
            _ = try await world.accounts.register(input, meta: meta)
            let a = try await world.accounts.signIn(email: input.email, password: input.password, totp: nil, kind: .bearer, meta: meta)
            let b = try await world.accounts.signIn(email: input.email, password: input.password, totp: nil, kind: .bearer, meta: meta)
            world.clock.advance(by: 60)
            let auth = try await world.accounts.authenticate(token: a.token, kind: .bearer)
            await #expect(throws: AccountsError(.wrongCurrentPassword)) {
                try await world.accounts.changePassword(of: auth, current: "nope-nope-nope", new: "marmalade-comet-violin-4", meta: meta)
            }
            try await world.accounts.changePassword(of: auth, current: input.password, new: "marmalade-comet-violin-4", meta: meta)
            _ = try await world.accounts.authenticate(token: a.token, kind: .bearer)
            await #expect(throws: AccountsError(.unauthenticated)) { _ = try await world.accounts.authenticate(token: b.token, kind: .bearer) }
        }
    }

    @Test("email verification links work once")
    func verification() async throws {
        try await TestWorld.with { world in
            let input = Fixtures.alice()
            let profile = try await world.accounts.register(input, meta: meta)
            let mail = try #require(try await world.outbox(limit: 1).first)
            let token = String(try #require(mail.body.components(separatedBy: "token=").last?.split(whereSeparator: \.isNewline).first))
            try await world.accounts.verifyEmail(token: token)
            await #expect(throws: AccountsError(.invalidToken)) { try await world.accounts.verifyEmail(token: token) }
            #expect(try await world.stores.credentials.account(id: profile.account)?.emailVerifiedAt != nil)
        }
    }

    @Test("registration rejects bad input without creating anything", arguments: [
        ("email", RegistrationInput(email: "bad", password: Fixtures.password, givenName: "A", familyName: "B", birthDate: "1990-01-01")),
        ("password", RegistrationInput(email: "ok@example.com", password: "password1234", givenName: "A", familyName: "B", birthDate: "1990-01-01")),
        ("birth_date", RegistrationInput(email: "ok@example.com", password: Fixtures.password, givenName: "A", familyName: "B", birthDate: "2999-01-01")),
        ("given_name", RegistrationInput(email: "ok@example.com", password: Fixtures.password, givenName: " ", familyName: "B", birthDate: "1990-01-01")),
    ])
    func badRegistration(_ field: String, _ input: RegistrationInput) async throws {
        try await TestWorld.with { world in
            do {
                _ = try await world.accounts.register(input, meta: meta)
                Issue.record("registration should fail")
            } catch let error as AccountsError {
                #expect(error.validation?.field == field)
            }
            #expect(try await world.stores.credentials.account(email: try EmailAddress("ok@example.com")) == nil)
        }
    }
}
