public import ConfideAccounts
public import ConfideClinic
public import ConfideCore
import ConfideStore
import Foundation

/// Seeds a demo practice: an admin, two clinicians and three patients with fictional data.
public enum DemoSeeder {
    /// The password of every demo account (printed at start-up).
    public static let password = "confide-demo-2026"

    public struct Login: Sendable {
        public let role: String
        public let email: String
        public let otpauthURI: String?
    }

    static let patients = [
        RegistrationInput(email: "amelia.hart@demo.confide.test", password: password, givenName: "Amelia", familyName: "Hart", birthDate: "1987-03-14"),
        RegistrationInput(email: "rohan.mehta@demo.confide.test", password: password, givenName: "Rohan", familyName: "Mehta", birthDate: "1952-11-02"),
        RegistrationInput(email: "chloe.tremblay@demo.confide.test", password: password, givenName: "Chloé", familyName: "Tremblay", birthDate: "2001-07-29"),
    ]

    static let staff: [(StaffInput, String)] = [
        (StaffInput(email: "priya.nair@demo.confide.test", givenName: "Priya", familyName: "Nair", kind: .admin, role: nil, registrationNumber: nil), "admin"),
        (StaffInput(email: "sarah.okafor@demo.confide.test", givenName: "Sarah", familyName: "Okafor", kind: .clinician, role: "gp", registrationNumber: "GMC-7654321"), "clinician (GP)"),
        (StaffInput(email: "james.whitfield@demo.confide.test", givenName: "James", familyName: "Whitfield", kind: .clinician, role: "nurse", registrationNumber: "NMC-12A3456E"), "clinician (nurse)"),
        (StaffInput(email: "marc.gagnon@demo.confide.test", givenName: "Marc", familyName: "Gagnon", kind: .clinician, role: "gp", registrationNumber: "CPSO-98765"), "clinician (GP, ON)"),
        (StaffInput(email: "tom.baker@demo.confide.test", givenName: "Tom", familyName: "Baker", kind: .practiceAdmin, role: nil, registrationNumber: nil), "practice admin"),
    ]

    static func weekdays(_ windows: [(String, String)], slot: Int, modalities: [String]) -> AvailabilityDocument {
        var weekly: [AvailabilityDocument.Window] = []
        for day in ["monday", "tuesday", "wednesday", "thursday", "friday"] {
            for (start, end) in windows {
                weekly.append(
                    AvailabilityDocument.Window(
                        weekday: day, start: start, end: end, slot_minutes: slot, modalities: modalities, valid_from: nil, valid_until: nil))
            }
        }
        return AvailabilityDocument(weekly: weekly, exceptions: nil)
    }

    /// Seeds once. Returns the logins when it seeded, `nil` when the demo data was already there.
    public static func seed(_ accounts: AccountService, clinic: ClinicService, incidents: IncidentService? = nil) async throws -> [Login]? {
        var logins: [Login] = []
        var ids: [String: Account.ID] = [:]
        for (input, role) in staff {
            do {
                let (id, uri) = try await accounts.createStaffWithCredentials(input, password: password, job: "demo-seed")
                ids[input.email] = id
                logins.append(Login(role: role, email: input.email, otpauthURI: uri))
            } catch let error as AccountsError where error.code == .emailTaken {
                return nil
            }
        }
        var patientIDs: [(Account.ID, Patient.ID)] = []
        for input in patients {
            let profile = try await accounts.seedPatient(input, job: "demo-seed")
            if let patient = profile.patient { patientIDs.append((profile.account, patient)) }
            logins.append(Login(role: "patient", email: input.email, otpauthURI: nil))
        }
        // Two practices in two countries, run on the visibly separate system path.
        let system = ClinicRequest(principal: .system(job: "demo-seed"), requestID: "demo-seed")
        let riverside = try await clinic.createPractice(
            name: "Riverside Medical Centre", country: "GB", region: "England", zone: "Europe/London", system)
        let lakeshore = try await clinic.createPractice(
            name: "Lakeshore Family Clinic", country: "CA", region: "Ontario", zone: "America/Toronto", system)
        guard let sarah = ids["sarah.okafor@demo.confide.test"], let james = ids["james.whitfield@demo.confide.test"],
            let marc = ids["marc.gagnon@demo.confide.test"], let tom = ids["tom.baker@demo.confide.test"]
        else { return logins }
        try await clinic.addMember(practice: riverside.id, account: sarah, role: .clinician, system)
        try await clinic.addMember(practice: riverside.id, account: james, role: .clinician, system)
        try await clinic.addMember(practice: riverside.id, account: tom, role: .admin, system)
        try await clinic.addMember(practice: lakeshore.id, account: marc, role: .clinician, system)
        let team = try await clinic.createCareTeam(practice: riverside.id, name: "Riverside GP team", members: [sarah, james], system)
        // Each clinician publishes their own hours (as they would on the availability page).
        let plans: [(Account.ID, StaffRole, Practice.ID, AvailabilityDocument)] = [
            (sarah, .gp, riverside.id, weekdays([("09:00", "12:00"), ("14:00", "17:00")], slot: 10, modalities: ["audio", "video"])),
            (james, .nurse, riverside.id, weekdays([("08:30", "12:30")], slot: 15, modalities: ["audio", "in-person", "video"])),
            (marc, .gp, lakeshore.id, weekdays([("09:00", "16:00")], slot: 10, modalities: ["audio", "video"])),
        ]
        for (account, role, practice, document) in plans {
            _ = try await clinic.setAvailability(
                clinician: account, practice: practice, document: document,
                ClinicRequest(principal: .clinician(account: account, role: role), requestID: "demo-seed"))
        }
        // Amelia and Rohan are registered at Riverside (Amelia lets its GP team see her record); Chloé in Toronto.
        for (index, (account, patient)) in patientIDs.enumerated() {
            let r = ClinicRequest(principal: .patient(account: account, patient: patient), requestID: "demo-seed")
            try await clinic.registerWithPractice(index == 2 ? lakeshore.id : riverside.id, r)
            if index == 0 { _ = try await clinic.grantConsent(team: team.id, r) }
        }
        // A canary patient at Riverside: nobody has a reason to open this record, so any access is an incident.
        if let incidents {
            _ = try await createCanary(accounts, clinic: clinic, incidents: incidents, practice: riverside.id)
        }
        return logins
    }

    /// Creates a synthetic patient (random unguessable email and password, never a login) registered
    /// with `practice`, and marks it a canary. Returns its patient id.
    public static func createCanary(_ accounts: AccountService, clinic: ClinicService, incidents: IncidentService, practice: Practice.ID?)
        async throws -> Patient.ID
    {
        // Nothing in the record says "canary": an ordinary name, birth date and email, chosen at random.
        let tag = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let given = ["Alex", "Sam", "Jordan", "Morgan", "Taylor", "Robin", "Jamie", "Casey", "Drew", "Avery"].randomElement() ?? "Alex"
        let family = ["Hughes", "Patel", "Murray", "Evans", "Khan", "Walsh", "Reid", "Fraser", "Lloyd", "Chen"].randomElement() ?? "Hughes"
        let birth = String(format: "%04d-%02d-%02d", Int.random(in: 1950...2000), Int.random(in: 1...12), Int.random(in: 1...28))
        let profile = try await accounts.seedPatient(
            RegistrationInput(
                email: "\(given.lowercased()).\(family.lowercased()).\(tag.prefix(6))@example.net", password: "canary-" + tag,
                givenName: given, familyName: family, birthDate: birth),
            job: "canary")
        guard let patient = profile.patient else { throw CanaryError() }
        if let practice {
            try await clinic.registerWithPractice(
                practice, ClinicRequest(principal: .patient(account: profile.account, patient: patient), requestID: "canary"))
        }
        try await incidents.markCanary(patient, ClinicRequest(principal: .system(job: "canary"), requestID: "canary"))
        return patient
    }

    struct CanaryError: Error {}

    /// The text printed at start-up and kept (mode 0600) in the data directory.
    public static func describe(_ logins: [Login]) -> String {
        var lines = ["Demo logins (password for every account: \(password))"]
        for login in logins {
            lines.append("  \(login.role.padding(toLength: 18, withPad: " ", startingAt: 0)) \(login.email)")
            if let uri = login.otpauthURI { lines.append("      TOTP: \(uri)") }
        }
        lines.append("Staff sign in with the current code of their TOTP secret (any authenticator app, or `oathtool --totp -b SECRET`).")
        return lines.joined(separator: "\n")
    }
}
