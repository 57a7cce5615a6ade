/// Evidence that one entry is at `index` in the log of `treeSize` entries with a given root
/// (RFC 9162 §2.1.3).
public struct InclusionProof: Hashable, Sendable {
    /// The entry's position.
    public let index: LogIndex
    /// The size of the tree the proof is against.
    public let treeSize: UInt64
    /// The audit path, from the leaf upwards.
    public let hashes: [MerkleHash]

    /// Wraps a proof, for example one received from elsewhere.
    public init(index: LogIndex, treeSize: UInt64, hashes: [MerkleHash]) {
        self.index = index
        self.treeSize = treeSize
        self.hashes = hashes
    }

    /// True when this proof shows that `leafHash` is at `index` of the tree with `root`.
    public func verify(leafHash: MerkleHash, root: MerkleHash) -> Bool {
        RFC6962.verifyInclusion(leafHash: leafHash, index: index, size: treeSize, proof: hashes, root: root)
    }

    /// True when this proof shows that `entry` is at `index` of the tree with `root`.
    public func verify(entry: AuditEntry, root: MerkleHash) -> Bool {
        verify(leafHash: RFC6962.leafHash(entry.encoded()), root: root)
    }
}
