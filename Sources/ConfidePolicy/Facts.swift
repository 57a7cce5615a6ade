public import ConfideCore

/// The request half of a decision: who wants to do what to which kind of resource, and why.
public struct AccessRequest: Sendable, Hashable {
    public let principal: Principal
    public let action: Action
    public let resource: ResourceKind
    /// Why (e.g. `care`, `self-service`, `registration`); recorded in the audit log.
    public let purpose: String

    public init(principal: Principal, action: Action, resource: ResourceKind, purpose: String = "care") {
        self.principal = principal
        self.action = action
        self.resource = resource
        self.purpose = purpose
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

    public init(
        resourceID: String? = nil,
        owningPatient: Patient.ID? = nil,
        account: Account.ID? = nil,
        serverAssignedOwner: Bool = false
    ) {
        self.resourceID = resourceID
        self.owningPatient = owningPatient
        self.account = account
        self.serverAssignedOwner = serverAssignedOwner
    }
}
