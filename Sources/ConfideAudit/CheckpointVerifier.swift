import ConfideCore
public import Crypto

/// Checks signed checkpoint notes against one Ed25519 public key.
public struct CheckpointVerifier: Sendable {
    /// The most signature lines a note may carry.
    public static let maximumSignatures = 100

    /// The key name expected in the signature line.
    public let keyName: String
    /// The Ed25519 public key.
    public let publicKey: Curve25519.Signing.PublicKey
    private let keyID: [UInt8]

    /// A verifier for signatures by `keyName` with `publicKey`.
    /// - Throws: `AuditLogError.invalidKey` for an invalid key name.
    public init(keyName: String, publicKey: Curve25519.Signing.PublicKey) throws {
        guard NoteKey.isValidName(keyName) else { throw AuditLogError.invalidKey("invalid key name") }
        self.keyName = keyName
        self.publicKey = publicKey
        self.keyID = NoteKey.keyID(name: keyName, publicKey: Array(publicKey.rawRepresentation))
    }

    /// Parses a verifier key in note format, `<name>+<key ID hex>+<base64(0x01 || public key)>`.
    /// - Throws: `AuditLogError.invalidKey` when it is malformed or its key ID does not match.
    public init(verifierKey: String) throws {
        // The key name has no "+", but the base64 key data may.
        let parts = verifierKey.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let keyBytes = Base64.decodeCanonical(String(parts[2])),
            keyBytes.count == 33, keyBytes[0] == NoteKey.ed25519Algorithm,
            let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: keyBytes.dropFirst())
        else { throw AuditLogError.invalidKey("malformed verifier key") }
        try self.init(keyName: String(parts[0]), publicKey: publicKey)
        guard parts[1] == lowercaseHex(keyID) else { throw AuditLogError.invalidKey("key ID does not match") }
    }

    /// This key in note verifier-key format.
    public var verifierKey: String {
        "\(keyName)+\(lowercaseHex(keyID))+\(Base64.encode([NoteKey.ed25519Algorithm] + Array(publicKey.rawRepresentation)))"
    }

    /// Verifies a signed note and returns the checkpoint it carries.
    ///
    /// Accepts only well-formed notes: valid UTF-8, a canonical checkpoint body, a blank line, then
    /// 1...`maximumSignatures` well-formed signature lines of which one is by this key and verifies.
    /// Signature lines by other keys are allowed and ignored, as the note format prescribes.
    /// - Throws: `AuditLogError.malformedCheckpoint` or `.signatureNotVerified`.
    public func verify(note: [UInt8]) throws -> SignedCheckpoint {
        guard String(validating: note, as: UTF8.self) != nil else {
            throw AuditLogError.malformedCheckpoint("note is not UTF-8")
        }
        guard let split = Self.lastBlankLine(in: note) else { throw AuditLogError.malformedCheckpoint("no signatures") }
        let body = Array(note[..<(split + 1)])
        let signatureBlock = note[(split + 2)...]
        guard signatureBlock.last == UInt8(ascii: "\n") else {
            throw AuditLogError.malformedCheckpoint("no final newline")
        }
        let lines = signatureBlock.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard lines.count <= Self.maximumSignatures else {
            throw AuditLogError.malformedCheckpoint("too many signatures")
        }
        var verified = false
        for line in lines {
            let (name, keyID, signature) = try Self.parseSignatureLine(line)
            guard name == keyName, keyID == self.keyID else { continue }
            guard publicKey.isValidSignature(signature, for: body) else { throw AuditLogError.signatureNotVerified }
            verified = true
        }
        guard verified else { throw AuditLogError.signatureNotVerified }
        let checkpoint = try Checkpoint(body: String(decoding: body, as: UTF8.self))
        return SignedCheckpoint(checkpoint: checkpoint, note: note)
    }

    private static func lastBlankLine(in note: [UInt8]) -> Int? {
        guard note.count >= 2 else { return nil }
        var i = note.count - 2
        while i >= 0 {
            if note[i] == UInt8(ascii: "\n") && note[i + 1] == UInt8(ascii: "\n") { return i }
            i -= 1
        }
        return nil
    }

    private static func parseSignatureLine(_ line: ArraySlice<UInt8>) throws -> (String, [UInt8], [UInt8]) {
        guard line.starts(with: NoteKey.signatureLinePrefix) else {
            throw AuditLogError.malformedCheckpoint("malformed signature line")
        }
        let rest = line.dropFirst(NoteKey.signatureLinePrefix.count)
        let fields = rest.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count == 2 else { throw AuditLogError.malformedCheckpoint("malformed signature line") }
        let name = String(decoding: fields[0], as: UTF8.self)
        guard NoteKey.isValidName(name), let raw = Base64.decodeCanonical(String(decoding: fields[1], as: UTF8.self)),
            raw.count > 4
        else { throw AuditLogError.malformedCheckpoint("malformed signature line") }
        return (name, Array(raw.prefix(4)), Array(raw.dropFirst(4)))
    }
}
