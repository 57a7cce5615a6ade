import ConfideHTTP
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

/// The call load benchmark (issue 5 item 6): one instance holding N concurrent rooms (2N
/// WebSockets) exchanging signalling messages, against a plain WebSocket echo server in the same
/// run. Each phase runs in a fresh child process, so one phase's freed heap cannot hide the next
/// one's growth.
///
///   confide-callbench [--rooms N] [--messages M] [--out FILE]
///   confide-callbench --phase baseline|confide [--rooms N] [--messages M]   (one phase, JSON on stdout)
@main
struct CallBench {
    struct Options {
        var rooms = 1000
        var messages = 50
        var out: String?
        var phase: String?
        var readRoute = false
        var requests = 6000
    }

    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var rest = arguments[...]
        func value(_ name: String) throws -> String {
            guard let v = rest.popFirst() else { throw BenchError("\(name) needs a value") }
            return v
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--rooms":
                guard let n = Int(try value(argument)), n > 0 else { throw BenchError("--rooms needs a positive number") }
                options.rooms = n
            case "--messages":
                guard let n = Int(try value(argument)), n > 0 else { throw BenchError("--messages needs a positive number") }
                options.messages = n
            case "--out": options.out = try value(argument)
            case "--phase": options.phase = try value(argument)
            case "--read-route": options.readRoute = true
            case "--requests":
                guard let n = Int(try value(argument)), n > 0 else { throw BenchError("--requests needs a positive number") }
                options.requests = n
            default: throw BenchError("usage: confide-callbench [--rooms N] [--messages M] [--out FILE] | --read-route [--requests N] [--out FILE]")
            }
        }
        return options
    }

    static func main() async {
        do {
            let options = try parse(Array(CommandLine.arguments.dropFirst()))
            Proc.raiseFileLimit()
            let logger = Logger(label: "confide.callbench", factory: { _ in ServerLog() })
            if options.readRoute {
                let table = try await ReadRouteBench.run(requests: options.requests, logger: logger)
                print(table)
                if let out = options.out { try table.write(toFile: out, atomically: true, encoding: .utf8) }
                return
            }
            switch options.phase {
            case "baseline":
                try emit(try await baseline(options, logger: logger))
            case "confide":
                try emit(try await confide(options, logger: logger))
            case nil:
                try await orchestrate(options)
            case let other?:
                throw BenchError("unknown phase \(other)")
            }
        } catch {
            FileHandle.standardError.write(Data("confide-callbench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func emit(_ result: PhaseResult) throws {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        print("RESULT " + String(decoding: try encoder.encode(result), as: UTF8.self))
    }

    // MARK: the phases

    static func baseline(_ options: Options, logger: Logger) async throws -> PhaseResult {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.ws("echo") { inbound, outbound, _ in
            for try await message in inbound.messages(maxSize: 1 << 16) {
                if case .text(let text) = message { try await outbound.write(.text(text)) }
            }
        }
        // The same WebSocket settings as Confide's server (frame limit, pings).
        let webSocket = WebSocketServerConfiguration(maxFrameSize: 64 * 1024, autoPing: .enabled(timePeriod: .seconds(20)))
        let load = Load(confide: false, rooms: options.rooms, messages: options.messages, logger: logger)
        return try await serve(logger: logger) { onRunning in
            Application(
                router: router, server: .http1WebSocketUpgrade(webSocketRouter: router, configuration: .init(ws: webSocket)),
                configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: onRunning, logger: logger)
        } body: { port in
            let url = "ws://127.0.0.1:\(port)/echo"
            let connections = (0..<options.rooms).flatMap { _ in
                [Connection(url: url, token: nil, side: .receiver), Connection(url: url, token: nil, side: .sender)]
            }
            let outcome = await load.run(connections)
            return PhaseResult(
                name: "baseline (echo)", rooms: options.rooms, messages: options.messages, collector: load.collector,
                timings: (0, outcome.openSeconds), rss: outcome.rss)
        }
    }

    static func confide(_ options: Options, logger: Logger) async throws -> PhaseResult {
        try await CallWorld.with(logger: logger) { world in
            let clock = ContinuousClock()
            let began = clock.now
            let rooms = try await world.rooms(options.rooms)
            let setup = clock.now - began
            let load = Load(confide: true, rooms: options.rooms, messages: options.messages, logger: logger)
            let router = buildRouter(world.deps)
            return try await serve(logger: logger) { onRunning in
                Application(
                    router: router, server: httpServer(router), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                    onServerRunning: onRunning, logger: logger)
            } body: { port in
                let connections = rooms.flatMap { room in
                    let url = "ws://127.0.0.1:\(port)/api/v1/consultations/\(room.consultation)/call/ws"
                    return [
                        Connection(url: url, token: room.patientToken, side: .receiver),
                        Connection(url: url, token: room.clinicianToken, side: .sender),
                    ]
                }
                let outcome = await load.run(connections)
                return PhaseResult(
                    name: "Confide (call rooms)", rooms: options.rooms, messages: options.messages, collector: load.collector,
                    timings: (Double(setup.components.seconds), outcome.openSeconds), rss: outcome.rss)
            }
        }
    }

    /// Runs an application until `body` returns.
    static func serve<App: ApplicationProtocol, R: Sendable>(
        logger: Logger, _ make: (@escaping @Sendable (any Channel) async -> Void) -> App, body: (Int) async throws -> R
    ) async throws -> R {
        let (ports, port) = AsyncStream<Int>.makeStream()
        let app = make { channel in
            port.yield(channel.localAddress?.port ?? 0)
            port.finish()
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            var iterator = ports.makeAsyncIterator()
            guard let bound = await iterator.next(), bound > 0 else { throw BenchError("the server did not start") }
            let result = try await body(bound)
            group.cancelAll()
            return result
        }
    }

    // MARK: orchestration

    static func orchestrate(_ options: Options) async throws {
        FileHandle.standardError.write(
            Data("confide-callbench: \(options.rooms) rooms (\(2 * options.rooms) WebSockets), \(options.messages) messages per room\n".utf8))
        var results: [PhaseResult] = []
        for phase in ["baseline", "confide"] {
            FileHandle.standardError.write(Data("confide-callbench: phase \(phase)...\n".utf8))
            results.append(try runPhase(phase, options))
        }
        let table = report(baseline: results[0], confide: results[1])
        print(table)
        if let out = options.out {
            try table.write(toFile: out, atomically: true, encoding: .utf8)
            FileHandle.standardError.write(Data("wrote \(out)\n".utf8))
        }
    }

    static func runPhase(_ phase: String, _ options: Options) throws -> PhaseResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["--phase", phase, "--rooms", String(options.rooms), "--messages", String(options.messages)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let line = output.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") })
        else { throw BenchError("phase \(phase) failed (status \(process.terminationStatus))") }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(PhaseResult.self, from: Data(line.dropFirst("RESULT ".count).utf8))
    }

    static func report(baseline b: PhaseResult, confide c: PhaseResult) -> String {
        func f(_ x: Double, _ digits: Int = 1) -> String { x.isFinite ? String(format: "%.\(digits)f", x) : "n/a" }
        func ratio(_ x: Double, _ y: Double) -> String { y > 0 && x.isFinite && y.isFinite ? String(format: "%.2f×", x / y) : "n/a" }
        func row(_ r: PhaseResult) -> String {
            "| \(r.name) | \(r.connections) | \(f(r.rssPerConnectionKiB)) | \(f(r.rssPerConnectionAfterKiB)) | \(f(r.p50ms, 2)) | "
                + "\(f(r.p99ms, 2)) | \(f(r.maxms, 1)) | \(f(r.messagesPerSecond, 0)) | \(r.received)/\(r.expected) |"
        }
        let url = ProcessInfo.processInfo.environment["CONFIDE_TEST_DATABASE_URL"] ?? ""
        let database = url.isEmpty ? "SQLite file, in-process relay" : "PostgreSQL, NOTIFY relay"
        var lines = [
            "## Call signalling load: \(c.rooms) rooms, \(c.connections) WebSockets, \(c.messagesPerRoom) messages per room (\(database))",
            "",
            "One sender per room (Confide: the clinician; baseline: one socket of each pair) sends a \(c.messageBytes)-byte ICE candidate "
                + "every 100 ms (half the per-connection sustained rate); latency is send → receipt at the other participant "
                + "(baseline: the echo back to the sender). Client and server share one process, so memory per connection "
                + "includes the client side in both rows; the ratio is the point. Each phase runs in a fresh process.",
            "",
            "| | connections | RSS/connection (KiB) | RSS/connection after messages (KiB) | p50 (ms) | p99 (ms) | max (ms) | messages/s | delivered |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            row(b),
            row(c),
            "| Confide / baseline | | \(ratio(c.rssPerConnectionKiB, b.rssPerConnectionKiB)) | "
                + "\(ratio(c.rssPerConnectionAfterKiB, b.rssPerConnectionAfterKiB)) | \(ratio(c.p50ms, b.p50ms)) | \(ratio(c.p99ms, b.p99ms)) | "
                + "\(ratio(c.maxms, b.maxms)) | \(ratio(c.messagesPerSecond, b.messagesPerSecond)) | |",
            "",
            "Opening all connections took \(f(b.openSeconds)) s (baseline) and \(f(c.openSeconds)) s (Confide: authentication, "
                + "authorisation, seat and audit writes per join); setting up \(c.rooms) consultations took \(f(c.setupSeconds, 0)) s.",
        ]
        for r in [b, c] where r.failedConnections + r.closedEarly + r.outOfOrder > 0 || !r.problems.isEmpty {
            lines.append("")
            lines.append(
                "Problems in \(r.name): \(r.failedConnections) connections failed, \(r.closedEarly) closed early, "
                    + "\(r.outOfOrder) out of order.")
            for (what, count) in r.problems.sorted(by: { $0.value > $1.value }).prefix(10) { lines.append("- \(count)× \(what)") }
        }
        return lines.joined(separator: "\n")
    }
}
