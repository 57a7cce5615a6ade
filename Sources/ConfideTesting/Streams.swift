/// The next element of a stream, or `nil` when none arrives within `seconds` (the stream is then
/// finished: a timed-out reader cancels its iteration).
public func firstElement<T: Sendable>(_ stream: AsyncStream<T>, within seconds: Double) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask {
            for await element in stream { return element }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// A gate many tasks wait on until it opens (once).
public actor Gate {
    public private(set) var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    public func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    public func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }
}
