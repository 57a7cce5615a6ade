import ConfideAccounts
import ConfideCore
import ConfideStore
import Foundation

struct RegistrationBody: APIInput {
    let email: String
    let password: String
    let given_name: String
    let family_name: String
    let birth_date: String
    static let fields: Set<String> = ["email", "password", "given_name", "family_name", "birth_date"]
}

struct SignInBody: APIInput {
    let email: String
    let password: String
    let totp: String?
    static let fields: Set<String> = ["email", "password", "totp"]
}

struct NameBody: APIInput {
    let given_name: String
    let family_name: String
    static let fields: Set<String> = ["given_name", "family_name"]
}

struct PasswordChangeBody: APIInput {
    let current_password: String
    let new_password: String
    static let fields: Set<String> = ["current_password", "new_password"]
}

struct OptionalPasswordBody: APIInput {
    let password: String?
    static let fields: Set<String> = ["password"]
}

struct CodeBody: APIInput {
    let code: String
    static let fields: Set<String> = ["code"]
}

struct TokenBody: APIInput {
    let token: String
    static let fields: Set<String> = ["token"]
}

struct EmailBody: APIInput {
    let email: String
    static let fields: Set<String> = ["email"]
}

struct ResetBody: APIInput {
    let token: String
    let password: String
    static let fields: Set<String> = ["token", "password"]
}

struct StaffBody: APIInput {
    let email: String
    let given_name: String
    let family_name: String
    let kind: String
    let staff_role: String?
    let registration_number: String?
    static let fields: Set<String> = ["email", "given_name", "family_name", "kind", "staff_role", "registration_number"]
}

/// The caller's profile as the API shows it.
struct ProfileJSON: Encodable {
    let account_id: String
    let kind: String
    let email: String
    let email_verified: Bool
    let totp_enabled: Bool
    let given_name: String
    let family_name: String
    let birth_date: String?
    let patient_id: String?
    let staff_role: String?
    let registration_number: String?

    init(_ p: Profile) {
        account_id = p.account.description
        kind = p.kind.rawValue
        email = p.email.value
        email_verified = p.emailVerified
        totp_enabled = p.totpEnabled
        given_name = p.name.given
        family_name = p.name.family
        birth_date = p.birthDate?.description
        patient_id = p.patient?.description
        staff_role = p.staffRole?.rawValue
        registration_number = p.registrationNumber?.value
    }
}

struct SessionJSON: Encodable {
    let token: String
    let token_type = "Bearer"
    let expires_at: String
    let totp_enrolment_required: Bool

    init(_ signedIn: SignedIn) {
        token = signedIn.token
        expires_at = ISO8601DateFormatter().string(from: signedIn.session.absoluteExpiresAt)
        totp_enrolment_required = signedIn.needsTOTPEnrolment
    }
}

struct StaffMemberJSON: Encodable {
    let account_id: String
    let given_name: String
    let family_name: String
    let kind: String
    let staff_role: String?
    let registration_number: String?
    let status: String
}
