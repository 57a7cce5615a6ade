public import Hummingbird
public import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import NIOSSL
public import Logging
import NIOCore
import ServiceLifecycle

/// A background job (mail delivery, later the checkpoint publisher) run beside the server and
/// cancelled on graceful shutdown.
struct BackgroundJob: Service {
    let name: String
    let body: @Sendable () async throws -> Void

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await body() }
    }
}

/// HTTP/1.1 with WebSocket upgrades routed through the same router (and its middleware): the
/// call signalling socket (64 KiB frames, pings every 20 s).
public func httpServer(_ router: Router<ConfideRequestContext>) -> HTTPServerBuilder {
    let webSocket = WebSocketServerConfiguration(maxFrameSize: CallController.maxFrameBytes, autoPing: .enabled(timePeriod: .seconds(20)))
    return .http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(ws: webSocket))
}

/// PEM files for TLS.
public struct TLSFiles: Sendable {
    public let certificateChain: String
    public let privateKey: String

    public init(certificateChain: String, privateKey: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }
}

/// Runs the HTTP server until SIGTERM or SIGINT, then shuts down gracefully (in-flight requests
/// finish) and calls `afterShutdown` (closing the database).
/// - Parameters:
///   - tls: certificate and key files; plain HTTP when `nil`.
///   - onRunning: called with the bound port once the server accepts connections.
/// - Throws: when the TLS files cannot be read, or the server cannot bind.
public func runServer(
    _ deps: ConfideHTTPDependencies, host: String, port: Int, tls: TLSFiles? = nil, logger: Logger,
    background: [(name: String, job: @Sendable () async throws -> Void)] = [],
    onRunning: @escaping @Sendable (Int) async -> Void, afterShutdown: @Sendable () async throws -> Void
) async throws {
    let router = buildRouter(deps)
    var server = httpServer(router)
    if let tls {
        let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        server = try .tls(httpServer(router), tlsConfiguration: configuration)
    }
    let app = Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname(host, port: port), serverName: nil),
        services: background.map { BackgroundJob(name: $0.name, body: $0.job) },
        onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
        logger: logger)
    do {
        try await app.runService()
    } catch {
        try? await afterShutdown()
        throw error
    }
    try await afterShutdown()
}
