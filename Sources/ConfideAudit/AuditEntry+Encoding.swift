extension AuditEntry {
    /// The first byte of every encoding: the format version.
    public static let encodingVersion: UInt8 = 1

    /// The canonical byte encoding: the Merkle leaf data, and what a store persists.
    ///
    /// Format version 1, all integers big-endian, a *token* being a `UInt16` byte length then that many
    /// ASCII bytes:
    ///
    /// ```
    /// UInt8   version = 0x01
    /// Int64   time (epoch milliseconds, two's complement)
    /// token   actor
    /// token   action
    /// token   resourceType
    /// token   resourceID
    /// UInt8   0x00 (no patient) | 0x01 followed by: token patientID
    /// token   decision ("allowed" | "denied" | "not-found" | "refused")
    /// UInt16  number of rule IDs, followed by that many: token ruleID
    /// token   requestID
    /// token   purpose
    /// ```
    ///
    /// Nothing may follow. Each entry has exactly one encoding, and `init(encoded:)` accepts only that
    /// encoding, so `AuditEntry(encoded: b).encoded() == b` for every `b` it accepts: any changed byte
    /// either fails to decode or changes the entry, and always changes the leaf hash.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.encodingVersion]
        out.reserveCapacity(128)
        withUnsafeBytes(of: time.bigEndian) { out.append(contentsOf: $0) }
        Self.appendToken(actor, to: &out)
        Self.appendToken(action, to: &out)
        Self.appendToken(resourceType, to: &out)
        Self.appendToken(resourceID, to: &out)
        if let patientID {
            out.append(0x01)
            Self.appendToken(patientID, to: &out)
        } else {
            out.append(0x00)
        }
        Self.appendToken(decision.rawValue, to: &out)
        Self.appendUInt16(UInt16(ruleIDs.count), to: &out)
        for rule in ruleIDs { Self.appendToken(rule, to: &out) }
        Self.appendToken(requestID, to: &out)
        Self.appendToken(purpose, to: &out)
        return out
    }

    /// Decodes the canonical encoding, checking every field as `init(time:…)` does.
    /// - Throws: `AuditLogError.malformedEntry` for anything else, including trailing bytes.
    public init(encoded bytes: [UInt8]) throws {
        var reader = Reader(bytes: bytes)
        guard try reader.byte() == Self.encodingVersion else {
            throw AuditLogError.malformedEntry("unknown encoding version")
        }
        let time = Int64(bitPattern: try reader.uint64())
        let actor = try reader.token()
        let action = try reader.token()
        let resourceType = try reader.token()
        let resourceID = try reader.token()
        let patientID: String?
        switch try reader.byte() {
        case 0x00: patientID = nil
        case 0x01: patientID = try reader.token()
        default: throw AuditLogError.malformedEntry("invalid patient marker")
        }
        guard let decision = Decision(rawValue: try reader.token()) else {
            throw AuditLogError.malformedEntry("unknown decision")
        }
        let ruleCount = Int(try reader.uint16())
        guard ruleCount <= Self.maximumRuleCount else { throw AuditLogError.malformedEntry("too many ruleIDs") }
        var ruleIDs: [String] = []
        for _ in 0..<ruleCount { ruleIDs.append(try reader.token()) }
        let requestID = try reader.token()
        let purpose = try reader.token()
        guard reader.isAtEnd else { throw AuditLogError.malformedEntry("trailing bytes") }
        // The reader already held every token to `init(time:…)`'s byte rules (length, visible
        // ASCII); what is left of them is which fields may be empty. Checking here instead of
        // calling that initializer spares verification a second pass over every token.
        for (token, field) in [(actor, "actor"), (action, "action"), (resourceType, "resourceType"), (requestID, "requestID")]
        where token.isEmpty {
            throw AuditLogError.malformedEntry("\(field) is not an audit token")
        }
        if patientID?.isEmpty == true { throw AuditLogError.malformedEntry("patientID is not an audit token") }
        if ruleIDs.contains(where: \.isEmpty) { throw AuditLogError.malformedEntry("ruleIDs is not an audit token") }
        self.init(
            checked: time, actor: actor, action: action, resourceType: resourceType, resourceID: resourceID, patientID: patientID,
            decision: decision, ruleIDs: ruleIDs, requestID: requestID, purpose: purpose)
    }

    private static func appendUInt16(_ value: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(value >> 8))
        out.append(UInt8(value & 0xff))
    }

    private static func appendToken(_ token: String, to out: inout [UInt8]) {
        // INVARIANT: tokens were checked at init, so the length fits (≤ maximumTokenLength < 2^16).
        appendUInt16(UInt16(token.utf8.count), to: &out)
        out.append(contentsOf: token.utf8)
    }

    /// A bounds-checked cursor over an encoding.
    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

        mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count <= bytes.count - offset else { throw AuditLogError.malformedEntry("truncated") }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }

        mutating func byte() throws -> UInt8 { try take(1).first! }

        mutating func uint16() throws -> UInt16 {
            try take(2).reduce(0) { $0 << 8 | UInt16($1) }
        }

        mutating func uint64() throws -> UInt64 {
            try take(8).reduce(0) { $0 << 8 | UInt64($1) }
        }

        /// A length-prefixed token; field-level checks happen in `init(time:…)`.
        mutating func token() throws -> String {
            let length = Int(try uint16())
            guard length <= AuditEntry.maximumTokenLength else { throw AuditLogError.malformedEntry("token too long") }
            let raw = try take(length)
            guard raw.allSatisfy({ (0x21...0x7e).contains($0) }) else {
                throw AuditLogError.malformedEntry("token is not visible ASCII")
            }
            return String(decoding: raw, as: UTF8.self)
        }
    }
}
