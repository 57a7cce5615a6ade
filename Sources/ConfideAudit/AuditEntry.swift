public import ConfideCore
public import Foundation

/// One record of the audit log: who did what to which resource, when, with which decision and why.
///
/// An entry holds identifiers and codes only, never clinical text or display names (STYLE §6). This is
/// enforced by construction: every string field is an *audit token* of visible ASCII characters
/// (`!` to `~`, so no spaces, no control characters, no accented letters) of at most
/// `maximumTokenLength` bytes, which cannot spell a sentence or a person's name.
public struct AuditEntry: Hashable, Sendable {
    /// The outcome recorded for the request.
    public enum Decision: String, Hashable, Sendable, CaseIterable {
        /// The policy engine allowed the access.
        case allowed
        /// The policy engine denied the access.
        case denied
        /// The resource did not exist (answered like a denial).
        case notFound = "not-found"
        /// The policy allowed a write but the stored state refused it (a taken slot, a transition
        /// out of order, a signed note edited without an amendment); nothing changed.
        case refused
    }

    /// The longest audit token, in bytes.
    public static let maximumTokenLength = 256
    /// The most rule IDs one entry can carry.
    public static let maximumRuleCount = 64

    /// When the access happened, in milliseconds since 1970 (UTC).
    public let time: Int64
    /// Who acted, as `Principal.description` spells it: `patient:<uuid>`, `clinician:<uuid>`, `system:<job>`.
    public let actor: String
    /// The action code (`read`, `search`, `play`, …).
    public let action: String
    /// The kind of resource (`Patient`, `Recording`, …).
    public let resourceType: String
    /// The resource's identifier; empty for actions on a collection (search, create).
    public let resourceID: String
    /// The patient whose data was touched, when there is one.
    public let patientID: String?
    /// The decision.
    public let decision: Decision
    /// The policy rules that produced the decision, in the engine's order.
    public let ruleIDs: [String]
    /// The request that caused the access, to join with the application log.
    public let requestID: String
    /// Why the data was accessed (`treatment`, `self-access`, `break-glass`, …); may be empty.
    public let purpose: String

    /// Creates an entry, checking every field.
    /// - Throws: `AuditLogError.malformedEntry` naming the first invalid field (never its value).
    public init(
        time: Int64,
        actor: String,
        action: String,
        resourceType: String,
        resourceID: String,
        patientID: String?,
        decision: Decision,
        ruleIDs: [String],
        requestID: String,
        purpose: String
    ) throws {
        try Self.checkToken(actor, field: "actor", allowEmpty: false)
        try Self.checkToken(action, field: "action", allowEmpty: false)
        try Self.checkToken(resourceType, field: "resourceType", allowEmpty: false)
        try Self.checkToken(resourceID, field: "resourceID", allowEmpty: true)
        if let patientID { try Self.checkToken(patientID, field: "patientID", allowEmpty: false) }
        guard ruleIDs.count <= Self.maximumRuleCount else { throw AuditLogError.malformedEntry("too many ruleIDs") }
        for rule in ruleIDs { try Self.checkToken(rule, field: "ruleIDs", allowEmpty: false) }
        try Self.checkToken(requestID, field: "requestID", allowEmpty: false)
        try Self.checkToken(purpose, field: "purpose", allowEmpty: true)
        self.init(
            checked: time, actor: actor, action: action, resourceType: resourceType, resourceID: resourceID, patientID: patientID,
            decision: decision, ruleIDs: ruleIDs, requestID: requestID, purpose: purpose)
    }

    /// This entry with another decision and/or rule list (the rules are checked as at creation).
    /// - Throws: `AuditLogError.malformedEntry` when a new rule is not an audit token.
    public func with(decision: Decision? = nil, ruleIDs: [String]? = nil) throws -> AuditEntry {
        try AuditEntry(
            time: time, actor: actor, action: action, resourceType: resourceType, resourceID: resourceID, patientID: patientID,
            decision: decision ?? self.decision, ruleIDs: ruleIDs ?? self.ruleIDs, requestID: requestID, purpose: purpose)
    }

    /// Fields already checked (by `init(time:…)`, or byte by byte by the decoder).
    init(
        checked time: Int64, actor: String, action: String, resourceType: String, resourceID: String, patientID: String?, decision: Decision,
        ruleIDs: [String], requestID: String, purpose: String
    ) {
        self.time = time
        self.actor = actor
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.patientID = patientID
        self.decision = decision
        self.ruleIDs = ruleIDs
        self.requestID = requestID
        self.purpose = purpose
    }

    /// Creates an entry for `principal` at `date`, with the principal's audit-safe description as actor.
    /// - Throws: `AuditLogError.malformedEntry` naming the first invalid field.
    public init(
        at date: Date,
        principal: Principal,
        action: String,
        resourceType: String,
        resourceID: String,
        patientID: Patient.ID?,
        decision: Decision,
        ruleIDs: [String],
        requestID: String,
        purpose: String
    ) throws {
        try self.init(
            time: date.epochMilliseconds,
            actor: principal.description,
            action: action,
            resourceType: resourceType,
            resourceID: resourceID,
            patientID: patientID?.description,
            decision: decision,
            ruleIDs: ruleIDs,
            requestID: requestID,
            purpose: purpose
        )
    }

    /// True for a string that can be an audit token of up to `maximumTokenLength` bytes.
    public static func isValidToken(_ value: String, allowEmpty: Bool = false) -> Bool {
        let bytes = value.utf8
        guard bytes.count <= maximumTokenLength, allowEmpty || !bytes.isEmpty else { return false }
        return bytes.allSatisfy { (0x21...0x7e).contains($0) }
    }

    private static func checkToken(_ value: String, field: String, allowEmpty: Bool) throws {
        guard isValidToken(value, allowEmpty: allowEmpty) else {
            throw AuditLogError.malformedEntry("\(field) is not an audit token")
        }
    }
}
