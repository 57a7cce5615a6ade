import Foundation
public import Logging
import Synchronization

/// Collects every log line (message and metadata, rendered as text) so a test can assert that
/// no personal data was logged.
public final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    /// A logger that writes into this capture (at trace level: everything counts).
    public func logger(label: String = "confide.test") -> Logger {
        var logger = Logger(label: label, factory: { _ in CapturingLogHandler(capture: self) })
        logger.logLevel = .trace
        return logger
    }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    /// Everything captured so far.
    public var all: [String] { lines.withLock { $0 } }

    /// The captured lines that contain any of `needles` (case-insensitive).
    public func lines(containingAnyOf needles: [String]) -> [String] {
        let lowered = needles.map { $0.lowercased() }
        return all.filter { line in
            let l = line.lowercased()
            return lowered.contains { l.contains($0) }
        }
    }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let rendered = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append("\(event.level) \(event.message) \(rendered)")
    }
}
