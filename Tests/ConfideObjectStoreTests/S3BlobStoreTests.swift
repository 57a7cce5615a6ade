import AsyncHTTPClient
import ConfideObjectStore
import ConfideVault
import Crypto
import Foundation
import Testing

/// The S3 server under test, from the environment (scripts/test starts SeaweedFS and sets these):
/// `CONFIDE_TEST_S3_ENDPOINT` (e.g. http://127.0.0.1:8333), `CONFIDE_TEST_S3_ACCESS_KEY`,
/// `CONFIDE_TEST_S3_SECRET_KEY`, optionally `CONFIDE_TEST_S3_BUCKET` and `CONFIDE_TEST_S3_REGION`.
/// `CONFIDE_TEST_REQUIRE_S3=1` turns a missing endpoint into a failure instead of a skip.
enum S3TestServer {
    static let environment = ProcessInfo.processInfo.environment
    static let endpoint = environment["CONFIDE_TEST_S3_ENDPOINT"].flatMap { $0.isEmpty ? nil : URL(string: $0) }
    static let required = environment["CONFIDE_TEST_REQUIRE_S3"] == "1"
    static var available: Bool { endpoint != nil }
    static let bucket = environment["CONFIDE_TEST_S3_BUCKET"] ?? "confide-tests"
    static let region = environment["CONFIDE_TEST_S3_REGION"] ?? "us-east-1"

    /// A store under a fresh key prefix, so tests run in parallel without seeing each other's objects.
    static func store(secret: String? = nil, prefix: String? = nil) async throws -> S3BlobStore {
        let endpoint = try #require(endpoint)
        let access = try #require(environment["CONFIDE_TEST_S3_ACCESS_KEY"], "CONFIDE_TEST_S3_ACCESS_KEY is not set")
        let realSecret = try #require(
            environment["CONFIDE_TEST_S3_SECRET_KEY"],
            "CONFIDE_TEST_S3_SECRET_KEY is not set"
        )
        let configuration = try S3Configuration(
            endpoint: endpoint,
            region: region,
            bucket: bucket,
            prefix: prefix ?? "test-\(UUID().uuidString.lowercased())/",
            accessKeyID: access,
            secretAccessKey: secret ?? realSecret,
            requestTimeout: .seconds(20)
        )
        let store = S3BlobStore(configuration: configuration, httpClient: HTTPClient.shared)
        if secret == nil { try await store.ensureBucket() }
        return store
    }
}

func randomName() -> BlobName {
    BlobName(hex: hex(SHA256.hash(data: Data(UUID().uuidString.utf8))))!
}

func randomBytes(_ count: Int) -> Data {
    var generator = SystemRandomNumberGenerator()
    return Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
}

@Suite("S3 server availability")
struct S3AvailabilityTests {
    @Test("CONFIDE_TEST_REQUIRE_S3=1 needs CONFIDE_TEST_S3_ENDPOINT")
    func requiredServerIsConfigured() {
        if S3TestServer.required {
            #expect(S3TestServer.available, "CONFIDE_TEST_REQUIRE_S3=1 but CONFIDE_TEST_S3_ENDPOINT is not set")
        }
    }

    @Test("an endpoint that refuses connections is objectStoreUnavailable, after one retry")
    func unreachable() async throws {
        // Port 1 on loopback: nothing listens there.
        let configuration = try S3Configuration(
            endpoint: URL(string: "http://127.0.0.1:1")!,
            bucket: "confide",
            accessKeyID: "a",
            secretAccessKey: "s",
            requestTimeout: .seconds(2)
        )
        let store = S3BlobStore(configuration: configuration, httpClient: HTTPClient.shared)
        do {
            _ = try await store.get(name: randomName())
            Issue.record("a get from a closed port succeeded")
        } catch let error as VaultError {
            guard case .objectStoreUnavailable(let operation, _) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(operation == "get")
        }
    }
}

@Suite(
    "S3BlobStore against a real S3 server",
    .enabled(if: S3TestServer.available, "CONFIDE_TEST_S3_ENDPOINT is not set")
)
struct S3BlobStoreTests {
    @Test("binary blobs round-trip: 0 bytes, every byte value, 1 MiB")
    func roundTrip() async throws {
        let store = try await S3TestServer.store()
        let blobs: [(BlobName, Data)] = [
            (randomName(), Data()),
            (randomName(), Data((0...255).map { UInt8($0) } + (0...255).reversed().map { UInt8($0) })),
            (randomName(), randomBytes(1024 * 1024)),
        ]
        for (name, data) in blobs {
            try await store.put(name: name, data: data)
        }
        for (name, data) in blobs {
            #expect(try await store.exists(name: name))
            let read = try await store.get(name: name)
            #expect(read.count == data.count)
            #expect(read == data)
        }
        #expect(Set(try await store.listNames()) == Set(blobs.map(\.0)))
    }

    @Test("a missing blob: get throws notFound, exists is false")
    func missing() async throws {
        let store = try await S3TestServer.store()
        let name = randomName()
        await #expect(throws: VaultError.notFound(name.hex)) { try await store.get(name: name) }
        #expect(try await store.exists(name: name) == false)
    }

    @Test("delete is idempotent")
    func deleteIdempotent() async throws {
        let store = try await S3TestServer.store()
        let name = randomName()
        try await store.delete(name: name)  // never existed
        try await store.put(name: name, data: Data("x".utf8))
        #expect(try await store.exists(name: name))
        try await store.delete(name: name)
        try await store.delete(name: name)
        #expect(try await store.exists(name: name) == false)
        await #expect(throws: VaultError.notFound(name.hex)) { try await store.get(name: name) }
    }

    @Test("put replaces a blob")
    func overwrite() async throws {
        let store = try await S3TestServer.store()
        let name = randomName()
        try await store.put(name: name, data: randomBytes(5000))
        let second = randomBytes(17)
        try await store.put(name: name, data: second)
        #expect(try await store.get(name: name) == second)
        #expect(try await store.listNames() == [name])
    }

    @Test("ensureBucket is idempotent")
    func ensureBucketTwice() async throws {
        let store = try await S3TestServer.store()
        try await store.ensureBucket()
        try await store.ensureBucket()
    }

    @Test("a store with a wrong secret is refused by the server")
    func wrongSecret() async throws {
        let prefix = "test-\(UUID().uuidString.lowercased())/"
        let good = try await S3TestServer.store(prefix: prefix)
        let bad = try await S3TestServer.store(secret: "not-the-secret-\(UUID().uuidString)", prefix: prefix)
        let name = randomName()
        try await good.put(name: name, data: Data("kept".utf8))
        let other = randomName()

        func expectRefused(_ operation: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                Issue.record("\(operation) with a wrong secret succeeded")
            } catch let error as VaultError {
                guard case .objectStore(let op, let status, let code) = error else {
                    Issue.record("\(operation): unexpected error \(error)")
                    return
                }
                #expect(op == operation)
                #expect(status == 403, "status \(status) code \(code ?? "-")")
                #expect(!error.description.contains("not-the-secret"))
                #expect(!error.description.contains(name.hex) && !error.description.contains(other.hex))
            } catch {
                Issue.record("\(operation): unexpected error \(error)")
            }
        }
        await expectRefused("put") { try await bad.put(name: other, data: Data("evil".utf8)) }
        await expectRefused("get") { _ = try await bad.get(name: name) }
        await expectRefused("delete") { try await bad.delete(name: name) }
        await expectRefused("exists") { _ = try await bad.exists(name: name) }
        await expectRefused("list") { _ = try await bad.listKeys() }
        // Nothing changed.
        #expect(try await good.exists(name: other) == false)
        #expect(try await good.get(name: name) == Data("kept".utf8))
    }

    @Test("the vault over S3: segments round-trip, nothing stored is plaintext, erase removes the objects")
    func vaultOverS3() async throws {
        let store = try await S3TestServer.store()
        let ring = try KeyRing(
            current: KeyEncryptionKey(SymmetricKey(size: .bits256)),
            naming: NamingKey(SymmetricKey(size: .bits256))
        )
        let vault = Vault(keys: ring, store: store)
        let recording = "rec-\(UUID().uuidString.lowercased())"
        let marker = "CONFIDE-PLAINTEXT-MARKER-\(UUID().uuidString)"
        let wrapped = try vault.createRecordingKey(recording: recording)
        var addresses: [ChunkAddress] = []
        var expected: [Int: [Data]] = [:]
        for segment in 0..<2 {
            for index in 0..<3 {
                let plaintext =
                    Data("\(marker) segment \(segment) chunk \(index) \(recording)".utf8) + randomBytes(3000)
                try await vault.storeChunk(
                    recording: recording,
                    segment: segment,
                    index: index,
                    final: index == 2,
                    plaintext: plaintext,
                    wrapped: wrapped
                )
                addresses.append(ChunkAddress(segment: segment, index: index))
                expected[segment, default: []].append(plaintext)
            }
        }
        for segment in 0..<2 {
            #expect(
                try await vault.readSegment(recording: recording, segment: segment, wrapped: wrapped)
                    == expected[segment]
            )
        }

        // No plaintext: list the bucket under the prefix, read every object.
        let keys = try await store.listKeys()
        #expect(keys.count == addresses.count)
        let prefix = store.configuration.prefix
        for key in keys {
            #expect(!key.contains(recording))
            #expect(!key.contains(marker))
            let rest = String(key.dropFirst(prefix.count))
            let name = try #require(BlobName(hex: String(rest.split(separator: "/").last ?? "")), "key is not opaque")
            #expect(key == prefix + name.relativePath)
            let bytes = try await store.get(name: name)
            #expect(!bytes.containsBytes(Data(marker.utf8)))
            #expect(!bytes.containsBytes(Data(recording.utf8)))
        }
        let names = try addresses.map { try vault.name(recording: recording, segment: $0.segment, index: $0.index) }
        #expect(Set(try await store.listNames()) == Set(names))

        // Erasure removes every object, and is idempotent.
        try await vault.erase(recording: recording, chunks: addresses)
        try await vault.erase(recording: recording, chunks: addresses)
        #expect(try await store.listKeys().isEmpty)
        await #expect(throws: VaultError.truncated(segment: 0, chunks: 0)) {
            try await vault.readSegment(recording: recording, segment: 0, wrapped: wrapped)
        }
    }
}

extension Data {
    func containsBytes(_ needle: Data) -> Bool { needle.isEmpty || range(of: needle) != nil }
}
