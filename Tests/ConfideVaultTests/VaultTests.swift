import ConfideVault
import Crypto
import Foundation
import PropertyBased
import Testing

@Suite("The vault")
struct VaultTests {
    func makeVault(_ dir: TemporaryDirectory) throws -> Vault {
        try Vault(keys: makeRing(), store: FileBlobStore(root: dir.path))
    }

    @Test("chunks round-trip through the store, one by one and as a segment")
    func roundTrip() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let vault = try makeVault(dir)
        let recording = "6d1f3a10-2a9e-4c55-8e0f-1b2c3d4e5f60"
        let wrapped = try vault.createRecordingKey(recording: recording)
        let chunks = (0..<6).map { Data("segment 2 chunk \($0)".utf8) }
        for (i, chunk) in chunks.enumerated() {
            try await vault.storeChunk(
                recording: recording, segment: 2, index: i, final: i == 5, plaintext: chunk, wrapped: wrapped
            )
        }
        #expect(try await vault.readChunk(recording: recording, segment: 2, index: 3, final: false, wrapped: wrapped) == chunks[3])
        await #expect(throws: VaultError.authenticationFailed) {
            try await vault.readChunk(recording: recording, segment: 2, index: 5, final: false, wrapped: wrapped)
        }
        #expect(try await vault.readSegment(recording: recording, segment: 2, wrapped: wrapped) == chunks)
    }

    @Test("a segment missing its final chunk reads as truncated; a blob swapped on disk fails")
    func storedTampering() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let vault = try makeVault(dir)
        let wrapped = try vault.createRecordingKey(recording: "r")
        for i in 0..<3 {
            try await vault.storeChunk(recording: "r", segment: 0, index: i, final: i == 2, plaintext: Data([UInt8(i)]), wrapped: wrapped)
        }
        // Swap the files of chunks 0 and 1.
        let n0 = try vault.name(recording: "r", segment: 0, index: 0)
        let n1 = try vault.name(recording: "r", segment: 0, index: 1)
        let b0 = try await vault.store.get(name: n0)
        let b1 = try await vault.store.get(name: n1)
        try await vault.store.put(name: n0, data: b1)
        try await vault.store.put(name: n1, data: b0)
        await #expect(throws: VaultError.authenticationFailed) {
            try await vault.readSegment(recording: "r", segment: 0, wrapped: wrapped)
        }
        try await vault.store.put(name: n0, data: b0)
        try await vault.store.put(name: n1, data: b1)
        #expect(try await vault.readSegment(recording: "r", segment: 0, wrapped: wrapped).count == 3)
        // Drop the final chunk.
        try await vault.store.delete(name: vault.name(recording: "r", segment: 0, index: 2))
        await #expect(throws: VaultError.truncated(segment: 0, chunks: 2)) {
            try await vault.readSegment(recording: "r", segment: 0, wrapped: wrapped)
        }
        // Another recording's wrapped key does not open this one.
        let foreign = try vault.createRecordingKey(recording: "s")
        await #expect(throws: VaultError.authenticationFailed) {
            try await vault.readChunk(recording: "r", segment: 0, index: 0, final: false, wrapped: foreign)
        }
    }

    @Test("no file under the root contains the plaintext, the recording id, or has it in its path")
    func nothingInTheClear() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let vault = try makeVault(dir)
        let recording = "rec-7c9e6679-7425-40de-944b-e07fc1f90ae7"
        let wrapped = try vault.createRecordingKey(recording: recording)
        let marker = Data("PLAINTEXT-MEDIA-MARKER-0123456789-".utf8)
        var plain = Data()
        for _ in 0..<200 { plain.append(marker) }
        for segment in 0..<2 {
            for index in 0..<4 {
                try await vault.storeChunk(
                    recording: recording, segment: segment, index: index, final: index == 3, plaintext: plain,
                    wrapped: wrapped
                )
            }
        }
        let files = dir.allFiles()
        #expect(files.count == 8)
        let probes = [marker.prefix(16), Data(recording.utf8), Data("7c9e6679".utf8)]
        for file in files {
            #expect(!file.contains(recording))
            #expect(!file.contains("7c9e6679"))
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            #expect(bytes.count == plain.count + ChunkSealer.overhead)
            for probe in probes { #expect(!bytes.containsBytes(probe)) }
        }
        // Sanity: the probe does find the marker in plaintext.
        #expect(plain.containsBytes(marker.prefix(16)))
    }

    @Test("erasure removes every blob; with the wrapped key deleted a surviving copy cannot be opened")
    func erasure() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let vault = try makeVault(dir)
        let wrapped = try vault.createRecordingKey(recording: "gone")
        let keep = try vault.createRecordingKey(recording: "kept")
        var addresses: [ChunkAddress] = []
        for segment in 0..<2 {
            for index in 0..<3 {
                try await vault.storeChunk(recording: "gone", segment: segment, index: index, final: index == 2, plaintext: Data("x".utf8), wrapped: wrapped)
                addresses.append(ChunkAddress(segment: segment, index: index))
            }
        }
        try await vault.storeChunk(recording: "kept", segment: 0, index: 0, final: true, plaintext: Data("y".utf8), wrapped: keep)
        let backup = try await vault.store.get(name: vault.name(recording: "gone", segment: 0, index: 0))

        try await vault.erase(recording: "gone", chunks: addresses)
        try await vault.erase(recording: "gone", chunks: addresses)  // idempotent
        #expect(dir.allFiles().count == 1)
        #expect(try await vault.readChunk(recording: "kept", segment: 0, index: 0, final: true, wrapped: keep) == Data("y".utf8))
        await #expect(throws: VaultError.truncated(segment: 0, chunks: 0)) {
            try await vault.readSegment(recording: "gone", segment: 0, wrapped: wrapped)
        }
        // Crypto-shredding: the caller drops `wrapped`; a fresh key for the same id cannot open the backup copy.
        let replacement = try vault.keys.unwrap(vault.createRecordingKey(recording: "gone"), recording: "gone")
        #expect(throws: VaultError.authenticationFailed) {
            try ChunkSealer.open(backup, recording: "gone", segment: 0, index: 0, final: false, key: replacement)
        }
    }

    @Test("media stored before a KEK rotation reads after it with the re-wrapped key and the old KEK removed")
    func rotationThroughTheVault() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let vault = try makeVault(dir)
        let wrapped = try vault.createRecordingKey(recording: "r")
        try await vault.storeChunk(recording: "r", segment: 0, index: 0, final: true, plaintext: Data("media".utf8), wrapped: wrapped)
        let before = dir.allFiles().map { try? Data(contentsOf: URL(fileURLWithPath: $0)) }

        let rotatedRing = try vault.keys.rotated(to: KeyEncryptionKey(SymmetricKey(size: .bits256)))
        let rewrapped = try rotatedRing.rewrap(wrapped, recording: "r")
        let retired = try rotatedRing.removing(kekID: vault.keys.current.id)
        let after = Vault(keys: retired, store: vault.store)
        #expect(try await after.readChunk(recording: "r", segment: 0, index: 0, final: true, wrapped: rewrapped) == Data("media".utf8))
        await #expect(throws: VaultError.unknownKeyEncryptionKey(vault.keys.current.id)) {
            try await after.readChunk(recording: "r", segment: 0, index: 0, final: true, wrapped: wrapped)
        }
        // The media files are untouched by rotation.
        #expect(dir.allFiles().map { try? Data(contentsOf: URL(fileURLWithPath: $0)) } == before)
    }
}
