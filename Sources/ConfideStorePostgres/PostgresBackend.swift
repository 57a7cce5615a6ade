public import ConfideStoreSQL
public import Logging
import PostgresKit
public import SQLKit

/// The production backend: a connection pool to PostgreSQL shared by several server instances.
public final class PostgresBackend: SQLBackend {
    // postgres-kit's pool is thread-safe but not marked Sendable.
    nonisolated(unsafe) let pool: EventLoopGroupConnectionPool<PostgresConnectionSource>
    let logger: Logger

    /// Connects lazily to `url` (`postgres://user:password@host:port/database`).
    /// - Parameters:
    ///   - schema: a schema to use as `search_path` (tests give each test its own).
    ///   - maxConnectionsPerEventLoop: pool size per event loop.
    /// - Throws: when the URL is not a PostgreSQL URL.
    public init(url: String, schema: String? = nil, maxConnectionsPerEventLoop: Int = 4, logger: Logger = Logger(label: "confide.postgres")) throws {
        var configuration = try SQLPostgresConfiguration(url: url)
        if let schema { configuration.searchPath = [schema] }
        self.pool = EventLoopGroupConnectionPool(
            source: PostgresConnectionSource(sqlConfiguration: configuration),
            maxConnectionsPerEventLoop: maxConnectionsPerEventLoop,
            pruneInterval: .seconds(60), logger: logger, on: MultiThreadedEventLoopGroup.singleton)
        self.logger = logger
    }

    var database: any SQLDatabase { pool.database(logger: logger).sql() }

    public func withDatabase<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await body(database)
    }

    public func transaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await database.withSession { db in try await runInTransaction(on: db, body) }
    }

    /// Several instances may start at once: the first takes an advisory lock, the others wait.
    public func withMigrationLock<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await database.withSession { db in
            try await db.raw("SELECT pg_advisory_lock(7224151)").run()
            do {
                let result = try await body(db)
                try await db.raw("SELECT pg_advisory_unlock(7224151)").run()
                return result
            } catch {
                try? await db.raw("SELECT pg_advisory_unlock(7224151)").run()
                throw error
            }
        }
    }

    public var sequencerLockStatement: String? { "SELECT pg_advisory_xact_lock(7224152)" }

    public func isUniqueViolation(_ error: any Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == "23505"
    }

    public func shutdown() async throws { try await pool.shutdownAsync() }
}
