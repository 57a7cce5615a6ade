import ConfideVault
import Crypto
import Foundation
import PropertyBased
import Testing

@Suite("Keys, wrapping and rotation")
struct KeyTests {
    @Test("a wrapped data key unwraps for its recording only, and its serialized form round-trips", .tags(.property))
    func wrapRoundTrip() async throws {
        let ring = try makeRing()
        await propertyCheck(count: 100, input: recordingGen, bytesGen) { recording, plain in
            let key = RecordingKey()
            let wrapped = try ring.wrap(key, recording: recording)
            #expect(wrapped.kekID == ring.current.id)
            #expect(wrapped.sealed.count == 12 + 32 + 16)
            #expect(try WrappedKey(serialized: wrapped.serialized) == wrapped)
            let sealed = try ChunkSealer.seal(plain, recording: recording, segment: 0, index: 0, final: true, key: key)
            let unwrapped = try ring.unwrap(wrapped, recording: recording)
            #expect(try ChunkSealer.open(sealed, recording: recording, segment: 0, index: 0, final: true, key: unwrapped) == plain)
            #expect(throws: VaultError.authenticationFailed) { try ring.unwrap(wrapped, recording: recording + "-other") }
        }
    }

    @Test("a tampered wrapped key fails to unwrap")
    func tamperedWrappedKey() throws {
        let ring = try makeRing()
        let wrapped = try ring.wrap(RecordingKey(), recording: "r")
        for at in 0..<wrapped.sealed.count {
            var bytes = wrapped.sealed
            bytes[at] ^= 0x01
            #expect(throws: VaultError.authenticationFailed) {
                try ring.unwrap(WrappedKey(kekID: wrapped.kekID, sealed: bytes), recording: "r")
            }
        }
        #expect(throws: VaultError.unsupportedVersion(9)) { try WrappedKey(serialized: Data([9, 1, 65])) }
        #expect(throws: VaultError.malformed("wrapped key")) { try WrappedKey(serialized: Data([1, 1, 65, 0])) }
    }

    @Test("rotation re-wraps under the new KEK without touching media; removing the old KEK stops old wraps")
    func rotation() throws {
        let ring = try makeRing()
        let recording = "rec-42"
        let key = RecordingKey()
        let wrapped = try ring.wrap(key, recording: recording)
        let sealed = try ChunkSealer.seal(Data("frame".utf8), recording: recording, segment: 0, index: 0, final: true, key: key)

        let next = try KeyEncryptionKey(SymmetricKey(size: .bits256), id: "kek-2")
        let rotated = ring.rotated(to: next)
        #expect(rotated.current.id == "kek-2")
        #expect(Set(rotated.kekIDs) == [ring.current.id, "kek-2"])
        // The old wrap still opens through the ring, until re-wrapped.
        _ = try rotated.unwrap(wrapped, recording: recording)
        let rewrapped = try rotated.rewrap(wrapped, recording: recording)
        #expect(rewrapped.kekID == "kek-2")
        #expect(rewrapped.sealed != wrapped.sealed)

        // The media sealed before the rotation opens with the re-wrapped key.
        let retired = try rotated.removing(kekID: ring.current.id)
        let unwrapped = try retired.unwrap(rewrapped, recording: recording)
        #expect(try ChunkSealer.open(sealed, recording: recording, segment: 0, index: 0, final: true, key: unwrapped) == Data("frame".utf8))
        // The old wrap needs the removed KEK.
        #expect(throws: VaultError.unknownKeyEncryptionKey(ring.current.id)) {
            try retired.unwrap(wrapped, recording: recording)
        }
        #expect(throws: VaultError.self) { try retired.removing(kekID: "kek-2") }
        // The old ring cannot read the new wrap.
        #expect(throws: VaultError.unknownKeyEncryptionKey("kek-2")) { try ring.unwrap(rewrapped, recording: recording) }
    }

    @Test("a KEK with the same id but other bytes fails to unwrap")
    func impostorKEK() throws {
        let ring = try makeRing()
        let wrapped = try ring.wrap(RecordingKey(), recording: "r")
        let impostor = try KeyRing(
            current: KeyEncryptionKey(SymmetricKey(size: .bits256), id: ring.current.id), naming: ring.naming
        )
        #expect(throws: VaultError.authenticationFailed) { try impostor.unwrap(wrapped, recording: "r") }
    }

    @Test("key files: generated 0600, loaded back with the same id; 0644 and 0640 refused; garbage refused")
    func keyFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = "\(dir.path)/kek.key"
        let generated = try KeyEncryptionKey.generate(path: path)
        let mode = try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))?.count == 32)
        let loaded = try KeyEncryptionKey.load(path: path)
        #expect(loaded.id == generated.id)
        #expect(generated.id.count == 16)

        // Wrapped under the generated key, unwrapped under the loaded one.
        let naming = try NamingKey.generate(path: "\(dir.path)/naming.key")
        let wrapped = try KeyRing(current: generated, naming: naming).wrap(RecordingKey(), recording: "r")
        _ = try KeyRing(current: loaded, naming: NamingKey.load(path: "\(dir.path)/naming.key")).unwrap(wrapped, recording: "r")

        // Refuses to overwrite.
        #expect(throws: VaultError.self) { try KeyEncryptionKey.generate(path: path) }

        for insecure in [0o644, 0o640, 0o604, 0o660] {
            try FileManager.default.setAttributes([.posixPermissions: insecure], ofItemAtPath: path)
            #expect(throws: VaultError.insecureKeyFile(path: path, mode: UInt32(insecure))) {
                try KeyEncryptionKey.load(path: path)
            }
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: path)
        _ = try KeyEncryptionKey.load(path: path)

        let bad = "\(dir.path)/bad.key"
        #expect(FileManager.default.createFile(atPath: bad, contents: Data("not base64 of 32 bytes".utf8), attributes: [.posixPermissions: 0o600]))
        #expect(throws: VaultError.invalidKeyFile(path: bad)) { try KeyEncryptionKey.load(path: bad) }
        #expect(throws: VaultError.self) { try KeyEncryptionKey.load(path: "\(dir.path)/missing.key") }
    }
}
