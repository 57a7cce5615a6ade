import Foundation
import Hummingbird
import Logging
import Prometheus

/// Health, readiness, metrics and the OpenAPI document.
struct OperationsController {
    let readiness: @Sendable () async throws -> Void
    let registry: PrometheusCollectorRegistry
    let checkpoints: @Sendable () async throws -> CheckpointFeed
    let consistency: @Sendable (UInt64, UInt64) async throws -> [String]?

    struct ConsistencyJSON: Encodable {
        let from: UInt64
        let to: UInt64
        let consistency_proof: [String]
    }

    struct CheckpointsJSON: Encodable {
        let origin: String
        let verifier_key: String
        let checkpoints: [String]
    }

    func register(on router: Router<ConfideRequestContext>) {
        router.get("healthz") { _, _ in try jsonResponse(["status": "ok"]) }
        router.get("readyz") { _, context in
            do {
                try await readiness()
                return try jsonResponse(["status": "ready"])
            } catch {
                context.logger.warning("readiness check failed", metadata: ["confide.error.type": .string(String(describing: type(of: error)))])
                throw Problem.notReady
            }
        }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        // The public checkpoint history: anyone can check that the log only ever grew.
        router.get("api/v1/audit/checkpoints") { _, _ in
            let feed = try await checkpoints()
            return try jsonResponse(CheckpointsJSON(origin: feed.origin, verifier_key: feed.verifierKey, checkpoints: feed.notes))
        }
        // RFC 9162 consistency proof between two tree sizes (for example two checkpoints).
        router.get("api/v1/audit/consistency-proof") { request, _ in
            let query = request.uri.queryParameters
            guard let from = query["from"].flatMap({ UInt64(String($0)) }), let to = query["to"].flatMap({ UInt64(String($0)) }), from <= to
            else { throw Problem(.unprocessableContent, "invalid-field", "give tree sizes `from` <= `to`", field: "from") }
            guard let proof = try await consistency(from, to) else {
                throw Problem(.unprocessableContent, "invalid-field", "`to` is larger than the log", field: "to")
            }
            return try jsonResponse(ConsistencyJSON(from: from, to: to, consistency_proof: proof))
        }
        router.get("openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.bytes)))
        }
    }
}

/// The OpenAPI 3.1 document of every JSON route, shipped as a resource.
public enum OpenAPIDocument {
    /// The document's bytes.
    public static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"), let data = try? Data(contentsOf: url) else {
            return Array(#"{"openapi":"3.1.0","info":{"title":"Confide API","version":"missing"},"paths":{}}"#.utf8)
        }
        return Array(data)
    }()
}
