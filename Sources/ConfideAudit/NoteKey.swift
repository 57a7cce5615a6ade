import Crypto

/// Shared pieces of the signed note format for Ed25519 keys.
enum NoteKey {
    /// The algorithm byte of Ed25519 in note keys.
    static let ed25519Algorithm: UInt8 = 0x01
    /// The em dash and space that open a signature line.
    static let signatureLinePrefix = Array("\u{2014} ".utf8)

    /// A key name: non-empty visible ASCII without `+`.
    static func isValidName(_ name: String) -> Bool {
        let bytes = name.utf8
        return !bytes.isEmpty && bytes.count <= 256
            && bytes.allSatisfy { (0x21...0x7e).contains($0) && $0 != UInt8(ascii: "+") }
    }

    /// The first four bytes of `SHA-256(name || "\n" || 0x01 || publicKey)`.
    static func keyID(name: String, publicKey: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array(name.utf8) + [UInt8(ascii: "\n"), ed25519Algorithm])
        hasher.update(data: publicKey)
        return Array(hasher.finalize().prefix(4))
    }
}
