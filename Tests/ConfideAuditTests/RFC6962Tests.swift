import ConfideAudit
import PropertyBased
import Testing

/// Known answers computed independently in Python with hashlib, over the eight leaves of the Certificate
/// Transparency test suite:
///
/// ```python
/// import hashlib
/// H = lambda b: hashlib.sha256(b).digest()
/// leaf = lambda d: H(b'\x00' + d)
/// node = lambda l, r: H(b'\x01' + l + r)
/// def k(n):
///     p = 1
///     while p * 2 < n: p *= 2
///     return p
/// def mth(L):
///     if len(L) == 0: return H(b'')
///     if len(L) == 1: return L[0]
///     s = k(len(L)); return node(mth(L[:s]), mth(L[s:]))
/// def path(m, L):
///     if len(L) <= 1: return []
///     s = k(len(L))
///     return path(m, L[:s]) + [mth(L[s:])] if m < s else path(m - s, L[s:]) + [mth(L[:s])]
/// def sub(m, L, b):
///     n = len(L)
///     if m == n: return [] if b else [mth(L)]
///     s = k(n)
///     return sub(m, L[:s], b) + [mth(L[s:])] if m <= s else sub(m - s, L[s:], False) + [mth(L[:s])]
/// data = [b'', b'\x00', b'\x10', b'\x20\x21', b'\x30\x31', b'\x40\x41\x42\x43',
///         bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
/// L = [leaf(d) for d in data]
/// ```
let ctLeafData: [[UInt8]] = [
    [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43], Array(0x50..<0x58), Array(0x60..<0x70),
]
let ctLeaves = ctLeafData.map(RFC6962.leafHash)

func h(_ hex: String) -> MerkleHash { MerkleHash(hex: hex)! }

@Suite("RFC 6962 Merkle tree hashing")
struct RFC6962Tests {
    @Test("the empty tree's root is the SHA-256 of the empty string")
    func emptyRoot() {
        #expect(RFC6962.emptyRoot.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(RFC6962.rootHash(leafHashes: []) == RFC6962.emptyRoot)
        #expect(MerkleLog().rootHash == RFC6962.emptyRoot)
    }

    @Test("leaf hashes carry the 0x00 prefix")
    func leafHashes() {
        // leaf(b'') and leaf(b'\x00')
        #expect(ctLeaves[0].hex == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        #expect(ctLeaves[1].hex == "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")
        #expect(ctLeaves[7].hex == "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1")
    }

    @Test(
        "roots of the first n leaves match the Python reference",
        arguments: [
            (1, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            (2, "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
            (3, "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
            (4, "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            (5, "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
            (6, "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
            (7, "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
            (8, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
        ]
    )
    func knownRoots(size: Int, root: String) throws {
        #expect(try RFC6962.rootHash(size: UInt64(size), leafHashes: ctLeaves).hex == root)
        #expect(MerkleLog(leafHashes: Array(ctLeaves.prefix(size))).rootHash.hex == root)
    }

    @Test(
        "inclusion proofs match the Python reference",
        arguments: [
            (
                0, 8,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ]
            ),
            (
                5, 8,
                [
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]
            ),
            (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
            (
                6, 7,
                [
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]
            ),
            (0, 1, []),
        ]
    )
    func knownInclusionProofs(index: Int, size: Int, expected: [String]) throws {
        let proof = try RFC6962.inclusionProof(index: LogIndex(UInt64(index)), size: UInt64(size), leafHashes: ctLeaves)
        #expect(proof.map(\.hex) == expected)
        let root = try RFC6962.rootHash(size: UInt64(size), leafHashes: ctLeaves)
        #expect(
            RFC6962.verifyInclusion(
                leafHash: ctLeaves[index],
                index: LogIndex(UInt64(index)),
                size: UInt64(size),
                proof: proof,
                root: root
            )
        )
    }

    @Test(
        "consistency proofs match the Python reference",
        arguments: [
            (
                1, 8,
                [
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ]
            ),
            (
                6, 8,
                [
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ]
            ),
            (
                2, 5,
                [
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ]
            ),
            (
                3, 7,
                [
                    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
                    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
                    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                    "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e",
                ]
            ),
            (8, 8, []),
            (0, 8, []),
        ]
    )
    func knownConsistencyProofs(old: Int, new: Int, expected: [String]) throws {
        let proof = try RFC6962.consistencyProof(from: UInt64(old), to: UInt64(new), leafHashes: ctLeaves)
        #expect(proof.map(\.hex) == expected)
        let oldRoot = try RFC6962.rootHash(size: UInt64(old), leafHashes: ctLeaves)
        let newRoot = try RFC6962.rootHash(size: UInt64(new), leafHashes: ctLeaves)
        #expect(
            RFC6962.verifyConsistency(
                oldSize: UInt64(old),
                newSize: UInt64(new),
                oldRoot: oldRoot,
                newRoot: newRoot,
                proof: proof
            )
        )
    }

    @Test("proofs outside the tree are refused")
    func outOfRange() {
        #expect(throws: AuditLogError.self) {
            try RFC6962.inclusionProof(index: LogIndex(8), size: 8, leafHashes: ctLeaves)
        }
        #expect(throws: AuditLogError.self) {
            try RFC6962.inclusionProof(index: LogIndex(0), size: 9, leafHashes: ctLeaves)
        }
        #expect(throws: AuditLogError.self) { try RFC6962.consistencyProof(from: 5, to: 4, leafHashes: ctLeaves) }
        #expect(throws: AuditLogError.self) { try RFC6962.consistencyProof(from: 1, to: 9, leafHashes: ctLeaves) }
        #expect(
            !RFC6962.verifyInclusion(leafHash: ctLeaves[0], index: LogIndex(1), size: 1, proof: [], root: ctLeaves[0])
        )
        #expect(
            !RFC6962.verifyConsistency(oldSize: 5, newSize: 4, oldRoot: ctLeaves[0], newRoot: ctLeaves[0], proof: [])
        )
    }

    @Test("every inclusion and consistency proof verifies in every tree of up to 40 leaves")
    func exhaustiveSmallTrees() throws {
        var log = MerkleLog()
        var roots = [log.rootHash]
        for leaf in sampleLeaves.prefix(40) {
            log.append(leafHash: leaf)
            roots.append(log.rootHash)
        }
        for n in 1...40 {
            let size = UInt64(n)
            let root = roots[n]
            for i in 0..<n {
                let index = LogIndex(UInt64(i))
                let proof = try RFC6962.inclusionProof(index: index, size: size, leafHashes: sampleLeaves)
                #expect(
                    RFC6962.verifyInclusion(
                        leafHash: sampleLeaves[i],
                        index: index,
                        size: size,
                        proof: proof,
                        root: root
                    )
                )
            }
            for m in 0...n {
                let oldRoot = roots[m]
                let proof = try RFC6962.consistencyProof(from: UInt64(m), to: size, leafHashes: sampleLeaves)
                #expect(
                    RFC6962.verifyConsistency(
                        oldSize: UInt64(m),
                        newSize: size,
                        oldRoot: oldRoot,
                        newRoot: root,
                        proof: proof
                    )
                )
            }
        }
    }

    @Test("an inclusion proof verifies for its leaf and fails for any other leaf, index, root or flipped byte")
    func inclusionProperty() async throws {
        await propertyCheck(
            count: 200,
            input: Gen.int(in: 1...200),
            Gen.int(in: 0...199),
            Gen.int(in: 0...199),
            Gen.int(in: 0...10_000),
            Gen.uint8(in: 1...255)
        ) { n, rawIndex, rawOther, position, mask in
            let size = UInt64(n)
            let i = rawIndex % n
            let index = LogIndex(UInt64(i))
            let root = try RFC6962.rootHash(size: size, leafHashes: sampleLeaves)
            let proof = try RFC6962.inclusionProof(index: index, size: size, leafHashes: sampleLeaves)
            #expect(
                RFC6962.verifyInclusion(leafHash: sampleLeaves[i], index: index, size: size, proof: proof, root: root)
            )

            let other = rawOther % n
            if other != i {
                #expect(
                    !RFC6962.verifyInclusion(
                        leafHash: sampleLeaves[other],
                        index: index,
                        size: size,
                        proof: proof,
                        root: root
                    )
                )
                #expect(
                    !RFC6962.verifyInclusion(
                        leafHash: sampleLeaves[i],
                        index: LogIndex(UInt64(other)),
                        size: size,
                        proof: proof,
                        root: root
                    )
                )
            }
            #expect(
                !RFC6962.verifyInclusion(
                    leafHash: sampleLeaves[i],
                    index: index,
                    size: size,
                    proof: proof,
                    root: flipped(root, at: position % 32, mask: mask)
                )
            )
            #expect(
                !RFC6962.verifyInclusion(
                    leafHash: flipped(sampleLeaves[i], at: position % 32, mask: mask),
                    index: index,
                    size: size,
                    proof: proof,
                    root: root
                )
            )
            if !proof.isEmpty {
                var bad = proof
                let which = position % proof.count
                bad[which] = flipped(bad[which], at: (position / proof.count) % 32, mask: mask)
                #expect(
                    !RFC6962.verifyInclusion(
                        leafHash: sampleLeaves[i],
                        index: index,
                        size: size,
                        proof: bad,
                        root: root
                    )
                )
                #expect(
                    !RFC6962.verifyInclusion(
                        leafHash: sampleLeaves[i],
                        index: index,
                        size: size,
                        proof: Array(proof.dropLast()),
                        root: root
                    )
                )
            }
        }
    }

    @Test("a consistency proof verifies for every m ≤ n and fails for a flipped root or proof byte")
    func consistencyProperty() async throws {
        await propertyCheck(
            count: 200,
            input: Gen.int(in: 1...200),
            Gen.int(in: 0...200),
            Gen.int(in: 0...10_000),
            Gen.uint8(in: 1...255)
        ) { n, rawOld, position, mask in
            let m = rawOld % (n + 1)
            let (oldSize, newSize) = (UInt64(m), UInt64(n))
            let oldRoot = try RFC6962.rootHash(size: oldSize, leafHashes: sampleLeaves)
            let newRoot = try RFC6962.rootHash(size: newSize, leafHashes: sampleLeaves)
            let proof = try RFC6962.consistencyProof(from: oldSize, to: newSize, leafHashes: sampleLeaves)
            #expect(
                RFC6962.verifyConsistency(
                    oldSize: oldSize,
                    newSize: newSize,
                    oldRoot: oldRoot,
                    newRoot: newRoot,
                    proof: proof
                )
            )
            let badOld = flipped(oldRoot, at: position % 32, mask: mask)
            #expect(
                !RFC6962.verifyConsistency(
                    oldSize: oldSize,
                    newSize: newSize,
                    oldRoot: badOld,
                    newRoot: newRoot,
                    proof: proof
                )
            )
            // The empty tree is a prefix of every tree, so only a non-empty old tree constrains the new root.
            if m > 0 {
                let badNew = flipped(newRoot, at: position % 32, mask: mask)
                #expect(
                    !RFC6962.verifyConsistency(
                        oldSize: oldSize,
                        newSize: newSize,
                        oldRoot: oldRoot,
                        newRoot: badNew,
                        proof: proof
                    )
                )
            }
            if !proof.isEmpty {
                var bad = proof
                let which = position % proof.count
                bad[which] = flipped(bad[which], at: (position / proof.count) % 32, mask: mask)
                #expect(
                    !RFC6962.verifyConsistency(
                        oldSize: oldSize,
                        newSize: newSize,
                        oldRoot: oldRoot,
                        newRoot: newRoot,
                        proof: bad
                    )
                )
            }
        }
    }
}
