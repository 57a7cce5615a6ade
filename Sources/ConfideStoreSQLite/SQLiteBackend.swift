public import ConfideStoreSQL
public import Logging
public import SQLKit
import SQLiteKit

/// The embedded default: one SQLite file (or an in-memory database for tests), one connection,
/// every operation serialised.
public final class SQLiteBackend: SQLBackend {
    let connection: SQLiteConnection
    let lock = AsyncSerialLock()

    init(connection: SQLiteConnection) { self.connection = connection }

    /// Opens (creating if needed) a database file, or a private in-memory database when `path` is `nil`.
    /// - Throws: when the file cannot be opened.
    public static func open(path: String?, logger: Logger = Logger(label: "confide.sqlite")) async throws -> SQLiteBackend {
        let storage: SQLiteConnection.Storage = path.map { .file(path: $0) } ?? .memory
        let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        let db = connection.sql()
        try await db.raw("PRAGMA foreign_keys = ON").run()
        if path != nil {
            _ = try await db.raw("PRAGMA journal_mode = WAL").all()
            // FULL: every commit syncs the WAL, so an acknowledged write or audit entry survives
            // a power cut, not only a crash (NORMAL could lose the last commits). The audit log's
            // group commit shares one sync among concurrent readers.
            try await db.raw("PRAGMA synchronous = FULL").run()
        }
        return SQLiteBackend(connection: connection)
    }

    public func withDatabase<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let db = connection.sql()
        return try await lock.withLock { try await body(db) }
    }

    public func transaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let db = connection.sql()
        return try await lock.withLock { try await runInTransaction(on: db, body) }
    }

    public func withMigrationLock<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await withDatabase(body)
    }

    public var sequencerLockStatement: String? { nil }

    public func isUniqueViolation(_ error: any Error) -> Bool {
        guard let error = error as? SQLiteError else { return false }
        return error.reason == .constraintUniqueFailed || error.reason == .constraintPrimaryKeyFailed
            || error.message.contains("UNIQUE constraint failed")
    }

    public func shutdown() async throws { try await connection.close() }
}
