import ConfideCore
import Foundation
import PropertyBased
import Testing

// Test helpers shared by the scheduling and DST tests.

/// An instant from an ISO 8601 string such as "2026-03-29T01:00:00Z".
func instant(_ iso: String) -> Date {
    guard let date = ISO8601DateFormatter().date(from: iso) else { fatalError("bad test instant \(iso)") }
    return date
}

/// A wall-clock time from "HH:MM".
func time(_ s: String) -> LocalTime {
    guard let t = LocalTime(parsing: s) else { fatalError("bad test time \(s)") }
    return t
}

/// A calendar date from "YYYY-MM-DD".
func day(_ s: String) -> CalendarDate {
    guard let d = CalendarDate(iso8601: s) else { fatalError("bad test date \(s)") }
    return d
}

/// A time zone that must exist.
func zone(_ id: String) -> TimeZone {
    guard let z = TimeZone(identifier: id) else { fatalError("unknown test zone \(id)") }
    return z
}

/// The slot starts as ISO 8601 UTC strings, for readable comparisons.
func isoStarts(_ slots: [Slot]) -> [String] {
    let f = ISO8601DateFormatter()
    return slots.map { f.string(from: $0.start) }
}

func weekly(
    _ weekday: Weekday,
    _ start: String,
    _ end: String,
    every minutes: Int,
    _ modalities: Set<Modality> = [.video],
    from: String? = nil,
    until: String? = nil
) throws -> WeeklyWindow {
    try WeeklyWindow(
        weekday: weekday,
        start: time(start),
        end: time(end),
        slotMinutes: minutes,
        modalities: modalities,
        validFrom: from.map(day),
        validUntil: until.map(day)
    )
}

/// Whether no two slots overlap in real time and starts strictly increase.
func sortedAndDisjoint(_ slots: [Slot]) -> Bool {
    zip(slots, slots.dropFirst()).allSatisfy { $0.start < $1.start && $0.end <= $1.start }
}

let utc = zone("UTC")

@Suite("scheduling values")
struct SchedulingValueTests {
    @Test("country codes are two ASCII letters, uppercased", arguments: ["gb", " CA ", "Us", "SG"])
    func validCountries(_ raw: String) throws {
        let code = try CountryCode(raw)
        #expect(code.value == raw.trimmingWhitespace().uppercased())
        #expect(code.description == code.value)
    }

    @Test("malformed country codes are rejected", arguments: ["GBR", "1A", "", "G", "G1", "É S", "ÉS", "  "])
    func invalidCountries(_ raw: String) {
        #expect(throws: ValidationError(.invalidCountry, field: "country")) { try CountryCode(raw) }
    }

    @Test(
        "region/city time zone names and UTC are accepted",
        arguments: [
            "Europe/London", "America/Toronto", "America/New_York", "Asia/Singapore", "UTC", " Europe/London ",
            "America/Argentina/Buenos_Aires", "Etc/GMT+5",
        ]
    )
    func validZones(_ raw: String) throws {
        let name = try ZoneName(raw)
        #expect(name.identifier == raw.trimmingWhitespace())
        #expect(name.timeZone.identifier == TimeZone(identifier: name.identifier)!.identifier)
    }

    // Decision: abbreviations ("EST", "BST", "GMT") and POSIX names ("EST5EDT") are rejected even
    // though Foundation resolves some of them; they are ambiguous or ignore the region's own rules.
    @Test(
        "unknown zones, abbreviations and odd spellings are rejected",
        arguments: [
            "Mars/Olympus", "", "EST", "BST", "GMT", "IST", "EST5EDT", "europe/london", "Europe/", "/London",
            "Europe//London", "../etc/passwd", "Europe/London/..", "utc", "Europe/London\u{0}",
        ]
    )
    func invalidZones(_ raw: String) {
        #expect(throws: ValidationError(.invalidTimeZone, field: "time_zone")) { try ZoneName(raw) }
    }

    @Test("validation messages do not repeat the value")
    func messagesDoNotEcho() {
        for raw in ["Mars/Olympus", "QQQ"] {
            let zoneError = #expect(throws: ValidationError.self) { try ZoneName(raw) }
            let countryError = #expect(throws: ValidationError.self) { try CountryCode(raw) }
            #expect(zoneError?.message.contains(raw) == false)
            #expect(countryError?.message.contains(raw) == false)
        }
    }

    @Test("weekdays parse full and short English names, case-insensitively")
    func weekdays() {
        #expect(Weekday(name: "Monday") == .monday)
        #expect(Weekday(name: "mon") == .monday)
        #expect(Weekday(name: "SUN") == .sunday)
        #expect(Weekday(name: " thursday ") == .thursday)
        #expect(Weekday(name: "mo") == nil)
        #expect(Weekday(name: "") == nil)
        #expect(Weekday(name: "lundi") == nil)
        #expect(Weekday.allCases.allSatisfy { Weekday(name: $0.name) == $0 })
        #expect(Weekday.sunday.name == "sunday")
        #expect(Weekday.monday < .sunday)
        #expect(Weekday.monday.rawValue == 1 && Weekday.sunday.rawValue == 7)
    }

    @Test("calendar dates know their weekday")
    func calendarWeekdays() {
        #expect(day("1970-01-01").weekday == .thursday)
        #expect(day("2000-01-01").weekday == .saturday)
        #expect(day("2026-03-29").weekday == .sunday)
        #expect(day("2026-03-30").weekday == .monday)
        #expect(day("0001-01-01").weekday == .monday)
        #expect(day("2026-02-28").adding(days: 1) == day("2026-03-01"))
        #expect(day("2024-02-28").adding(days: 1) == day("2024-02-29"))
        #expect(day("2026-01-01").adding(days: -1) == day("2025-12-31"))
        #expect(day("9999-12-31").adding(days: 1) == nil)
        #expect(day("0001-01-01").adding(days: -1) == nil)
    }

    @Test("weekday and day arithmetic agree with Foundation's Gregorian calendar")
    func weekdayMatchesFoundation() async {
        let calendar = {
            var c = Calendar(identifier: .gregorian)
            c.timeZone = utc
            return c
        }()
        await propertyCheck(
            input: Gen.int(in: 1600...2400),
            Gen.int(in: 1...12),
            Gen.int(in: 1...31),
            Gen.int(in: -800...800)
        ) {
            y,
            m,
            d,
            shift in
            guard let date = CalendarDate(year: y, month: m, day: d) else { return }
            let foundation = calendar.date(from: DateComponents(year: y, month: m, day: d))!
            // Foundation: Sunday is 1; ISO: Monday is 1.
            let foundationWeekday = calendar.component(.weekday, from: foundation)
            #expect(date.weekday.rawValue == (foundationWeekday + 5) % 7 + 1)
            let shifted = calendar.dateComponents(
                [.year, .month, .day],
                from: foundation.addingTimeInterval(Double(shift) * 86400)
            )
            #expect(
                date.adding(days: shift) == CalendarDate(year: shifted.year!, month: shifted.month!, day: shifted.day!)
            )
            #expect(date.adding(days: shift)?.adding(days: -shift) == date)
        }
    }

    @Test("local times parse strictly as HH:MM from 00:00 to 23:59")
    func localTimes() {
        #expect(LocalTime(parsing: "09:05")?.description == "09:05")
        #expect(LocalTime(parsing: "00:00")?.minutesSinceMidnight == 0)
        #expect(LocalTime(parsing: "23:59")?.minutesSinceMidnight == 1439)
        for bad in [
            "24:00", "9:00", "09:5", "09:60", "0900", "09-00", " 09:00", "09:00 ", "-1:00", "", "ab:cd", "٠٩:٠٠",
            "+9:00",
        ] {
            #expect(LocalTime(parsing: bad) == nil, "\(bad)")
        }
        #expect(LocalTime(hour: 24, minute: 0) == nil)
        #expect(LocalTime(hour: -1, minute: 0) == nil)
        #expect(LocalTime(hour: 12, minute: 60) == nil)
        #expect(time("09:00") < time("09:01"))
        #expect(time("08:59") < time("09:00"))
    }

    @Test("formatting and parsing a local time round-trips")
    func localTimeRoundTrip() async {
        await propertyCheck(input: Gen.int(in: 0...23), Gen.int(in: 0...59)) { h, m in
            let t = LocalTime(hour: h, minute: m)!
            #expect(LocalTime(parsing: t.description) == t)
            #expect(LocalTime(minutesSinceMidnight: t.minutesSinceMidnight) == t)
        }
    }

    @Test("modalities, statuses and events have stable wire names")
    func wireNames() {
        #expect(Modality.allCases.map(\.rawValue) == ["video", "audio", "in-person"])
        #expect(
            ConsultationStatus.allCases.map(\.rawValue) == [
                "booked", "checked-in", "in-progress", "ended", "documented", "cancelled", "no-show",
            ]
        )
        #expect(
            ConsultationEvent.allCases.map(\.rawValue) == [
                "check-in", "start", "end", "sign", "cancel", "no-show", "reschedule",
            ]
        )
    }

    @Test("new identifiers round-trip as strings")
    func identifiers() {
        let practice = Practice.ID()
        #expect(Practice.ID(string: practice.description) == practice)
        let consultation = Consultation.ID()
        #expect(Consultation.ID(string: consultation.description) == consultation)
        let team = CareTeam.ID()
        #expect(CareTeam.ID(string: team.description) == team)
    }
}

@Suite("availability validation")
struct AvailabilityValidationTests {
    @Test("a window must end after it starts")
    func endAfterStart() {
        #expect(throws: ValidationError.self) { try weekly(.monday, "10:00", "09:00", every: 10) }
        let error = #expect(throws: ValidationError.self) { try weekly(.monday, "09:00", "09:00", every: 10) }
        #expect(error?.code == .invalidAvailability)
        #expect(error?.field == "end")
    }

    @Test("slot lengths are 5 to 120 minutes", arguments: [0, -10, 4, 121, 600, Int.max, Int.min])
    func slotLengthBounds(_ minutes: Int) {
        let error = #expect(throws: ValidationError.self) { try weekly(.monday, "00:00", "23:59", every: minutes) }
        #expect(error?.code == .invalidAvailability)
        #expect(error?.field == "slot_minutes")
        #expect(throws: ValidationError.self) {
            try DayWindow(start: time("00:00"), end: time("23:59"), slotMinutes: minutes, modalities: [.video])
        }
    }

    @Test("a window holds at least one slot")
    func atLeastOneSlot() throws {
        let error = #expect(throws: ValidationError.self) { try weekly(.monday, "09:00", "09:25", every: 30) }
        #expect(error?.field == "slot_minutes")
        _ = try weekly(.monday, "09:00", "09:30", every: 30)
        _ = try weekly(.monday, "00:00", "23:59", every: 120)
        _ = try weekly(.monday, "09:00", "09:05", every: 5)
    }

    @Test("a window offers at least one modality")
    func modalitiesRequired() {
        let error = #expect(throws: ValidationError.self) { try weekly(.monday, "09:00", "10:00", every: 10, []) }
        #expect(error?.field == "modalities")
        #expect(throws: ValidationError.self) {
            try DayWindow(start: time("09:00"), end: time("10:00"), slotMinutes: 10, modalities: [])
        }
    }

    @Test("a validity period does not end before it starts")
    func validityOrder() throws {
        let error = #expect(throws: ValidationError.self) {
            try weekly(.monday, "09:00", "10:00", every: 10, from: "2026-04-02", until: "2026-04-01")
        }
        #expect(error?.field == "valid_until")
        _ = try weekly(.monday, "09:00", "10:00", every: 10, from: "2026-04-01", until: "2026-04-01")
    }

    @Test("weekly windows on the same day may not overlap while both are valid")
    func overlappingWeekly() throws {
        let error = #expect(throws: ValidationError.self) {
            try AvailabilityPlan(windows: [
                weekly(.monday, "09:00", "10:00", every: 10), weekly(.monday, "09:30", "11:00", every: 30),
            ])
        }
        #expect(error?.code == .overlappingAvailability)
        #expect(error?.field == "windows")
        #expect(throws: ValidationError.self) {
            try AvailabilityPlan(windows: [
                weekly(.friday, "09:00", "17:00", every: 10), weekly(.friday, "12:00", "12:30", every: 30),
            ])
        }
        // Validity periods sharing one day.
        #expect(throws: ValidationError.self) {
            try AvailabilityPlan(windows: [
                weekly(.monday, "09:00", "10:00", every: 10, until: "2026-04-06"),
                weekly(.monday, "09:00", "10:00", every: 15, from: "2026-04-06"),
            ])
        }
        // Touching windows, different days and disjoint validity periods are fine.
        _ = try AvailabilityPlan(windows: [
            weekly(.monday, "09:00", "10:00", every: 10), weekly(.monday, "10:00", "11:00", every: 30),
            weekly(.tuesday, "09:30", "10:30", every: 10),
            weekly(.wednesday, "09:00", "10:00", every: 10, until: "2026-04-07"),
            weekly(.wednesday, "09:00", "12:00", every: 20, from: "2026-04-08", until: "2026-05-01"),
            weekly(.wednesday, "09:30", "12:00", every: 20, from: "2026-05-02"),
        ])
    }

    @Test("an exception's windows may not overlap, and a date has one exception")
    func overlappingExceptions() throws {
        let morning = try DayWindow(start: time("09:00"), end: time("12:00"), slotMinutes: 15, modalities: [.audio])
        let late = try DayWindow(start: time("11:00"), end: time("13:00"), slotMinutes: 15, modalities: [.video])
        let afternoon = try DayWindow(start: time("12:00"), end: time("13:00"), slotMinutes: 15, modalities: [.video])
        let error = #expect(throws: ValidationError.self) {
            try AvailabilityException(date: day("2026-04-01"), windows: [late, morning])
        }
        #expect(error?.code == .overlappingAvailability)
        #expect(error?.field == "windows")
        #expect(throws: ValidationError.self) {
            try AvailabilityException(date: day("2026-04-01"), windows: [morning, morning])
        }
        let ok = try AvailabilityException(date: day("2026-04-01"), windows: [afternoon, morning])
        #expect(ok.windows == [morning, afternoon])

        let duplicate = #expect(throws: ValidationError.self) {
            try AvailabilityPlan(
                windows: [],
                exceptions: [ok, AvailabilityException(date: day("2026-04-01"), windows: [])]
            )
        }
        #expect(duplicate?.code == .overlappingAvailability)
        #expect(duplicate?.field == "exceptions")
    }

    @Test("plans compare equal whatever order their windows were given in")
    func normalisedOrder() throws {
        let a = try weekly(.tuesday, "09:00", "10:00", every: 10)
        let b = try weekly(.monday, "14:00", "15:00", every: 10)
        let c = try weekly(.monday, "09:00", "10:00", every: 10)
        let one = try AvailabilityPlan(windows: [a, b, c])
        #expect(one == (try AvailabilityPlan(windows: [c, a, b])))
        #expect(one.windows == [c, b, a])
    }
}

@Suite("slot generation")
struct SlotGenerationTests {
    // 2026-03-30 is a Monday.
    let monday = "2026-03-30"

    @Test("Monday 09:00-10:00 in 10-minute slots gives six slots")
    func sixSlots() throws {
        let plan = try AvailabilityPlan(windows: [weekly(.monday, "09:00", "10:00", every: 10, [.video, .audio])])
        let slots = SlotGenerator.slots(
            plan: plan,
            zone: utc,
            from: instant("2026-03-30T00:00:00Z"),
            to: instant("2026-03-31T00:00:00Z")
        )
        #expect(
            isoStarts(slots) == [
                "2026-03-30T09:00:00Z", "2026-03-30T09:10:00Z", "2026-03-30T09:20:00Z", "2026-03-30T09:30:00Z",
                "2026-03-30T09:40:00Z", "2026-03-30T09:50:00Z",
            ]
        )
        #expect(slots.allSatisfy { $0.minutes == 10 && $0.modalities == [.video, .audio] })
        #expect(slots.last?.end == instant("2026-03-30T10:00:00Z"))
    }

    @Test("a window that does not divide evenly stops at its last whole slot")
    func partialTail() throws {
        let plan = try AvailabilityPlan(windows: [weekly(.monday, "09:00", "10:00", every: 25)])
        let slots = SlotGenerator.slots(
            plan: plan,
            zone: utc,
            from: instant("2026-03-30T00:00:00Z"),
            to: instant("2026-03-31T00:00:00Z")
        )
        #expect(isoStarts(slots) == ["2026-03-30T09:00:00Z", "2026-03-30T09:25:00Z"])
    }

    @Test("only starts in [from, to) are returned")
    func halfOpenRange() throws {
        let plan = try AvailabilityPlan(windows: [weekly(.monday, "09:00", "10:00", every: 10)])
        let inside = SlotGenerator.slots(
            plan: plan,
            zone: utc,
            from: instant("2026-03-30T09:10:00Z"),
            to: instant("2026-03-30T09:40:00Z")
        )
        #expect(isoStarts(inside) == ["2026-03-30T09:10:00Z", "2026-03-30T09:20:00Z", "2026-03-30T09:30:00Z"])
        // A slot already under way at `from` is not offered.
        let midSlot = SlotGenerator.slots(
            plan: plan,
            zone: utc,
            from: instant("2026-03-30T09:05:00Z"),
            to: instant("2026-03-30T09:20:00Z")
        )
        #expect(isoStarts(midSlot) == ["2026-03-30T09:10:00Z"])
        #expect(
            SlotGenerator.slots(
                plan: plan,
                zone: utc,
                from: instant("2026-03-30T10:00:00Z"),
                to: instant("2026-03-30T09:00:00Z")
            ).isEmpty
        )
        #expect(
            SlotGenerator.slots(
                plan: plan,
                zone: utc,
                from: instant("2026-03-30T09:00:00Z"),
                to: instant("2026-03-30T09:00:00Z")
            ).isEmpty
        )
    }

    @Test("slots from several windows and days come sorted")
    func sortedAcrossWindows() throws {
        let plan = try AvailabilityPlan(windows: [
            weekly(.tuesday, "08:00", "09:00", every: 30), weekly(.monday, "14:00", "15:00", every: 30, [.inPerson]),
            weekly(.monday, "09:00", "10:00", every: 30),
        ])
        let slots = SlotGenerator.slots(
            plan: plan,
            zone: utc,
            from: instant("2026-03-30T00:00:00Z"),
            to: instant("2026-04-01T00:00:00Z")
        )
        #expect(
            isoStarts(slots) == [
                "2026-03-30T09:00:00Z", "2026-03-30T09:30:00Z", "2026-03-30T14:00:00Z", "2026-03-30T14:30:00Z",
                "2026-03-31T08:00:00Z", "2026-03-31T08:30:00Z",
            ]
        )
        #expect(slots == slots.sorted())
        #expect(slots[2].modalities == [.inPerson])
    }

    @Test("an exception replaces the day's weekly windows")
    func exceptionReplaces() throws {
        let afternoon = try DayWindow(start: time("14:00"), end: time("15:00"), slotMinutes: 30, modalities: [.audio])
        let plan = try AvailabilityPlan(
            windows: [weekly(.monday, "09:00", "10:00", every: 30)],
            exceptions: [AvailabilityException(date: day(monday), windows: [afternoon])]
        )
        let slots = SlotGenerator.slots(
            plan: plan,
            zone: utc,
            from: instant("2026-03-30T00:00:00Z"),
            to: instant("2026-04-07T00:00:00Z")
        )
        #expect(
            isoStarts(slots) == [
                "2026-03-30T14:00:00Z", "2026-03-30T14:30:00Z",  // the exception
                "2026-04-06T09:00:00Z", "2026-04-06T09:30:00Z",  // the next Monday is back to normal
            ]
        )
        #expect(slots[0].modalities == [.audio])
    }

    @Test("an exception can add availability on a day without weekly windows")
    func exceptionAdds() throws {
        let saturday = try DayWindow(start: time("10:00"), end: time("11:00"), slotMinutes: 60, modalities: [.video])
        let plan = try AvailabilityPlan(
            windows: [weekly(.monday, "09:00", "10:00", every: 30)],
            exceptions: [AvailabilityException(date: day("2026-04-04"), windows: [saturday])]
        )
        let slots = SlotGenerator.slots(
            plan: plan,
            zone: utc,
            from: instant("2026-04-01T00:00:00Z"),
            to: instant("2026-04-06T00:00:00Z")
        )
        #expect(isoStarts(slots) == ["2026-04-04T10:00:00Z"])
    }

    @Test("an empty exception and a holiday remove the day; a holiday beats an exception")
    func emptyExceptionAndHoliday() throws {
        let window = try weekly(.monday, "09:00", "10:00", every: 30)
        let range = (instant("2026-03-30T00:00:00Z"), instant("2026-04-14T00:00:00Z"))
        let extra = try DayWindow(start: time("11:00"), end: time("12:00"), slotMinutes: 30, modalities: [.video])
        let plan = try AvailabilityPlan(
            windows: [window],
            exceptions: [
                AvailabilityException(date: day(monday), windows: []),
                AvailabilityException(date: day("2026-04-06"), windows: [extra]),
            ],
            holidays: [day("2026-04-06")]
        )
        let slots = SlotGenerator.slots(plan: plan, zone: utc, from: range.0, to: range.1)
        #expect(isoStarts(slots) == ["2026-04-13T09:00:00Z", "2026-04-13T09:30:00Z"])
    }

    @Test("validity periods are honoured, both ends inclusive")
    func validity() throws {
        let plan = try AvailabilityPlan(windows: [
            weekly(.monday, "09:00", "09:30", every: 30, from: "2026-04-06", until: "2026-04-13"),
            weekly(.monday, "10:00", "10:30", every: 30, until: "2026-03-30"),
        ])
        let slots = SlotGenerator.slots(
            plan: plan,
            zone: utc,
            from: instant("2026-03-23T00:00:00Z"),
            to: instant("2026-04-28T00:00:00Z")
        )
        #expect(
            isoStarts(slots) == [
                "2026-03-23T10:00:00Z", "2026-03-30T10:00:00Z", "2026-04-06T09:00:00Z", "2026-04-13T09:00:00Z",
            ]
        )
    }

    @Test("windows are read on the practice's wall clock")
    func zoneWallClock() throws {
        let plan = try AvailabilityPlan(windows: [weekly(.monday, "09:00", "09:30", every: 30)])
        let singapore = SlotGenerator.slots(
            plan: plan,
            zone: zone("Asia/Singapore"),
            from: instant("2026-03-29T00:00:00Z"),
            to: instant("2026-03-31T00:00:00Z")
        )
        #expect(isoStarts(singapore) == ["2026-03-30T01:00:00Z"])
        // Monday 09:00 in Toronto is Monday 13:00 UTC; a range ending before it finds nothing.
        let toronto = zone("America/Toronto")
        #expect(
            isoStarts(
                SlotGenerator.slots(
                    plan: plan,
                    zone: toronto,
                    from: instant("2026-03-30T00:00:00Z"),
                    to: instant("2026-03-31T00:00:00Z")
                )
            )
                == ["2026-03-30T13:00:00Z"]
        )
        #expect(
            SlotGenerator.slots(
                plan: plan,
                zone: toronto,
                from: instant("2026-03-30T00:00:00Z"),
                to: instant("2026-03-30T13:00:00Z")
            ).isEmpty
        )
    }

    @Test("offers finds exactly the offered slots with the right modality")
    func offers() throws {
        let plan = try AvailabilityPlan(
            windows: [weekly(.monday, "09:00", "10:00", every: 20, [.video, .inPerson])],
            holidays: [day("2026-04-06")]
        )
        let slot = SlotGenerator.offers(plan: plan, zone: utc, start: instant("2026-03-30T09:20:00Z"), modality: .video)
        #expect(
            slot
                == Slot(
                    start: instant("2026-03-30T09:20:00Z"),
                    end: instant("2026-03-30T09:40:00Z"),
                    modalities: [.video, .inPerson]
                )
        )
        #expect(
            SlotGenerator.offers(plan: plan, zone: utc, start: instant("2026-03-30T09:20:00Z"), modality: .audio) == nil
        )
        #expect(
            SlotGenerator.offers(plan: plan, zone: utc, start: instant("2026-03-30T09:10:00Z"), modality: .video) == nil
        )
        #expect(
            SlotGenerator.offers(plan: plan, zone: utc, start: instant("2026-03-30T10:00:00Z"), modality: .video) == nil
        )
        #expect(
            SlotGenerator.offers(plan: plan, zone: utc, start: instant("2026-03-31T09:20:00Z"), modality: .video) == nil
        )
        #expect(
            SlotGenerator.offers(plan: plan, zone: utc, start: instant("2026-04-06T09:20:00Z"), modality: .video) == nil
        )
        #expect(
            SlotGenerator.offers(plan: plan, zone: utc, start: instant("2026-04-13T09:40:00Z"), modality: .inPerson)
                != nil
        )
    }

    @Test("120 days of five-minute slots are generated quickly")
    func performance() throws {
        let plan = try AvailabilityPlan(
            windows: Weekday.allCases.flatMap { d in
                [try weekly(d, "07:00", "12:00", every: 5), try weekly(d, "13:00", "20:00", every: 5, [.audio])]
            },
            exceptions: [AvailabilityException(date: day("2026-05-01"), windows: [])],
            holidays: [day("2026-12-25")]
        )
        let london = zone("Europe/London")
        let clock = ContinuousClock()
        var count = 0
        let elapsed = clock.measure {
            count =
                SlotGenerator.slots(
                    plan: plan,
                    zone: london,
                    from: instant("2026-02-01T00:00:00Z"),
                    to: instant("2026-06-01T00:00:00Z")
                ).count
        }
        // 120 days, 144 slots a day, less the exception day.
        #expect(count == 119 * 144)
        // About 3 ms in a release build and 10 ms in a debug build; the bound leaves room for a busy CI box.
        #expect(elapsed < .milliseconds(250), "took \(elapsed)")
    }

    @Test("over absurd ranges the generator stops at the maximum range")
    func boundedRange() throws {
        let plan = try AvailabilityPlan(windows: [weekly(.monday, "09:00", "10:00", every: 60)])
        let slots = SlotGenerator.slots(
            plan: plan,
            zone: utc,
            from: instant("2026-01-01T00:00:00Z"),
            to: .distantFuture
        )
        // 366 days from 2026-01-01 hold the 52 Mondays of 2026.
        #expect(slots.count == 52)
        #expect(SlotGenerator.slots(plan: plan, zone: utc, from: .distantPast, to: .distantFuture).count <= 53)
    }

    @Test("generated slots are sorted, disjoint, inside their windows and all offered")
    func generatedSlotsProperty() async throws {
        let zones = [
            "Europe/London", "America/New_York", "America/Toronto", "Asia/Singapore", "Australia/Lord_Howe", "UTC",
        ]
        let lengths = [5, 10, 15, 20, 25, 30, 45, 60, 90, 120]
        await propertyCheck(
            count: 60,
            input: Gen.int(in: 0...(zones.count - 1)),
            Gen.int(in: 0...(lengths.count - 1)),
            Gen.int(in: 0...(23 * 60)),
            Gen.int(in: 1...(24 * 60)),
            Gen.int(in: 0...400)
        ) { zoneIndex, lengthIndex, startMinute, span, dayOffset in
            let z = zone(zones[zoneIndex])
            let length = lengths[lengthIndex]
            let endMinute = min(startMinute + max(span, length), 1439)
            guard endMinute - startMinute >= length else { return }
            let start = LocalTime(minutesSinceMidnight: startMinute)!
            let end = LocalTime(minutesSinceMidnight: endMinute)!
            var windows: [WeeklyWindow] = []
            for d in Weekday.allCases {
                windows.append(
                    try WeeklyWindow(weekday: d, start: start, end: end, slotMinutes: length, modalities: [.video])
                )
            }
            let plan = try AvailabilityPlan(windows: windows)
            let from = instant("2025-12-01T00:00:00Z").addingTimeInterval(Double(dayOffset) * 86400)
            let to = from.addingTimeInterval(9 * 86400)
            let slots = SlotGenerator.slots(plan: plan, zone: z, from: from, to: to)
            #expect(sortedAndDisjoint(slots))
            // Nine days of 24 hours hold at least eight whole local days; a DST change loses at most
            // the slots of one hour plus the one dropped for overlapping.
            let perDay = (endMinute - startMinute) / length
            #expect(slots.count >= 8 * perDay - (60 / length + 2))
            #expect(slots.count <= 10 * perDay)
            for slot in slots {
                #expect(slot.start >= from && slot.start < to)
                #expect(slot.minutes == length)
                let wall = ZonedFormat.localTime(slot.start, in: z)
                #expect(wall >= start)
                #expect(wall.minutesSinceMidnight + length <= endMinute)
                #expect((wall.minutesSinceMidnight - startMinute) % length == 0)
                #expect(SlotGenerator.offers(plan: plan, zone: z, start: slot.start, modality: .video) == slot)
            }
        }
    }
}
