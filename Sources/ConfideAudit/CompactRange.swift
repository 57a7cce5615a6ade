/// The roots of the perfect subtrees that make up a tree of `size` leaves, one per set bit of `size`,
/// largest (leftmost) first: enough to append a leaf and to compute the root in O(log n) without the
/// leaves themselves (tessera calls this a compact range over `[0, size)`).
public struct CompactRange: Sendable, Hashable {
    /// The number of leaves covered.
    public private(set) var size: UInt64 = 0
    // INVARIANT: `subtreeRoots.count == size.nonzeroBitCount`, and `subtreeRoots[i]` is the root of the
    // perfect subtree for the i-th set bit of `size` counted from the most significant.
    private(set) var subtreeRoots: [MerkleHash] = []

    public init() {}

    public mutating func append(_ leafHash: MerkleHash) {
        var hash = leafHash
        var bits = size
        while bits & 1 == 1 {
            hash = RFC6962.nodeHash(subtreeRoots.removeLast(), hash)
            bits >>= 1
        }
        subtreeRoots.append(hash)
        size += 1
    }

    /// `MTH` of the covered leaves: the subtree roots folded from the right, which is exactly the RFC 6962
    /// split at the largest power of two.
    public var rootHash: MerkleHash {
        guard var root = subtreeRoots.last else { return RFC6962.emptyRoot }
        for left in subtreeRoots.dropLast().reversed() {
            root = RFC6962.nodeHash(left, root)
        }
        return root
    }
}
