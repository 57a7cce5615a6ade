import ConfideCore
import Foundation
import PropertyBased
import Testing

@Suite("hexadecimal")
struct HexTests {
    @Test("lowercaseHex is two lowercase digits per byte, in order, as String(format: \"%02x\") gives")
    func matchesFormat() async {
        #expect(lowercaseHex([UInt8]()) == "")
        #expect(lowercaseHex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...80)) { bytes in
            #expect(lowercaseHex(bytes) == bytes.map { String(format: "%02x", $0) }.joined())
        }
    }

    @Test("randomHex gives two lowercase hex digits per byte, and differs from call to call")
    func random() {
        let a = randomHex(bytes: 32), b = randomHex(bytes: 32)
        #expect(a.count == 64 && b.count == 64 && a != b)
        #expect(a.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(randomHex(bytes: 0) == "")
    }
}
