import Foundation

/// The real DICOM corpora that `samples/fetch.sh` unpacks into samples/data.
public enum Samples {
    /// The repository's root folder.
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// samples/data.
    public static let root = repositoryRoot.appendingPathComponent("samples/data")

    /// The absolute path of a sample, given relative to samples/data. Stops the
    /// test process with instructions when the corpus has not been fetched.
    public static func path(_ relative: String) -> String {
        let path = root.appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: path) else {
            fatalError("sample \(relative) is missing: run samples/fetch.sh first")
        }
        return path
    }

    /// Writes a lossless JPEG 2000 sample as JPEG 2000 Part 2 (multi-component),
    /// which nothing here decodes: the sample with its transfer syntax UID's last
    /// digit changed (.90 to .93), the rest of the file as it was.
    public static func writeUndecodableCopy(of relative: String, to destination: String) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path(relative)))
        guard let range = bytes.range(of: Data("1.2.840.10008.1.2.4.90".utf8)) else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: path(relative)])
        }
        bytes[range.upperBound - 1] = UInt8(ascii: "3")
        try bytes.write(to: URL(fileURLWithPath: destination))
    }
}

/// A fresh folder under the system's temporary folder, removed by `remove()`.
public struct TemporaryFolder: Sendable {
    public let url: URL

    public init(_ label: String = "medsynth-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public var path: String { url.path }

    public func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// A checkpoint folder as another tool writes it: the numpy-made compact
/// generator of Tests/GANTests/Fixtures (Tests/EngineTests/Fixtures/make_reference.py)
/// as `generator.safetensors`, and `modelJSON` as `model.json`.
public enum ForeignCheckpoint {
    public static let fixtures = Samples.repositoryRoot.appendingPathComponent("Tests/GANTests/Fixtures")

    public static func make(at folder: URL, modelJSON: String) throws -> URL {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: fixtures.appendingPathComponent("compact_generator.safetensors"),
            to: folder.appendingPathComponent("generator.safetensors"))
        try Data(modelJSON.utf8).write(to: folder.appendingPathComponent("model.json"))
        return folder
    }
}
