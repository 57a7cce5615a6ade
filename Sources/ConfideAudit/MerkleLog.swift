/// An append-only RFC 6962 Merkle log held in memory: it appends entries, returns their `LogIndex`,
/// keeps every leaf hash, and answers roots, checkpoints and proofs.
///
/// A value type with no I/O. A store persists the entry encodings (and may persist the leaf hashes);
/// on startup it rebuilds the log with `init(leafHashes:)` from what it stored, and appends each new
/// entry here after the store has made it durable.
public struct MerkleLog: Hashable, Sendable {
    // INVARIANT: `range` covers exactly `leafHashes`, so `range.size == leafHashes.count`.
    /// Every leaf hash, in index order.
    public private(set) var leafHashes: [MerkleHash] = []
    private var range = CompactRange()

    /// An empty log.
    public init() {}

    /// A log over leaf hashes that a store kept, in index order.
    public init(leafHashes: [MerkleHash]) {
        for hash in leafHashes { append(leafHash: hash) }
    }

    /// A log over stored entry encodings, in index order. The encodings are hashed as they are, valid or not;
    /// `AuditVerifier` is the place to check them.
    public init(encodedEntries: [[UInt8]]) {
        for data in encodedEntries { append(leafData: data) }
    }

    /// The number of entries.
    public var size: UInt64 { range.size }

    /// The root of the whole log, in O(log n).
    public var rootHash: MerkleHash { range.rootHash }

    /// Appends an entry and returns its index.
    @discardableResult
    public mutating func append(_ entry: AuditEntry) -> LogIndex {
        append(leafData: entry.encoded())
    }

    /// Appends raw leaf data (an entry encoding) and returns its index.
    @discardableResult
    public mutating func append(leafData: [UInt8]) -> LogIndex {
        append(leafHash: RFC6962.leafHash(leafData))
    }

    /// Appends an already computed leaf hash and returns its index.
    @discardableResult
    public mutating func append(leafHash: MerkleHash) -> LogIndex {
        let index = LogIndex(range.size)
        leafHashes.append(leafHash)
        range.append(leafHash)
        return index
    }

    /// The root of the tree of the first `size` entries.
    /// - Throws: `AuditLogError.sizeOutOfRange` beyond the log.
    public func rootHash(size: UInt64) throws -> MerkleHash {
        if size == self.size { return rootHash }
        return try RFC6962.rootHash(size: size, leafHashes: leafHashes)
    }

    /// The current checkpoint body (unsigned) of this log under `origin`.
    /// - Throws: `AuditLogError.malformedCheckpoint` for an invalid origin.
    public func checkpoint(origin: String) throws -> Checkpoint {
        try Checkpoint(origin: origin, size: size, rootHash: rootHash)
    }

    /// Proves that the entry at `index` is in the tree of `treeSize` entries (default: the whole log).
    /// - Throws: `AuditLogError.indexOutOfRange` or `.sizeOutOfRange`.
    public func inclusionProof(for index: LogIndex, treeSize: UInt64? = nil) throws -> InclusionProof {
        let treeSize = treeSize ?? size
        let hashes = try RFC6962.inclusionProof(index: index, size: treeSize, leafHashes: leafHashes)
        return InclusionProof(index: index, treeSize: treeSize, hashes: hashes)
    }

    /// Proves that the tree of `oldSize` entries is a prefix of the tree of `newSize` entries (default:
    /// the whole log).
    /// - Throws: `AuditLogError.invalidRange` or `.sizeOutOfRange`.
    public func consistencyProof(from oldSize: UInt64, to newSize: UInt64? = nil) throws -> ConsistencyProof {
        let newSize = newSize ?? size
        let hashes = try RFC6962.consistencyProof(from: oldSize, to: newSize, leafHashes: leafHashes)
        return ConsistencyProof(oldSize: oldSize, newSize: newSize, hashes: hashes)
    }
}
