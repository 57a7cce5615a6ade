/// A token bucket: `burst` messages at once, refilled at `perSecond` messages per second. Pure: the
/// time is passed in, as seconds on a monotonic scale. Time going backwards refills nothing.
public struct RateLimiter: Sendable {
    public let burst: Int
    public let perSecond: Double
    private var tokens: Double
    private var last: Double?

    public init(burst: Int = 60, perSecond: Double = 20) {
        precondition(burst >= 1 && perSecond > 0, "a rate limiter needs a burst of at least 1 and a positive rate")
        self.burst = burst
        self.perSecond = perSecond
        self.tokens = Double(burst)
    }

    /// Takes one token if there is one.
    public mutating func allow(at seconds: Double) -> Bool {
        if let last, seconds > last {
            tokens = min(Double(burst), tokens + (seconds - last) * perSecond)
        }
        last = max(last ?? seconds, seconds)
        // The tolerance absorbs rounding in (seconds - last) * perSecond, so that exactly
        // 1/perSecond seconds always buys exactly one message.
        guard tokens >= 1 - 1e-9 else { return false }
        tokens = max(0, tokens - 1)
        return true
    }
}
