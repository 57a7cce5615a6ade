import ConfideCore
import PropertyBased
import Testing

@Suite("domain values")
struct ValueTests {
    @Test(
        "valid email addresses are accepted and lowercased",
        arguments: ["Alice@Example.COM", "  bob.smith+gp@nhs.example.uk ", "o'neil@clinic-1.example.ca"])
    func validEmail(_ raw: String) throws {
        let email = try EmailAddress(raw)
        #expect(email.value == raw.trimmingWhitespace().lowercased())
    }

    @Test(
        "invalid email addresses are rejected",
        arguments: ["", "plain", "a@b", "@example.com", "a@@example.com", "a b@example.com", "a@-bad-.com", ".a@example.com",
            "a..b@example.com", "a@example..com", String(repeating: "x", count: 65) + "@example.com", "<script>@example.com"])
    func invalidEmail(_ raw: String) {
        #expect(throws: ValidationError.self) { try EmailAddress(raw) }
    }

    @Test("calendar dates know leap years and month lengths")
    func calendarDates() {
        #expect(CalendarDate(iso8601: "2024-02-29") != nil)
        #expect(CalendarDate(iso8601: "2023-02-29") == nil)
        #expect(CalendarDate(iso8601: "1900-02-29") == nil)
        #expect(CalendarDate(iso8601: "2000-02-29") != nil)
        #expect(CalendarDate(iso8601: "2024-04-31") == nil)
        #expect(CalendarDate(iso8601: "2024-13-01") == nil)
        #expect(CalendarDate(iso8601: "24-01-01") == nil)
        #expect(CalendarDate(iso8601: "2024-1-01") == nil)
        #expect(CalendarDate(iso8601: "２０２４-01-01") == nil)
    }

    @Test("a date of birth is in the past and at most 130 years ago")
    func birthDates() throws {
        let today = CalendarDate(year: 2026, month: 11, day: 25)!
        #expect(try BirthDate("2026-11-25", today: today).description == "2026-11-25")
        #expect(throws: ValidationError.self) { try BirthDate("2026-11-26", today: today) }
        #expect(throws: ValidationError.self) { try BirthDate("1895-01-01", today: today) }
        #expect(throws: ValidationError.self) { try BirthDate("not a date", today: today) }
    }

    @Test("formatting and parsing a calendar date round-trips")
    func calendarRoundTrip() async {
        await propertyCheck(input: Gen.int(in: 1...9999), Gen.int(in: 1...12), Gen.int(in: 1...31)) { y, m, d in
            guard let date = CalendarDate(year: y, month: m, day: d) else { return }
            #expect(CalendarDate(iso8601: date.description) == date)
        }
    }

    @Test("names are trimmed, bounded and free of markup")
    func names() throws {
        let name = try PersonName(given: "  Siobhán ", family: "Ní Bhriain")
        #expect(name.display == "Siobhán Ní Bhriain")
        #expect(throws: ValidationError.self) { try PersonName(given: "", family: "X") }
        #expect(throws: ValidationError.self) { try PersonName(given: String(repeating: "a", count: 101), family: "X") }
        #expect(throws: ValidationError.self) { try PersonName(given: "<b>", family: "X") }
        #expect(throws: ValidationError.self) { try PersonName(given: "a\u{0007}", family: "X") }
    }

    @Test("the password policy wants 12 characters, not a common password and not the email")
    func passwordPolicy() throws {
        let policy = PasswordPolicy(commonPasswords: ["passwordpassword"])
        try policy.check("orchid-lantern-basalt-91")
        #expect(throws: ValidationError.self) { try policy.check("short-pass1") }
        #expect(throws: ValidationError.self) { try policy.check("PasswordPassword") }
        #expect(throws: ValidationError.self) { try policy.check("passwordpassword2024!") }
        #expect(throws: ValidationError.self) { try policy.check("!!PasswordPassword1") }
        #expect(throws: ValidationError.self) { try policy.check("aaaaaaaaaaaaaaaa") }
        #expect(throws: ValidationError.self) { try policy.check("me@example.com", context: ["me@example.com"]) }
        #expect(throws: ValidationError.self) { try policy.check(String(repeating: "ab1", count: 100)) }
    }

    @Test("a staff role parses case-insensitively and rejects unknown roles")
    func roles() throws {
        #expect(try StaffRole(parsing: " GP ") == .gp)
        #expect(throws: ValidationError.self) { try StaffRole(parsing: "surgeon") }
        #expect(try RegistrationNumber("gmc-1234567").value == "GMC-1234567")
        #expect(throws: ValidationError.self) { try RegistrationNumber("12") }
    }

    @Test("identifiers of different entities are different types and round-trip as strings")
    func identifiers() {
        let patient = Patient.ID()
        #expect(Patient.ID(string: patient.description) == patient)
        #expect(Patient.ID(string: "not-a-uuid") == nil)
        #expect(patient.description == patient.description.lowercased())
    }
}
