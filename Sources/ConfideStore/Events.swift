import Foundation
import Synchronization

/// A change other server instances must hear about at once (a patient checked in, a booking
/// was made). Events carry identifiers only, never patient data: a listener that wants details
/// asks the gate for them like any other request.
public struct ClinicEvent: Sendable, Hashable, Codable {
    /// Who should hear it, e.g. `clinician:<account id>` or `patient:<patient id>`.
    public var topic: String
    /// What changed, e.g. `consultation`.
    public var kind: String
    /// The consultation concerned, when there is one.
    public var consultation: String?

    public init(topic: String, kind: String, consultation: String? = nil) {
        self.topic = topic
        self.kind = kind
        self.consultation = consultation
    }
}

/// The cross-instance event channel: PostgreSQL LISTEN/NOTIFY when several instances share a
/// database, an in-process fan-out with SQLite.
public protocol EventChannel: Sendable {
    /// Sends an event to every subscriber of its topic on every instance (at most once each;
    /// subscribers that are not connected miss it, so they reload state when they connect).
    func publish(_ event: ClinicEvent) async throws
    /// The events of one topic from now on; the stream ends when the caller stops iterating.
    func events(topic: String) -> AsyncStream<ClinicEvent>
    /// Stops delivering; open streams finish.
    func shutdown() async
}

/// In-process fan-out. Also the local half of the PostgreSQL channel.
public final class LocalEventChannel: EventChannel {
    let fanOut = FanOut<ClinicEvent>(buffer: 64)

    public init() {}

    public func publish(_ event: ClinicEvent) async throws { deliver(event) }

    /// Hands an event to this instance's subscribers of its topic.
    public func deliver(_ event: ClinicEvent) { fanOut.deliver(event, to: event.topic) }

    /// Tells every subscriber on this instance to reload (events may have been missed, e.g.
    /// while the PostgreSQL listener reconnected).
    public func deliverResync() {
        fanOut.deliverToAll { topic in ClinicEvent(topic: topic, kind: "resync") }
    }

    public func events(topic: String) -> AsyncStream<ClinicEvent> { fanOut.stream(topic) }

    /// How many subscribers are connected (for tests and metrics).
    public var subscriberCount: Int { fanOut.subscriberCount }

    public func shutdown() async { fanOut.finishAll() }
}

/// Subscribers by topic, each an `AsyncStream` that drops its oldest elements when a slow
/// reader falls `buffer` behind.
final class FanOut<Element: Sendable>: Sendable {
    struct State {
        var next = 0
        var subscribers: [String: [Int: AsyncStream<Element>.Continuation]] = [:]
        var closed = false
    }

    let state = Mutex(State())
    let buffer: Int

    init(buffer: Int) { self.buffer = buffer }

    func hasSubscribers(_ topic: String) -> Bool { state.withLock { $0.subscribers[topic] != nil } }

    var subscriberCount: Int { state.withLock { $0.subscribers.values.reduce(0) { $0 + $1.count } } }

    func deliver(_ element: Element, to topic: String) {
        let targets = state.withLock { Array(($0.subscribers[topic] ?? [:]).values) }
        for continuation in targets { continuation.yield(element) }
    }

    func deliverToAll(_ make: (String) -> Element) {
        let targets = state.withLock { s in s.subscribers.map { ($0.key, Array($0.value.values)) } }
        for (topic, continuations) in targets {
            for c in continuations { c.yield(make(topic)) }
        }
    }

    func stream(_ topic: String) -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream<Element>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        let key: Int? = state.withLock { s in
            guard !s.closed else { return nil }
            s.next += 1
            s.subscribers[topic, default: [:]][s.next] = continuation
            return s.next
        }
        guard let key else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { s in
                s.subscribers[topic]?[key] = nil
                if s.subscribers[topic]?.isEmpty == true { s.subscribers[topic] = nil }
            }
        }
        return stream
    }

    func finishAll() {
        let all = state.withLock { s -> [AsyncStream<Element>.Continuation] in
            s.closed = true
            defer { s.subscribers = [:] }
            return s.subscribers.values.flatMap(\.values)
        }
        for c in all { c.finish() }
    }
}
