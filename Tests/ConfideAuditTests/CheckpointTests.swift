import ConfideAudit
import Crypto
import Foundation
import PropertyBased
import Testing

/// Made in Python with `cryptography`'s Ed25519 and the seed `bytes(range(32))`:
///
/// ```python
/// pk = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
/// kid = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]
/// vkey = name + "+" + kid.hex() + "+" + base64.b64encode(bytes([1]) + pk).decode()
/// body = f"{name}\n8\n{base64.b64encode(root).decode()}\n".encode()
/// note = body + b"\n" + "\u2014 ".encode() + name.encode() + b" " + base64.b64encode(kid + sk.sign(body)) + b"\n"
/// ```
let pythonVerifierKey = "confide.example/audit+d359035a+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
let pythonNote =
    "confide.example/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n"
    + "— confide.example/audit 01kDWiLb2pw86x6WixXmQj7nN4MX1Exf6Wb6BeqWVHm/BhI03CuczFtnjZlObwvipa/NJa77OzbfP3E8nLNQnnfdigA=\n"

@Suite("signed checkpoints")
struct CheckpointTests {
    let signer = try! CheckpointSigner(keyName: origin, privateKey: fixedPrivateKey)

    @Test("the verifier key and a Python-signed note agree with ours")
    func pythonInterop() throws {
        #expect(signer.verifierKey == pythonVerifierKey)
        let verifier = try CheckpointVerifier(verifierKey: pythonVerifierKey)
        let signed = try verifier.verify(note: Array(pythonNote.utf8))
        #expect(signed.checkpoint.origin == origin)
        #expect(signed.checkpoint.size == 8)
        #expect(signed.checkpoint.rootHash.hex == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
        // Our own signature over the same body verifies, and the body is byte-identical.
        let ours = try signer.sign(signed.checkpoint)
        #expect(try verifier.verify(note: ours.note).checkpoint == signed.checkpoint)
        #expect(ours.note.starts(with: Array(signed.checkpoint.body.utf8) + [UInt8(ascii: "\n")]))
    }

    @Test("the body is origin, size and base64 root, each on its own line")
    func bodyFormat() throws {
        let root = h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
        let checkpoint = try Checkpoint(origin: origin, size: 8, rootHash: root)
        #expect(checkpoint.body == "confide.example/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n")
        #expect(try Checkpoint(body: checkpoint.body) == checkpoint)
    }

    @Test(
        "non-canonical checkpoint bodies are refused",
        arguments: [
            "confide.example/audit\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
            "confide.example/audit\n+8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
            "confide.example/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\n",
            "confide.example/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n",
            "confide.example/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
            "confide.example/audit\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\nextension\n",
            "confide example\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
            "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
            "confide.example/audit\n8\nAA==\n",
        ]
    )
    func nonCanonicalBodies(_ body: String) {
        #expect(throws: AuditLogError.self) { try Checkpoint(body: body) }
    }

    @Test("a note signed by another key, or for a body it does not sign, is refused")
    func wrongKey() throws {
        let checkpoint = try MerkleLog(leafHashes: ctLeaves).checkpoint(origin: origin)
        let note = try signer.sign(checkpoint).note
        let other = try CheckpointSigner(keyName: origin, privateKey: Curve25519.Signing.PrivateKey())
        #expect(throws: AuditLogError.signatureNotVerified) { try other.verifier.verify(note: note) }
        let renamed = try CheckpointVerifier(keyName: "other.example/audit", publicKey: fixedPrivateKey.publicKey)
        #expect(throws: AuditLogError.signatureNotVerified) { try renamed.verify(note: note) }
        // A second signature line by another key is ignored by each verifier, which finds its own.
        let foreignLine = try other.sign(checkpoint).note.dropFirst(checkpoint.body.utf8.count + 1)
        let cosigned = note + foreignLine
        #expect(try signer.verifier.verify(note: cosigned).checkpoint == checkpoint)
        #expect(try other.verifier.verify(note: cosigned).checkpoint == checkpoint)
    }

    @Test("signing then verifying round-trips, and flipping any byte of the note is refused")
    func flips() async throws {
        let verifier = signer.verifier
        await propertyCheck(count: 8, input: Gen.int(in: 0...200), Gen.uint8(in: 1...255)) { n, mask in
            let log = MerkleLog(leafHashes: Array(sampleLeaves.prefix(n)))
            let signed = try signer.sign(try log.checkpoint(origin: origin))
            #expect(try verifier.verify(note: signed.note) == signed)
            for position in signed.note.indices {
                #expect(throws: AuditLogError.self) {
                    try verifier.verify(note: flipped(signed.note, at: position, mask: mask))
                }
            }
        }
    }

    @Test("verifier keys round-trip and a wrong key ID is refused")
    func verifierKeys() throws {
        let key = Curve25519.Signing.PrivateKey()
        let signer = try CheckpointSigner(keyName: "log.example", privateKey: key)
        let parsed = try CheckpointVerifier(verifierKey: signer.verifierKey)
        #expect(parsed.publicKey.rawRepresentation == key.publicKey.rawRepresentation)
        #expect(parsed.verifierKey == signer.verifierKey)
        #expect(throws: AuditLogError.self) {
            try CheckpointVerifier(
                verifierKey: pythonVerifierKey.replacingOccurrences(of: "d359035a", with: "d359035b")
            )
        }
        #expect(throws: AuditLogError.self) { try CheckpointSigner(keyName: "bad+name", privateKey: key) }
    }
}
