public import ConfideAccounts
import Foundation

/// Fictional people used across the test suites. Their names, emails and birth dates must never
/// appear in a log line.
public enum Fixtures {
    /// A unique email per call, so parallel tests on one database never collide.
    public static func email(_ name: String) -> String { "\(name).\(UUID().uuidString.prefix(8).lowercased())@fixtures.confide.test" }

    public static let password = "orchid-lantern-basalt-91"

    /// Patient A.
    public static func alice() -> RegistrationInput {
        RegistrationInput(email: email("zephyrine.quillfeather"), password: password, givenName: "Zephyrine", familyName: "Quillfeather", birthDate: "1979-02-28")
    }

    /// Patient B.
    public static func bob() -> RegistrationInput {
        RegistrationInput(email: email("barnaby.thistlewood"), password: password, givenName: "Barnaby", familyName: "Thistlewood", birthDate: "1964-10-09")
    }

    /// Strings that must never be logged.
    public static let personalData = ["Zephyrine", "Quillfeather", "Barnaby", "Thistlewood", "1979-02-28", "1964-10-09", "zephyrine.quillfeather", "barnaby.thistlewood", "Ottoline", "Marchbank", "1990-12-01"]
}
