import Testing

@testable import ConfideSignalling

@Suite struct RateLimiterTests {
    @Test func burstThenRefill() {
        let limiter = Bucket()
        // 60 at once, not 61.
        for i in 0..<60 { #expect(limiter.allow(at: 100), "message \(i)") }
        #expect(!limiter.allow(at: 100))
        #expect(!limiter.allow(at: 100.049))
        // 20 per second: one more every 50 ms.
        #expect(limiter.allow(at: 100.05))
        #expect(!limiter.allow(at: 100.05))
        #expect(limiter.allow(at: 100.1))
        #expect(!limiter.allow(at: 100.1))
        // One second later, 20 more (and only 20).
        var allowed = 0
        for _ in 0..<30 where limiter.allow(at: 101.1) { allowed += 1 }
        #expect(allowed == 20)
        // A long pause refills to the burst, not beyond.
        allowed = 0
        for _ in 0..<100 where limiter.allow(at: 1_000) { allowed += 1 }
        #expect(allowed == 60)
    }

    @Test func sustainedRateIsAllowedForever() {
        let limiter = Bucket()
        for i in 0..<10_000 { #expect(limiter.allow(at: Double(i) * 0.05)) }
        let limiter2 = Bucket()
        for i in 0..<10_000 { #expect(limiter2.allow(at: 7.3 + Double(i) / 20)) }
    }

    @Test func timeGoingBackwardsRefillsNothing() {
        let limiter = Bucket(burst: 2, perSecond: 1)
        #expect(limiter.allow(at: 10))
        #expect(limiter.allow(at: 10))
        #expect(!limiter.allow(at: 5))
        #expect(!limiter.allow(at: 10.5))
        #expect(limiter.allow(at: 11))
    }

    @Test func customBurstAndRate() {
        let limiter = Bucket(burst: 3, perSecond: 0.5)
        #expect(limiter.allow(at: 0) && limiter.allow(at: 0) && limiter.allow(at: 0))
        #expect(!limiter.allow(at: 1.9))
        #expect(limiter.allow(at: 2))
        #expect(!limiter.allow(at: 3.9))
    }
}
