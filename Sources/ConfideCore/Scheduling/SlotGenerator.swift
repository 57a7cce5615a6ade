public import Foundation

/// An offered appointment slot. Times are absolute; the length is a whole number of minutes.
public struct Slot: Hashable, Sendable, Comparable {
    /// When the slot starts.
    public let start: Date
    /// When it ends: `start` plus the window's slot length in real (elapsed) time.
    public let end: Date
    /// How it may be taken.
    public let modalities: Set<Modality>

    public init(start: Date, end: Date, modalities: Set<Modality>) {
        self.start = start
        self.end = end
        self.modalities = modalities
    }

    /// The length in whole minutes.
    public var minutes: Int { Int((end.timeIntervalSince(start) / 60).rounded(.down)) }

    /// By start, then end, then modalities (by name), so that sorting is deterministic.
    public static func < (a: Self, b: Self) -> Bool {
        if a.start != b.start { return a.start < b.start }
        if a.end != b.end { return a.end < b.end }
        return a.modalities.map(\.rawValue).sorted().lexicographicallyPrecedes(b.modalities.map(\.rawValue).sorted())
    }
}

/// Turns an availability plan into concrete slots on a time zone's wall clock.
///
/// ## Rules
///
/// - For each local date, the windows are: none on a practice holiday (holidays win over everything);
///   otherwise the exception's windows when the plan has an exception for that date (an exception with
///   no windows means no slots); otherwise the weekly windows for that weekday whose validity period
///   contains the date.
/// - Within a window, slot starts are laid out on the **wall clock** from the window start in steps of
///   the slot length; a slot is offered only if `start + slotMinutes` ≤ the window end on the wall clock.
/// - Daylight saving:
///   - a wall-clock start that does not exist (the spring-forward gap, e.g. 01:30 in London on the last
///     Sunday of March) is skipped;
///   - a wall-clock start that occurs twice (the fall-back repeated hour) is offered once, at its
///     **first** occurrence (the daylight-time one);
///   - a slot's end is its start plus the slot length in **real** time, so a slot is always exactly
///     `slotMinutes` long even when it straddles a change;
///   - finally slots are taken in order of start and any slot that overlaps an earlier kept slot in real
///     time is dropped, so the result never contains overlapping slots. This only happens around
///     spring-forward: in London on 29 March 2026, 45-minute slots from 00:00 give 00:00 and 00:45 GMT
///     (the latter running to 01:30 UTC); 01:30 is in the gap, and 02:15 BST (01:15 UTC) is dropped
///     because it would overlap the 00:45 slot.
///   - Around fall-back the repeated hour is offered once, so an hour of real time has no slot starts
///     (in London on 25 October 2026, 01:00–01:59 BST is offered and the second 01:00–01:59, GMT,
///     which is 01:00–01:59 UTC, is not).
/// - A weekly slot at 09:00 is 09:00 local on both sides of a change, so its UTC time moves by the
///   change.
public enum SlotGenerator {
    /// The longest range `slots(plan:zone:from:to:)` covers, in days; a longer range is cut to this.
    public static let maximumRangeDays = 366

    /// Every slot of the plan whose start lies in `[from, to)`, sorted by start, on `zone`'s wall clock
    /// (see the type's documentation for the daylight-saving rules).
    ///
    /// Empty when `from >= to`. Ranges longer than `maximumRangeDays` are cut to that length.
    public static func slots(plan: AvailabilityPlan, zone: TimeZone, from: Date, to: Date) -> [Slot] {
        guard from < to else { return [] }
        let end = min(to, from.addingTimeInterval(Double(maximumRangeDays) * 86400))
        let first = ZonedFormat.local(from, in: zone).day
        let last = ZonedFormat.local(end, in: zone).day
        // One day before `from`: a slot there may overlap, and so remove, one of the first day's.
        // (`last` can only be before `first` by a day, when the offset drops across midnight.)
        return generate(plan: plan, zone: zone, days: min(first - 1, last)...max(first - 1, last))
            .filter { $0.start >= from && $0.start < end }
    }

    /// The plan's slot that starts exactly at `start` and may be taken as `modality`, or `nil` when there
    /// is none; used to check that a booking request names a slot that is really offered.
    public static func offers(plan: AvailabilityPlan, zone: TimeZone, start: Date, modality: Modality) -> Slot? {
        let day = ZonedFormat.local(start, in: zone).day
        return generate(plan: plan, zone: zone, days: (day - 1)...day)
            .first { $0.start == start && $0.modalities.contains(modality) }
    }

    /// All slots of the local dates in `days`, sorted, overlaps removed.
    static func generate(plan: AvailabilityPlan, zone: TimeZone, days: ClosedRange<Int>) -> [Slot] {
        let exceptions = Dictionary(plan.exceptions.map { ($0.date, $0) }, uniquingKeysWith: { a, _ in a })
        var candidates: [(start: Int, length: Int, modalities: Set<Modality>)] = []
        for day in days {
            guard let date = CalendarDate(daysSinceEpoch: day) else { continue }
            let windows = plan.windows(on: date, exceptions: exceptions)
            guard !windows.isEmpty else { continue }
            let midnight = day * 86400
            let fixedOffset = constantOffset(aroundLocalMidnight: midnight, in: zone)
            for window in windows {
                let length = window.slotMinutes * 60
                var t = window.start.minutesSinceMidnight * 60
                let end = window.end.minutesSinceMidnight * 60
                while t + length <= end {
                    let start: Int? =
                        if let fixedOffset { midnight + t - fixedOffset } else {
                            ZonedFormat.instant(localSeconds: midnight + t, in: zone)
                        }
                    if let start { candidates.append((start, length, window.modalities)) }
                    t += length
                }
            }
        }
        candidates.sort { $0.start < $1.start }
        var slots: [Slot] = []
        slots.reserveCapacity(candidates.count)
        var busyUntil = Int.min
        for c in candidates where c.start >= busyUntil {
            slots.append(
                Slot(
                    start: Date(timeIntervalSince1970: Double(c.start)),
                    end: Date(timeIntervalSince1970: Double(c.start + c.length)),
                    modalities: c.modalities
                )
            )
            busyUntil = c.start + c.length
        }
        return slots
    }

    /// The zone's offset when it is the same from a day before to two days after the local midnight
    /// (so it holds for every wall-clock time of that day); `nil` when it changes nearby.
    private static func constantOffset(aroundLocalMidnight midnight: Int, in zone: TimeZone) -> Int? {
        let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(midnight - 86400)))
        for probe in [midnight, midnight + 86400, midnight + 2 * 86400]
        where zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(probe))) != offset {
            return nil
        }
        return offset
    }
}
