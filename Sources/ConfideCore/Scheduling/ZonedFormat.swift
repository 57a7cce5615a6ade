public import Foundation

/// Converts between absolute instants and a zone's wall clock, and formats instants for people.
///
/// Pure arithmetic over `TimeZone.secondsFromGMT(for:)`: no `Calendar`, no `DateFormatter`, so the
/// results do not depend on the process's locale or calendar settings.
public enum ZonedFormat {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// For a viewer, e.g. "Mon 30 Mar 2026, 09:00 BST": weekday, day, month, year, 24-hour time and the
    /// zone's abbreviation at that instant.
    ///
    /// The abbreviation is `TimeZone.abbreviation(for:)` when that is plain ASCII (on Linux it is
    /// often of the "GMT+1" form rather than "BST"); otherwise the offset as "GMT", "GMT+1", "GMT-3:30".
    public static func display(_ date: Date, in zone: TimeZone) -> String {
        let (day, minutes) = local(date, in: zone)
        let d = CalendarDate(daysSinceEpoch: day)!
        let t = LocalTime(minutesSinceMidnight: minutes)!
        return
            "\(d.weekday.abbreviation) \(d.day) \(months[d.month - 1]) \(d.year), \(t) \(abbreviation(zone, at: date))"
    }

    /// The zone's calendar date at `date`.
    public static func localDate(_ date: Date, in zone: TimeZone) -> CalendarDate {
        CalendarDate(daysSinceEpoch: local(date, in: zone).day)!
    }

    /// The zone's wall-clock time at `date`, truncated to the minute.
    public static func localTime(_ date: Date, in zone: TimeZone) -> LocalTime {
        LocalTime(minutesSinceMidnight: local(date, in: zone).minutes)!
    }

    /// The instant at which the zone's wall clock shows `time` on `date`.
    ///
    /// When the wall-clock time occurs twice (clocks going back) this is its first occurrence; when it
    /// does not occur at all (clocks going forward) it is `nil`.
    public static func instant(_ date: CalendarDate, _ time: LocalTime, in zone: TimeZone) -> Date? {
        instant(localSeconds: date.daysSinceEpoch * 86400 + time.minutesSinceMidnight * 60, in: zone)
            .map { Date(timeIntervalSince1970: Double($0)) }
    }

    /// Seconds since 1970 (UTC) of the first instant whose wall clock reads `localSeconds`, if any.
    static func instant(localSeconds l: Int, in zone: TimeZone) -> Int? {
        // Every offset in force within a day either side is a candidate (zone offsets stay within
        // ±18 hours, and changes are much further apart than a day); a candidate is right when the
        // zone agrees that this offset is in force at the instant it gives.
        var best: Int?
        var tried: [Int] = []
        for probe in [l - 86400, l - 43200, l, l + 43200, l + 86400] {
            let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(probe)))
            guard !tried.contains(offset) else { continue }
            tried.append(offset)
            let utc = l - offset
            if zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(utc))) == offset {
                best = min(best ?? utc, utc)
            }
        }
        return best
    }

    /// Whole seconds since 1970, clamped to years 1 to 9999 (and 0 for a non-finite date).
    static func clampedSeconds(_ date: Date) -> Int {
        let t = date.timeIntervalSince1970
        guard t.isFinite else { return 0 }
        return Int(min(max(t, -62_135_596_800 + 86400), 253_402_300_799 - 86400).rounded(.down))
    }

    /// Days since 1970 and minutes since midnight on the zone's wall clock.
    static func local(_ date: Date, in zone: TimeZone) -> (day: Int, minutes: Int) {
        let seconds = clampedSeconds(date) + zone.secondsFromGMT(for: date)
        let day = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400)
        return (day, (seconds - day * 86400) / 60)
    }

    static func abbreviation(_ zone: TimeZone, at date: Date) -> String {
        if let a = zone.abbreviation(for: date), !a.isEmpty, a.utf8.count <= 12,
            a.unicodeScalars.allSatisfy({ $0.isASCIIAlphanumeric || "+-:".unicodeScalars.contains($0) })
        {
            return a
        }
        let offset = zone.secondsFromGMT(for: date)
        guard offset != 0 else { return "GMT" }
        let sign = offset < 0 ? "-" : "+"
        let hours = abs(offset) / 3600
        let minutes = abs(offset) % 3600 / 60
        return "GMT\(sign)\(hours)" + (minutes == 0 ? "" : ":" + (minutes < 10 ? "0" : "") + String(minutes))
    }
}
