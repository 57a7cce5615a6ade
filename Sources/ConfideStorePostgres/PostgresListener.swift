import Foundation
import Logging
import PostgresKit
import Synchronization

/// One dedicated connection that LISTENs on a channel and hands each payload to `receive`,
/// reconnecting with backoff after a drop (`resync` is called after each reconnection, since
/// notifications sent meanwhile are lost).
final class PostgresListener: Sendable {
    let channel: String
    let configuration: PostgresConnection.Configuration
    let logger: Logger
    let receive: @Sendable (String) -> Void
    let resync: @Sendable () -> Void
    let task = Mutex<Task<Void, Never>?>(nil)
    let listening = Mutex(false)
    let current = Mutex<PostgresConnection?>(nil)
    let everListened = Mutex(false)

    init(
        url: String, channel: String, logger: Logger, receive: @escaping @Sendable (String) -> Void,
        resync: @escaping @Sendable () -> Void = {}
    ) throws {
        precondition(!channel.isEmpty && channel.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        self.channel = channel
        self.configuration = try SQLPostgresConfiguration(url: url).coreConfiguration
        self.logger = logger
        self.receive = receive
        self.resync = resync
    }

    /// Starts listening; returns once the first LISTEN is active (or after 5 s).
    func start() async {
        let task = Task { [configuration, logger, channel, receive, resync] in
            var attempt = 0
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(
                        on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: 1, logger: logger)
                    attempt = 0
                    self.current.withLock { $0 = connection }
                    do {
                        try await connection.listen(on: channel) { notifications in
                            let reconnected = self.everListened.withLock { was in
                                defer { was = true }
                                return was
                            }
                            self.listening.withLock { $0 = true }
                            if reconnected { resync() }
                            for try await notification in notifications { receive(notification.payload) }
                        }
                    } catch {
                        if !Task.isCancelled { logger.warning("listener dropped", metadata: ["error": "\(String(describing: type(of: error)))"]) }
                    }
                    self.current.withLock { $0 = nil }
                    try? await connection.close()
                } catch {
                    if !Task.isCancelled { logger.warning("listener cannot connect") }
                }
                self.listening.withLock { $0 = false }
                attempt += 1
                try? await Task.sleep(for: .milliseconds(min(5_000, 100 * (1 << min(attempt, 6)))))
            }
        }
        self.task.withLock { $0 = task }
        for _ in 0..<100 {
            if listening.withLock({ $0 }) { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    func stop() async {
        let task = self.task.withLock { t -> Task<Void, Never>? in
            defer { t = nil }
            return t
        }
        task?.cancel()
        let connection = current.withLock { $0 }
        try? await connection?.close()
        await task?.value
    }
}
