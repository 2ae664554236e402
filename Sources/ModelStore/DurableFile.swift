import Engine
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// File operations that are on disk when they return (fsync of the file and
/// of its folder), for checkpoints that must survive a kill or a power loss.
enum DurableFile {
    /// Writes `data` to `path` (replacing it) and makes it durable.
    static func write(_ data: Data, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw failure("cannot create", path) }
        var written = 0
        let complete = data.withUnsafeBytes { bytes -> Bool in
            while written < bytes.count {
                let count = Glibc.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return false }
                written += count
            }
            return true
        }
        let synced = complete && fsync(descriptor) == 0
        let saved = errno
        close(descriptor)
        guard synced else {
            errno = saved
            throw failure("cannot write", path)
        }
        try syncFolder(of: path)
    }

    /// Renames `source` to `destination` (replacing it) durably.
    static func rename(_ source: String, to destination: String) throws {
        guard Glibc.rename(source, destination) == 0 else { throw failure("cannot rename into place", destination) }
        try syncFolder(of: destination)
    }

    /// Removes `path` (absent is fine) durably.
    static func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw failure("cannot remove", path) }
        try syncFolder(of: path)
    }

    private static func syncFolder(of path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("cannot open", folder) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw failure("cannot sync", folder) }
    }

    private static func failure(_ what: String, _ path: String) -> TensorFileError {
        TensorFileError("\(what) (\(String(cString: strerror(errno))))", path: path)
    }
}
