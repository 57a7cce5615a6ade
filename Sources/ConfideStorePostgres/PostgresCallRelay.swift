import ConfideCore
public import ConfideStore
import Foundation
public import Logging
import PostgresKit
import SQLKit

/// Call signalling across instances: each signal is a `call_signals` row, announced by a NOTIFY
/// that carries only consultation and row identifiers (an SDP can exceed NOTIFY's 8000-byte
/// payload limit). Participants on the publishing instance get a signal at once; the others
/// through the database. Publishing is batched: what accumulates while one transaction commits goes in
/// the next (one multi-row insert, one NOTIFY). An instance with a participant of a consultation
/// reads the rows of a batch of notifications in one query and hands them to its local
/// subscribers in notification order. Rows are swept after two minutes.
public final class PostgresCallRelay: CallRelay {
    let channel: String
    let backend: PostgresBackend
    let local = LocalCallRelay()
    let logger: Logger
    let listener: PostgresListener
    /// Signals waiting to be written (in publication order).
    let outgoing = BatchQueue<CallSignal>()
    /// `consultation id` lines from notifications, in delivery order.
    let incoming = BatchQueue<String>()
    let workers: Task<Void, Never>
    /// This relay's identity: its own signals are delivered locally at once, and skipped when
    /// they come back through the database.
    let instance = UUID().uuidString.lowercased()

    /// How long a relayed signal stays in the table.
    static let retention: TimeInterval = 120
    /// Signals per transaction (each NOTIFY line is at most 74 bytes: well under 8000).
    static let batch = 100

    public init(backend: PostgresBackend, url: String, channel: String = "confide_calls", logger: Logger = Logger(label: "confide.calls")) throws {
        self.channel = channel
        self.backend = backend
        self.logger = logger
        let incoming = self.incoming
        let outgoing = self.outgoing
        let local = self.local
        let instance = self.instance
        self.listener = try PostgresListener(
            url: url, channel: channel, logger: logger,
            receive: { payload in
                for line in payload.split(separator: "\n") { incoming.push(String(line)) }
            })
        self.workers = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await outgoing.work(maxBatch: Self.batch) { signals in
                        await Self.write(signals, backend: backend, channel: channel, logger: logger)
                    }
                }
                group.addTask {
                    await incoming.work(maxBatch: 500) { lines in
                        await Self.read(lines, backend: backend, local: local, instance: instance, logger: logger)
                    }
                }
            }
        }
    }

    public func start() async { await listener.start() }

    /// Delivers the signal to this instance's participants at once, and queues it for the others
    /// (written, in order, with the signals queued meanwhile).
    public func publish(_ signal: CallSignal) async throws {
        var signal = signal
        signal.origin = instance
        local.deliver(signal)
        outgoing.push(signal)
    }

    static func write(_ signals: [CallSignal], backend: PostgresBackend, channel: String, logger: Logger) async {
        let now = Date()
        let rows = signals.map { signal in
            (id: UUID().uuidString.lowercased(), signal: signal, body: (try? JSONEncoder().encode(signal)).map { String(decoding: $0, as: UTF8.self) })
        }.filter { $0.body != nil }
        guard !rows.isEmpty else { return }
        let values = SQLList(
            rows.map { row in
                SQLGroupExpression([SQLBind(row.id), SQLBind(row.signal.consultation), SQLBind(row.body!), SQLBind(now.epochMilliseconds)])
            })
        let payload = rows.map { "\($0.signal.consultation) \($0.id)" }.joined(separator: "\n")
        let sweep = Int.random(in: 0..<50) == 0
        do {
            try await backend.transaction { db in
                // Signalling is ephemeral (a lost signal is re-sent by the browsers' negotiation):
                // no need to wait for the WAL flush.
                try await db.raw("SET LOCAL synchronous_commit TO OFF").run()
                try await db.raw(
                    """
                    WITH stored AS (INSERT INTO call_signals (id, consultation_id, body, created_at) VALUES \(values) RETURNING 1)
                    SELECT pg_notify(\(bind: channel), \(bind: payload)) FROM (SELECT count(*) FROM stored) AS written
                    """
                ).run()
                // Now and then, a sweep: the table holds minutes of signalling at most.
                if sweep {
                    let before = now.addingTimeInterval(-Self.retention).epochMilliseconds
                    try await db.raw("DELETE FROM call_signals WHERE created_at < \(bind: before)").run()
                }
            }
        } catch {
            logger.warning("call signals not relayed", metadata: ["count": "\(rows.count)"])
        }
    }

    static func read(_ lines: [String], backend: PostgresBackend, local: LocalCallRelay, instance: String, logger: Logger) async {
        // Only the signals of calls with a participant on this instance.
        let wanted: [String] = lines.compactMap { line in
            guard let split = line.firstIndex(of: " "), local.hasSubscribers(String(line[..<split])) else { return nil }
            return String(line[line.index(after: split)...])
        }
        guard !wanted.isEmpty else { return }
        do {
            let bodies = try await backend.withDatabase { db in
                try await db.raw("SELECT id, body FROM call_signals WHERE id IN (\(SQLList(wanted.map { SQLBind($0) })))").all()
                    .reduce(into: [String: String]()) { $0[try $1.decode(column: "id", as: String.self)] = try $1.decode(column: "body", as: String.self) }
            }
            for id in wanted {
                if let body = bodies[id], let signal = try? JSONDecoder().decode(CallSignal.self, from: Data(body.utf8)), signal.origin != instance {
                    local.deliver(signal)
                }
            }
        } catch {
            logger.warning("relayed signals not read", metadata: ["count": "\(wanted.count)"])
        }
    }

    public func signals(consultation: String) -> AsyncStream<CallSignal> { local.signals(consultation: consultation) }

    public func shutdown() async {
        await listener.stop()
        outgoing.finish()
        incoming.finish()
        await workers.value
        await local.shutdown()
    }
}
