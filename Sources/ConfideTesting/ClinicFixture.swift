import ConfideAccounts
public import ConfideClinic
public import ConfideCore
public import ConfideStore
public import Foundation

/// A small clinic for tests: one practice in London with two clinicians (a GP with weekday
/// hours 09:00-12:00 and a nurse), a practice admin, a care team with the GP, and patients.
public struct ClinicFixture: Sendable {
    public let practice: PracticeRecord
    public let gp: Principal
    public let nurse: Principal
    public let practiceAdmin: Principal
    public let operator_: Principal
    public let team: CareTeamRecord
    /// The GP's sign-in email and TOTP enrolment URI (password `Fixtures.password`).
    public let gpEmail: String
    public let gpTOTPURI: String
    /// The operator's sign-in email and TOTP enrolment URI.
    public let operatorEmail: String
    public let operatorTOTPURI: String
    public let system = ClinicRequest(principal: .system(job: "test"), requestID: "test")

    /// Monday 30 November 2026, 08:00 in London (GMT): the GP's first slot is at 09:00.
    public static let monday0800 = Date(timeIntervalSince1970: 1_796_025_600)

    /// Builds the clinic and sets the world's clock to `monday0800`.
    public static func make(_ world: TestWorld, slotMinutes: Int = 10) async throws -> ClinicFixture {
        world.clock.set(monday0800)
        let accounts = world.accounts
        var gpLogin = (email: "", uri: "")
        var operatorLogin = (email: "", uri: "")
        func staff(_ name: String, _ kind: AccountKind, _ role: String?) async throws -> Account.ID {
            let email = Fixtures.email(name)
            let (id, uri) = try await accounts.createStaffWithCredentials(
                StaffInput(
                    email: email, givenName: name.capitalized, familyName: "Tester", kind: kind, role: role,
                    registrationNumber: role == nil ? nil : "REG-\(Int.random(in: 1000...9999))"),
                password: Fixtures.password, job: "test")
            if name == "gp" { gpLogin = (email, uri) }
            if name == "operator" { operatorLogin = (email, uri) }
            return id
        }
        let gp = try await staff("gp", .clinician, "gp")
        let nurse = try await staff("nurse", .clinician, "nurse")
        let admin = try await staff("padmin", .practiceAdmin, nil)
        let op = try await staff("operator", .admin, nil)
        let system = ClinicRequest(principal: .system(job: "test"), requestID: "test")
        let clinic = world.clinic
        let practice = try await clinic.createPractice(name: "Test Surgery", country: "GB", region: "England", zone: "Europe/London", system)
        try await clinic.addMember(practice: practice.id, account: gp, role: .clinician, system)
        try await clinic.addMember(practice: practice.id, account: nurse, role: .clinician, system)
        try await clinic.addMember(practice: practice.id, account: admin, role: .admin, system)
        let team = try await clinic.createCareTeam(practice: practice.id, name: "GP team", members: [gp], system)
        let weekly = ["monday", "tuesday", "wednesday", "thursday", "friday"].map {
            AvailabilityDocument.Window(
                weekday: $0, start: "09:00", end: "12:00", slot_minutes: slotMinutes, modalities: ["audio", "video"], valid_from: nil,
                valid_until: nil)
        }
        _ = try await clinic.setAvailability(
            clinician: gp, practice: practice.id, document: AvailabilityDocument(weekly: weekly, exceptions: nil),
            ClinicRequest(principal: .clinician(account: gp, role: .gp), requestID: "test"))
        return ClinicFixture(
            practice: practice, gp: .clinician(account: gp, role: .gp), nurse: .clinician(account: nurse, role: .nurse),
            practiceAdmin: .practiceAdmin(account: admin), operator_: .admin(account: op), team: team, gpEmail: gpLogin.email,
            gpTOTPURI: gpLogin.uri, operatorEmail: operatorLogin.email, operatorTOTPURI: operatorLogin.uri)
    }

    /// A new patient registered with the practice.
    public func patient(_ world: TestWorld, name: String = "Patient", register: Bool = true, birthDate: String = "1980-01-01") async throws
        -> Principal
    {
        try await patientLogin(world, name: name, register: register, birthDate: birthDate).principal
    }

    /// A new patient registered with the practice, with the email that signs them in (the password
    /// is `Fixtures.password`).
    public func patientLogin(_ world: TestWorld, name: String = "Patient", register: Bool = true, birthDate: String = "1980-01-01") async throws
        -> (principal: Principal, email: String)
    {
        let email = Fixtures.email(name.lowercased())
        let profile = try await world.accounts.seedPatient(
            RegistrationInput(email: email, password: Fixtures.password, givenName: name, familyName: "Fixture", birthDate: birthDate),
            job: "test")
        guard let id = profile.patient else { throw ClinicError(.notFound, "no patient") }
        let principal = Principal.patient(account: profile.account, patient: id)
        if register { try await world.clinic.registerWithPractice(practice.id, ClinicRequest(principal: principal, requestID: "test")) }
        return (principal, email)
    }

    /// The GP's account.
    public var gpAccount: Account.ID { gp.account! }

    /// 09:00 + `slot` slots on Monday 30 November 2026 (London = UTC in winter).
    public func slot(_ index: Int, minutes: Int = 10) -> Date { Self.monday0800.addingTimeInterval(3600 + Double(index * minutes * 60)) }
}

extension ClinicRequest {
    /// A request by `principal` in tests.
    public static func by(_ principal: Principal, _ requestID: String = "test") -> ClinicRequest {
        ClinicRequest(principal: principal, requestID: requestID)
    }
}
