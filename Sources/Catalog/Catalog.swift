import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// The study catalog: a SQLite database (WAL) and the managed copies of the
/// imported files, in one folder. Owns the database writer; every read and
/// write of the catalog goes through it.
///
/// Opened for writing (`init(directory:create:)`), it creates and migrates the
/// database under the schema lock, so that two first imports or a reader
/// during creation never see a half-made schema. Opened for reading
/// (`init(readingDirectory:)`), it never writes: it waits for a creation in
/// progress, never migrates, and works on a read-only catalog or medium.
public final class Catalog: Sendable {
    /// The catalog folder.
    public let directory: URL
    public let storage: ManagedStorage
    let database: any DatabaseWriter
    /// Opened for reading only: nothing may be written.
    public let isReadOnly: Bool

    /// The database file inside the catalog folder.
    public static let databaseFileName = "catalog.sqlite"

    /// Opens the catalog in `directory` for writing. With `create`, makes the
    /// folder (owner-only: it holds patient data) and the database when
    /// missing; without, a missing catalog is an error. Migrates the schema
    /// and recovers from an interrupted import (see `recoverInterruptedImports`).
    public init(directory: URL, create: Bool) throws {
        try Self.checkIsFolder(directory)
        self.directory = directory
        self.storage = ManagedStorage(catalogRoot: directory)
        isReadOnly = false
        let databasePath = directory.appendingPathComponent(Self.databaseFileName).path
        if !FileManager.default.fileExists(atPath: databasePath) {
            guard create else { throw CatalogError.missing(directory.path) }
            // Modes apply to the folders created here only: a folder the user
            // made keeps the mode the user gave it.
            do {
                try FileManager.default.createDirectory(
                    at: directory, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            } catch {
                throw CatalogError.unwritable(directory.path, error.localizedDescription)
            }
        }
        let schemaLock = try SchemaLock(catalog: directory, exclusive: true)
        defer { schemaLock.release() }
        try Self.restrictDatabaseFiles(databasePath)
        database = try Self.openDatabase(databasePath, readOnly: false)
        do {
            try CatalogSchema.migrator.migrate(database)
        } catch {
            throw CatalogError.unreadable(databasePath, "\(error)")
        }
        try storage.prepare()
        try recoverInterruptedImports()
    }

    /// Opens the catalog in `directory` for reading: never creates, migrates
    /// or recovers anything, and works where nothing can be written.
    public init(readingDirectory directory: URL) throws {
        try Self.checkIsFolder(directory)
        self.directory = directory
        self.storage = ManagedStorage(catalogRoot: directory)
        isReadOnly = true
        let databasePath = directory.appendingPathComponent(Self.databaseFileName).path
        guard FileManager.default.fileExists(atPath: databasePath) else { throw CatalogError.missing(directory.path) }
        // Waits while a writer creates or migrates the schema.
        let schemaLock = try SchemaLock(catalog: directory, exclusive: false)
        defer { schemaLock.release() }
        database = try Self.openDatabase(databasePath, readOnly: true)
        let current = try database.read { try CatalogSchema.migrator.hasCompletedMigrations($0) }
        guard current else { throw CatalogError.outdated(directory.path) }
    }

    /// A catalog path that names something other than a folder.
    private static func checkIsFolder(_ directory: URL) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw CatalogError.notAFolder(directory.path)
        }
    }

    /// Creates the database file owner-only before SQLite does (its WAL and
    /// shared-memory files then take the same mode), and makes the files of a
    /// catalog made by an older medsynth owner-only too.
    private static func restrictDatabaseFiles(_ databasePath: String) throws {
        let created = open(databasePath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if created >= 0 {
            close(created)
            return
        }
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: databasePath + suffix) {
            chmod(databasePath + suffix, 0o600)
        }
    }

    private static func openDatabase(_ path: String, readOnly: Bool) throws -> any DatabaseWriter {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        configuration.readonly = readOnly
        do {
            return try DatabasePool(path: path, configuration: configuration)
        } catch {
            guard readOnly else { throw CatalogError.unreadable(path, "\(error)") }
            // On read-only media SQLite cannot create the WAL index; nothing can
            // change the database there, so it may be read as immutable.
            do {
                let uri = "file:" + (path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path) + "?immutable=1"
                return try DatabaseQueue(path: uri, configuration: configuration)
            } catch {
                throw CatalogError.unreadable(path, "\(error)")
            }
        }
    }

    /// A catalog whose database lives in memory, for tests; storage still
    /// needs a folder.
    public init(inMemoryWithStorage directory: URL) throws {
        self.directory = directory
        self.storage = ManagedStorage(catalogRoot: directory)
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        database = try DatabaseQueue(configuration: configuration)
        isReadOnly = false
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
            try ImportRun.filter(Column("status") == ImportRunStatus.running).fetchAll(db)
        }
        guard !interrupted.isEmpty, let lock = try ImportLock(catalog: directory, wait: false) else { return }
        defer { lock.release() }
        storage.clearIncoming()
        // Copies that a decodable copy replaced stay, named in duplicates, and
        // so do annotation files.
        let referenced = try database.read { db in
            Set(
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT stored_path FROM instances UNION SELECT stored_path FROM duplicates WHERE stored_path IS NOT NULL
                        UNION SELECT stored_path FROM annotation_sources
                        """
                ))
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
                try db.execute(sql: "UPDATE import_runs SET status = ? WHERE id = ?", arguments: [ImportRunStatus.interrupted, run.id])
            }
        }
    }

    /// Runs `body` in a read transaction.
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        try database.read(body)
    }

    /// Makes every later commit of this catalog durable before it returns
    /// (SQLite `synchronous = FULL`: the write-ahead log is synced at each
    /// commit). Debian's SQLite syncs the log only at checkpoints in WAL mode,
    /// which survives a crash of the process but may lose the last commits on
    /// a power failure: enough for an import, whose files are still at their
    /// source, not for an instance a sender was told is stored.
    public func requireDurableCommits() throws {
        try database.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
    }

    /// Runs `body` in a write transaction.
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        try database.write(body)
    }
}

/// The catalog cannot be used.
public enum CatalogError: Error, CustomStringConvertible, Sendable {
    case missing(String)
    /// The catalog path exists and is a file (or something else), not a folder.
    case notAFolder(String)
    case unreadable(String, String)
    case unwritable(String, String)
    case busy(String)
    /// Made by a newer or an interrupted medsynth: a writer must migrate it first.
    case outdated(String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "no catalog (run 'medsynth import PATH...' first, or pass --catalog DIR): \(path)"
        case .notAFolder(let path):
            return "the catalog path is not a folder (--catalog names the catalog's folder): \(path)"
        case .unreadable(let path, let reason):
            return "cannot open the catalog database (\(reason)): \(path)"
        case .unwritable(let path, let reason):
            return "cannot create the catalog (\(reason)): \(path)"
        case .busy(let path):
            return "another import is writing to this catalog: \(path)"
        case .outdated(let path):
            return "the catalog's tables are not set up for this version (run 'medsynth import' on it once to upgrade): \(path)"
        }
    }
}

/// Serialises creating and migrating the schema: writers hold it exclusively
/// while they open and migrate, readers share it while they open, so that a
/// reader never sees a schema half made. Held for milliseconds, not for a
/// whole import (that is `ImportLock`).
struct SchemaLock {
    private let descriptor: Int32

    init(catalog: URL, exclusive: Bool) throws {
        let path = catalog.appendingPathComponent("schema.lock").path
        if exclusive {
            descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else {
                throw CatalogError.unwritable(path, String(cString: strerror(errno)))
            }
        } else {
            // A read-only catalog may have no lock file and cannot get one:
            // nothing can be creating it then.
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
        }
        if descriptor >= 0 {
            while flock(descriptor, exclusive ? LOCK_EX : LOCK_SH) != 0 && errno == EINTR {}
        }
    }

    func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// An exclusive advisory lock on the catalog for the length of an import, so
/// that two imports never interleave and recovery never removes the files of
/// an import that is still running.
package final class ImportLock {
    private let descriptor: Int32

    /// Takes the lock; with `wait == false` returns nil when another process holds it.
    package init?(catalog: URL, wait: Bool) throws {
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

    package func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
