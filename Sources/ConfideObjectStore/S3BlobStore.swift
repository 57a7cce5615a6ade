public import AsyncHTTPClient
public import ConfideVault
public import Foundation
public import Logging
import NIOCore
import NIOHTTP1

/// A ``BlobStore`` on an S3-compatible object store (AWS S3, SeaweedFS, MinIO, …), signed with AWS Signature
/// Version 4 (``SigV4Signer``) over async-http-client.
///
/// - Addressing is path-style: `<endpoint>/<bucket>/<prefix><ab/cd/name>` (the name's ``BlobName/relativePath``),
///   so the store only ever sees opaque names and ciphertext.
/// - `put` sends the payload's real SHA-256 as `x-amz-content-sha256` (signed), with a signed `Content-Length`;
///   S3 stores an object whole or not at all, so a reader sees the old blob or the new one.
/// - Every request has a deadline (``S3Configuration/requestTimeout``), response body included. Every
///   operation here is idempotent (a `put` repeats the same bytes), so a connection error, a timeout or a 5xx
///   is retried once, freshly signed.
/// - A 404 from `get` is ``VaultError/notFound(_:)``; `delete` of a missing object succeeds; other statuses are
///   ``VaultError/objectStore(operation:status:code:)``; transport failures after the retry are
///   ``VaultError/objectStoreUnavailable(operation:reason:)``. No error or log line holds a key, a credential
///   or data.
///
/// The caller owns `httpClient` (e.g. `HTTPClient.shared`, or one it shuts down itself).
public struct S3BlobStore: BlobStore {
    public let configuration: S3Configuration
    let httpClient: HTTPClient
    let signer: SigV4Signer
    let logger: Logger

    public init(
        configuration: S3Configuration,
        httpClient: HTTPClient,
        logger: Logger = Logger(label: "confide.objectstore")
    ) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.signer = SigV4Signer(
            accessKeyID: configuration.accessKeyID,
            secretAccessKey: configuration.secretAccessKey,
            region: configuration.region,
            service: "s3"
        )
        self.logger = logger
    }

    // MARK: BlobStore

    public func put(name: BlobName, data: Data) async throws {
        let response = try await send("put", .PUT, path: objectPath(name), body: data)
        guard (200..<300).contains(response.status) else { throw failure("put", response) }
    }

    public func get(name: BlobName) async throws -> Data {
        let response = try await send("get", .GET, path: objectPath(name), maxBody: configuration.maxObjectBytes)
        switch response.status {
        case 200: return Data(response.body.readableBytesView)
        case 404: throw VaultError.notFound(name.hex)
        default: throw failure("get", response)
        }
    }

    public func delete(name: BlobName) async throws {
        let response = try await send("delete", .DELETE, path: objectPath(name))
        guard (200..<300).contains(response.status) || response.status == 404 else { throw failure("delete", response) }
    }

    public func exists(name: BlobName) async throws -> Bool {
        let response = try await send("exists", .HEAD, path: objectPath(name))
        switch response.status {
        case 200..<300: return true
        case 404: return false
        default: throw failure("exists", response)
        }
    }

    // MARK: Bucket

    /// Creates the bucket unless it exists and is accessible with these credentials.
    public func ensureBucket() async throws {
        var body: Data? = nil
        if configuration.region != "us-east-1" {
            body = Data(
                ("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                    + "<LocationConstraint>\(configuration.region)</LocationConstraint></CreateBucketConfiguration>")
                    .utf8
            )
        }
        let response = try await send("create bucket", .PUT, path: bucketPath, body: body)
        if (200..<300).contains(response.status) { return }
        if response.status == 409 {
            // BucketAlreadyOwnedByYou, or a server that says BucketAlreadyExists for our own bucket: it is fine
            // when we can reach it.
            if response.code == "BucketAlreadyOwnedByYou" { return }
            let head = try await send("create bucket", .HEAD, path: bucketPath)
            if (200..<300).contains(head.status) { return }
        }
        throw failure("create bucket", response)
    }

    /// Every object key under ``S3Configuration/prefix`` (ListObjectsV2, all pages).
    public func listKeys() async throws -> [String] {
        var keys: [String] = []
        var token: String? = nil
        repeat {
            var query = [(name: "list-type", value: "2"), (name: "prefix", value: configuration.prefix)]
            if let token { query.append((name: "continuation-token", value: token)) }
            let response = try await send("list", .GET, path: bucketPath, query: query, maxBody: 16 * 1024 * 1024)
            guard response.status == 200 else { throw failure("list", response) }
            let xml = String(decoding: response.body.readableBytesView, as: UTF8.self)
            keys += Self.elements("Key", in: xml)
            token =
                Self.elements("IsTruncated", in: xml).first == "true"
                ? Self.elements("NextContinuationToken", in: xml).first : nil
        } while token != nil
        return keys
    }

    /// Every blob name under the prefix (keys that are not `<prefix>ab/cd/<64 hex>` are skipped).
    public func listNames() async throws -> [BlobName] {
        try await listKeys().compactMap { key in
            guard key.hasPrefix(configuration.prefix) else { return nil }
            let rest = String(key.dropFirst(configuration.prefix.count))
            guard let name = BlobName(hex: String(rest.split(separator: "/").last ?? "")), name.relativePath == rest
            else { return nil }
            return name
        }
    }

    // MARK: Requests

    struct Response: Sendable {
        let status: Int
        let body: ByteBuffer
        /// The S3 error code (`<Code>` of an error body), when there is one.
        var code: String? {
            guard status >= 300 else { return nil }
            let text = String(decoding: body.readableBytesView.prefix(64 * 1024), as: UTF8.self)
            guard let code = S3BlobStore.elements("Code", in: text).first, (1...64).contains(code.utf8.count),
                code.utf8.allSatisfy({ S3Configuration.isKeyCharacter($0) && $0 != UInt8(ascii: "/") })
            else { return nil }  // an error code is a short identifier; anything else is not reported
            return code
        }
    }

    /// The unencoded path of the bucket: `<endpoint path>/<bucket>`.
    var bucketPath: String {
        var base = configuration.endpoint.path
        while base.hasSuffix("/") { base.removeLast() }
        return "\(base)/\(configuration.bucket)"
    }

    /// The unencoded path of an object: `<endpoint path>/<bucket>/<prefix><ab/cd/name>`.
    func objectPath(_ name: BlobName) -> String { "\(bucketPath)/\(configuration.prefix)\(name.relativePath)" }

    func failure(_ operation: String, _ response: Response) -> VaultError {
        .objectStore(operation: operation, status: response.status, code: response.code)
    }

    /// Sends a signed request, retrying once on a transport error, a timeout or a 5xx.
    func send(
        _ operation: String,
        _ method: HTTPMethod,
        path: String,
        query: [(name: String, value: String)] = [],
        body: Data? = nil,
        maxBody: Int = 64 * 1024
    ) async throws -> Response {
        var attempt = 1
        while true {
            do {
                let response = try await sendOnce(
                    operation,
                    method,
                    path: path,
                    query: query,
                    body: body,
                    maxBody: maxBody
                )
                if response.status >= 500, attempt < 2 {
                    logger.warning(
                        "object store request failed; retrying",
                        metadata: ["operation": "\(operation)", "status": "\(response.status)"]
                    )
                } else {
                    logger.debug(
                        "object store request",
                        metadata: ["operation": "\(operation)", "status": "\(response.status)"]
                    )
                    return response
                }
            } catch let error as VaultError {
                throw error
            } catch {
                if error is CancellationError || Task.isCancelled { throw error }
                let reason = Self.reason(error)
                guard attempt < 2 else { throw VaultError.objectStoreUnavailable(operation: operation, reason: reason) }
                logger.warning(
                    "object store request failed; retrying",
                    metadata: ["operation": "\(operation)", "error": "\(reason)"]
                )
            }
            attempt += 1
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    struct Timeout: Error {}

    func sendOnce(
        _ operation: String,
        _ method: HTTPMethod,
        path: String,
        query: [(name: String, value: String)],
        body: Data?,
        maxBody: Int
    ) async throws -> Response {
        let payload = body ?? Data()
        let payloadHash = SigV4Signer.sha256Hex(payload)
        let now = Date()
        let host = hostHeader
        var headers: [(name: String, value: String)] = [
            (name: "host", value: host),
            (name: "x-amz-content-sha256", value: payloadHash),
            (name: "x-amz-date", value: SigV4Signer.timestamps(now).amzDate),
        ]
        if body != nil { headers.append((name: "content-length", value: String(payload.count))) }
        let signature = signer.sign(
            method: method.rawValue,
            path: path,
            query: query,
            headers: headers,
            payloadSHA256: payloadHash,
            date: now
        )
        var url = origin + SigV4Signer.canonicalURI(path)
        if !query.isEmpty { url += "?" + SigV4Signer.canonicalQuery(query) }
        var request = HTTPClientRequest(url: url)
        request.method = method
        for header in headers where header.name != "content-length" {  // AHC sets Content-Length from the body
            request.headers.add(name: header.name, value: header.value)
        }
        request.headers.add(name: "authorization", value: signature.authorization)
        if body != nil { request.body = .bytes(ByteBuffer(bytes: payload)) }

        let prepared = request
        let timeout = configuration.requestTimeout
        let client = httpClient
        let isHead = method == .HEAD
        return try await withThrowingTaskGroup(of: Response?.self) { group in
            group.addTask {
                let components = timeout.components
                let nanos = components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
                let response = try await client.execute(prepared, timeout: .nanoseconds(nanos))
                let status = Int(response.status.code)
                // Error bodies are read only far enough to find their code.
                let limit = status >= 300 ? 64 * 1024 : maxBody
                var buffer = ByteBuffer()
                if !isHead {
                    do {
                        buffer = try await response.body.collect(upTo: limit)
                    } catch is NIOTooManyBytesError {
                        if status < 300 { throw VaultError.malformed("object store response over \(limit) bytes") }
                    }
                }
                return Response(status: status, body: buffer)
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let response = first else { throw Timeout() }
            return response
        }
    }

    /// `scheme://host[:port]` of the endpoint.
    var origin: String {
        "\(configuration.endpoint.scheme?.lowercased() ?? "https")://\(hostHeader)"
    }

    /// The `Host` header: the endpoint's host, with its port unless it is the scheme's default.
    var hostHeader: String {
        var host = configuration.endpoint.host ?? ""
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        let scheme = configuration.endpoint.scheme?.lowercased() ?? "https"
        if let port = configuration.endpoint.port, port != (scheme == "https" ? 443 : 80) { host += ":\(port)" }
        return host
    }

    /// Why a request failed, without the request's URL, headers or body.
    static func reason(_ error: any Error) -> String {
        switch error {
        case is Timeout: "no answer in time"
        case let error as HTTPClientError: "\(error)"
        default: "transport error (\(type(of: error)))"
        }
    }

    /// The text of every `<tag>…</tag>` element, XML entities decoded. Enough for S3's flat responses.
    static func elements(_ tag: String, in xml: String) -> [String] {
        var out: [String] = []
        var rest = xml[...]
        let open = "<\(tag)>"
        let close = "</\(tag)>"
        while let start = rest.range(of: open) {
            guard let end = rest.range(of: close, range: start.upperBound..<rest.endIndex) else { break }
            out.append(decodeEntities(String(rest[start.upperBound..<end.lowerBound])))
            rest = rest[end.upperBound...]
        }
        return out
    }

    static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 10 else {
                out += rest[amp...]
                return out
            }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var scalar: Unicode.Scalar? = nil
                if entity.hasPrefix("#x") {
                    scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if entity.hasPrefix("#") {
                    scalar = UInt32(entity.dropFirst(1)).flatMap(Unicode.Scalar.init)
                }
                if let scalar { out.unicodeScalars.append(scalar) } else { out += rest[amp...semi] }
            }
            rest = rest[rest.index(after: semi)...]
        }
        out += rest
        return out
    }
}
