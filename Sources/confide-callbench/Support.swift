import Dispatch
import ConfideTesting
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Process facts and small concurrency helpers for the benchmark.
enum Proc {
    /// Resident set size in KiB (`VmRSS` of /proc/self/status), or 0 where there is none.
    static func rssKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    /// Returns freed heap pages to the system (glibc `malloc_trim`, looked up at run time), so the
    /// RSS before opening connections is not inflated by setup garbage.
    static func trimHeap() {
        #if canImport(Glibc)
        typealias Trim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
            _ = unsafeBitCast(symbol, to: Trim.self)(0)
        }
        #endif
    }

    /// Raises the soft open-file limit to the hard limit (each connection is two descriptors here:
    /// the client's and the server's); returns the soft limit now in force.
    @discardableResult
    static func raiseFileLimit() -> Int {
        #if canImport(Glibc)
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(clamping: limit.rlim_cur)
        #else
        return -1
        #endif
    }

    /// A monotonic timestamp in nanoseconds (shared by every task of the process).
    static func nanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

/// A slot released at most once (on welcome, or when the attempt fails).
final class SlotTicket: Sendable {
    let slots: TestSlots
    let held = Mutex(true)

    init(_ slots: TestSlots) { self.slots = slots }

    func release() async {
        let release = held.withLock { h -> Bool in
            defer { h = false }
            return h
        }
        if release { await slots.release() }
    }
}

/// A counter polled with a deadline.
final class Counter: Sendable {
    let value = Mutex(0)

    func add(_ n: Int = 1) { value.withLock { $0 += n } }
    var current: Int { value.withLock { $0 } }

    /// Waits until the counter reaches `target` or `seconds` pass; `true` when it reached it.
    func wait(for target: Int, seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while current < target {
            if ContinuousClock.now > deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}

/// Everything the connections of one phase report.
final class Collector: Sendable {
    struct State {
        var latencies: [Double] = []
        var received = 0
        var outOfOrder = 0
        var firstSend: UInt64 = .max
        var lastReceive: UInt64 = 0
        var problems: [String: Int] = [:]
        var failedConnections = 0
        var closedEarly = 0
    }
    let state = Mutex(State())

    func sent(at t: UInt64) { state.withLock { $0.firstSend = min($0.firstSend, t) } }

    func merge(latencies: [Double], received: Int, outOfOrder: Int, lastReceive: UInt64) {
        state.withLock {
            $0.latencies.append(contentsOf: latencies)
            $0.received += received
            $0.outOfOrder += outOfOrder
            $0.lastReceive = max($0.lastReceive, lastReceive)
        }
    }

    func problem(_ what: String) { state.withLock { $0.problems[what, default: 0] += 1 } }
    func failed(_ what: String) {
        state.withLock {
            $0.failedConnections += 1
            $0.problems[what, default: 0] += 1
        }
    }
    func closedEarly(_ what: String) {
        state.withLock {
            $0.closedEarly += 1
            $0.problems[what, default: 0] += 1
        }
    }
}

/// The one sample message: a realistic ICE candidate (~300 bytes of JSON) carrying a sequence
/// number and its send time, which the receiver reads back without a full JSON parse.
enum Sample {
    static let seqKey = "bench-seq="
    static let timeKey = " bench-t="

    static func candidate(seq: Int, at t: UInt64) -> String {
        let seqText = String(seq).leftPadded(to: 8)
        let timeText = String(t).leftPadded(to: 20)
        let candidate =
            "candidate:3284734052 1 udp 1686052607 2001:db8:85a3:8d3:1319:8a2e:370:7348 61472 typ srflx raddr 192.168.100.123 rport 61472 "
            + "generation 0 ufrag kX9p network-id 1 network-cost 10 \(seqKey)\(seqText)\(timeKey)\(timeText)"
        return #"{"type":"candidate","candidate":""# + candidate + #"","sdpMid":"0","sdpMLineIndex":0}"#
    }

    static let size = candidate(seq: 0, at: 0).utf8.count

    /// `(seq, sendTime)` of a sample message, or `nil` for any other message.
    static func parse(_ text: String) -> (seq: Int, t: UInt64)? {
        guard let s = text.range(of: seqKey), let t = text.range(of: timeKey, range: s.upperBound..<text.endIndex) else { return nil }
        let seqEnd = text.index(s.upperBound, offsetBy: 8, limitedBy: text.endIndex) ?? text.endIndex
        let timeEnd = text.index(t.upperBound, offsetBy: 20, limitedBy: text.endIndex) ?? text.endIndex
        guard let seq = Int(text[s.upperBound..<seqEnd].trimmingCharacters(in: .whitespaces)),
            let time = UInt64(text[t.upperBound..<timeEnd].trimmingCharacters(in: .whitespaces))
        else { return nil }
        return (seq, time)
    }

    /// The `type` of a JSON message (the few that are not samples).
    static func type(_ text: String) -> (type: String, object: [String: Any]) {
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        return (object["type"] as? String ?? "?", object)
    }

    /// A plausible SDP offer, JSON-encoded.
    static func offer() -> String {
        let sdp = [
            "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1", "a=msid-semantic: WMS",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0", "a=ice-ufrag:kX9p",
            "a=ice-pwd:3b1f0d8e7c6a5b4d3e2f1a0b9c8d7e6f", "a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89",
            "a=setup:actpass", "a=mid:0", "a=sendrecv", "a=rtpmap:111 opus/48000/2",
            "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:1", "a=sendrecv", "a=rtpmap:96 VP8/90000",
        ].joined(separator: "\r\n") + "\r\n"
        let data = try! JSONSerialization.data(withJSONObject: ["type": "offer", "sdp": sdp], options: [.withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

/// The numbers of one phase, passed from a phase's process to the orchestrator as JSON.
struct PhaseResult: Codable, Sendable {
    var name: String
    var rooms: Int
    var connections: Int
    var messagesPerRoom: Int
    var messageBytes: Int
    var setupSeconds: Double
    var openSeconds: Double
    var rssBeforeKiB: Int
    var rssOpenKiB: Int
    var rssAfterKiB: Int
    var expected: Int
    var received: Int
    var outOfOrder: Int
    var p50ms: Double
    var p99ms: Double
    var maxms: Double
    var messagesPerSecond: Double
    var failedConnections: Int
    var closedEarly: Int
    var problems: [String: Int]

    var rssPerConnectionKiB: Double { connections == 0 ? 0 : Double(rssOpenKiB - rssBeforeKiB) / Double(connections) }
    var rssPerConnectionAfterKiB: Double { connections == 0 ? 0 : Double(rssAfterKiB - rssBeforeKiB) / Double(connections) }

    init(name: String, rooms: Int, messages: Int, collector: Collector, timings: (setup: Double, open: Double), rss: (Int, Int, Int)) {
        let state = collector.state.withLock { $0 }
        self.name = name
        self.rooms = rooms
        self.connections = 2 * rooms
        self.messagesPerRoom = messages
        self.messageBytes = Sample.size
        self.setupSeconds = timings.setup
        self.openSeconds = timings.open
        (rssBeforeKiB, rssOpenKiB, rssAfterKiB) = rss
        self.expected = rooms * messages
        self.received = state.received
        self.outOfOrder = state.outOfOrder
        let sorted = state.latencies.sorted()
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
        }
        p50ms = percentile(0.50)
        p99ms = percentile(0.99)
        maxms = sorted.last ?? .nan
        let span = state.lastReceive > state.firstSend ? Double(state.lastReceive - state.firstSend) / 1e9 : 0
        messagesPerSecond = span > 0 ? Double(state.received) / span : 0
        failedConnections = state.failedConnections
        closedEarly = state.closedEarly
        problems = state.problems
        for (line, count) in ServerLog.counts.withLock({ $0 }) { problems["server log: " + line, default: 0] += count }
    }
}

/// Counts the server's log lines at warning level and above (a warning under load is a finding),
/// without printing them.
struct ServerLog: LogHandler {
    static let counts = Mutex<[String: Int]>([:])

    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        Self.counts.withLock { $0["\(event.level) \(event.message)", default: 0] += 1 }
    }
}
