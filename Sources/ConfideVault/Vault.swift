public import Foundation

/// Where one chunk sits in a recording.
public struct ChunkAddress: Sendable, Hashable {
    public let segment: Int
    public let index: Int
    public init(segment: Int, index: Int) {
        self.segment = segment
        self.index = index
    }
}

/// Envelope encryption of recordings over a ``BlobStore``.
///
/// The caller (the recordings service) stores each recording's ``WrappedKey`` in its database and records
/// which chunks it acknowledged; the vault seals, names, stores, reads and removes them.
public struct Vault: Sendable {
    public let keys: KeyRing
    public let store: any BlobStore

    public init(keys: KeyRing, store: any BlobStore) {
        self.keys = keys
        self.store = store
    }

    /// A fresh data key for `recording`, wrapped under the current KEK. Store it; it is the only copy.
    public func createRecordingKey(recording: String) throws -> WrappedKey {
        try keys.wrap(RecordingKey(), recording: recording)
    }

    /// The opaque name of a chunk.
    public func name(recording: String, segment: Int, index: Int) throws -> BlobName {
        try BlobName(recording: recording, segment: segment, index: index, naming: keys.naming)
    }

    /// The chunk sealed under the recording's data key, and its opaque name.
    func sealed(
        recording: String, segment: Int, index: Int, final: Bool, plaintext: Data, wrapped: WrappedKey
    ) throws -> (name: BlobName, data: Data) {
        let key = try keys.unwrap(wrapped, recording: recording)
        let data = try ChunkSealer.seal(plaintext, recording: recording, segment: segment, index: index, final: final, key: key)
        return (try name(recording: recording, segment: segment, index: index), data)
    }

    /// Seals `plaintext` and stores it durably; acknowledge the chunk only after this returns.
    public func storeChunk(
        recording: String, segment: Int, index: Int, final: Bool, plaintext: Data, wrapped: WrappedKey
    ) async throws {
        let chunk = try sealed(recording: recording, segment: segment, index: index, final: final, plaintext: plaintext, wrapped: wrapped)
        try await store.put(name: chunk.name, data: chunk.data)
    }

    /// Seals `plaintext` and stages it (written and synced where no read sees it, see
    /// ``BlobStore/stage(name:data:)``): the slow part of `storeChunk`, for a caller that decides
    /// under a lock whether to `store.promote` it.
    public func stageChunk(
        recording: String, segment: Int, index: Int, final: Bool, plaintext: Data, wrapped: WrappedKey
    ) async throws -> StagedBlob {
        let chunk = try sealed(recording: recording, segment: segment, index: index, final: final, plaintext: plaintext, wrapped: wrapped)
        return try await store.stage(name: chunk.name, data: chunk.data)
    }

    /// Reads and opens one chunk; `final` must be what it was stored with.
    public func readChunk(
        recording: String, segment: Int, index: Int, final: Bool, wrapped: WrappedKey
    ) async throws -> Data {
        let key = try keys.unwrap(wrapped, recording: recording)
        let sealed = try await store.get(name: name(recording: recording, segment: segment, index: index))
        return try ChunkSealer.open(sealed, recording: recording, segment: segment, index: index, final: final, key: key)
    }

    /// Reads a whole segment, chunk 0 onwards, through a ``SegmentReader``.
    /// - Throws: ``VaultError/truncated(segment:chunks:)`` when a chunk is missing before the final one.
    public func readSegment(recording: String, segment: Int, wrapped: WrappedKey) async throws -> [Data] {
        var chunks: [Data] = []
        for try await chunk in try self.chunks(recording: recording, segment: segment, wrapped: wrapped) { chunks.append(chunk) }
        return chunks
    }

    /// A segment's chunks, each read and opened only when the iteration asks for it, so a whole
    /// segment can be streamed without being held. The checks are ``readSegment(recording:segment:wrapped:)``'s:
    /// the iteration throws ``VaultError/truncated(segment:chunks:)`` where a chunk is missing before
    /// the final one, and ``VaultError/authenticationFailed`` for a chunk not sealed at its place.
    public func chunks(recording: String, segment: Int, wrapped: WrappedKey) throws -> SegmentChunks {
        SegmentChunks(vault: self, reader: SegmentReader(recording: recording, segment: segment, key: try keys.unwrap(wrapped, recording: recording)))
    }

    /// Erasure: removes the blobs of `chunks`. Missing blobs are not an error, so erasure can be retried.
    ///
    /// The caller must then delete the recording's ``WrappedKey`` (crypto-shredding): without it no copy of
    /// these blobs — a missed one, a backup, a disk's remanence — can be opened. Blob removal alone is not the
    /// guarantee; destroying the data key is. The wrapped key is not needed here on purpose: erasure must work
    /// even when its KEK has been retired.
    public func erase(recording: String, chunks: [ChunkAddress]) async throws {
        for chunk in chunks {
            try await store.delete(name: name(recording: recording, segment: chunk.segment, index: chunk.index))
        }
    }
}

/// A segment's plaintext chunks in order, read and opened one at a time (see ``Vault/chunks(recording:segment:wrapped:)``).
public struct SegmentChunks: AsyncSequence, Sendable {
    public typealias Element = Data
    let vault: Vault
    let reader: SegmentReader

    public struct AsyncIterator: AsyncIteratorProtocol {
        let vault: Vault
        var reader: SegmentReader

        public mutating func next() async throws -> Data? {
            guard !reader.isComplete else { return nil }
            let name = try vault.name(recording: reader.recording, segment: reader.segment, index: reader.nextIndex)
            let sealed: Data
            do {
                sealed = try await vault.store.get(name: name)
            } catch VaultError.notFound {
                try reader.finish()  // throws .truncated
                return nil
            }
            return try reader.next(sealed)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(vault: vault, reader: reader) }
}
