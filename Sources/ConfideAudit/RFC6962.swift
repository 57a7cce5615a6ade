import Crypto

/// The Merkle tree hashing of RFC 6962 §2.1 (as carried forward by RFC 9162 §2.1), with SHA-256.
///
/// - Leaf hash: `SHA-256(0x00 || data)`.
/// - Node hash: `SHA-256(0x01 || left || right)`.
/// - Tree hash `MTH(D[n])`: for n = 0 the hash of the empty string; for n = 1 the leaf hash; otherwise, with
///   `k` the largest power of two smaller than `n`, `node(MTH(D[0:k]), MTH(D[k:n]))`.
///
/// The distinct leaf and node prefixes stop a leaf from being passed off as an interior node (second
/// pre-image attacks). Every function that takes `leafHashes` reads only the first `size` of them, so a
/// caller holding the hashes of a larger log can ask about any earlier tree.
public enum RFC6962 {
    /// The root of the empty tree: SHA-256 of the empty string, `e3b0c442…b855`.
    public static let emptyRoot = MerkleHash(SHA256.hash(data: [UInt8]()))

    /// `SHA-256(0x00 || data)`.
    public static func leafHash(_ data: [UInt8]) -> MerkleHash {
        var hasher = SHA256()
        hasher.update(data: leafPrefix)
        hasher.update(data: data)
        return MerkleHash(hasher.finalize())
    }

    /// `SHA-256(0x01 || left || right)`, hashed in one call over a 65-byte stack buffer (verifying
    /// a log computes one of these per entry; no temporary arrays).
    public static func nodeHash(_ left: MerkleHash, _ right: MerkleHash) -> MerkleHash {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1 + 2 * MerkleHash.byteCount) { buffer in
            buffer[0] = 0x01
            left.bytes.withUnsafeBufferPointer { l in
                _ = UnsafeMutableBufferPointer(rebasing: buffer[1...]).initialize(from: l)
            }
            right.bytes.withUnsafeBufferPointer { r in
                _ = UnsafeMutableBufferPointer(rebasing: buffer[(1 + MerkleHash.byteCount)...]).initialize(from: r)
            }
            return MerkleHash(SHA256.hash(data: UnsafeRawBufferPointer(buffer)))
        }
    }

    static let leafPrefix: [UInt8] = [0x00]

    /// `MTH` over all of `leafHashes`.
    public static func rootHash(leafHashes: [MerkleHash]) -> MerkleHash {
        mth(leafHashes[...])
    }

    /// `MTH` over the first `size` leaf hashes.
    /// - Throws: `AuditLogError.sizeOutOfRange` when fewer than `size` hashes are given.
    public static func rootHash(size: UInt64, leafHashes: [MerkleHash]) throws -> MerkleHash {
        try mth(prefix(size, of: leafHashes))
    }

    /// The audit path of RFC 6962 §2.1.1 (`PATH(m, D[n])`) for the leaf at `index` in the tree of the first
    /// `size` leaves, ordered from the leaf upwards.
    /// - Throws: `AuditLogError.sizeOutOfRange` or `.indexOutOfRange`.
    public static func inclusionProof(index: LogIndex, size: UInt64, leafHashes: [MerkleHash]) throws -> [MerkleHash] {
        let leaves = try prefix(size, of: leafHashes)
        guard index.rawValue < size else { throw AuditLogError.indexOutOfRange(index: index.rawValue, size: size) }
        var proof: [MerkleHash] = []
        path(Int(index.rawValue), leaves, into: &proof)
        return proof
    }

    /// Checks an inclusion proof with the algorithm of RFC 9162 §2.1.3.2.
    ///
    /// True exactly when `proof` shows that `leafHash` is the leaf at `index` of the tree of `size` leaves
    /// whose root is `root`.
    public static func verifyInclusion(
        leafHash: MerkleHash,
        index: LogIndex,
        size: UInt64,
        proof: [MerkleHash],
        root: MerkleHash
    ) -> Bool {
        guard index.rawValue < size else { return false }
        var fn = index.rawValue
        var sn = size - 1
        var r = leafHash
        for p in proof {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// The consistency proof of RFC 6962 §2.1.2 (`PROOF(m, D[n])`) between the tree of the first
    /// `oldSize` leaves and the tree of the first `newSize` leaves. Empty when `oldSize` is 0 or equals
    /// `newSize`.
    /// - Throws: `AuditLogError.invalidRange` when `oldSize > newSize`, `.sizeOutOfRange` when fewer than
    ///   `newSize` hashes are given.
    public static func consistencyProof(
        from oldSize: UInt64,
        to newSize: UInt64,
        leafHashes: [MerkleHash]
    ) throws -> [MerkleHash] {
        let leaves = try prefix(newSize, of: leafHashes)
        guard oldSize <= newSize else { throw AuditLogError.invalidRange(from: oldSize, to: newSize) }
        guard oldSize > 0 && oldSize < newSize else { return [] }
        var proof: [MerkleHash] = []
        subproof(Int(oldSize), leaves, complete: true, into: &proof)
        return proof
    }

    /// Checks a consistency proof with the algorithm of RFC 9162 §2.1.4.2.
    ///
    /// True exactly when `proof` shows that the tree of `oldSize` leaves with root `oldRoot` is a prefix of
    /// the tree of `newSize` leaves with root `newRoot`. Equal sizes need equal roots and an empty proof;
    /// the empty tree (whose root must be `emptyRoot`) is a prefix of every tree, with an empty proof.
    public static func verifyConsistency(
        oldSize: UInt64,
        newSize: UInt64,
        oldRoot: MerkleHash,
        newRoot: MerkleHash,
        proof: [MerkleHash]
    ) -> Bool {
        if oldSize > newSize { return false }
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        if oldSize == 0 { return proof.isEmpty && oldRoot == emptyRoot }
        guard !proof.isEmpty else { return false }
        var path = proof[...]
        if oldSize & (oldSize - 1) == 0 { path = ([oldRoot] + proof)[...] }
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[path.startIndex]
        var sr = fr
        for c in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }

    // MARK: - The recursive definitions

    /// The largest power of two strictly smaller than `n`; `n` must be at least 2.
    static func splitPoint(_ n: Int) -> Int {
        precondition(n >= 2)
        return 1 << (Int.bitWidth - 1 - (n - 1).leadingZeroBitCount)
    }

    private static func prefix(_ size: UInt64, of leafHashes: [MerkleHash]) throws -> ArraySlice<MerkleHash> {
        guard size <= UInt64(leafHashes.count) else {
            throw AuditLogError.sizeOutOfRange(size: size, available: UInt64(leafHashes.count))
        }
        return leafHashes[..<Int(size)]
    }

    private static func mth(_ leaves: ArraySlice<MerkleHash>) -> MerkleHash {
        switch leaves.count {
        case 0: return emptyRoot
        case 1: return leaves[leaves.startIndex]
        default:
            let k = splitPoint(leaves.count)
            let mid = leaves.startIndex + k
            return nodeHash(mth(leaves[..<mid]), mth(leaves[mid...]))
        }
    }

    /// `PATH(m, D[n])`, appending the hashes bottom-up.
    private static func path(_ m: Int, _ leaves: ArraySlice<MerkleHash>, into proof: inout [MerkleHash]) {
        guard leaves.count > 1 else { return }
        let k = splitPoint(leaves.count)
        let mid = leaves.startIndex + k
        if m < k {
            path(m, leaves[..<mid], into: &proof)
            proof.append(mth(leaves[mid...]))
        } else {
            path(m - k, leaves[mid...], into: &proof)
            proof.append(mth(leaves[..<mid]))
        }
    }

    /// `SUBPROOF(m, D[n], b)`, appending the hashes bottom-up.
    private static func subproof(
        _ m: Int,
        _ leaves: ArraySlice<MerkleHash>,
        complete: Bool,
        into proof: inout [MerkleHash]
    ) {
        let n = leaves.count
        if m == n {
            if !complete { proof.append(mth(leaves)) }
            return
        }
        let k = splitPoint(n)
        let mid = leaves.startIndex + k
        if m <= k {
            subproof(m, leaves[..<mid], complete: complete, into: &proof)
            proof.append(mth(leaves[mid...]))
        } else {
            subproof(m - k, leaves[mid...], complete: false, into: &proof)
            proof.append(mth(leaves[..<mid]))
        }
    }
}
