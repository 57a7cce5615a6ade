public import ConfideStore
import ConfideStorePostgres
import ConfideStoreSQL
import ConfideStoreSQLite
import Foundation
import Logging

/// A fresh, migrated database for one test: a private in-memory SQLite database, or, when
/// `CONFIDE_TEST_DATABASE_URL` is set, a schema of its own in that PostgreSQL database (so tests
/// can run in parallel).
public enum TestDatabase {
    /// `"postgres"` when the suite runs against PostgreSQL, else `"sqlite"`.
    public static var backendName: String { postgresURL == nil ? "sqlite" : "postgres" }

    static var postgresURL: String? {
        guard let url = ProcessInfo.processInfo.environment["CONFIDE_TEST_DATABASE_URL"], !url.isEmpty else { return nil }
        return url
    }

    /// Runs `body` with fresh stores and closes them afterwards, also when `body` throws.
    public static func withStores<R>(_ body: (ConfideStores) async throws -> R) async throws -> R {
        let (stores, cleanup) = try await make()
        do {
            let result = try await body(stores)
            try await cleanup()
            return result
        } catch {
            try? await cleanup()
            throw error
        }
    }

    /// Fresh migrated stores and the function that disposes of them.
    public static func make() async throws -> (ConfideStores, @Sendable () async throws -> Void) {
        let logger = Logger(label: "confide.test.db", factory: { _ in SwiftLogNoOpLogHandler() })
        if let url = postgresURL {
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let admin = SQLStores(backend: try PostgresBackend(url: url, maxConnectionsPerEventLoop: 1, logger: logger))
            try await admin.execute("CREATE SCHEMA \(schema)")
            let backend = try PostgresBackend(url: url, schema: schema, logger: logger)
            let stores = SQLStores(backend: backend).stores
            _ = try await stores.system.migrate()
            return (
                stores,
                {
                    try await stores.system.shutdown()
                    try await admin.execute("DROP SCHEMA \(schema) CASCADE")
                    try await admin.stores.system.shutdown()
                }
            )
        }
        let stores = SQLStores(backend: try await SQLiteBackend.open(path: nil, logger: logger)).stores
        _ = try await stores.system.migrate()
        return (stores, { try await stores.system.shutdown() })
    }
}
