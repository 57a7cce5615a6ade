public import ConfideCore
public import Foundation
import Synchronization

/// A clock that only moves when a test moves it.
public final class TestClock: WallClock {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_795_000_000)) { current = Mutex(start) }

    public func now() -> Date { current.withLock { $0 } }

    /// Sets the clock to a given instant.
    public func set(_ date: Date) { current.withLock { $0 = date } }

    /// Moves the clock forward.
    public func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
