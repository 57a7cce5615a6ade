import Hummingbird
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

/// Runs the HTTP server until SIGTERM or SIGINT, then shuts down gracefully (in-flight requests
/// finish) and calls `afterShutdown` (closing the database).
/// - Parameters:
///   - onRunning: called with the bound port once the server accepts connections.
public func runServer(
    _ deps: ConfideHTTPDependencies, host: String, port: Int, logger: Logger,
    background: [(name: String, job: @Sendable () async throws -> Void)] = [],
    onRunning: @escaping @Sendable (Int) async -> Void, afterShutdown: @Sendable () async throws -> Void
) async throws {
    let app = Application(
        router: buildRouter(deps),
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
