/// Lowercase hexadecimal, two digits per byte (digests, tokens, blob names). A table lookup: the
/// per-byte `String(format: "%02x")` it replaced cost microseconds per digest on every request.
public func lowercaseHex(_ bytes: some Sequence<UInt8>) -> String {
    let digits: StaticString = "0123456789abcdef"
    var out: [UInt8] = []
    out.reserveCapacity(bytes.underestimatedCount * 2)
    digits.withUTF8Buffer { table in
        for byte in bytes {
            out.append(table[Int(byte >> 4)])
            out.append(table[Int(byte & 0x0F)])
        }
    }
    return String(decoding: out, as: UTF8.self)
}

/// `bytes` bytes from the system's secure random generator, in lowercase hexadecimal.
public func randomHex(bytes: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    return lowercaseHex((0..<bytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
}
