/// A checkpoint together with the signed note that carries it, as a log publishes and stores it.
///
/// The note is in the signed note format of golang.org/x/mod/sumdb/note (c2sp.org/signed-note): the
/// checkpoint body, a blank line, then one line per signature, `— <key name> <base64(key ID || signature)>`,
/// where the key ID is the first four bytes of `SHA-256(key name || "\n" || 0x01 || Ed25519 public key)`.
public struct SignedCheckpoint: Hashable, Sendable {
    /// The checkpoint the note commits to.
    public let checkpoint: Checkpoint
    /// The complete note, exactly as stored and published.
    public let note: [UInt8]

    /// Pairs a checkpoint with its note; use `CheckpointSigner.sign` or `CheckpointVerifier.verify` to get one.
    init(checkpoint: Checkpoint, note: [UInt8]) {
        self.checkpoint = checkpoint
        self.note = note
    }
}
