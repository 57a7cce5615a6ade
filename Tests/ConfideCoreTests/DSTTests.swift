import ConfideCore
import Foundation
import PropertyBased
import Testing

/// Daylight-saving behaviour, with expected instants worked out by hand:
/// - Europe/London: GMT (+00) to BST (+01) at 01:00 GMT on 2026-03-29 (01:00-01:59 does not exist);
///   back at 02:00 BST on 2026-10-25 (01:00-01:59 happens twice, first BST then GMT).
/// - America/Toronto and America/New_York: EST (-05) to EDT (-04) at 02:00 on 2026-03-08 (02:00-02:59 does
///   not exist); back at 02:00 EDT on 2026-11-01 (01:00-01:59 happens twice).
/// - Asia/Singapore: +08 all year.
/// All four dates are Sundays.
@Suite("daylight saving time")
struct DSTTests {
    /// Sunday 00:30-03:30 local in 30-minute slots, over the transition.
    func overnight(_ zoneID: String, on date: String) throws -> [Slot] {
        let plan = try AvailabilityPlan(windows: [weekly(.sunday, "00:30", "03:30", every: 30)])
        let z = zone(zoneID)
        let midnight = ZonedFormat.instant(day(date), time("00:00"), in: z)!
        return SlotGenerator.slots(
            plan: plan,
            zone: z,
            from: midnight.addingTimeInterval(-86400),
            to: midnight.addingTimeInterval(2 * 86400)
        )
    }

    /// The UTC start of the 09:00 Sunday slot on `date`.
    func nineOClock(_ zoneID: String, on date: String) throws -> String? {
        let plan = try AvailabilityPlan(windows: [weekly(.sunday, "09:00", "09:30", every: 30)])
        let z = zone(zoneID)
        let noonUTC = instant(date + "T12:00:00Z")
        let slots = SlotGenerator.slots(
            plan: plan,
            zone: z,
            from: noonUTC.addingTimeInterval(-86400),
            to: noonUTC.addingTimeInterval(86400)
        )
        #expect(slots.count == 1)
        #expect(slots.allSatisfy { ZonedFormat.localTime($0.start, in: z) == time("09:00") })
        #expect(slots.allSatisfy { ZonedFormat.localDate($0.start, in: z) == day(date) })
        return isoStarts(slots).first
    }

    // MARK: Europe/London

    @Test("London spring forward: no slot in the missing hour, no overlap")
    func londonSpring() throws {
        let slots = try overnight("Europe/London", on: "2026-03-29")
        // 00:30 GMT; 01:00 and 01:30 do not exist; 02:00, 02:30, 03:00 BST.
        #expect(
            isoStarts(slots) == [
                "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-29T02:00:00Z",
            ]
        )
        #expect(sortedAndDisjoint(slots))
        #expect(slots.allSatisfy { $0.minutes == 30 })
        let wall = slots.map { ZonedFormat.localTime($0.start, in: zone("Europe/London")).description }
        #expect(wall == ["00:30", "02:00", "02:30", "03:00"])
    }

    @Test("London fall back: the repeated hour is offered once, at its first (BST) occurrence")
    func londonAutumn() throws {
        let slots = try overnight("Europe/London", on: "2026-10-25")
        // 00:30, 01:00, 01:30 BST (= 23:30, 00:00, 00:30 UTC); the GMT repeat of 01:00-01:59 is skipped;
        // 02:00, 02:30, 03:00 GMT.
        #expect(
            isoStarts(slots) == [
                "2026-10-24T23:30:00Z", "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z",
                "2026-10-25T02:30:00Z", "2026-10-25T03:00:00Z",
            ]
        )
        #expect(sortedAndDisjoint(slots))
    }

    @Test("London: a 09:00 slot stays 09:00 local across both changes")
    func londonNine() throws {
        #expect(try nineOClock("Europe/London", on: "2026-03-22") == "2026-03-22T09:00:00Z")
        #expect(try nineOClock("Europe/London", on: "2026-03-29") == "2026-03-29T08:00:00Z")
        #expect(try nineOClock("Europe/London", on: "2026-10-18") == "2026-10-18T08:00:00Z")
        #expect(try nineOClock("Europe/London", on: "2026-10-25") == "2026-10-25T09:00:00Z")
    }

    @Test("London spring forward with 45-minute slots drops the slot that would overlap")
    func londonOverlapDropped() throws {
        let plan = try AvailabilityPlan(windows: [weekly(.sunday, "00:00", "03:00", every: 45)])
        let slots = SlotGenerator.slots(
            plan: plan,
            zone: zone("Europe/London"),
            from: instant("2026-03-28T12:00:00Z"),
            to: instant("2026-03-29T12:00:00Z")
        )
        // 00:00 and 00:45 GMT; 01:30 does not exist; 02:15 BST is 01:15 UTC, inside the 00:45 slot.
        #expect(isoStarts(slots) == ["2026-03-29T00:00:00Z", "2026-03-29T00:45:00Z"])
        #expect(sortedAndDisjoint(slots))
        #expect(
            SlotGenerator.offers(
                plan: plan,
                zone: zone("Europe/London"),
                start: instant("2026-03-29T01:15:00Z"),
                modality: .video
            )
                == nil
        )
    }

    // MARK: North America

    @Test(
        "Toronto and New York spring forward: 02:00-02:59 does not exist",
        arguments: ["America/Toronto", "America/New_York"]
    )
    func americaSpring(_ zoneID: String) throws {
        let slots = try overnight(zoneID, on: "2026-03-08")
        // 00:30, 01:00, 01:30 EST (UTC-5); 02:00 and 02:30 do not exist; 03:00 EDT (UTC-4).
        #expect(
            isoStarts(slots) == [
                "2026-03-08T05:30:00Z", "2026-03-08T06:00:00Z", "2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z",
            ]
        )
        #expect(sortedAndDisjoint(slots))
    }

    @Test(
        "Toronto and New York fall back: 01:00-01:59 is offered once, in EDT",
        arguments: ["America/Toronto", "America/New_York"]
    )
    func americaAutumn(_ zoneID: String) throws {
        let slots = try overnight(zoneID, on: "2026-11-01")
        // 00:30, 01:00, 01:30 EDT (UTC-4); the EST repeat is skipped; 02:00, 02:30, 03:00 EST (UTC-5).
        #expect(
            isoStarts(slots) == [
                "2026-11-01T04:30:00Z", "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z",
                "2026-11-01T07:30:00Z", "2026-11-01T08:00:00Z",
            ]
        )
        #expect(sortedAndDisjoint(slots))
    }

    @Test("Toronto and New York: a 09:00 slot stays 09:00 local", arguments: ["America/Toronto", "America/New_York"])
    func americaNine(_ zoneID: String) throws {
        #expect(try nineOClock(zoneID, on: "2026-03-01") == "2026-03-01T14:00:00Z")
        #expect(try nineOClock(zoneID, on: "2026-03-08") == "2026-03-08T13:00:00Z")
        #expect(try nineOClock(zoneID, on: "2026-10-25") == "2026-10-25T13:00:00Z")
        #expect(try nineOClock(zoneID, on: "2026-11-01") == "2026-11-01T14:00:00Z")
    }

    // MARK: Singapore

    @Test(
        "Singapore has no DST: the same night on the same dates is six evenly spaced slots at +08:00",
        arguments: ["2026-03-08", "2026-03-29", "2026-10-25", "2026-11-01"]
    )
    func singapore(_ date: String) throws {
        let slots = try overnight("Asia/Singapore", on: date)
        let first = ZonedFormat.instant(day(date), time("00:30"), in: zone("Asia/Singapore"))!
        // 00:30 +08 is 16:30 UTC the day before.
        let previous = day(date).adding(days: -1)!
        #expect(first == instant("\(previous)T16:30:00Z"))
        #expect(slots.map(\.start) == (0..<6).map { first.addingTimeInterval(Double($0) * 1800) })
        #expect(try nineOClock("Asia/Singapore", on: date) == "\(date)T01:00:00Z")
    }

    // MARK: Conversions

    @Test("instant: nil in a gap, the first occurrence in a repeat")
    func instants() {
        let london = zone("Europe/London")
        #expect(ZonedFormat.instant(day("2026-03-29"), time("00:59"), in: london) == instant("2026-03-29T00:59:00Z"))
        #expect(ZonedFormat.instant(day("2026-03-29"), time("01:00"), in: london) == nil)
        #expect(ZonedFormat.instant(day("2026-03-29"), time("01:59"), in: london) == nil)
        #expect(ZonedFormat.instant(day("2026-03-29"), time("02:00"), in: london) == instant("2026-03-29T01:00:00Z"))
        #expect(ZonedFormat.instant(day("2026-10-25"), time("01:30"), in: london) == instant("2026-10-25T00:30:00Z"))
        #expect(ZonedFormat.instant(day("2026-10-25"), time("02:00"), in: london) == instant("2026-10-25T02:00:00Z"))
        let newYork = zone("America/New_York")
        #expect(ZonedFormat.instant(day("2026-03-08"), time("02:30"), in: newYork) == nil)
        #expect(ZonedFormat.instant(day("2026-11-01"), time("01:30"), in: newYork) == instant("2026-11-01T05:30:00Z"))
        #expect(
            ZonedFormat.instant(day("2026-07-01"), time("12:00"), in: zone("Asia/Singapore"))
                == instant("2026-07-01T04:00:00Z")
        )
    }

    @Test("localDate and localTime read the zone's wall clock, including the repeated hour")
    func localReadings() {
        let london = zone("Europe/London")
        #expect(ZonedFormat.localTime(instant("2026-10-25T00:30:00Z"), in: london) == time("01:30"))
        #expect(ZonedFormat.localTime(instant("2026-10-25T01:30:00Z"), in: london) == time("01:30"))
        #expect(ZonedFormat.localTime(instant("2026-03-29T01:00:00Z"), in: london) == time("02:00"))
        #expect(ZonedFormat.localTime(instant("2026-03-29T00:59:59Z"), in: london) == time("00:59"))
        #expect(ZonedFormat.localDate(instant("2026-10-24T23:30:00Z"), in: london) == day("2026-10-25"))
        #expect(ZonedFormat.localDate(instant("2026-03-07T16:30:00Z"), in: zone("Asia/Singapore")) == day("2026-03-08"))
        #expect(
            ZonedFormat.localDate(instant("2026-03-08T04:59:00Z"), in: zone("America/Toronto")) == day("2026-03-07")
        )
        #expect(ZonedFormat.localDate(instant("1969-12-31T23:59:59Z"), in: utc) == day("1969-12-31"))
        #expect(ZonedFormat.localTime(instant("1969-12-31T23:59:59Z"), in: utc) == time("23:59"))
    }

    @Test("instant and the local readings round-trip, except in the second of a repeated hour")
    func roundTrip() async {
        let zones = [
            "Europe/London", "America/New_York", "America/Toronto", "Asia/Singapore", "Australia/Lord_Howe",
            "Asia/Kolkata", "America/St_Johns",
        ]
        let start = instant("2025-01-01T00:00:00Z")
        await propertyCheck(count: 300, input: Gen.int(in: 0...(zones.count - 1)), Gen.int(in: 0...(3 * 366 * 24 * 60)))
        {
            index,
            minute in
            let z = zone(zones[index])
            let date = start.addingTimeInterval(Double(minute) * 60)
            guard
                let back = ZonedFormat.instant(
                    ZonedFormat.localDate(date, in: z),
                    ZonedFormat.localTime(date, in: z),
                    in: z
                )
            else {
                Issue.record("a wall-clock time that was read cannot be missing")
                return
            }
            // Equal, or the first occurrence of a repeated wall-clock time, at most an hour earlier.
            let difference = date.timeIntervalSince(back)
            #expect(difference == 0 || difference == 1800 || difference == 3600)
        }
    }

    // MARK: Display

    @Test("display shows the local date and time and the zone's abbreviation or offset")
    func display() {
        // Foundation on Linux gives "GMT+1"-style abbreviations; Darwin may give "BST". Both are fine.
        func check(_ iso: String, _ zoneID: String, _ prefix: String, _ suffixes: Set<String>) {
            let shown = ZonedFormat.display(instant(iso), in: zone(zoneID))
            #expect(shown.hasPrefix(prefix + " "), "\(shown)")
            #expect(suffixes.contains(String(shown.dropFirst(prefix.count + 1))), "\(shown)")
        }
        check("2026-03-30T08:00:00Z", "Europe/London", "Mon 30 Mar 2026, 09:00", ["BST", "GMT+1"])
        check("2026-03-22T09:00:00Z", "Europe/London", "Sun 22 Mar 2026, 09:00", ["GMT"])
        check("2026-10-25T00:30:00Z", "Europe/London", "Sun 25 Oct 2026, 01:30", ["BST", "GMT+1"])
        check("2026-10-25T01:30:00Z", "Europe/London", "Sun 25 Oct 2026, 01:30", ["GMT"])
        check("2026-03-08T13:00:00Z", "America/New_York", "Sun 8 Mar 2026, 09:00", ["EDT", "GMT-4"])
        check("2026-11-01T14:00:00Z", "America/Toronto", "Sun 1 Nov 2026, 09:00", ["EST", "GMT-5"])
        check("2026-03-07T16:30:00Z", "Asia/Singapore", "Sun 8 Mar 2026, 00:30", ["SGT", "GMT+8", "+08"])
        check("2026-01-05T03:30:00Z", "Asia/Kolkata", "Mon 5 Jan 2026, 09:00", ["IST", "GMT+5:30", "+0530"])
        check("2026-12-31T23:59:00Z", "UTC", "Thu 31 Dec 2026, 23:59", ["GMT", "UTC"])
    }

    @Test("display does not depend on the process locale: only ASCII, fixed English names")
    func displayIsASCII() {
        let shown = ZonedFormat.display(instant("2026-05-06T07:08:00Z"), in: zone("Europe/Berlin"))
        #expect(shown.hasPrefix("Wed 6 May 2026, 09:08 "))
        #expect(shown.unicodeScalars.allSatisfy { $0.isASCII })
    }
}
