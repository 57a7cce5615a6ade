public import SQLKit

/// What differs between the SQL databases: how to get a connection, how to run a transaction,
/// how to serialise migrations between instances, and how a unique violation looks.
/// Everything else (every query) is shared in `SQLStores`.
public protocol SQLBackend: Sendable {
    /// Runs `body` with a database handle (a pooled connection, or SQLite's one connection).
    func withDatabase<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// Runs `body` in one transaction on one connection; rolls back when it throws.
    func transaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// Runs `body` while holding the cross-instance migration lock.
    func withMigrationLock<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// A statement that, run first inside a transaction, makes that transaction the log's single
    /// sequencer until it ends (PostgreSQL: an advisory transaction lock); `nil` where the
    /// backend already serialises transactions (SQLite).
    var sequencerLockStatement: String? { get }
    /// Whether `error` is a unique-constraint violation.
    func isUniqueViolation(_ error: any Error) -> Bool
    /// Closes every connection.
    func shutdown() async throws
}

/// Runs BEGIN / COMMIT around `body` on a database handle that is already one session;
/// rolls back and rethrows when `body` throws.
public func runInTransaction<R: Sendable>(
    on db: any SQLDatabase, _ body: @escaping @Sendable (any SQLDatabase) async throws -> R
) async throws -> R {
    try await db.raw("BEGIN").run()
    do {
        let result = try await body(db)
        try await db.raw("COMMIT").run()
        return result
    } catch {
        try? await db.raw("ROLLBACK").run()
        throw error
    }
}
