import Catalog
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Expands the paths given to `import` or `send` into the files below them: folders
/// recursively, symbolic links followed, each folder visited once (so a link
/// back up the tree is no loop), in a stable sorted order.
public struct FileCollector: Sendable {
    /// A path given that could not be read.
    public struct Problem: Sendable {
        public let path: String
        public let reason: String
    }

    public private(set) var files: [String] = []
    public private(set) var problems: [Problem] = []
    private var visitedDirectories = Set<FileIdentity>()

    private struct FileIdentity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    public init(paths: [String]) {
        for path in paths { visit(path) }
    }

    private mutating func visit(_ path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            problems.append(Problem(path: path, reason: String(cString: strerror(errno))))
            return
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG:
            files.append(path)
        case S_IFDIR:
            let identity = FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
            guard visitedDirectories.insert(identity).inserted else { return }
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: path)
            } catch {
                problems.append(Problem(path: path, reason: "cannot list folder (\(String(cString: strerror(errno))))"))
                return
            }
            for name in names.sorted() {
                visit((path as NSString).appendingPathComponent(name))
            }
        default:
            break  // devices, sockets and pipes are not files to import
        }
    }
}
