public import ConfideStore
import ConfideStorePostgres
import ConfideStoreSQL
import ConfideStoreSQLite
import Foundation
public import Logging

/// Opens the configured database and returns its store ports.
/// - Throws: when the database cannot be opened or the data directory cannot be created.
public func openStores(_ location: DatabaseLocation, dataDir: String, logger: Logger) async throws -> ConfideStores {
    switch location {
    case .sqlite(let path):
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        return SQLStores(backend: try await SQLiteBackend.open(path: path, logger: logger)).stores
    case .postgres(let url):
        return SQLStores(backend: try PostgresBackend(url: url, logger: logger)).stores
    }
}
