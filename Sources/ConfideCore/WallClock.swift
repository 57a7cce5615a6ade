public import Foundation

/// The current time, injected so that tests can fix it.
public protocol WallClock: Sendable {
    /// Now.
    func now() -> Date
}

/// The system clock.
public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}

extension Date {
    /// Milliseconds since 1970, the unit times are stored in.
    public var epochMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    /// From milliseconds since 1970.
    public init(epochMilliseconds ms: Int64) { self.init(timeIntervalSince1970: Double(ms) / 1000) }

    /// The UTC calendar date of this instant.
    public var utcCalendarDate: CalendarDate {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day], from: self)
        return CalendarDate(year: c.year!, month: c.month!, day: c.day!)!
    }
}
