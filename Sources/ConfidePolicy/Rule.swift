/// A rule identifier, recorded with every decision (e.g. `patient.own-record.v1`).
public struct RuleID: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let value: String
    public init(_ value: String) { self.value = value }
    public init(stringLiteral value: String) { self.value = value }
    public var description: String { value }
}

/// Whether a matching rule permits or forbids. Forbid beats permit.
public enum RuleEffect: String, Sendable, Hashable, Codable {
    case permit, forbid
}

/// The kind of principal a rule applies to.
public enum PrincipalKind: String, Sendable, Hashable, Codable, CaseIterable {
    case anonymous, patient, clinician, admin
    case practiceAdmin = "practice-admin"
    case system
}

/// A condition over the request and the facts. Conditions are data, so the rule set can be
/// reviewed, versioned and printed, and the evaluator is the only code that interprets them.
public indirect enum Condition: Sendable, Hashable, Codable {
    /// Always true.
    case always
    /// The principal is the patient that owns the resource (needs `owningPatient`).
    case principalIsOwningPatient
    /// The principal's account is the resource's account (needs `account`).
    case principalIsResourceAccount
    /// The server has fixed the owner of a resource being created.
    case ownerAssignedByServer
    /// assigned-clinician-of: the principal is the consultation's clinician (needs `assignedClinician`).
    case principalIsAssignedClinician
    /// care-team-member-of with the patient's active consent (needs `careTeamConsent`).
    case principalInConsentedCareTeam
    /// practice-admin-of the resource's practice (needs `practiceAdmin`).
    case principalAdministersPractice
    /// The principal is a clinician of the resource's practice (needs `practiceMember`).
    case principalWorksAtPractice
    /// The document is signed by its author (needs `signed`).
    case resourceIsSigned
    /// The principal is a clinician invited into the consultation's call, with the patient's consent.
    case principalInvitedToCall
    /// The request carries a break-glass reason.
    case breakGlassInvoked
    /// The operator has engaged the playback kill switch (needs `playbackSuspended`).
    case playbackSuspended
    case all([Condition])
    case any([Condition])
    case not(Condition)
}

/// One rule: when the principal kind, action and resource match and the condition holds, the
/// rule's effect applies.
public struct Rule: Sendable, Hashable, Codable {
    public let id: RuleID
    public let effect: RuleEffect
    public let principals: Set<PrincipalKind>
    public let actions: Set<Action>
    public let resources: Set<ResourceKind>
    public let condition: Condition
    /// Why the rule exists, for reviewers.
    public let rationale: String

    public init(
        id: RuleID, effect: RuleEffect, principals: Set<PrincipalKind>, actions: Set<Action>,
        resources: Set<ResourceKind>, when condition: Condition = .always, rationale: String
    ) {
        self.id = id
        self.effect = effect
        self.principals = principals
        self.actions = actions
        self.resources = resources
        self.condition = condition
        self.rationale = rationale
    }
}

/// A versioned set of rules.
public struct PolicySet: Sendable, Hashable, Codable {
    public let version: String
    public let rules: [Rule]

    public init(version: String, rules: [Rule]) {
        self.version = version
        self.rules = rules
    }
}
