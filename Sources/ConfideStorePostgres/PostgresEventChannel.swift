public import ConfideStore
import Foundation
public import Logging
import PostgresKit

/// The cross-instance event channel over PostgreSQL LISTEN/NOTIFY. Each instance keeps one
/// dedicated listening connection (reconnecting after a drop) and fans events out locally;
/// publishing is a `pg_notify` on the pool, so an event reaches every instance, this one included.
public final class PostgresEventChannel: EventChannel {
    /// The NOTIFY channel (one per database; tests give each schema its own).
    let channel: String
    let backend: PostgresBackend
    let local = LocalEventChannel()
    let listener: PostgresListener

    /// - Parameters:
    ///   - backend: the pool used to publish.
    ///   - url: the database URL, for the listening connection.
    ///   - channel: the NOTIFY channel name (letters, digits, underscores).
    public init(backend: PostgresBackend, url: String, channel: String = "confide_events", logger: Logger = Logger(label: "confide.events")) throws {
        self.channel = channel
        self.backend = backend
        let local = self.local
        // Events sent while we were not listening are lost: pages reload instead.
        self.listener = try PostgresListener(
            url: url, channel: channel, logger: logger,
            receive: { payload in
                if let event = try? JSONDecoder().decode(ClinicEvent.self, from: Data(payload.utf8)) { local.deliver(event) }
            },
            resync: { local.deliverResync() })
    }

    /// Starts listening; returns once the first LISTEN is active (or after 5 s).
    public func start() async { await listener.start() }

    public func publish(_ event: ClinicEvent) async throws {
        let payload = String(decoding: try JSONEncoder().encode(event), as: UTF8.self)
        try await backend.withDatabase { db in
            try await db.raw("SELECT pg_notify(\(bind: self.channel), \(bind: payload))").run()
        }
    }

    public func events(topic: String) -> AsyncStream<ClinicEvent> { local.events(topic: topic) }

    public func shutdown() async {
        await listener.stop()
        await local.shutdown()
    }
}
