import ConfideCore
public import ConfideStore
import Foundation
public import Logging
import PostgresKit
import Synchronization

/// Call signalling across instances: each signal is a `call_signals` row, announced by a NOTIFY
/// that carries only its consultation and row identifier (an SDP can exceed NOTIFY's 8000-byte
/// payload limit). An instance with a participant of that consultation reads the row and hands
/// it to its local subscribers, in notification order. Rows are swept after two minutes.
public final class PostgresCallRelay: CallRelay {
    let channel: String
    let backend: PostgresBackend
    let local = LocalCallRelay()
    let logger: Logger
    let listener: PostgresListener
    let queue: AsyncStream<String>.Continuation
    let consumer: Task<Void, Never>
    let published = Mutex(0)

    /// How long a relayed signal stays in the table.
    static let retention: TimeInterval = 120

    public init(backend: PostgresBackend, url: String, channel: String = "confide_calls", logger: Logger = Logger(label: "confide.calls")) throws {
        self.channel = channel
        self.backend = backend
        self.logger = logger
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        self.queue = continuation
        let local = self.local
        // One consumer keeps the order in which PostgreSQL delivered the notifications.
        self.consumer = Task {
            for await payload in stream {
                guard let split = payload.firstIndex(of: " ") else { continue }
                let consultation = String(payload[..<split])
                let id = String(payload[payload.index(after: split)...])
                guard local.hasSubscribers(consultation) else { continue }
                do {
                    let body = try await backend.withDatabase { db in
                        try await db.raw("SELECT body FROM call_signals WHERE id = \(bind: id)").first()?.decode(column: "body", as: String.self)
                    }
                    if let body, let signal = try? JSONDecoder().decode(CallSignal.self, from: Data(body.utf8)) { local.deliver(signal) }
                } catch {
                    logger.warning("relayed signal not read")
                }
            }
        }
        self.listener = try PostgresListener(url: url, channel: channel, logger: logger, receive: { continuation.yield($0) })
    }

    public func start() async { await listener.start() }

    public func publish(_ signal: CallSignal) async throws {
        let id = UUID().uuidString.lowercased()
        let body = String(decoding: try JSONEncoder().encode(signal), as: UTF8.self)
        let now = Date()
        let sweep = published.withLock { n -> Bool in
            n += 1
            return n % 200 == 1
        }
        try await backend.transaction { db in
            try await db.raw(
                """
                INSERT INTO call_signals (id, consultation_id, body, created_at)
                VALUES (\(bind: id), \(bind: signal.consultation), \(bind: body), \(bind: now.epochMilliseconds))
                """
            ).run()
            if sweep {
                let before = now.addingTimeInterval(-Self.retention).epochMilliseconds
                try await db.raw("DELETE FROM call_signals WHERE created_at < \(bind: before)").run()
            }
            try await db.raw("SELECT pg_notify(\(bind: self.channel), \(bind: signal.consultation + " " + id))").run()
        }
    }

    public func signals(consultation: String) -> AsyncStream<CallSignal> { local.signals(consultation: consultation) }

    public func shutdown() async {
        await listener.stop()
        queue.finish()
        await consumer.value
        await local.shutdown()
    }
}
