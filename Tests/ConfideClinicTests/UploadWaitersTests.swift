import Foundation
import Testing

@testable import ConfideClinic

@Suite("Upload waiters: an early chunk is woken when a chunk of its recording is stored")
struct UploadWaitersTests {
    @Test("a waiter is woken by a store long before its pause ends; one whose recording moved on since it looked does not sleep; places are capped")
    func wakeUps() async throws {
        let waiters = UploadWaiters()
        #expect(waiters.enter("r1", limit: 2))
        #expect(waiters.enter("r1", limit: 2))
        #expect(!waiters.enter("r1", limit: 2))
        let seen = waiters.generation("r1")
        let clock = ContinuousClock()
        let started = clock.now
        async let woken: Void = waiters.wait("r1", after: seen, upTo: .seconds(30))
        try await Task.sleep(for: .milliseconds(50))
        waiters.stored("r2")  // another recording's chunk wakes nobody here
        waiters.stored("r1")
        await woken
        #expect(clock.now - started < .seconds(10))
        // The recording moved on after `seen` was read: the wait returns at once.
        let moved = clock.now
        await waiters.wait("r1", after: seen, upTo: .seconds(30))
        #expect(clock.now - moved < .seconds(10))
        // With nothing stored, the pause ends the wait.
        await waiters.wait("r1", after: waiters.generation("r1"), upTo: .milliseconds(20))
        waiters.leave("r1")
        waiters.leave("r1")
        #expect(waiters.enter("r1", limit: 1))
        waiters.leave("r1")
    }
}
