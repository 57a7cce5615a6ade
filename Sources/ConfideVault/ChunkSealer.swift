import Crypto
public import Foundation

/// Seals one acknowledged upload chunk as one AES-256-GCM unit.
///
/// Layout: version (1 byte, `0x01`) ‖ nonce (12 random bytes) ‖ ciphertext (as long as the plaintext) ‖ tag (16).
///
/// Associated data: `"confide-chunk-v1"` (u32 length-prefixed) ‖ version (u8) ‖ recording id (u32 length ‖ UTF-8)
/// ‖ segment (u64) ‖ chunk index (u64) ‖ final flag (u8 0 or 1), all big-endian. A chunk therefore opens only
/// at its own place in its own recording, and only with the final flag it was sealed with: swapping,
/// reordering, moving between segments or recordings, and truncating (see ``SegmentReader``) are detected.
public enum ChunkSealer {
    public static let version: UInt8 = 1
    public static let nonceCount = 12
    public static let tagCount = 16
    /// Bytes a sealed chunk adds to its plaintext.
    public static let overhead = 1 + nonceCount + tagCount

    /// Seals `plaintext` with a fresh random nonce.
    public static func seal(
        _ plaintext: Data, recording: String, segment: Int, index: Int, final: Bool, key: RecordingKey
    ) throws -> Data {
        let aad = try associatedData(recording: recording, segment: segment, index: index, final: final)
        let box = try AES.GCM.seal(plaintext, using: key.key, nonce: AES.GCM.Nonce(), authenticating: aad)
        var out = Data(capacity: overhead + plaintext.count)
        out.append(version)
        out.append(contentsOf: box.nonce)
        out.append(box.ciphertext)
        out.append(box.tag)
        return out
    }

    /// Opens a chunk sealed by ``seal(_:recording:segment:index:final:key:)`` with the same parameters.
    /// - Throws: ``VaultError/authenticationFailed`` for any other parameter, key or byte.
    public static func open(
        _ sealed: Data, recording: String, segment: Int, index: Int, final: Bool, key: RecordingKey
    ) throws -> Data {
        let bytes = [UInt8](sealed)
        guard bytes.count >= overhead else { throw VaultError.malformed("sealed chunk") }
        guard bytes[0] == version else { throw VaultError.unsupportedVersion(bytes[0]) }
        let aad = try associatedData(recording: recording, segment: segment, index: index, final: final)
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: bytes[1..<(1 + nonceCount)]),
                ciphertext: bytes[(1 + nonceCount)..<(bytes.count - tagCount)],
                tag: bytes[(bytes.count - tagCount)...]
            )
            return try AES.GCM.open(box, using: key.key, authenticating: aad)
        } catch {
            throw VaultError.authenticationFailed
        }
    }

    static func associatedData(recording: String, segment: Int, index: Int, final: Bool) throws -> [UInt8] {
        var encoder = Encoder(domain: "confide-chunk-v1")
        encoder.append(version)
        encoder.append(recording)
        encoder.append(try nonNegative(segment, "segment"))
        encoder.append(try nonNegative(index, "chunk index"))
        encoder.append(final ? UInt8(1) : 0)
        return encoder.bytes
    }
}

/// Opens the chunks of one segment in order, 0, 1, 2, …, and detects truncation: a segment is complete
/// only when its last chunk was sealed `final`; nothing may follow it.
///
/// ```swift
/// var reader = SegmentReader(recording: id, segment: 0, key: key)
/// for chunk in chunks { media.append(try reader.next(chunk)) }
/// try reader.finish()   // throws .truncated unless the last chunk was final
/// ```
public struct SegmentReader: Sendable {
    public let recording: String
    public let segment: Int
    let key: RecordingKey
    /// The index the next chunk must have been sealed with.
    public private(set) var nextIndex = 0
    /// Whether the chunk sealed `final` has been read.
    public private(set) var isComplete = false

    public init(recording: String, segment: Int, key: RecordingKey) {
        self.recording = recording
        self.segment = segment
        self.key = key
    }

    /// Opens the next chunk.
    /// - Throws: ``VaultError/chunkAfterFinal(segment:index:)`` after the final chunk,
    ///   ``VaultError/authenticationFailed`` for a chunk not sealed at this place.
    public mutating func next(_ sealed: Data) throws -> Data {
        guard !isComplete else { throw VaultError.chunkAfterFinal(segment: segment, index: nextIndex) }
        let plain: Data
        do {
            plain = try ChunkSealer.open(
                sealed, recording: recording, segment: segment, index: nextIndex, final: false, key: key
            )
        } catch VaultError.authenticationFailed {
            plain = try ChunkSealer.open(
                sealed, recording: recording, segment: segment, index: nextIndex, final: true, key: key
            )
            isComplete = true
        }
        nextIndex += 1
        return plain
    }

    /// Checks that the segment ended with its final chunk.
    /// - Throws: ``VaultError/truncated(segment:chunks:)`` otherwise.
    public func finish() throws {
        guard isComplete else { throw VaultError.truncated(segment: segment, chunks: nextIndex) }
    }

    /// Opens a whole segment and checks it is complete; returns the plaintext chunks.
    public static func verifySequence(
        _ chunks: [Data], recording: String, segment: Int, key: RecordingKey
    ) throws -> [Data] {
        var reader = SegmentReader(recording: recording, segment: segment, key: key)
        let plain = try chunks.map { try reader.next($0) }
        try reader.finish()
        return plain
    }
}
