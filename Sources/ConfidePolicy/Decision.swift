/// Why a rule could not be evaluated. An error never permits.
public struct EvaluationError: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rule: RuleID
    public let message: String
    public var description: String { "\(rule): \(message)" }
}

/// The outcome of `PolicyEngine.decide`.
public struct Decision: Hashable, Sendable {
    public enum Effect: String, Sendable, Hashable, Codable {
        case allow, deny
    }

    /// Allow only when some permit rule matched and no forbid rule matched.
    public let effect: Effect
    /// The rules that produced the effect: the matching forbids for a forbid-deny, the matching
    /// permits for an allow, empty for a default deny.
    public let reasons: [RuleID]
    /// Rules that could not be evaluated (they were skipped, which can only deny).
    public let errors: [EvaluationError]

    public var isAllowed: Bool { effect == .allow }

    /// The decision recorded when the resource does not exist: deny, with no rule.
    /// A decision taken by a control outside the policy (the egress guard), named by the
    /// control's own id so the log tells it apart from every rule's decision.
    public static func control(_ id: RuleID, allow: Bool) -> Decision {
        Decision(effect: allow ? .allow : .deny, reasons: [id], errors: [])
    }

    public static let resourceMissing = Decision(
        effect: .deny, reasons: [], errors: [EvaluationError(rule: "gate", message: "resource not found")])
}

/// Why access was refused. A closed enum: callers must handle every case.
public enum AccessDenied: Error, Hashable, Sendable {
    /// The engine said no. Outside the server this looks exactly like `notFound`.
    case denied(Decision)
    /// The resource does not exist.
    case notFound
}
