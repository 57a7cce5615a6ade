/// A day of the week, numbered as in ISO 8601 (Monday is 1, Sunday is 7).
public enum Weekday: Int, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case monday = 1
    case tuesday, wednesday, thursday, friday, saturday, sunday

    /// Parses a full ("monday") or three-letter ("mon") English name, case-insensitively; `nil` otherwise.
    public init?(name: String) {
        let v = name.trimmingWhitespace().lowercased()
        guard let day = Self.allCases.first(where: { $0.name == v || $0.abbreviation.lowercased() == v }) else {
            return nil
        }
        self = day
    }

    /// The lowercase English name, e.g. "monday".
    public var name: String {
        switch self {
        case .monday: "monday"
        case .tuesday: "tuesday"
        case .wednesday: "wednesday"
        case .thursday: "thursday"
        case .friday: "friday"
        case .saturday: "saturday"
        case .sunday: "sunday"
        }
    }

    /// The capitalised three-letter English abbreviation, e.g. "Mon".
    public var abbreviation: String {
        let n = name
        return n.prefix(1).uppercased() + n.dropFirst().prefix(2)
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A wall-clock time of day with minute precision, from 00:00 to 23:59.
public struct LocalTime: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// 0 to 23.
    public let hour: Int
    /// 0 to 59.
    public let minute: Int

    /// `nil` unless `hour` is 0...23 and `minute` 0...59.
    public init?(hour: Int, minute: Int) {
        guard (0...23).contains(hour), (0...59).contains(minute) else { return nil }
        self.hour = hour
        self.minute = minute
    }

    /// Parses exactly `HH:MM` (two ASCII digits each, 00:00 to 23:59); `nil` otherwise. "24:00" is
    /// rejected: a window ends at 23:59 at the latest.
    public init?(parsing string: String) {
        let s = Array(string.unicodeScalars)
        guard s.count == 5, s[2] == ":" else { return nil }
        let digits = [s[0], s[1], s[3], s[4]]
        guard digits.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        let d = digits.map { Int($0.value) - 48 }
        self.init(hour: d[0] * 10 + d[1], minute: d[2] * 10 + d[3])
    }

    /// From minutes since midnight; `nil` outside 0..<1440.
    public init?(minutesSinceMidnight m: Int) {
        guard (0..<1440).contains(m) else { return nil }
        self.init(hour: m / 60, minute: m % 60)
    }

    /// Minutes since midnight, 0 to 1439.
    public var minutesSinceMidnight: Int { hour * 60 + minute }

    /// `HH:MM`, e.g. "09:05".
    public var description: String {
        (hour < 10 ? "0" : "") + String(hour) + ":" + (minute < 10 ? "0" : "") + String(minute)
    }

    public static func < (a: Self, b: Self) -> Bool { a.minutesSinceMidnight < b.minutesSinceMidnight }
}

extension CalendarDate {
    /// The day of the week of this date (proleptic Gregorian calendar).
    public var weekday: Weekday {
        // 1970-01-01 was a Thursday (ISO 4).
        let r = ((daysSinceEpoch % 7) + 7) % 7
        return Weekday(rawValue: (r + 3) % 7 + 1)!
    }

    /// The date `days` days later (earlier when negative); `nil` outside years 1 to 9999.
    public func adding(days: Int) -> CalendarDate? {
        CalendarDate(daysSinceEpoch: daysSinceEpoch + days)
    }

    /// Days since 1970-01-01 (negative before).
    var daysSinceEpoch: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01; `nil` outside years 1 to 9999.
    init?(daysSinceEpoch days: Int) {
        // Howard Hinnant's civil_from_days.
        guard (-719_162...2_932_896).contains(days) else { return nil }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        self.init(year: y, month: m, day: d)
    }
}
