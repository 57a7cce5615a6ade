import ConfideAudit
import ConfideCore
import Foundation
import PropertyBased
import Testing

@Suite("audit entries")
struct AuditEntryTests {
    /// Computed in Python:
    /// ```python
    /// def tok(s): b = s.encode(); return struct.pack(">H", len(b)) + b
    /// enc = b"\x01" + struct.pack(">q", 1764115200000) + tok("patient:7d9f3c1e-0000-4000-8000-000000000001") \
    ///     + tok("read") + tok("Patient") + tok("3a1b2c4d-0000-4000-8000-000000000002") \
    ///     + b"\x01" + tok("3a1b2c4d-0000-4000-8000-000000000002") + tok("allowed") + struct.pack(">H", 2) \
    ///     + tok("patient-reads-own-record") + tok("mfa-recent") + tok("req-0001") + tok("self-access")
    /// hashlib.sha256(b"\x00" + enc).hexdigest()
    /// ```
    @Test("the encoding and leaf hash of a fixed entry match the Python reference")
    func knownEncoding() throws {
        let entry = try AuditEntry(
            time: 1_764_115_200_000,
            actor: "patient:7d9f3c1e-0000-4000-8000-000000000001",
            action: "read",
            resourceType: "Patient",
            resourceID: "3a1b2c4d-0000-4000-8000-000000000002",
            patientID: "3a1b2c4d-0000-4000-8000-000000000002",
            decision: .allowed,
            ruleIDs: ["patient-reads-own-record", "mfa-recent"],
            requestID: "req-0001",
            purpose: "self-access"
        )
        let hex = entry.encoded().map { String(format: "%02x", $0) }.joined()
        #expect(
            hex == "010000019abd75b800002c70617469656e743a37643966336331652d303030302d343030302d383030302d3030303030"
                + "30303030303031000472656164000750617469656e74002433613162326334642d303030302d343030302d383030302d3030"
                + "3030303030303030303201002433613162326334642d303030302d343030302d383030302d3030303030303030303030320007"
                + "616c6c6f7765640002001870617469656e742d72656164732d6f776e2d7265636f7264000a6d66612d726563656e7400087265"
                + "712d30303031000b73656c662d616363657373"
        )
        #expect(
            RFC6962.leafHash(entry.encoded()).hex == "449ae3be5522f13dec5bacdcfeb85a33255300984473f4cd20765116c8d9653b"
        )
    }

    /// `enc2 = b"\x01" + struct.pack(">q", -1) + tok("system:seed") + tok("search") + tok("Recording") + tok("")
    ///     + b"\x00" + tok("not-found") + struct.pack(">H", 0) + tok("r") + tok("")`
    @Test("an entry without patient, rules or purpose encodes as the Python reference")
    func knownMinimalEncoding() throws {
        let entry = try AuditEntry(
            time: -1,
            actor: "system:seed",
            action: "search",
            resourceType: "Recording",
            resourceID: "",
            patientID: nil,
            decision: .notFound,
            ruleIDs: [],
            requestID: "r",
            purpose: ""
        )
        #expect(
            entry.encoded().map { String(format: "%02x", $0) }.joined()
                == "01ffffffffffffffff000b73797374656d3a73656564000673656172636800095265636f7264696e6700000000096e6f74"
                + "2d666f756e6400000001720000"
        )
        #expect(
            RFC6962.leafHash(entry.encoded()).hex == "4e0f60fc010a8396b8004c31862cd35df39c51b901e1b684a86905e6c941d8eb"
        )
    }

    @Test("a required field encoded empty is refused on decoding", arguments: ["actor", "action", "resourceType", "patientID", "ruleIDs", "requestID"])
    func emptyRequiredField(_ field: String) throws {
        let marker = "Z"
        func entry(_ name: String) throws -> AuditEntry {
            try AuditEntry(
                time: 7, actor: name == "actor" ? marker : "system:t", action: name == "action" ? marker : "read",
                resourceType: name == "resourceType" ? marker : "patient-record", resourceID: "r",
                patientID: name == "patientID" ? marker : nil, decision: .allowed, ruleIDs: name == "ruleIDs" ? [marker] : ["rule.v1"],
                requestID: name == "requestID" ? marker : "req", purpose: "")
        }
        let bytes = try entry(field).encoded()
        // The one token that is exactly "Z" (length 0x0001, then "Z") becomes length 0.
        let pattern: [UInt8] = [0x00, 0x01, 0x5a]
        let at = try #require((0...(bytes.count - 3)).first { Array(bytes[$0..<($0 + 3)]) == pattern })
        let emptied = Array(bytes[..<at]) + [0x00, 0x00] + Array(bytes[(at + 3)...])
        #expect(throws: AuditLogError.self) { try AuditEntry(encoded: emptied) }
        #expect(try AuditEntry(encoded: bytes) == (try entry(field)))
    }

    @Test("encoding then decoding an entry round-trips")
    func roundTrip() async throws {
        await propertyCheck(count: 300, input: entryGen) { entry in
            let bytes = entry.encoded()
            let decoded = try AuditEntry(encoded: bytes)
            #expect(decoded == entry)
            #expect(decoded.encoded() == bytes)
        }
    }

    @Test("any decodable byte string re-encodes to itself, so no entry has two encodings")
    func canonical() async throws {
        await propertyCheck(count: 300, input: entryGen, Gen.int(in: 0...10_000), Gen.uint8(in: 1...255)) {
            entry,
            position,
            mask in
            let bytes = flipped(entry.encoded(), at: position % entry.encoded().count, mask: mask)
            if let decoded = try? AuditEntry(encoded: bytes) {
                #expect(decoded.encoded() == bytes)
                #expect(decoded != entry)
            }
            #expect(throws: AuditLogError.self) { try AuditEntry(encoded: entry.encoded() + [0]) }
            #expect(throws: AuditLogError.self) { try AuditEntry(encoded: Array(entry.encoded().dropLast())) }
        }
    }

    @Test(
        "display text cannot enter an entry",
        arguments: [
            "Siobhán Ní Bhriain", "chest pain", "line\nbreak", "tab\there", "", String(repeating: "x", count: 257),
        ]
    )
    func noDisplayText(_ text: String) {
        #expect(throws: AuditLogError.self) {
            try AuditEntry(
                time: 0,
                actor: "patient:1",
                action: "read",
                resourceType: "Patient",
                resourceID: "1",
                patientID: text,
                decision: .allowed,
                ruleIDs: [],
                requestID: "r",
                purpose: ""
            )
        }
        #expect(throws: AuditLogError.self) {
            try AuditEntry(
                time: 0,
                actor: "patient:1",
                action: "read",
                resourceType: "Patient",
                resourceID: "1",
                patientID: nil,
                decision: .allowed,
                ruleIDs: [text],
                requestID: "r",
                purpose: ""
            )
        }
    }

    @Test("an entry made from a principal uses its audit-safe description and epoch milliseconds")
    func fromPrincipal() throws {
        let account = Account.ID(UUID(uuidString: "7d9f3c1e-0000-4000-8000-000000000001")!)
        let patient = Patient.ID(UUID(uuidString: "3a1b2c4d-0000-4000-8000-000000000002")!)
        let entry = try AuditEntry(
            at: Date(epochMilliseconds: 1_764_115_200_123),
            principal: .patient(account: account, patient: patient),
            action: "read",
            resourceType: "Patient",
            resourceID: patient.description,
            patientID: patient,
            decision: .allowed,
            ruleIDs: ["patient-reads-own-record"],
            requestID: "req-1",
            purpose: "self-access"
        )
        #expect(entry.actor == "patient:7d9f3c1e-0000-4000-8000-000000000001")
        #expect(entry.patientID == "3a1b2c4d-0000-4000-8000-000000000002")
        #expect(entry.time == 1_764_115_200_123)
    }
}
