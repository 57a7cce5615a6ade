public import ConfideStore
import Foundation
public import Logging
import PostgresKit
import Synchronization

/// The cross-instance event channel over PostgreSQL LISTEN/NOTIFY. Each instance keeps one
/// dedicated listening connection (reconnecting after a drop) and fans events out locally;
/// publishing is a `pg_notify` on the pool, so an event reaches every instance, this one included.
public final class PostgresEventChannel: EventChannel {
    /// The NOTIFY channel (one per database; tests give each schema its own).
    let channel: String

    let backend: PostgresBackend
    let configuration: PostgresConnection.Configuration
    let local = LocalEventChannel()
    let logger: Logger
    let listener = Mutex<Task<Void, Never>?>(nil)
    /// Becomes true once the first LISTEN is in place (tests wait for it).
    let listening = Mutex(false)
    let current = Mutex<PostgresConnection?>(nil)
    let everListened = Mutex(false)

    /// - Parameters:
    ///   - backend: the pool used to publish.
    ///   - url: the database URL, for the listening connection.
    ///   - channel: the NOTIFY channel name (letters, digits, underscores).
    public init(backend: PostgresBackend, url: String, channel: String = "confide_events", logger: Logger = Logger(label: "confide.events")) throws {
        precondition(!channel.isEmpty && channel.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        self.channel = channel
        self.backend = backend
        self.configuration = try SQLPostgresConfiguration(url: url).coreConfiguration
        self.logger = logger
    }

    /// Starts listening; returns once the first LISTEN is active (or after 5 s).
    public func start() async {
        let task = Task { [configuration, logger, local, channel] in
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
                            // Events sent while we were not listening are lost: pages reload instead.
                            if reconnected { local.deliverResync() }
                            for try await notification in notifications {
                                if let event = try? JSONDecoder().decode(ClinicEvent.self, from: Data(notification.payload.utf8)) {
                                    local.deliver(event)
                                }
                            }
                        }
                    } catch {
                        if !Task.isCancelled { logger.warning("event listener dropped", metadata: ["error": "\(String(describing: type(of: error)))"]) }
                    }
                    self.current.withLock { $0 = nil }
                    try? await connection.close()
                } catch {
                    if !Task.isCancelled { logger.warning("event listener cannot connect") }
                }
                self.listening.withLock { $0 = false }
                attempt += 1
                try? await Task.sleep(for: .milliseconds(min(5_000, 100 * (1 << min(attempt, 6)))))
            }
        }
        listener.withLock { $0 = task }
        for _ in 0..<100 {
            if listening.withLock({ $0 }) { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    public func publish(_ event: ClinicEvent) async throws {
        let payload = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
        try await backend.withDatabase { db in
            try await db.raw("SELECT pg_notify(\(bind: self.channel), \(bind: payload))").run()
        }
    }

    public func events(topic: String) -> AsyncStream<ClinicEvent> { local.events(topic: topic) }

    public func shutdown() async {
        let task = listener.withLock { t -> Task<Void, Never>? in
            defer { t = nil }
            return t
        }
        task?.cancel()
        let connection = current.withLock { $0 }
        try? await connection?.close()
        await task?.value
        await local.shutdown()
    }
}
