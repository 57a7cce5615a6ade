public import ConfideCore

/// The request half of a decision: who wants to do what to which kind of resource, and why.
public struct AccessRequest: Sendable, Hashable {
    public let principal: Principal
    public let action: Action
    public let resource: ResourceKind
    /// Why (e.g. `care`, `self-service`, `registration`); recorded in the audit log.
    public let purpose: String
    /// Break-glass: the clinician's stated reason for an emergency access outside their usual
    /// relations. Only a non-empty reason counts; the gate audits and flags every use.
    public let breakGlassReason: String?

    public init(
        principal: Principal, action: Action, resource: ResourceKind, purpose: String = "care", breakGlassReason: String? = nil
    ) {
        self.principal = principal
        self.action = action
        self.resource = resource
        self.purpose = purpose
        self.breakGlassReason = breakGlassReason
    }

    /// Whether the request invokes break-glass (a reason with at least one visible character).
    public var invokesBreakGlass: Bool {
        guard let reason = breakGlassReason else { return false }
        return reason.contains { !$0.isWhitespace }
    }
}

/// Non-clinical attributes of the resource, loaded by the gate before the decision.
///
/// A `nil` fact is *missing*: any rule that needs it cannot match, and the missing fact is
/// reported as an evaluation error. Missing facts therefore can only deny.
public struct ResourceFacts: Sendable, Hashable {
    /// The resource identifier as stored (`nil` for lists and for creation of an unnamed resource).
    public var resourceID: String?
    /// The patient the resource belongs to.
    public var owningPatient: Patient.ID?
    /// For accounts: the account the resource is.
    public var account: Account.ID?
    /// For creation: the server has already fixed the owner (never taken from the client).
    public var serverAssignedOwner: Bool
    /// The practice the resource belongs to (a consultation's, a patient's registered practice).
    public var practice: Practice.ID?
    /// For consultations and what hangs off them: the clinician the consultation is assigned to.
    public var assignedClinician: Account.ID?
    /// For clinical documents: whether the author has signed it.
    public var signed: Bool?

    // Relation facts: about the requesting principal and this resource, loaded by the gate.

    /// care-team-member-of with consent: the principal is in a care team to which the owning
    /// patient has an active (not withdrawn) consent.
    public var careTeamConsent: Bool?
    /// practice-admin-of: the principal is an admin of the resource's practice.
    public var practiceAdmin: Bool?
    /// The principal is a clinician member of the resource's practice.
    public var practiceMember: Bool?
    /// invited-to-call with consent: the principal is a clinician whom the consultation's
    /// clinician invited into its call and the patient accepted (not withdrawn).
    public var callGuest: Bool?
    /// For recordings: the operator has engaged the playback kill switch (loaded for every playback).
    public var playbackSuspended: Bool?

    public init(
        resourceID: String? = nil,
        owningPatient: Patient.ID? = nil,
        account: Account.ID? = nil,
        serverAssignedOwner: Bool = false,
        practice: Practice.ID? = nil,
        assignedClinician: Account.ID? = nil,
        signed: Bool? = nil,
        careTeamConsent: Bool? = nil,
        practiceAdmin: Bool? = nil,
        practiceMember: Bool? = nil,
        callGuest: Bool? = nil,
        playbackSuspended: Bool? = nil
    ) {
        self.resourceID = resourceID
        self.owningPatient = owningPatient
        self.account = account
        self.serverAssignedOwner = serverAssignedOwner
        self.practice = practice
        self.assignedClinician = assignedClinician
        self.signed = signed
        self.careTeamConsent = careTeamConsent
        self.practiceAdmin = practiceAdmin
        self.practiceMember = practiceMember
        self.callGuest = callGuest
        self.playbackSuspended = playbackSuspended
    }
}
