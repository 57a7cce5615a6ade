import Foundation
import Synchronization
import Testing

@testable import ConfideClinic

@Suite("Upload waiters: an early chunk is woken when a chunk of its recording is stored")
struct UploadWaitersTests {
    @Test("a waiter is woken by a store of its own recording long before its pause ends, not by another's; one whose recording moved on does not sleep; places are capped")
    func wakeUps() async throws {
        let waiters = UploadWaiters()
        #expect(waiters.enter("r1", limit: 2))
        #expect(waiters.enter("r1", limit: 2))
        #expect(!waiters.enter("r1", limit: 2))
        #expect(waiters.enter("r2", limit: 2))
        let seen = waiters.generation("r1")
        let clock = ContinuousClock()
        let started = clock.now
        let done = Atomic<Bool>(false)
        let waiter = Task {
            await waiters.wait("r1", after: seen, upTo: .seconds(30))
            done.store(true, ordering: .sequentiallyConsistent)
        }
        try await Task.sleep(for: .milliseconds(50))
        waiters.stored("r2")  // another recording's chunk wakes nobody here
        try await Task.sleep(for: .milliseconds(200))
        let early = done.load(ordering: .sequentiallyConsistent)
        #expect(!early)
        waiters.stored("r1")
        await waiter.value
        #expect(clock.now - started < .seconds(10))
        // The recording moved on after `seen` was read: the wait returns at once.
        let moved = clock.now
        await waiters.wait("r1", after: seen, upTo: .seconds(30))
        #expect(clock.now - moved < .seconds(10))
        // With nothing stored, the pause ends the wait, and not before.
        let paused = clock.now
        await waiters.wait("r1", after: waiters.generation("r1"), upTo: .milliseconds(40))
        #expect(clock.now - paused >= .milliseconds(40))
        waiters.leave("r1")
        waiters.leave("r1")
        waiters.leave("r2")
        #expect(waiters.enter("r1", limit: 1))
        waiters.leave("r1")
        #expect(waiters.isIdle)
    }

    @Test("a cancelled waiter returns at once; many waiters racing stores and short pauses all return and leave nothing behind")
    func cancellationAndRaces() async throws {
        let waiters = UploadWaiters()
        #expect(waiters.enter("r", limit: 1))
        let clock = ContinuousClock()
        let started = clock.now
        let waiter = Task { await waiters.wait("r", after: waiters.generation("r"), upTo: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await waiter.value
        #expect(clock.now - started < .seconds(10))
        waiters.leave("r")

        let recordings = ["a", "b", "c"]
        for r in recordings { #expect(waiters.enter(r, limit: 1)) }
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<300 {
                let r = recordings[i % 3]
                group.addTask {
                    if i % 4 == 0 {
                        waiters.stored(r)
                    } else {
                        await waiters.wait(r, after: waiters.generation(r), upTo: .microseconds(Int64(i % 7) * 300))
                    }
                }
            }
        }
        for r in recordings { waiters.leave(r) }
        #expect(waiters.isIdle)
    }
}
