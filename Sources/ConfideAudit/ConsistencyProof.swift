/// Evidence that the log of `oldSize` entries is a prefix of the log of `newSize` entries: nothing was
/// changed or removed in between, only appended (RFC 9162 §2.1.4).
public struct ConsistencyProof: Hashable, Sendable {
    /// The size of the earlier tree.
    public let oldSize: UInt64
    /// The size of the later tree.
    public let newSize: UInt64
    /// The proof hashes, in RFC 6962 `PROOF(m, D[n])` order.
    public let hashes: [MerkleHash]

    /// Wraps a proof, for example one received from elsewhere.
    public init(oldSize: UInt64, newSize: UInt64, hashes: [MerkleHash]) {
        self.oldSize = oldSize
        self.newSize = newSize
        self.hashes = hashes
    }

    /// True when this proof links `oldRoot` (of `oldSize` entries) to `newRoot` (of `newSize` entries).
    public func verify(oldRoot: MerkleHash, newRoot: MerkleHash) -> Bool {
        RFC6962.verifyConsistency(oldSize: oldSize, newSize: newSize, oldRoot: oldRoot, newRoot: newRoot, proof: hashes)
    }

    /// True when this proof links the two checkpoints, which must match its sizes.
    public func verify(old: Checkpoint, new: Checkpoint) -> Bool {
        old.size == oldSize && new.size == newSize && old.origin == new.origin
            && verify(oldRoot: old.rootHash, newRoot: new.rootHash)
    }
}
