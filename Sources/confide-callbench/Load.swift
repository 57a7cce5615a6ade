import ConfideTesting
import Foundation
import Hummingbird
import HummingbirdWSClient
import Logging
import NIOWebSocket
import Synchronization

/// Which end of a room a connection is: the sender (the clinician; in the baseline, the socket
/// that sends and reads its own echo) or the other participant.
enum Side: Sendable {
    case sender, receiver
}

/// One connection's client-side facts.
final class Connection: Sendable {
    let url: String
    let token: String?
    let side: Side
    /// The sender knows its peer is in the room (Confide: `welcome.peers` or `peer-joined`).
    let ready = Mutex(false)
    /// The server closed the socket before the run asked for it.
    let closedEarly = Mutex(false)

    init(url: String, token: String?, side: Side) {
        self.url = url
        self.token = token
        self.side = side
    }
}

/// Opens a phase's connections, waits until every one is ready, lets the senders send `messages`
/// paced samples each, records every sample's latency where it arrives, then closes everything.
struct Load: Sendable {
    /// Confide's protocol (welcome, an offer first, hangup to leave), or a plain echo.
    let confide: Bool
    let rooms: Int
    let messages: Int
    /// Between one sender's messages (10 per second: half the per-connection sustained rate).
    let interval: Duration = .milliseconds(100)
    let logger: Logger
    let collector = Collector()
    let readyCount = Counter()
    let doneCount = Counter()
    let start = Gate()
    let finish = Gate()
    let slots = TestSlots(limit: 64)

    struct Outcome {
        var openSeconds: Double
        var rss: (before: Int, open: Int, after: Int)
    }

    func run(_ connections: [Connection]) async -> Outcome {
        Proc.trimHeap()
        let before = Proc.rssKiB()
        let clock = ContinuousClock()
        let opened = clock.now
        var outcome = Outcome(openSeconds: 0, rss: (before, before, before))
        await withTaskGroup(of: Void.self) { group in
            for connection in connections {
                group.addTask { await self.connect(connection) }
            }
            let all = await readyCount.wait(for: connections.count, seconds: 120 + Double(connections.count) / 20)
            if !all { collector.problem("only \(readyCount.current) of \(connections.count) connections became ready") }
            let d = clock.now - opened
            outcome.openSeconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            // Let the last handshakes' transient buffers go before reading the RSS.
            try? await Task.sleep(for: .seconds(1))
            outcome.rss.open = Proc.rssKiB()
            await start.open()
            let exchange = Double(messages) * 0.1 * 2 + 60
            if await !doneCount.wait(for: rooms, seconds: exchange) {
                collector.problem("only \(doneCount.current) of \(rooms) receivers got every message within \(Int(exchange)) s")
            }
            outcome.rss.after = Proc.rssKiB()
            await finish.open()
            await group.waitForAll()
        }
        return outcome
    }

    func connect(_ connection: Connection) async {
        await slots.acquire()
        let ticket = SlotTicket(slots)
        var headers = HTTPFields()
        if let token = connection.token { headers[.authorization] = "Bearer \(token)" }
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 16, additionalHeaders: headers)
        do {
            let close = try await WebSocketClient.connect(url: connection.url, configuration: configuration, logger: logger) {
                inbound, outbound, _ in
                await self.session(connection, inbound: inbound, outbound: outbound, ticket: ticket)
            }
            let code = close.map { "\(UInt16(webSocketErrorCode: $0.closeCode)) \($0.reason ?? "")" } ?? "no close frame"
            if connection.closedEarly.withLock({ $0 }) {
                collector.closedEarly("\(name(connection.side)) closed by the server before the end: \(code)")
            } else if confide, let close, UInt16(webSocketErrorCode: close.closeCode) != 1000 {
                collector.problem("closed at the end with \(code)")
            }
        } catch {
            collector.failed("connection failed: \(error)")
        }
        await ticket.release()
    }

    /// Who a connection is, for the report.
    func name(_ side: Side) -> String {
        switch (confide, side) {
        case (true, .sender): "clinician"
        case (true, .receiver): "patient"
        case (false, .sender): "echo sender"
        case (false, .receiver): "idle socket"
        }
    }

    func session(
        _ connection: Connection, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, ticket: SlotTicket
    ) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.read(connection, inbound, ticket: ticket) }
            if !confide {
                // A plain echo socket is ready once connected.
                connection.ready.withLock { $0 = true }
                readyCount.add()
                await ticket.release()
            }
            await start.wait()
            if connection.side == .sender { await send(connection, outbound) }
            await finish.wait()
            if confide {
                // Leave the room; the server closes with 1000.
                try? await outbound.write(.text(#"{"type":"hangup"}"#))
            } else {
                try? await outbound.close(.normalClosure, reason: "done")
            }
            group.addTask {
                // A server that does not close within 15 s is closed by the client.
                try? await Task.sleep(for: .seconds(15))
                if !Task.isCancelled {
                    collector.problem("the server did not close within 15 s of the end")
                    try? await outbound.close(.normalClosure, reason: "timeout")
                }
            }
            // The reader ends when the socket closes.
            _ = await group.next()
            group.cancelAll()
        }
    }

    func send(_ connection: Connection, _ outbound: WebSocketOutboundWriter) async {
        // Spread the rooms' senders over one interval.
        try? await Task.sleep(for: .milliseconds(Int.random(in: 0..<100)))
        do {
            if confide {
                guard connection.ready.withLock({ $0 }) else {
                    collector.problem("the clinician never saw the patient join")
                    return
                }
                // Candidates may flow only after an offer (calls.md).
                try await outbound.write(.text(Sample.offer()))
            }
            for seq in 0..<messages {
                try await Task.sleep(for: interval)
                let t = Proc.nanos()
                if seq == 0 { collector.sent(at: t) }
                try await outbound.write(.text(Sample.candidate(seq: seq, at: t)))
            }
        } catch {
            collector.problem("send failed: \(error)")
        }
    }

    func read(_ connection: Connection, _ inbound: WebSocketInboundStream, ticket: SlotTicket) async {
        var latencies: [Double] = []
        latencies.reserveCapacity(messages)
        var next = 0
        var received = 0
        var outOfOrder = 0
        var last: UInt64 = 0
        func becomeReady() async {
            let first = connection.ready.withLock { r -> Bool in
                defer { r = true }
                return !r
            }
            if first {
                readyCount.add()
                await ticket.release()
            }
        }
        do {
            for try await message in inbound.messages(maxSize: 1 << 16) {
                guard case .text(let text) = message else {
                    collector.problem("a binary frame")
                    continue
                }
                if let sample = Sample.parse(text) {
                    let now = Proc.nanos()
                    latencies.append(Double(now &- sample.t) / 1e6)
                    if sample.seq != next { outOfOrder += 1 }
                    next = sample.seq + 1
                    received += 1
                    last = now
                    if received == messages { doneCount.add() }
                    continue
                }
                let (type, object) = Sample.type(text)
                switch type {
                case "welcome":
                    if connection.side == .receiver || !((object["peers"] as? [Any]) ?? []).isEmpty { await becomeReady() }
                case "peer-joined":
                    if connection.side == .sender { await becomeReady() }
                case "error":
                    collector.problem("error message: \(object["code"] as? String ?? "?"): \(object["message"] as? String ?? "")")
                default:
                    break
                }
            }
        } catch {
            collector.problem("read failed: \(error)")
        }
        if await !finish.isOpen { connection.closedEarly.withLock { $0 = true } }
        collector.merge(latencies: latencies, received: received, outOfOrder: outOfOrder, lastReceive: last)
        await ticket.release()
    }
}
