public import Crypto

/// Signs checkpoints with the log's Ed25519 key, producing signed notes.
public struct CheckpointSigner: Sendable {
    /// The key name written in signature lines, conventionally the log's origin.
    public let keyName: String
    private let privateKey: Curve25519.Signing.PrivateKey
    private let keyID: [UInt8]

    /// A signer for `keyName` with `privateKey`.
    /// - Throws: `AuditLogError.invalidKey` when the name is empty, contains `+` or is not visible ASCII.
    public init(keyName: String, privateKey: Curve25519.Signing.PrivateKey) throws {
        guard NoteKey.isValidName(keyName) else { throw AuditLogError.invalidKey("invalid key name") }
        self.keyName = keyName
        self.privateKey = privateKey
        self.keyID = NoteKey.keyID(name: keyName, publicKey: Array(privateKey.publicKey.rawRepresentation))
    }

    /// The verifier for this signer's public key.
    public var verifier: CheckpointVerifier {
        // INVARIANT: the name was checked in init, so this cannot fail.
        try! CheckpointVerifier(keyName: keyName, publicKey: privateKey.publicKey)
    }

    /// The public verifier key in note format, `<name>+<key ID hex>+<base64(0x01 || public key)>`, to publish
    /// and to configure `confide audit verify` with.
    public var verifierKey: String { verifier.verifierKey }

    /// Signs `checkpoint`, returning the signed note.
    /// - Throws: whatever the signing primitive throws.
    public func sign(_ checkpoint: Checkpoint) throws -> SignedCheckpoint {
        let body = Array(checkpoint.body.utf8)
        let signature = try privateKey.signature(for: body)
        var note = body
        note.append(UInt8(ascii: "\n"))
        note.append(contentsOf: NoteKey.signatureLinePrefix)
        note.append(contentsOf: keyName.utf8)
        note.append(UInt8(ascii: " "))
        note.append(contentsOf: Base64.encode(keyID + Array(signature)).utf8)
        note.append(UInt8(ascii: "\n"))
        return SignedCheckpoint(checkpoint: checkpoint, note: note)
    }
}
