public import ConfideStore
import ConfideStorePostgres
public import ConfideStoreSQL
import ConfideStoreSQLite
import Foundation
import Logging

/// A fresh, migrated database for one test: a private in-memory SQLite database, or, when
/// `CONFIDE_TEST_DATABASE_URL` is set, a schema of its own in that PostgreSQL database (so tests
/// can run in parallel).
public enum TestDatabase {
    static var postgresURL: String? {
        guard let url = ProcessInfo.processInfo.environment["CONFIDE_TEST_DATABASE_URL"], !url.isEmpty else { return nil }
        return url
    }

    /// At most this many PostgreSQL test databases are open at once, so that a parallel test run
    /// stays under the server's connection limit (each holds at most six connections).
    static let postgresSlots = TestSlots(limit: 12)

    /// Runs `body` with fresh stores and closes them afterwards, also when `body` throws.
    public static func withStores<R>(_ body: (ConfideStores) async throws -> R) async throws -> R {
        try await withStoresAndEvents { stores, _ in try await body(stores) }
    }

    /// Runs `body` with fresh stores and two event channels on them, as two server instances
    /// would have (with SQLite both are the one in-process channel).
    public static func withStoresAndEvents<R>(faults: InjectedFaults = .none, _ body: (ConfideStores, TestEvents) async throws -> R)
        async throws -> R
    {
        let slots = postgresURL == nil ? nil : postgresSlots
        await slots?.acquire()
        do {
            let (stores, events, cleanup) = try await make(faults: faults)
            do {
                let result = try await body(stores, events)
                try await cleanup()
                await slots?.release()
                return result
            } catch {
                try? await cleanup()
                throw error
            }
        } catch {
            await slots?.release()
            throw error
        }
    }

    /// Fresh migrated stores and the function that disposes of them.
    public static func make(faults: InjectedFaults = .none) async throws -> (ConfideStores, TestEvents, @Sendable () async throws -> Void) {
        let logger = Logger(label: "confide.test.db", factory: { _ in SwiftLogNoOpLogHandler() })
        if let url = postgresURL {
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            // INVARIANT: every pool opened here is shut down on every path (a pool that is
            // deinitialised without shutdown traps); pools are small so parallel tests stay well
            // under the server's connection limit.
            let admin = SQLStores(backend: try PostgresBackend(url: url, maxConnectionsPerEventLoop: 1, logger: logger))
            do {
                try await admin.execute("CREATE SCHEMA \(schema)")
            } catch {
                try? await admin.stores.system.shutdown()
                throw error
            }
            let backend = try PostgresBackend(url: url, schema: schema, maxConnectionsPerEventLoop: 2, logger: logger)
            let stores = SQLStores(backend: backend, faults: faults).stores
            let first = try PostgresEventChannel(backend: backend, url: url, channel: schema, logger: logger)
            let second = try PostgresEventChannel(backend: backend, url: url, channel: schema, logger: logger)
            let firstCalls = try PostgresCallRelay(backend: backend, url: url, channel: schema + "_calls", logger: logger)
            let secondCalls = try PostgresCallRelay(backend: backend, url: url, channel: schema + "_calls", logger: logger)
            let cleanup: @Sendable () async throws -> Void = {
                await first.shutdown()
                await second.shutdown()
                await firstCalls.shutdown()
                await secondCalls.shutdown()
                try? await stores.system.shutdown()
                try? await admin.execute("DROP SCHEMA \(schema) CASCADE")
                try await admin.stores.system.shutdown()
            }
            do {
                _ = try await stores.system.migrate()
                await first.start()
                await second.start()
                await firstCalls.start()
                await secondCalls.start()
            } catch {
                try? await cleanup()
                throw error
            }
            return (stores, TestEvents(primary: first, sibling: second, calls: firstCalls, siblingCalls: secondCalls), cleanup)
        }
        let stores = SQLStores(backend: try await SQLiteBackend.open(path: nil, logger: logger), faults: faults).stores
        do {
            _ = try await stores.system.migrate()
        } catch {
            try? await stores.system.shutdown()
            throw error
        }
        let local = LocalEventChannel()
        let calls = LocalCallRelay()
        return (stores, TestEvents(primary: local, sibling: local, calls: calls, siblingCalls: calls), {
            await local.shutdown()
            await calls.shutdown()
            try await stores.system.shutdown()
        })
    }
}

/// The event channels of a test database: one per simulated server instance.
public struct TestEvents: Sendable {
    public let primary: any EventChannel
    public let sibling: any EventChannel
    /// The call signalling relays of the two instances.
    public let calls: any CallRelay
    public let siblingCalls: any CallRelay
}

/// A counting semaphore for tests and load runs (FIFO).
public actor TestSlots {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(limit: Int) { available = limit }

    public func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    public func release() {
        if waiters.isEmpty { available += 1 } else { waiters.removeFirst().resume() }
    }
}
