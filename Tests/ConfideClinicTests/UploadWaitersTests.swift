import Foundation
import Synchronization
import Testing

@testable import ConfideClinic

@Suite("Upload waiters: an early chunk is woken when a chunk of its recording is stored")
struct UploadWaitersTests {
    // The pauses are an hour and the time limit a minute: a waiter that is not woken fails the test
    // by its time limit, whatever the load on the machine (no wall-clock bound on a wake-up).
    @Test(
        "a waiter is woken by a store of its own recording, not by another's; one whose recording moved on does not sleep; places are capped",
        .timeLimit(.minutes(1)))
    func wakeUps() async throws {
        let waiters = UploadWaiters()
        #expect(waiters.enter("r1", limit: 2))
        #expect(waiters.enter("r1", limit: 2))
        #expect(!waiters.enter("r1", limit: 2))
        #expect(waiters.enter("r2", limit: 2))
        let seen = waiters.generation("r1")
        let clock = ContinuousClock()
        let done = Atomic<Bool>(false)
        // A child task, so that the time limit's cancellation reaches it.
        async let woken: Void = {
            await waiters.wait("r1", after: seen, upTo: .seconds(3600))
            done.store(true, ordering: .sequentiallyConsistent)
        }()
        try await Task.sleep(for: .milliseconds(50))
        waiters.stored("r2")  // another recording's chunk wakes nobody here
        try await Task.sleep(for: .milliseconds(200))
        let early = done.load(ordering: .sequentiallyConsistent)
        #expect(!early)
        waiters.stored("r1")
        await woken
        #expect(!Task.isCancelled, "woken by the store, not by the time limit")
        // The recording moved on after `seen` was read: the wait returns at once.
        await waiters.wait("r1", after: seen, upTo: .seconds(3600))
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

    @Test(
        "a cancelled waiter returns at once; many waiters racing stores and short pauses all return and leave nothing behind",
        .timeLimit(.minutes(1)))
    func cancellationAndRaces() async throws {
        let waiters = UploadWaiters()
        #expect(waiters.enter("r", limit: 1))
        let waiter = Task { await waiters.wait("r", after: waiters.generation("r"), upTo: .seconds(3600)) }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await waiter.value
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
