public import ConfideCore

/// Why a clinic operation failed. A policy denial is never one of these: the gate throws
/// `AccessDenied`, which every entry point answers exactly like "not found".
public struct ClinicError: Error, Hashable, Sendable {
    public enum Code: String, Sendable, Hashable {
        /// The thing named does not exist (or is not visible to the caller).
        case notFound = "not-found"
        /// The slot is not one the clinician offers, or it is in the past.
        case slotUnavailable = "slot-unavailable"
        /// Someone else booked the slot first.
        case slotTaken = "slot-taken"
        /// The consultation cannot make this step now (see `message`).
        case transitionNotAllowed = "transition-not-allowed"
        /// The step is outside its time window (checking in too early, a no-show before the start).
        case outsideWindow = "outside-window"
        /// Something changed meanwhile; reload and try again.
        case conflict
        /// A signed note changes only by an amendment with a reason.
        case amendmentRequired = "amendment-required"
        /// Notes can be written once the consultation has started.
        case notesNotOpen = "notes-not-open"
        /// The patient holds the most upcoming appointments allowed.
        case tooManyBookings = "too-many-bookings"
        /// A rate-limited operation was used too often; wait and try again (HTTP 429).
        case tooManyRequests = "too-many-requests"
        /// The patient must register with a practice first.
        case practiceRequired = "practice-required"
        /// The account named cannot take this role (e.g. a patient as a practice's clinician).
        case wrongAccountKind = "wrong-account-kind"
        /// The medicine matches a recorded allergy; prescribe only with an explicit acknowledgement.
        case allergyWarning = "allergy-warning"
        /// An answer to a question the symptom checker did not ask (or no longer asks).
        case notAsked = "not-asked"
        /// Input failed validation.
        case validation
    }

    public let code: Code
    public let message: String
    public let validation: ValidationError?

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
        self.validation = nil
    }

    public init(_ validation: ValidationError) {
        self.code = .validation
        self.message = validation.message
        self.validation = validation
    }
}
