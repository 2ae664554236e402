import CPlatform
import DICOM
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The catalog's managed copies: `storage/<aa>/<sha256>.dcm`, named by
/// content only (never by strings read from the file), so a hostile file
/// cannot choose where it is written.
///
/// A copy is written in two phases so that a crash can leave an unreferenced
/// file (removed on the next open) but never a row without its file:
/// `stage` writes `storage/incoming/<random>`, `publish` makes the staged
/// files durable and renames them into place; only then does the importer
/// commit the rows. The staged copy is the only read of the source: it is
/// hashed as it is copied, then parsed and decoded, so the name, the row and
/// the stored bytes agree even when the source changes during the import.
public struct ManagedStorage: Sendable {
    /// The catalog folder.
    public let catalogRoot: URL

    public var root: URL { catalogRoot.appendingPathComponent("storage", isDirectory: true) }
    public var incoming: URL { root.appendingPathComponent("incoming", isDirectory: true) }

    /// Path of the copy of content `sha256`, relative to the catalog folder:
    /// `.dcm` for DICOM files, `.json` for annotation files.
    public func relativePath(sha256: String, fileExtension: String = "dcm") -> String {
        // 256 folders: a few thousand files each for a million instances.
        "storage/\(sha256.prefix(2))/\(sha256).\(fileExtension)"
    }

    public func absolutePath(relative: String) -> String {
        catalogRoot.appendingPathComponent(relative).path
    }

    /// A file copied into `incoming/`, waiting to be published.
    package struct StagedFile: Sendable {
        package let stagedPath: String
        /// SHA-256 of the staged bytes.
        package let sha256: String
        package let size: Int64
        package let finalPath: String
    }

    /// Copies `source` into `incoming/`, hashing it on the way. The copy is not yet durable.
    package func stage(source: String, fileExtension: String = "dcm") throws -> StagedFile {
        let staged = incoming.appendingPathComponent(UUID().uuidString).path
        let (sha256, size) = try FileDigest.copy(from: source, to: staged)
        return StagedFile(
            stagedPath: staged, sha256: sha256, size: size,
            finalPath: absolutePath(relative: relativePath(sha256: sha256, fileExtension: fileExtension)))
    }

    /// Takes a file already written into `incoming/` (a received instance) as
    /// staged, hashing it where it is.
    package func adopt(_ path: String) throws -> StagedFile {
        // Owner-only, as imported copies are (the network code used the umask).
        guard chmod(path, 0o600) == 0 else {
            throw StorageError(reason: "cannot restrict (\(String(cString: strerror(errno))))", path: path)
        }
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw StorageError(reason: "cannot read (\(String(cString: strerror(errno))))", path: path)
        }
        let sha256 = try FileDigest.sha256(path: path)
        return StagedFile(
            stagedPath: path, sha256: sha256, size: Int64(status.st_size), finalPath: absolutePath(relative: relativePath(sha256: sha256)))
    }

    /// Makes the staged files durable, then renames them into place and makes
    /// the renames durable. One `syncfs` per phase instead of one `fsync` per
    /// file: same guarantee, a fraction of the cost on a batch.
    package func publish(_ files: [StagedFile]) throws {
        guard !files.isEmpty else { return }
        try syncFileSystem(containing: root.path)
        for file in files {
            let directory = (file.finalPath as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            guard rename(file.stagedPath, file.finalPath) == 0 else {
                throw StorageError(reason: "cannot move into storage (\(String(cString: strerror(errno))))", path: file.finalPath)
            }
        }
        try syncFileSystem(containing: root.path)
    }

    /// Removes staged files that were not published (after a failure).
    package func discard(_ files: [StagedFile]) {
        for file in files { unlink(file.stagedPath) }
    }

    /// Creates the storage folders, owner-only.
    func prepare() throws {
        try FileManager.default.createDirectory(
            at: incoming, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
    }

    /// Every content file present in storage, as relative paths.
    func allStoredFiles() -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var result: [String] = []
        for case let relative as String in enumerator
        where (relative.hasSuffix(".dcm") || relative.hasSuffix(".json")) && !relative.hasPrefix("incoming/") {
            result.append("storage/" + relative)
        }
        return result
    }

    /// Empties `incoming/`: what is there was never published.
    package func clearIncoming() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: incoming.path)) ?? []
        for name in names { unlink(incoming.appendingPathComponent(name).path) }
    }
}

/// Makes everything written to the file system holding `path` durable
/// (`syncfs`: one call for a whole batch of files and renames).
package func syncFileSystem(containing path: String) throws {
    let descriptor = open(path, O_RDONLY | O_DIRECTORY)
    guard descriptor >= 0 else {
        throw StorageError(reason: "cannot open (\(String(cString: strerror(errno))))", path: path)
    }
    defer { close(descriptor) }
    guard ms_syncfs(descriptor) == 0 else {
        throw StorageError(reason: "cannot sync (\(String(cString: strerror(errno))))", path: path)
    }
}

/// Managed storage could not be written.
public struct StorageError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public let path: String
    public var description: String { "\(reason): \(path)" }

    package init(reason: String, path: String) {
        self.reason = reason
        self.path = path
    }
}
