public import ConfideStore
import ConfideStoreSQL

extension TestDatabase {
    /// Runs raw SQL statements, in order, against test stores (to seed a whole world of rows
    /// without going through the gate). Test code only: the server has no such path.
    public static func execute(_ statements: [String], on stores: ConfideStores) async throws {
        guard let sql = stores.system as? SQLStores else { throw RawSQLUnavailable() }
        for statement in statements { try await sql.execute(statement) }
    }
}

/// The stores are not SQL stores.
public struct RawSQLUnavailable: Error {}
