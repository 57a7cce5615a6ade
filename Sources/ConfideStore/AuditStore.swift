public import ConfideAudit
public import ConfideCore
public import ConfidePolicy
public import Foundation

/// The audit log's storage: append-only entries with gap-free indices, their leaf hashes, and
/// signed checkpoints.
public protocol AuditStore: Sendable {
    /// Appends entries durably, in order, under the log's single sequencer (gap-free indices also
    /// across several instances). Returns the indices.
    func append(_ entries: [AuditEntry]) async throws -> [LogIndex]
    /// How many entries the log holds.
    func auditSize() async throws -> UInt64
    /// Stored entry encodings in index order, from `start`.
    func encodedEntries(from start: UInt64, limit: Int) async throws -> [[UInt8]]
    /// Every stored leaf hash in index order.
    func leafHashes() async throws -> [MerkleHash]
    /// Stored leaf hashes in index order, from `start` (at most `limit`).
    func leafHashes(from start: UInt64, limit: Int) async throws -> [MerkleHash]
    /// Up to `limit` entries from `start` with the leaf hash stored beside each (`nil` when the
    /// store has none for it), in one read: what verification streams through.
    func entriesWithLeafHashes(from start: UInt64, limit: Int) async throws -> [(entry: [UInt8], leafHash: MerkleHash?)]
    /// Stores a signed checkpoint; a second checkpoint of the same size (another instance) is ignored.
    func storeCheckpoint(_ checkpoint: SignedCheckpoint, at: Date) async throws
    /// Every signed checkpoint note, oldest first.
    func checkpointNotes() async throws -> [[UInt8]]
    /// The note of the largest checkpoint, or `nil` before the first.
    func latestCheckpointNote() async throws -> [UInt8]?
    /// The stored encoding of one entry, or `nil` beyond the end.
    func encodedEntry(at index: LogIndex) async throws -> [UInt8]?
    /// Entries the scope admits matching the filters, newest first, before index `before`: the
    /// operators' audit search. Patient, actor and time are filtered in the database; resource type
    /// and id in the entries of at most `scanLimit` rows (the caller pages on with `before`).
    func searchEntries(_ scope: Scope<AuditEntryResource>, filter: AuditSearchFilter, before: UInt64?, limit: Int, scanLimit: Int)
        async throws -> (entries: [(LogIndex, AuditEntry)], scannedTo: UInt64?)
    /// The entries about a patient's data that the scope admits, newest first, before `before`.
    func accessLog(_ scope: Scope<AuditEntryResource>, before: UInt64?, limit: Int) async throws -> [(LogIndex, AuditEntry)]
}

extension AuditStore {
    public func latestCheckpointNote() async throws -> [UInt8]? { try await checkpointNotes().last }

    public func entriesWithLeafHashes(from start: UInt64, limit: Int) async throws -> [(entry: [UInt8], leafHash: MerkleHash?)] {
        let entries = try await encodedEntries(from: start, limit: limit)
        let leaves = try await leafHashes(from: start, limit: limit)
        return entries.enumerated().map { ($0.element, $0.offset < leaves.count ? leaves[$0.offset] : nil) }
    }

    /// The RFC 9162 consistency proof between tree sizes `from` and `to` (hex hashes), or `nil`
    /// when the sizes are out of order or `to` is beyond the log.
    public func consistencyProof(from: UInt64, to: UInt64) async throws -> [String]? {
        let hashes = try await leafHashes()
        guard from <= to, to <= UInt64(hashes.count) else { return nil }
        return try MerkleLog(leafHashes: hashes).consistencyProof(from: from, to: to).hashes.map(\.hex)
    }
}

/// Records every gate decision as an audit log entry. If the append fails, the request fails
/// closed (the gate throws and no capability is returned). Concurrent requests share commits
/// (`AuditGroupCommit`); each still waits until its own entries are durable.
public struct AuditLogRecorder: DecisionRecorder {
    let store: any AuditStore
    let clock: any WallClock
    /// The group commit every read-side append goes through (its statistics show the batching).
    public let commits: AuditGroupCommit

    public init(store: any AuditStore, clock: any WallClock) {
        self.store = store
        self.clock = clock
        self.commits = AuditGroupCommit(store: store)
    }

    public func record(_ request: AccessRequest, facts: ResourceFacts, decision: Decision, outcome: GateOutcome, requestID: String) async throws {
        _ = try await commits.append([try entry(request, facts: facts, decision: decision, outcome: outcome, requestID: requestID)])
    }

    public func entry(_ request: AccessRequest, facts: ResourceFacts, decision: Decision, outcome: GateOutcome, requestID: String) throws
        -> AuditEntry
    {
        try AuditEntry(
            at: clock.now(), principal: request.principal, action: request.action.rawValue, resourceType: request.resource.rawValue,
            resourceID: facts.resourceID ?? "-", patientID: facts.owningPatient,
            decision: AuditEntry.Decision(rawValue: outcome.rawValue) ?? .denied, ruleIDs: decision.reasons.map(\.value),
            requestID: requestID.isEmpty ? "-" : requestID, purpose: Self.purpose(request))
    }

    public func append(_ entries: [AuditEntry]) async throws {
        guard !entries.isEmpty else { return }
        _ = try await commits.append(entries)
    }

    /// The purpose recorded: break-glass accesses are flagged. The stated reason is free text and
    /// stays out of the log (the clinic keeps it, keyed by the request, for review).
    static func purpose(_ request: AccessRequest) -> String {
        request.invokesBreakGlass ? "break-glass" : request.purpose
    }
}

/// What an operator searches the audit log for.
public struct AuditSearchFilter: Sendable, Hashable {
    public var patient: String?
    /// An actor as the log writes it (`clinician:<account>`), or just the account id.
    public var actor: String?
    public var resourceType: String?
    public var resourceID: String?
    /// Epoch milliseconds, `[from, to)`.
    public var from: Int64?
    public var to: Int64?

    public init(
        patient: String? = nil, actor: String? = nil, resourceType: String? = nil, resourceID: String? = nil, from: Int64? = nil,
        to: Int64? = nil
    ) {
        self.patient = patient
        self.actor = actor
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.from = from
        self.to = to
    }
}
