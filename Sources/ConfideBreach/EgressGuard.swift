/// One item of patient data that a response carries, as the gate released it during the request.
public struct ReleasedItem: Sendable, Hashable {
    public var resourceType: String
    public var resourceID: String
    public var action: String
    /// The patient the gate's facts named: the object's own owner field (or the scope's). The
    /// guard does not trust it; it is kept to show what the object claimed.
    public var recordedPatient: String?

    public init(resourceType: String, resourceID: String, action: String, recordedPatient: String?) {
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.action = action
        self.recordedPatient = recordedPatient
    }
}

/// What the guard does with a response that carries someone else's data.
public enum EgressMode: String, Sendable, CaseIterable {
    /// Withhold the response (404, as a denial looks) and raise an incident. The default.
    case enforce
    /// Let the response go and raise an incident (for drills only).
    case observe
}

/// An item whose ground truth is not the requester.
public struct EgressViolation: Sendable, Hashable {
    public var item: ReleasedItem
    /// Whose it is through the ground-truth chain (`nil`: it resolves to nobody).
    public var owner: String?
}

/// The egress guard's check (defence in depth behind the policy engine). The 2020 bug wrote a
/// wrong owner at creation, so a check of the stored owner field would pass; this one resolves
/// every item through the chain the server built (a recording -> its consultation -> the patient
/// who booked it) and compares that with the patient the response is for.
public struct EgressGuard: Sendable {
    let evidence: any BreachEvidence

    public init(evidence: any BreachEvidence) { self.evidence = evidence }

    /// The items among `items` that are not `patient`'s own.
    public func violations(of items: [ReleasedItem], for patient: String) async throws -> [EgressViolation] {
        let checked = items.filter { patientDataKinds.contains($0.resourceType) }
        // One batched read for every item a response carries (a list of 50 is not 50 round trips).
        let truths = try await evidence.groundTruths(
            checked.filter { $0.resourceType != "audit-entry" }.map { ($0.resourceType, $0.resourceID) })
        var out: [EgressViolation] = []
        for item in checked {
            let owner: String?
            if item.resourceType == "audit-entry" {
                // The log's own (tamper-evident) record of whose data the entry is about.
                owner = item.recordedPatient
            } else {
                // A resource with no chain left (gone within the request) falls back on what the gate saw.
                owner = truths[GroundTruth.key(resourceType: item.resourceType, resourceID: item.resourceID)]?.patient ?? item.recordedPatient
            }
            if owner != patient { out.append(EgressViolation(item: item, owner: owner)) }
        }
        return out
    }
}
