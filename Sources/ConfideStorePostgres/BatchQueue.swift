import Synchronization

/// A queue that hands its items to one worker in batches: whatever accumulated while the worker
/// was busy goes in the next batch (at most `maxBatch`), in order. Pushing never waits.
final class BatchQueue<Item: Sendable>: Sendable {
    struct State {
        var items: [Item] = []
        var finished = false
    }

    let state = Mutex(State())
    let wake: AsyncStream<Void>.Continuation
    let wakes: AsyncStream<Void>

    init() {
        (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func push(_ item: Item) {
        let accepted = state.withLock { s -> Bool in
            guard !s.finished else { return false }
            s.items.append(item)
            return true
        }
        if accepted { wake.yield() }
    }

    /// Stops taking items; the worker drains what is queued, then returns.
    func finish() {
        state.withLock { $0.finished = true }
        wake.finish()
    }

    /// Runs `body` on each batch until `finish()` and the queue is empty.
    func work(maxBatch: Int, _ body: ([Item]) async -> Void) async {
        for await _ in wakes {
            while true {
                let batch = state.withLock { s -> [Item] in
                    let n = min(maxBatch, s.items.count)
                    defer { s.items.removeFirst(n) }
                    return Array(s.items.prefix(n))
                }
                if batch.isEmpty { break }
                await body(batch)
            }
        }
        // Finished: whatever is left.
        while true {
            let batch = state.withLock { s -> [Item] in
                defer { s.items = [] }
                return s.items
            }
            if batch.isEmpty { return }
            await body(batch)
        }
    }
}
