/// Where a consultation is in its life.
public enum ConsultationStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Booked into a slot.
    case booked
    /// The patient is in the waiting room.
    case checkedIn = "checked-in"
    /// The clinician has started the call or visit.
    case inProgress = "in-progress"
    /// Finished; the notes are not signed yet.
    case ended
    /// The clinician has signed the notes.
    case documented
    /// Cancelled before it started.
    case cancelled
    /// The patient did not attend.
    case noShow = "no-show"

    /// Nothing follows: documented, cancelled or no-show.
    public var isTerminal: Bool {
        switch self {
        case .documented, .cancelled, .noShow: true
        case .booked, .checkedIn, .inProgress, .ended: false
        }
    }

    /// Whether it still holds its slot (booked, checked in or in progress).
    public var isActiveBooking: Bool {
        switch self {
        case .booked, .checkedIn, .inProgress: true
        case .ended, .documented, .cancelled, .noShow: false
        }
    }
}

/// Something that happens to a consultation.
public enum ConsultationEvent: String, Sendable, Hashable, Codable, CaseIterable {
    /// The patient arrives in the waiting room.
    case checkIn = "check-in"
    /// The consultation begins.
    case start
    /// The consultation finishes.
    case end
    /// The clinician signs the notes.
    case sign
    /// The booking is called off.
    case cancel
    /// The patient did not attend.
    case markNoShow = "no-show"
    /// The booking moves to another slot (the status stays `booked`).
    case reschedule
}

/// Who triggers a lifecycle event.
public enum LifecycleActor: String, Sendable, Hashable, Codable, CaseIterable {
    case patient
    case clinician
    /// The server itself, e.g. a timer marking a no-show.
    case system
}

/// A refused lifecycle event. Its message names the step, never a person or a time.
public struct LifecycleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Why the event was refused.
    public enum Reason: String, Sendable {
        /// The event makes no sense in the current status.
        case notAllowedNow = "not-allowed-now"
        /// The event is possible now, but not by this actor.
        case notYourStep = "not-your-step"
    }

    /// Why.
    public let reason: Reason
    /// The status the consultation was in.
    public let from: ConsultationStatus
    /// The refused event.
    public let event: ConsultationEvent

    /// Creates an error.
    public init(reason: Reason, from: ConsultationStatus, event: ConsultationEvent) {
        self.reason = reason
        self.from = from
        self.event = event
    }

    /// A readable explanation, e.g. "a consultation that has not started cannot be ended".
    public var message: String {
        switch reason {
        case .notAllowedNow:
            return "a consultation that \(Self.state(from)) cannot be \(Self.pastParticiple(event))"
        case .notYourStep:
            let allowed = ConsultationLifecycle.transitions.first { $0.from == from && $0.event == event }?.actors ?? []
            let names = LifecycleActor.allCases.filter(allowed.contains).map {
                $0 == .system ? "the system" : "the \($0.rawValue)"
            }
            guard let last = names.last else { return "this step is not yours to take" }
            let who = names.count == 1 ? last : names.dropLast().joined(separator: ", ") + " or " + last
            return "only \(who) can \(Self.verb(event)) this consultation"
        }
    }

    public var description: String { message }

    private static func state(_ s: ConsultationStatus) -> String {
        switch s {
        case .booked, .checkedIn: "has not started"
        case .inProgress: "is in progress"
        case .ended: "has ended"
        case .documented: "is documented"
        case .cancelled: "was cancelled"
        case .noShow: "was a no-show"
        }
    }

    private static func pastParticiple(_ e: ConsultationEvent) -> String {
        switch e {
        case .checkIn: "checked in"
        case .start: "started"
        case .end: "ended"
        case .sign: "signed"
        case .cancel: "cancelled"
        case .markNoShow: "marked as a no-show"
        case .reschedule: "rescheduled"
        }
    }

    private static func verb(_ e: ConsultationEvent) -> String {
        switch e {
        case .checkIn: "check in to"
        case .start: "start"
        case .end: "end"
        case .sign: "sign"
        case .cancel: "cancel"
        case .markNoShow: "mark as a no-show"
        case .reschedule: "reschedule"
        }
    }
}

/// The consultation lifecycle as a pure state machine: a table of allowed transitions and who may
/// trigger each.
///
/// ```
/// booked ──check-in [patient]──────────────▶ checked-in
/// booked, checked-in ──start [clinician, system]──▶ in-progress ──end [clinician, system]──▶ ended
/// ended ──sign [clinician]──▶ documented
/// booked, checked-in ──cancel [patient, clinician]──▶ cancelled
/// booked, checked-in ──no-show [clinician, system]──▶ no-show
/// booked ──reschedule [patient, clinician]──▶ booked
/// ```
/// Nothing leaves documented, cancelled or no-show.
public enum ConsultationLifecycle {
    /// One row of the table: in `from`, `event` by one of `actors` leads to `to`.
    public struct Transition: Hashable, Sendable {
        /// The status before.
        public let from: ConsultationStatus
        /// What happens.
        public let event: ConsultationEvent
        /// The status after.
        public let to: ConsultationStatus
        /// Who may trigger it.
        public let actors: Set<LifecycleActor>

        /// Creates a row.
        public init(
            from: ConsultationStatus,
            event: ConsultationEvent,
            to: ConsultationStatus,
            actors: Set<LifecycleActor>
        ) {
            self.from = from
            self.event = event
            self.to = to
            self.actors = actors
        }
    }

    /// The allowed transitions, as data; at most one row per (from, event).
    public static let transitions: [Transition] = [
        Transition(from: .booked, event: .checkIn, to: .checkedIn, actors: [.patient]),
        Transition(from: .booked, event: .start, to: .inProgress, actors: [.clinician, .system]),
        Transition(from: .checkedIn, event: .start, to: .inProgress, actors: [.clinician, .system]),
        Transition(from: .inProgress, event: .end, to: .ended, actors: [.clinician, .system]),
        Transition(from: .ended, event: .sign, to: .documented, actors: [.clinician]),
        Transition(from: .booked, event: .cancel, to: .cancelled, actors: [.patient, .clinician]),
        Transition(from: .checkedIn, event: .cancel, to: .cancelled, actors: [.patient, .clinician]),
        Transition(from: .booked, event: .markNoShow, to: .noShow, actors: [.clinician, .system]),
        Transition(from: .checkedIn, event: .markNoShow, to: .noShow, actors: [.clinician, .system]),
        Transition(from: .booked, event: .reschedule, to: .booked, actors: [.patient, .clinician]),
    ]

    /// The status after `event` by `actor` in status `from`.
    ///
    /// Fails with `notAllowedNow` when the table has no row for (from, event), and with `notYourStep`
    /// when it has one but `actor` is not among its actors.
    public static func next(
        from: ConsultationStatus,
        on event: ConsultationEvent,
        by actor: LifecycleActor
    )
        -> Result<ConsultationStatus, LifecycleError>
    {
        guard let row = transitions.first(where: { $0.from == from && $0.event == event }) else {
            return .failure(LifecycleError(reason: .notAllowedNow, from: from, event: event))
        }
        guard row.actors.contains(actor) else {
            return .failure(LifecycleError(reason: .notYourStep, from: from, event: event))
        }
        return .success(row.to)
    }

    /// The events `actor` may trigger in status `from`, in table order.
    public static func allowedEvents(from: ConsultationStatus, by actor: LifecycleActor) -> [ConsultationEvent] {
        transitions.filter { $0.from == from && $0.actors.contains(actor) }.map(\.event)
    }
}
