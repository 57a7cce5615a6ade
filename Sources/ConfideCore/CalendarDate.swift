/// A calendar date without a time zone (a date of birth is the same day everywhere).
public struct CalendarDate: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// Parses `YYYY-MM-DD` and checks the day exists (leap years included).
    public init?(iso8601 string: String) {
        let parts = string.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigitCharacter) }),
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// Builds a date; `nil` when it does not exist.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
            day <= Self.daysIn(month: month, year: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `YYYY-MM-DD`.
    public var description: String {
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (a: Self, b: Self) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }

    /// Whole years from this date (a birth date) to `today`; 0 before the first birthday.
    public func age(on today: CalendarDate) -> Int {
        let years = today.year - year - ((today.month, today.day) < (month, day) ? 1 : 0)
        return max(0, years)
    }

    /// Whole months of age on `today` (0 before the first month is complete, or before birth).
    public func ageInMonths(on today: CalendarDate) -> Int {
        let months = (today.year - year) * 12 + (today.month - month) - (today.day < day ? 1 : 0)
        return max(0, months)
    }
}

extension Character {
    var isASCIIDigitCharacter: Bool { ("0"..."9").contains(self) }
}

/// A date of birth: a real date, not in the future, at most 130 years ago.
public struct BirthDate: Hashable, Sendable, CustomStringConvertible {
    public let date: CalendarDate

    /// Validates against `today` (injected: no clock is read here).
    /// - Throws: `ValidationError` with code `invalidBirthDate`.
    public init(_ raw: String, today: CalendarDate) throws(ValidationError) {
        guard let date = CalendarDate(iso8601: raw.trimmingWhitespace()), date <= today,
            date.year >= today.year - 130
        else { throw ValidationError(.invalidBirthDate, field: "birth_date") }
        self.date = date
    }

    public var description: String { date.description }
}
