import ConfideVault
import Crypto
import Foundation
import PropertyBased
import Testing

@Suite("Sealed chunks")
struct ChunkSealerTests {
    let key = RecordingKey()
    let recording = "3f1c1f7e-8a55-4d7e-9a51-5f0d5b1b2c11"

    func seal(_ text: String, segment: Int = 0, index: Int, final: Bool = false) throws -> Data {
        try ChunkSealer.seal(Data(text.utf8), recording: recording, segment: segment, index: index, final: final, key: key)
    }

    func opens(_ sealed: Data, recording: String? = nil, segment: Int = 0, index: Int, final: Bool = false,
               key: RecordingKey? = nil) -> Bool {
        (try? ChunkSealer.open(
            sealed, recording: recording ?? self.recording, segment: segment, index: index, final: final,
            key: key ?? self.key
        )) != nil
    }

    @Test("the layout is version, 12-byte nonce, ciphertext, 16-byte tag; nonces are fresh")
    func layout() throws {
        let a = try seal("hello", index: 0)
        let b = try seal("hello", index: 0)
        #expect(a.count == 1 + 12 + 5 + 16)
        #expect(a.first == ChunkSealer.version)
        #expect(a != b)
        #expect(a[1..<13] != b[1..<13])
    }

    @Test("any chunk round-trips at its own place", .tags(.property))
    func roundTrip() async {
        await propertyCheck(
            count: 300, input: bytesGen, recordingGen, Gen.int(in: 0...1_000), Gen.int(in: 0...100_000), Gen.bool
        ) { plain, recording, segment, index, final in
            let sealed = try ChunkSealer.seal(
                plain, recording: recording, segment: segment, index: index, final: final, key: key
            )
            #expect(sealed.count == plain.count + ChunkSealer.overhead)
            let opened = try ChunkSealer.open(
                sealed, recording: recording, segment: segment, index: index, final: final, key: key
            )
            #expect(opened == plain)
        }
    }

    @Test("a chunk opens nowhere else: any other segment, index, flag, recording or key fails", .tags(.property))
    func placeIsBound() async {
        await propertyCheck(
            count: 400, input: Gen.int(in: 0...50), Gen.int(in: 0...50), Gen.bool, Gen.int(in: 0...3), Gen.int(in: 1...50)
        ) { segment, index, final, change, delta in
            let sealed = try ChunkSealer.seal(
                Data("media".utf8), recording: recording, segment: segment, index: index, final: final, key: key
            )
            // Change exactly one coordinate (or none, which must open).
            let otherSegment = change == 0 ? segment + delta : segment
            let otherIndex = change == 1 ? index + delta : index
            let otherFinal = change == 2 ? !final : final
            #expect(opens(sealed, segment: otherSegment, index: otherIndex, final: otherFinal) == (change == 3))
            #expect(!opens(sealed, recording: recording + "x", segment: segment, index: index, final: final))
            #expect(!opens(sealed, segment: segment, index: index, final: final, key: RecordingKey()))
        }
    }

    @Test("flipping any bit of a sealed chunk makes it fail to open", .tags(.property))
    func bitFlips() async {
        await propertyCheck(count: 500, input: bytesGen, Gen.int(in: 0...100_000), Gen.int(in: 0...7)) {
            plain, position, bit in
            var sealed = try ChunkSealer.seal(plain, recording: recording, segment: 1, index: 2, final: false, key: key)
            let at = position % sealed.count
            sealed[at] ^= UInt8(1) << UInt8(bit)
            #expect(!opens(sealed, segment: 1, index: 2))
        }
    }

    @Test("swapping two chunks is detected")
    func swap() throws {
        let c0 = try seal("zero", index: 0)
        let c1 = try seal("one", index: 1)
        #expect(!opens(c1, index: 0))
        #expect(!opens(c0, index: 1))
        #expect(throws: VaultError.authenticationFailed) {
            try SegmentReader.verifySequence([c1, c0], recording: recording, segment: 0, key: key)
        }
    }

    @Test("reordering a segment is detected")
    func reorder() throws {
        let chunks = try (0..<5).map { try seal("chunk \($0)", index: $0, final: $0 == 4) }
        let plain = try SegmentReader.verifySequence(chunks, recording: recording, segment: 0, key: key)
        #expect(plain.map { String(decoding: $0, as: UTF8.self) } == (0..<5).map { "chunk \($0)" })
        var shuffled = chunks
        shuffled.swapAt(1, 3)
        #expect(throws: VaultError.authenticationFailed) {
            try SegmentReader.verifySequence(shuffled, recording: recording, segment: 0, key: key)
        }
        #expect(throws: VaultError.authenticationFailed) {
            try SegmentReader.verifySequence(Array(chunks.reversed()), recording: recording, segment: 0, key: key)
        }
    }

    @Test("a chunk moved to another segment fails")
    func otherSegment() throws {
        let chunk = try seal("seg 0", segment: 0, index: 0, final: true)
        #expect(opens(chunk, segment: 0, index: 0, final: true))
        #expect(!opens(chunk, segment: 1, index: 0, final: true))
        #expect(throws: VaultError.authenticationFailed) {
            try SegmentReader.verifySequence([chunk], recording: recording, segment: 1, key: key)
        }
    }

    @Test("flipping the final flag fails; a segment without its final chunk is truncated")
    func truncation() throws {
        let chunks = try (0..<4).map { try seal("chunk \($0)", index: $0, final: $0 == 3) }
        #expect(!opens(chunks[3], index: 3, final: false))
        #expect(!opens(chunks[2], index: 2, final: true))
        for cut in 0..<3 {
            #expect(throws: VaultError.truncated(segment: 0, chunks: cut + 1)) {
                try SegmentReader.verifySequence(Array(chunks[...cut]), recording: recording, segment: 0, key: key)
            }
        }
        #expect(throws: VaultError.truncated(segment: 0, chunks: 0)) {
            try SegmentReader.verifySequence([], recording: recording, segment: 0, key: key)
        }
        // Nothing may follow the final chunk.
        let extra = try seal("extra", index: 4)
        #expect(throws: VaultError.chunkAfterFinal(segment: 0, index: 4)) {
            try SegmentReader.verifySequence(chunks + [extra], recording: recording, segment: 0, key: key)
        }
    }

    @Test("truncating any segment at any point is detected", .tags(.property))
    func truncationProperty() async {
        await propertyCheck(count: 100, input: Gen.int(in: 1...12), Gen.int(in: 0...11)) { count, rawCut in
            let chunks = try (0..<count).map { try seal("c\($0)", index: $0, final: $0 == count - 1) }
            let kept = rawCut % count
            #expect(throws: VaultError.truncated(segment: 0, chunks: kept)) {
                try SegmentReader.verifySequence(Array(chunks[..<kept]), recording: recording, segment: 0, key: key)
            }
            #expect(try SegmentReader.verifySequence(chunks, recording: recording, segment: 0, key: key).count == count)
        }
    }

    @Test("another recording's chunk fails, even at the same place")
    func otherRecording() throws {
        let otherKey = RecordingKey()
        let foreign = try ChunkSealer.seal(
            Data("theirs".utf8), recording: "other", segment: 0, index: 0, final: false, key: otherKey
        )
        #expect(!opens(foreign, index: 0))
        #expect(!opens(foreign, recording: "other", index: 0))  // our key
        #expect(opens(foreign, recording: "other", index: 0, key: otherKey))
        // The same key, but sealed for another recording id.
        let sameKey = try ChunkSealer.seal(Data("x".utf8), recording: "other", segment: 0, index: 0, final: false, key: key)
        #expect(!opens(sameKey, index: 0))
    }

    @Test("a wrong key fails")
    func wrongKey() throws {
        let chunk = try seal("secret", index: 0)
        #expect(!opens(chunk, index: 0, key: RecordingKey()))
        #expect(opens(chunk, index: 0))
    }

    @Test("the associated data is unambiguous: recording ids that concatenate alike differ")
    func lengthPrefixed() throws {
        let a = try ChunkSealer.seal(Data("x".utf8), recording: "ab", segment: 1, index: 0, final: false, key: key)
        #expect(!opens(a, recording: "a", segment: 1, index: 0))
        #expect(!opens(a, recording: "ab\u{0}", segment: 1, index: 0))
    }

    @Test("malformed, short, versioned and negative inputs are refused")
    func refusals() throws {
        #expect(throws: VaultError.malformed("sealed chunk")) {
            try ChunkSealer.open(Data([1, 2, 3]), recording: recording, segment: 0, index: 0, final: false, key: key)
        }
        var chunk = try seal("x", index: 0)
        chunk[0] = 2
        #expect(throws: VaultError.unsupportedVersion(2)) {
            try ChunkSealer.open(chunk, recording: recording, segment: 0, index: 0, final: false, key: key)
        }
        #expect(throws: VaultError.self) { try seal("x", segment: -1, index: 0) }
        #expect(throws: VaultError.self) { try seal("x", index: -1) }
    }
}

extension Tag {
    @Tag static var property: Self
}
