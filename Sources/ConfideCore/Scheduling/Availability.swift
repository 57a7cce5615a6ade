/// How a consultation takes place.
public enum Modality: String, Sendable, Hashable, Codable, CaseIterable {
    /// A video call.
    case video
    /// An audio-only WebRTC call (what patients call a "phone" appointment).
    case audio
    /// At the practice, in person.
    case inPerson = "in-person"
}

/// The bounds every availability window shares.
enum WindowRules {
    /// Allowed slot lengths, in minutes.
    static let slotMinutes = 5...120

    // INVARIANT: start < end, slotMinutes in 5...120, at least one slot fits, modalities non-empty.
    static func check(
        start: LocalTime,
        end: LocalTime,
        slotMinutes: Int,
        modalities: Set<Modality>
    )
        throws(ValidationError)
    {
        guard start < end else {
            throw ValidationError(.invalidAvailability, field: "end", message: "the end must be after the start")
        }
        guard Self.slotMinutes.contains(slotMinutes) else {
            throw ValidationError(
                .invalidAvailability,
                field: "slot_minutes",
                message: "choose a slot length of 5 to 120 minutes"
            )
        }
        guard end.minutesSinceMidnight - start.minutesSinceMidnight >= slotMinutes else {
            throw ValidationError(
                .invalidAvailability,
                field: "slot_minutes",
                message: "the window must be at least one slot long"
            )
        }
        guard !modalities.isEmpty else {
            throw ValidationError(
                .invalidAvailability,
                field: "modalities",
                message: "choose at least one of video, audio or in-person"
            )
        }
    }

    /// Whether two wall-clock ranges share a minute (touching ends do not overlap).
    static func overlap(_ a: (LocalTime, LocalTime), _ b: (LocalTime, LocalTime)) -> Bool {
        a.0 < b.1 && b.0 < a.1
    }
}

/// A recurring weekly window of availability, in the practice's time zone.
///
/// Slots of `slotMinutes` are laid out from `start`; the last one ends by `end`.
public struct WeeklyWindow: Hashable, Sendable {
    /// The day of the week it recurs on.
    public let weekday: Weekday
    /// The wall-clock start of the first slot.
    public let start: LocalTime
    /// The wall-clock time by which the last slot ends.
    public let end: LocalTime
    /// The length of each slot, 5 to 120 minutes.
    public let slotMinutes: Int
    /// How the slots may be taken; never empty.
    public let modalities: Set<Modality>
    /// The first date the window applies (inclusive); `nil` for no lower bound.
    public let validFrom: CalendarDate?
    /// The last date the window applies (inclusive); `nil` for no upper bound.
    public let validUntil: CalendarDate?

    /// - Throws: `ValidationError` with code `invalidAvailability`: field `end` when the end is not after
    ///   the start, `slot_minutes` when the length is outside 5...120 or longer than the window,
    ///   `modalities` when empty, `valid_until` when before `validFrom`.
    public init(
        weekday: Weekday,
        start: LocalTime,
        end: LocalTime,
        slotMinutes: Int,
        modalities: Set<Modality>,
        validFrom: CalendarDate? = nil,
        validUntil: CalendarDate? = nil
    ) throws(ValidationError) {
        try WindowRules.check(start: start, end: end, slotMinutes: slotMinutes, modalities: modalities)
        if let validFrom, let validUntil, validUntil < validFrom {
            throw ValidationError(
                .invalidAvailability,
                field: "valid_until",
                message: "the last valid date must not be before the first"
            )
        }
        self.weekday = weekday
        self.start = start
        self.end = end
        self.slotMinutes = slotMinutes
        self.modalities = modalities
        self.validFrom = validFrom
        self.validUntil = validUntil
    }

    /// Whether the window applies on `date` (right weekday, within the validity period).
    public func applies(on date: CalendarDate) -> Bool {
        date.weekday == weekday && (validFrom.map { $0 <= date } ?? true) && (validUntil.map { date <= $0 } ?? true)
    }

    /// Whether the two validity periods share a date.
    func validityIntersects(_ other: WeeklyWindow) -> Bool {
        let fromOK = validFrom.flatMap { from in other.validUntil.map { from <= $0 } } ?? true
        let untilOK = validUntil.flatMap { until in other.validFrom.map { $0 <= until } } ?? true
        return fromOK && untilOK
    }
}

/// One window of an exception day: like a weekly window, but for a single date.
public struct DayWindow: Hashable, Sendable {
    /// The wall-clock start of the first slot.
    public let start: LocalTime
    /// The wall-clock time by which the last slot ends.
    public let end: LocalTime
    /// The length of each slot, 5 to 120 minutes.
    public let slotMinutes: Int
    /// How the slots may be taken; never empty.
    public let modalities: Set<Modality>

    /// - Throws: `ValidationError` with code `invalidAvailability`: field `end` when the end is not after
    ///   the start, `slot_minutes` when the length is outside 5...120 or longer than the window,
    ///   `modalities` when empty.
    public init(
        start: LocalTime,
        end: LocalTime,
        slotMinutes: Int,
        modalities: Set<Modality>
    )
        throws(ValidationError)
    {
        try WindowRules.check(start: start, end: end, slotMinutes: slotMinutes, modalities: modalities)
        self.start = start
        self.end = end
        self.slotMinutes = slotMinutes
        self.modalities = modalities
    }
}

/// A one-day exception: on `date`, `windows` replace the weekly windows (no windows: not available).
public struct AvailabilityException: Hashable, Sendable {
    /// The local date it applies to.
    public let date: CalendarDate
    /// The windows of that day, sorted by start; empty when the clinician is away.
    public let windows: [DayWindow]

    /// - Throws: `ValidationError` with code `overlappingAvailability`, field `windows`, when two windows
    ///   overlap (windows that touch, one ending when the next starts, are fine).
    public init(date: CalendarDate, windows: [DayWindow]) throws(ValidationError) {
        let sorted = windows.sorted { ($0.start, $0.end, $0.slotMinutes) < ($1.start, $1.end, $1.slotMinutes) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where WindowRules.overlap((a.start, a.end), (b.start, b.end)) {
            throw ValidationError(
                .overlappingAvailability,
                field: "windows",
                message: "the windows of an exception day must not overlap"
            )
        }
        self.date = date
        self.windows = sorted
    }
}

/// A clinician's availability in one practice: weekly windows, one-day exceptions and practice holidays.
///
/// Windows are kept sorted by weekday and start, exceptions by date, so equal plans compare equal
/// whatever order they were given in.
public struct AvailabilityPlan: Hashable, Sendable {
    /// The recurring weekly windows.
    public let windows: [WeeklyWindow]
    /// Dates whose windows replace the weekly ones.
    public let exceptions: [AvailabilityException]
    /// Practice holidays: no slots at all, whatever the windows and exceptions say.
    public let holidays: Set<CalendarDate>

    /// - Throws: `ValidationError` with code `overlappingAvailability`: field `windows` when two weekly
    ///   windows on the same weekday overlap in time and their validity periods share a date, field
    ///   `exceptions` when two exceptions share a date.
    public init(
        windows: [WeeklyWindow],
        exceptions: [AvailabilityException] = [],
        holidays: Set<CalendarDate> = []
    )
        throws(ValidationError)
    {
        let sortedWindows = windows.sorted(by: Self.windowOrder)
        for (i, a) in sortedWindows.enumerated() {
            for b in sortedWindows[(i + 1)...] {
                guard b.weekday == a.weekday else { break }
                if WindowRules.overlap((a.start, a.end), (b.start, b.end)), a.validityIntersects(b) {
                    throw ValidationError(
                        .overlappingAvailability,
                        field: "windows",
                        message: "two weekly windows on the same day overlap while both are valid"
                    )
                }
            }
        }
        let sortedExceptions = exceptions.sorted { $0.date < $1.date }
        for (a, b) in zip(sortedExceptions, sortedExceptions.dropFirst()) where a.date == b.date {
            throw ValidationError(
                .overlappingAvailability,
                field: "exceptions",
                message: "there can be only one exception per date"
            )
        }
        self.windows = sortedWindows
        self.exceptions = sortedExceptions
        self.holidays = holidays
    }

    /// A plan without any availability.
    public static let empty = try! AvailabilityPlan(windows: [])

    /// The windows of `date`: none on a holiday, the exception's windows when there is one, else the
    /// weekly windows that apply that day.
    func windows(on date: CalendarDate, exceptions byDate: [CalendarDate: AvailabilityException]) -> [DayWindow] {
        if holidays.contains(date) { return [] }
        if let exception = byDate[date] { return exception.windows }
        return windows.filter { $0.applies(on: date) }.map {
            DayWindow(unchecked: $0.start, $0.end, $0.slotMinutes, $0.modalities)
        }
    }

    // Total order: weekday, start, then the validity period (non-overlapping windows differ there).
    private static func windowOrder(_ a: WeeklyWindow, _ b: WeeklyWindow) -> Bool {
        let dayA = a.validFrom.map(\.daysSinceEpoch) ?? Int.min
        let dayB = b.validFrom.map(\.daysSinceEpoch) ?? Int.min
        let untilA = a.validUntil.map(\.daysSinceEpoch) ?? Int.max
        let untilB = b.validUntil.map(\.daysSinceEpoch) ?? Int.max
        return (
            a.weekday.rawValue, a.start.minutesSinceMidnight, dayA, untilA, a.end.minutesSinceMidnight, a.slotMinutes
        )
            < (
                b.weekday.rawValue, b.start.minutesSinceMidnight, dayB, untilB, b.end.minutesSinceMidnight,
                b.slotMinutes
            )
    }
}

extension DayWindow {
    /// For values already checked by `WeeklyWindow`.
    init(unchecked start: LocalTime, _ end: LocalTime, _ slotMinutes: Int, _ modalities: Set<Modality>) {
        self.start = start
        self.end = end
        self.slotMinutes = slotMinutes
        self.modalities = modalities
    }
}
