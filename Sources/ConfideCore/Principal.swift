/// Who is acting. Built by the server from a verified session, never from client input.
public enum Principal: Hashable, Sendable, CustomStringConvertible {
    /// Nobody has signed in (registration, sign-in, password reset).
    case anonymous
    /// A patient acting on their own behalf.
    case patient(account: Account.ID, patient: Patient.ID)
    /// A clinician (GP, nurse, pharmacist, therapist).
    case clinician(account: Account.ID, role: StaffRole)
    /// A platform operator.
    case admin(account: Account.ID)
    /// A practice admin: runs one or more practices (the practice-admin-of relation names which).
    case practiceAdmin(account: Account.ID)
    /// A named server job on the visibly separate system path (migrations, seeding).
    case system(job: String)

    /// The account behind the principal, if any.
    public var account: Account.ID? {
        switch self {
        case .anonymous, .system: nil
        case .patient(let account, _), .clinician(let account, _), .admin(let account), .practiceAdmin(let account): account
        }
    }

    /// Audit-safe description: identifiers only, never names.
    public var description: String {
        switch self {
        case .anonymous: "anonymous"
        case .patient(let a, _): "patient:\(a)"
        case .clinician(let a, _): "clinician:\(a)"
        case .admin(let a): "admin:\(a)"
        case .practiceAdmin(let a): "practice-admin:\(a)"
        case .system(let job): "system:\(job)"
        }
    }
}
