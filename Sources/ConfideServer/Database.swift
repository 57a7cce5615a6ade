public import ConfideStore
import ConfideStorePostgres
public import ConfideStoreSQL
import ConfideStoreSQLite
import Foundation
public import Logging

/// Opens the configured database and returns its store ports.
/// - Throws: when the database cannot be opened or the data directory cannot be created.
public func openStores(_ location: DatabaseLocation, dataDir: String, logger: Logger, faults: InjectedFaults = .none) async throws
    -> ConfideStores
{
    switch location {
    case .sqlite(let path):
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        return SQLStores(backend: try await SQLiteBackend.open(path: path, logger: logger), faults: faults).stores
    case .postgres(let url):
        return SQLStores(backend: try PostgresBackend(url: url, logger: logger), faults: faults).stores
    }
}

/// The stores and the cross-instance event channel of a running server. PostgreSQL: LISTEN/NOTIFY
/// (several instances); SQLite: in process (one instance).
public func openDatabase(_ location: DatabaseLocation, dataDir: String, logger: Logger, faults: InjectedFaults = .none) async throws
    -> (stores: ConfideStores, events: any EventChannel, calls: any CallRelay)
{
    switch location {
    case .sqlite:
        return (try await openStores(location, dataDir: dataDir, logger: logger, faults: faults), LocalEventChannel(), LocalCallRelay())
    case .postgres(let url):
        let backend = try PostgresBackend(url: url, logger: logger)
        let events = try PostgresEventChannel(backend: backend, url: url, logger: logger)
        await events.start()
        let calls = try PostgresCallRelay(backend: backend, url: url, logger: logger)
        await calls.start()
        return (SQLStores(backend: backend, faults: faults).stores, events, calls)
    }
}
