public import ConfideAccounts
import ConfideCore
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
    ]

    /// Seeds once. Returns the logins when it seeded, `nil` when the demo data was already there.
    public static func seed(_ accounts: AccountService) async throws -> [Login]? {
        var logins: [Login] = []
        for (input, role) in staff {
            do {
                let (_, uri) = try await accounts.createStaffWithCredentials(input, password: password, job: "demo-seed")
                logins.append(Login(role: role, email: input.email, otpauthURI: uri))
            } catch let error as AccountsError where error.code == .emailTaken {
                return nil
            }
        }
        for input in patients {
            _ = try await accounts.seedPatient(input, job: "demo-seed")
            logins.append(Login(role: "patient", email: input.email, otpauthURI: nil))
        }
        return logins
    }

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
