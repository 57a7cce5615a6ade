import ConfideAudit
import Crypto
import PropertyBased

/// Audit tokens: visible ASCII, the only characters an entry may hold.
let requiredToken = Gen.character(in: "!"..."~").string(of: 1...12)
let optionalToken = Gen.character(in: "!"..."~").string(of: 0...12)

/// Random valid entries, every field drawn independently.
let entryGen = zip(
    zip(Gen.int64(), requiredToken, requiredToken, requiredToken, optionalToken),
    zip(
        requiredToken.optional,
        Gen<AuditEntry.Decision>.case,
        requiredToken.array(of: 0...4),
        requiredToken,
        optionalToken
    )
)
.compactMap { a, b in
    try? AuditEntry(
        time: a.0,
        actor: a.1,
        action: a.2,
        resourceType: a.3,
        resourceID: a.4,
        patientID: b.0,
        decision: b.1,
        ruleIDs: b.2,
        requestID: b.3,
        purpose: b.4
    )
}

/// 200 distinct leaf hashes for the tree properties.
let sampleLeaves: [MerkleHash] = (0..<200).map { RFC6962.leafHash(Array("leaf-\($0)".utf8)) }

/// A fixed signing key (seed 00 01 02 … 1f), the same as in the Python known-answer script.
let fixedPrivateKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: Array(0..<32) as [UInt8])
let origin = "confide.example/audit"

/// A reproducible entry for index `i`.
func sampleEntry(_ i: Int) -> AuditEntry {
    try! AuditEntry(
        time: 1_764_115_200_000 + Int64(i) * 1000,
        actor: "clinician:00000000-0000-4000-8000-\(String(1000 + i))",
        action: i % 3 == 0 ? "read" : "search",
        resourceType: "Patient",
        resourceID: "res-\(i)",
        patientID: i % 2 == 0 ? "pat-\(i)" : nil,
        decision: i % 4 == 0 ? .denied : .allowed,
        ruleIDs: i % 4 == 0 ? [] : ["care-team-member", "rule-\(i)"],
        requestID: "req-\(i)",
        purpose: "treatment"
    )
}

/// Returns `bytes` with the byte at `position` XORed with `mask` (which must not be 0).
func flipped(_ bytes: [UInt8], at position: Int, mask: UInt8) -> [UInt8] {
    var copy = bytes
    copy[position] ^= mask
    return copy
}

/// Returns `hash` with one byte XORed with `mask`.
func flipped(_ hash: MerkleHash, at position: Int, mask: UInt8) -> MerkleHash {
    MerkleHash(bytes: flipped(hash.bytes, at: position, mask: mask))!
}
