import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// The study catalog: a SQLite database (WAL) and the managed copies of the
/// imported files, in one folder. Owns the database writer; every read and
/// write of the catalog goes through it.
public final class Catalog: Sendable {
    /// The catalog folder.
    public let directory: URL
    public let storage: ManagedStorage
    let database: any DatabaseWriter

    /// The database file inside the catalog folder.
    public static let databaseFileName = "catalog.sqlite"

    /// Opens the catalog in `directory`. With `create`, makes the folder
    /// (owner-only: it holds patient data) and the database when missing;
    /// without, a missing catalog is an error. Recovers from an interrupted
    /// import (see `recoverInterruptedImports`).
    public init(directory: URL, create: Bool) throws {
        self.directory = directory
        self.storage = ManagedStorage(catalogRoot: directory)
        let databasePath = directory.appendingPathComponent(Self.databaseFileName).path
        if !FileManager.default.fileExists(atPath: databasePath) {
            guard create else { throw CatalogError.missing(directory.path) }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            // An existing folder (the repository's catalog/) keeps its files but
            // becomes owner-only too.
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
        }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        do {
            database = try DatabasePool(path: databasePath, configuration: configuration)
        } catch {
            throw CatalogError.unreadable(databasePath, "\(error)")
        }
        try storage.prepare()
        try CatalogSchema.migrator.migrate(database)
        try recoverInterruptedImports()
    }

    /// A catalog whose database lives in memory, for tests; storage still
    /// needs a folder.
    public init(inMemoryWithStorage directory: URL) throws {
        self.directory = directory
        self.storage = ManagedStorage(catalogRoot: directory)
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        database = try DatabaseQueue(configuration: configuration)
        try storage.prepare()
        try CatalogSchema.migrator.migrate(database)
    }

    /// An import that stopped without finishing (crash, power loss, kill -9)
    /// can have left staged files and published files whose rows were never
    /// committed. When no import holds the lock, this removes them, checks
    /// that every row of the interrupted runs has its file, and marks those
    /// runs interrupted.
    func recoverInterruptedImports() throws {
        let interrupted = try database.read { db in
            try ImportRun.filter(Column("status") == "running").fetchAll(db)
        }
        guard !interrupted.isEmpty, let lock = try ImportLock(catalog: directory, wait: false) else { return }
        defer { lock.release() }
        storage.clearIncoming()
        let referenced = try database.read { db in
            Set(try String.fetchAll(db, sql: "SELECT stored_path FROM instances"))
        }
        for relative in storage.allStoredFiles() where !referenced.contains(relative) {
            unlink(storage.absolutePath(relative: relative))
        }
        try database.write { db in
            for run in interrupted {
                let rows = try InstanceRecord.filter(Column("import_run_id") == run.id).fetchAll(db)
                for row in rows where !FileManager.default.fileExists(atPath: storage.absolutePath(relative: row.storedPath)) {
                    _ = try row.delete(db)
                }
                try db.execute(sql: "UPDATE import_runs SET status = 'interrupted' WHERE id = ?", arguments: [run.id])
            }
        }
    }

    /// Runs `body` in a read transaction.
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        try database.read(body)
    }

    /// Runs `body` in a write transaction.
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        try database.write(body)
    }
}

/// The catalog cannot be used.
public enum CatalogError: Error, CustomStringConvertible, Sendable {
    case missing(String)
    case unreadable(String, String)
    case busy(String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "no catalog (run 'medsynth import PATH...' first, or pass --catalog DIR): \(path)"
        case .unreadable(let path, let reason):
            return "cannot open the catalog database (\(reason)): \(path)"
        case .busy(let path):
            return "another import is writing to this catalog: \(path)"
        }
    }
}

/// An exclusive advisory lock on the catalog for the length of an import, so
/// that two imports never interleave and recovery never removes the files of
/// an import that is still running.
final class ImportLock {
    private let descriptor: Int32

    /// Takes the lock; with `wait == false` returns nil when another process holds it.
    init?(catalog: URL, wait: Bool) throws {
        let path = catalog.appendingPathComponent("import.lock").path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StorageError(reason: "cannot create the import lock (\(String(cString: strerror(errno))))", path: path)
        }
        if flock(descriptor, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            close(descriptor)
            return nil
        }
    }

    func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
