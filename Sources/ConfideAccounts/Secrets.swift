import ConfideCore
import Crypto
import Foundation

/// The server's master key: seals secrets at rest (TOTP secrets) with AES-GCM.
public struct MasterKey: Sendable {
    let key: SymmetricKey

    /// From 32 bytes encoded as base64.
    /// - Throws: `AccountsError` when the value is not 32 bytes of base64.
    public init(base64: String) throws {
        guard let data = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32 else {
            throw ConfigurationError("`CONFIDE_SECRET_KEY` must be 32 bytes encoded as base64 (generate one with `openssl rand -base64 32`)")
        }
        self.key = SymmetricKey(data: data)
    }

    /// A fresh random key (demo mode writes it into the data directory).
    public static func generate() -> (MasterKey, String) {
        let key = SymmetricKey(size: .bits256)
        let b64 = key.withUnsafeBytes { Data($0).base64EncodedString() }
        return (MasterKey(key: key), b64)
    }

    init(key: SymmetricKey) { self.key = key }

    /// Seals `plaintext`; the result is base64 of nonce, ciphertext and tag.
    func seal(_ plaintext: [UInt8], context: String) throws -> String {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Array(context.utf8))
        guard let combined = box.combined else { throw ConfigurationError("sealing failed") }
        return combined.base64EncodedString()
    }

    /// Opens what `seal` produced for the same context.
    func open(_ sealed: String, context: String) throws -> [UInt8] {
        guard let data = Data(base64Encoded: sealed) else { throw ConfigurationError("sealed value is not base64") }
        let box = try AES.GCM.SealedBox(combined: data)
        return Array(try AES.GCM.open(box, using: key, authenticating: Array(context.utf8)))
    }
}

/// A configuration value is missing or invalid; the message names the setting, never a secret.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Random tokens and their stored digests.
enum Tokens {
    /// 32 random bytes as base64url without padding (256 bits).
    static func random(bytes: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        let raw = (0..<bytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(raw).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Hex SHA-256: what the database stores instead of a token.
    static func digest(_ token: String) -> String {
        lowercaseHex(SHA256.hash(data: Array(token.utf8)))
    }

    /// A recovery code like `k7qd-m2xp-9fha`: 60 bits from an unambiguous alphabet.
    static func recoveryCode() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        let chars = (0..<12).map { _ in alphabet.randomElement(using: &generator)! }
        return "\(String(chars[0..<4]))-\(String(chars[4..<8]))-\(String(chars[8..<12]))"
    }
}
