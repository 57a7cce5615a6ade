import ConfideCore
import Crypto
public import Foundation

/// RFC 6238 time-based one-time passwords: HMAC-SHA1, 30-second steps, 6 digits, as every
/// authenticator app implements them.
public struct TOTP: Sendable {
    public static let period: Int64 = 30
    public static let digits = 6

    /// The raw shared secret (20 bytes when generated here).
    public let secret: [UInt8]

    public init(secret: [UInt8]) { self.secret = secret }

    /// Parses a base32 secret.
    public init?(base32: String) {
        guard let bytes = Base32.decode(base32), bytes.count >= 10 else { return nil }
        self.secret = bytes
    }

    /// A new random 160-bit secret.
    public static func generate() -> TOTP {
        TOTP(secret: (0..<20).map { _ in UInt8.random(in: .min ... .max) })
    }

    /// The secret as base32, for manual entry.
    public var base32: String { Base32.encode(secret) }

    /// The time step of an instant.
    public static func step(at date: Date) -> Int64 { Int64(date.timeIntervalSince1970.rounded(.down)) / period }

    /// The code for a time step (RFC 4226 dynamic truncation).
    public func code(step: Int64) -> String {
        var counter = UInt64(bitPattern: step).bigEndian
        let message = withUnsafeBytes(of: &counter) { Data($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: secret)))
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let value =
            (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16) | (UInt32(mac[offset + 2]) << 8)
            | UInt32(mac[offset + 3])
        let code = String(value % 1_000_000)
        return String(repeating: "0", count: Self.digits - code.count) + code
    }

    /// The matching step for `code` within one step of `date` (clock drift), or `nil`.
    /// The caller must still reject steps at or before the last accepted one (replay).
    public func matchingStep(for code: String, at date: Date) -> Int64? {
        let trimmed = code.filter { !$0.isWhitespace }
        guard trimmed.count == Self.digits, trimmed.allSatisfy(\.isNumber) else { return nil }
        let now = Self.step(at: date)
        for step in [now - 1, now, now + 1] where constantTimeEquals(self.code(step: step), trimmed) {
            return step
        }
        return nil
    }

    /// An `otpauth://` URI for authenticator apps (and QR codes).
    public func provisioningURI(account: String, issuer: String = "Confide") -> String {
        func enc(_ s: String) -> String {
            s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~@"))) ?? s
        }
        return "otpauth://totp/\(enc(issuer)):\(enc(account))?secret=\(base32)&issuer=\(enc(issuer))&algorithm=SHA1&digits=6&period=30"
    }
}

