public import ConfideAudit
import Synchronization

/// Group commit for the audit log's read-side appends (issue 3 item 4).
///
/// A read or a list must have its audit entries durably appended before its response leaves. One
/// transaction per request makes every reader wait for its own commit (and, on PostgreSQL, for the
/// sequencer lock in turn). Here concurrent requests share commits instead: the first caller
/// starts a flusher; callers that arrive while a commit is in flight queue up and go together in
/// the next transaction. Each caller resumes only after the transaction holding its entries has
/// committed, with exactly its own indices; if that transaction fails, every caller in it gets the
/// error, so each of those requests fails closed. Entries keep their order within a caller, and a
/// caller's entries are never split across transactions.
///
/// Writes do not come through here: a write appends its entry inside its own transaction.
public final class AuditGroupCommit: Sendable {
    struct Waiter {
        let entries: [AuditEntry]
        let continuation: CheckedContinuation<[LogIndex], any Error>
    }

    struct State {
        var queue: [Waiter] = []
        var flushing = false
        var statistics = Statistics()
    }

    /// Committed transactions and the entries they carried (for the benchmark and metrics).
    public struct Statistics: Sendable, Hashable {
        public var transactions = 0
        public var entries = 0
        public var callers = 0
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    let store: any AuditStore
    /// At most this many entries per transaction (a single caller with more goes alone).
    let maxEntries: Int
    let state = Mutex(State())

    public init(store: any AuditStore, maxEntries: Int = 512) {
        precondition(maxEntries > 0)
        self.store = store
        self.maxEntries = maxEntries
    }

    /// Appends `entries` durably, in order and contiguously, sharing the transaction with whoever
    /// else is waiting. Returns their indices.
    public func append(_ entries: [AuditEntry]) async throws -> [LogIndex] {
        guard !entries.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            let startFlusher = state.withLock { state in
                state.queue.append(Waiter(entries: entries, continuation: continuation))
                if state.flushing { return false }
                state.flushing = true
                return true
            }
            // The flusher outlives no caller: it stops as soon as the queue is empty, and every
            // queued caller is resumed, with its indices or with the error, before it does.
            // Detached: it serves many requests, so it takes none of the first one's task locals.
            if startFlusher { Task.detached { await self.drain() } }
        }
    }

    /// Commits queued batches until none is left.
    func drain() async {
        while let batch = nextBatch() {
            do {
                let indices = try await store.append(batch.flatMap(\.entries))
                guard indices.count == batch.reduce(0, { $0 + $1.entries.count }) else {
                    throw AuditGroupCommitError.indexCountMismatch
                }
                state.withLock {
                    $0.statistics.transactions += 1
                    $0.statistics.entries += indices.count
                    $0.statistics.callers += batch.count
                }
                var offset = 0
                for waiter in batch {
                    waiter.continuation.resume(returning: Array(indices[offset..<(offset + waiter.entries.count)]))
                    offset += waiter.entries.count
                }
            } catch {
                for waiter in batch { waiter.continuation.resume(throwing: error) }
            }
        }
    }

    /// The next callers to commit together (up to `maxEntries`, at least one caller), or `nil`
    /// (and the flusher stops) when nobody waits.
    func nextBatch() -> [Waiter]? {
        state.withLock { state in
            guard !state.queue.isEmpty else {
                state.flushing = false
                return nil
            }
            var count = 0
            var taken = 0
            for waiter in state.queue {
                if taken > 0 && count + waiter.entries.count > maxEntries { break }
                count += waiter.entries.count
                taken += 1
            }
            let batch = Array(state.queue.prefix(taken))
            state.queue.removeFirst(taken)
            return batch
        }
    }
}

/// The store answered a batch with a different number of indices than entries (a store defect):
/// nobody in the batch is told it succeeded.
public enum AuditGroupCommitError: Error, Sendable {
    case indexCountMismatch
}
