public import ConfideCore

/// The JSON shape of an availability plan, as stored and as the API takes it:
/// `{"weekly": [{"weekday": "monday", "start": "09:00", "end": "12:00", "slot_minutes": 10,
/// "modalities": ["video", "audio"], "valid_from": "2026-12-01", "valid_until": null}],
/// "exceptions": [{"date": "2026-12-24", "windows": []}]}`. Practice holidays are kept apart.
public struct AvailabilityDocument: Codable, Sendable, Hashable {
    public struct Window: Codable, Sendable, Hashable {
        public var weekday: String?
        public var start: String
        public var end: String
        public var slot_minutes: Int
        public var modalities: [String]
        public var valid_from: String?
        public var valid_until: String?

        public init(
            weekday: String?, start: String, end: String, slot_minutes: Int, modalities: [String], valid_from: String?, valid_until: String?
        ) {
            self.weekday = weekday
            self.start = start
            self.end = end
            self.slot_minutes = slot_minutes
            self.modalities = modalities
            self.valid_from = valid_from
            self.valid_until = valid_until
        }
    }

    public struct Exception: Codable, Sendable, Hashable {
        public var date: String
        public var windows: [Window]

        public init(date: String, windows: [Window]) {
            self.date = date
            self.windows = windows
        }
    }

    public var weekly: [Window]
    public var exceptions: [Exception]?

    public init(weekly: [Window], exceptions: [Exception]?) {
        self.weekly = weekly
        self.exceptions = exceptions
    }

    /// The document of a plan (holidays are not part of it).
    public init(_ plan: AvailabilityPlan) {
        weekly = plan.windows.map { w in
            Window(
                weekday: w.weekday.name, start: w.start.description, end: w.end.description, slot_minutes: w.slotMinutes,
                modalities: w.modalities.map(\.rawValue).sorted(), valid_from: w.validFrom?.description, valid_until: w.validUntil?.description)
        }
        exceptions = plan.exceptions.map { e in
            Exception(
                date: e.date.description,
                windows: e.windows.map { d in
                    Window(
                        weekday: nil, start: d.start.description, end: d.end.description, slot_minutes: d.slotMinutes,
                        modalities: d.modalities.map(\.rawValue).sorted(), valid_from: nil, valid_until: nil)
                })
        }
    }

    /// Validates the document into a plan.
    /// - Throws: `ValidationError` naming the field at fault.
    public func plan(holidays: Set<CalendarDate>) throws(ValidationError) -> AvailabilityPlan {
        guard weekly.count <= 100, (exceptions?.count ?? 0) <= 400 else {
            throw ValidationError(.invalidValue, field: "weekly", message: "a plan has at most 100 weekly windows and 400 exceptions")
        }
        var windows: [WeeklyWindow] = []
        for w in weekly {
            guard let name = w.weekday, let day = Weekday(name: name) else {
                throw ValidationError(.invalidValue, field: "weekday", message: "choose a weekday, monday to sunday")
            }
            windows.append(
                try WeeklyWindow(
                    weekday: day, start: try Self.time(w.start, "start"), end: try Self.time(w.end, "end"), slotMinutes: w.slot_minutes,
                    modalities: try Self.modalities(w.modalities), validFrom: try Self.date(w.valid_from, "valid_from"),
                    validUntil: try Self.date(w.valid_until, "valid_until")))
        }
        var exceptionList: [AvailabilityException] = []
        for e in exceptions ?? [] {
            guard let date = CalendarDate(iso8601: e.date) else {
                throw ValidationError(.invalidValue, field: "date", message: "enter the date as YYYY-MM-DD")
            }
            var days: [DayWindow] = []
            for d in e.windows {
                days.append(
                    try DayWindow(
                        start: try Self.time(d.start, "start"), end: try Self.time(d.end, "end"), slotMinutes: d.slot_minutes,
                        modalities: try Self.modalities(d.modalities)))
            }
            exceptionList.append(try AvailabilityException(date: date, windows: days))
        }
        return try AvailabilityPlan(windows: windows, exceptions: exceptionList, holidays: holidays)
    }

    static func time(_ raw: String, _ field: String) throws(ValidationError) -> LocalTime {
        guard let t = LocalTime(parsing: raw) else { throw ValidationError(.invalidValue, field: field, message: "enter a time as HH:MM") }
        return t
    }

    static func date(_ raw: String?, _ field: String) throws(ValidationError) -> CalendarDate? {
        guard let raw else { return nil }
        guard let d = CalendarDate(iso8601: raw) else { throw ValidationError(.invalidValue, field: field, message: "enter the date as YYYY-MM-DD") }
        return d
    }

    static func modalities(_ raw: [String]) throws(ValidationError) -> Set<Modality> {
        var out = Set<Modality>()
        for r in raw {
            guard let m = Modality(rawValue: r) else {
                throw ValidationError(.invalidValue, field: "modalities", message: "choose from video, audio, in-person")
            }
            out.insert(m)
        }
        return out
    }
}
