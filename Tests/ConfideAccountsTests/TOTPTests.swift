@testable import ConfideAccounts
import Foundation
import Testing

@Suite("TOTP (RFC 6238)")
struct TOTPTests {
    // RFC 6238 appendix B, SHA-1 secret "12345678901234567890"; 6-digit codes are the last six
    // digits of the 8-digit test vectors.
    @Test(
        "matches the RFC 6238 test vectors",
        arguments: [(59, "287082"), (1_111_111_109, "081804"), (1_111_111_111, "050471"), (1_234_567_890, "005924"),
            (2_000_000_000, "279037"), (20_000_000_000, "353130")])
    func vectors(_ time: Int, _ expected: String) {
        let totp = TOTP(secret: Array("12345678901234567890".utf8))
        #expect(totp.code(step: TOTP.step(at: Date(timeIntervalSince1970: Double(time)))) == expected)
    }

    @Test("accepts one step of drift and nothing further")
    func drift() {
        let totp = TOTP.generate()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let step = TOTP.step(at: now)
        #expect(totp.matchingStep(for: totp.code(step: step - 1), at: now) == step - 1)
        #expect(totp.matchingStep(for: totp.code(step: step + 1), at: now) == step + 1)
        #expect(totp.matchingStep(for: totp.code(step: step - 2), at: now) == nil)
        #expect(totp.matchingStep(for: "12345", at: now) == nil)
        #expect(totp.matchingStep(for: "abcdef", at: now) == nil)
    }

    @Test("base32 round-trips and the provisioning URI carries the secret")
    func base32() {
        let totp = TOTP.generate()
        #expect(TOTP(base32: totp.base32)?.secret == totp.secret)
        #expect(Base32.encode(Array("foobar".utf8)) == "MZXW6YTBOI")
        #expect(totp.provisioningURI(account: "a@example.com").contains("secret=\(totp.base32)"))
    }

    @Test("the common password list is loaded")
    func commonPasswords() {
        #expect(CommonPasswords.list.count >= 5000)
        #expect(CommonPasswords.list.contains("password"))
    }
}
