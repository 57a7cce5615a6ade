import Foundation
import Synchronization
import Testing

@testable import ConfideClinic

@Suite("Upload waiters: an early chunk sleeps on its predecessor and is woken when the predecessor's attempt ends")
struct UploadWaitersTests {
    typealias Key = UploadWaiters.Key

    static func key(_ recording: String, _ segment: Int, _ index: Int) -> Key { Key(recording: recording, segment: segment, index: index) }

    /// Returns once `count` waiters sleep on `chunk` (no wall-clock guess at when a task has run).
    static func untilSleeping(_ waiters: UploadWaiters, on chunk: Key, _ count: Int = 1) async throws {
        while waiters.sleeping(on: chunk) < count { try await Task.sleep(for: .milliseconds(1)) }
    }

    // The pauses are an hour and the time limit a minute: a waiter that is not woken fails the test
    // by its time limit, whatever the load on the machine (no wall-clock bound on a wake-up).
    @Test(
        "a waiter is woken by the end of its predecessor's attempt, not by another chunk's; places are capped",
        .timeLimit(.minutes(1)))
    func wakeUps() async throws {
        let waiters = UploadWaiters()
        #expect(waiters.enter("r1", limit: 2))
        #expect(waiters.enter("r1", limit: 2))
        #expect(!waiters.enter("r1", limit: 2))
        #expect(waiters.enter("r2", limit: 2))
        let predecessor = Self.key("r1", 0, 4)
        waiters.begin(predecessor)
        let done = Atomic<Bool>(false)
        // A child task, so that the time limit's cancellation reaches it.
        async let woken: Void = {
            await waiters.wait(for: predecessor, upTo: .seconds(3600), limit: .seconds(3600))
            done.store(true, ordering: .sequentiallyConsistent)
        }()
        try await Self.untilSleeping(waiters, on: predecessor)
        // Another recording's chunk, the same index in another segment, and a later chunk wake nobody here.
        for other in [Self.key("r2", 0, 4), Self.key("r1", 1, 4), Self.key("r1", 0, 5)] {
            waiters.begin(other)
            waiters.end(other)
        }
        try await Task.sleep(for: .milliseconds(200))
        let early = done.load(ordering: .sequentiallyConsistent)
        #expect(!early)
        waiters.end(predecessor)
        await woken
        #expect(!Task.isCancelled, "woken by the predecessor, not by the time limit")
        waiters.leave("r1")
        waiters.leave("r1")
        waiters.leave("r2")
        #expect(waiters.enter("r1", limit: 1))
        waiters.leave("r1")
        #expect(waiters.isIdle)
    }

    @Test(
        "a predecessor in flight holds the waiter past its pause; one not in flight here is polled at the pause",
        .timeLimit(.minutes(1)))
    func pauses() async throws {
        let waiters = UploadWaiters()
        let clock = ContinuousClock()
        // Not in flight here (not sent yet, or another instance's): the pause ends the wait, and not before.
        let started = clock.now
        await waiters.wait(for: Self.key("r", 0, 0), upTo: .milliseconds(40), limit: .seconds(3600))
        #expect(clock.now - started >= .milliseconds(40))
        // In flight here: a short pause does not end the wait; the predecessor's end does.
        let predecessor = Self.key("r", 0, 1)
        waiters.begin(predecessor)
        let done = Atomic<Bool>(false)
        async let woken: Void = {
            await waiters.wait(for: predecessor, upTo: .milliseconds(1), limit: .seconds(3600))
            done.store(true, ordering: .sequentiallyConsistent)
        }()
        try await Self.untilSleeping(waiters, on: predecessor)
        try await Task.sleep(for: .milliseconds(200))
        let early = done.load(ordering: .sequentiallyConsistent)
        #expect(!early)
        waiters.end(predecessor)
        await woken
        // In flight here, and the limit (what is left of the waiter's deadline) ends the wait.
        waiters.begin(predecessor)
        let limited = clock.now
        await waiters.wait(for: predecessor, upTo: .milliseconds(1), limit: .milliseconds(60))
        #expect(clock.now - limited >= .milliseconds(60))
        // A re-sent predecessor in flight twice: the wait ends when either attempt ends.
        waiters.begin(predecessor)
        async let second: Void = waiters.wait(for: predecessor, upTo: .seconds(3600), limit: .seconds(3600))
        try await Self.untilSleeping(waiters, on: predecessor)
        waiters.end(predecessor)
        await second
        waiters.end(predecessor)
        #expect(waiters.isIdle)
    }

    @Test(
        "a cancelled waiter returns at once; many waiters racing their predecessors' attempts and short pauses all return and leave nothing behind",
        .timeLimit(.minutes(1)))
    func cancellationAndRaces() async throws {
        let waiters = UploadWaiters()
        let held = Self.key("r", 0, 0)
        waiters.begin(held)
        let waiter = Task { await waiters.wait(for: held, upTo: .seconds(3600), limit: .seconds(3600)) }
        try await Self.untilSleeping(waiters, on: held)
        waiter.cancel()
        await waiter.value
        waiters.end(held)

        let recordings = ["a", "b", "c"]
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<300 {
                let chunk = Self.key(recordings[i % 3], 0, i % 5)
                group.addTask {
                    if i % 4 == 0 {
                        waiters.begin(chunk)
                        await Task.yield()
                        waiters.end(chunk)
                    } else {
                        await waiters.wait(for: chunk, upTo: .microseconds(Int64(i % 7) * 300), limit: .milliseconds(Int64(i % 3) * 5))
                    }
                }
            }
        }
        #expect(waiters.isIdle)
    }
}
