import Foundation
import TestSupport
import Testing

/// Opening a catalog: owner-only modes, one writer, readers that never write.
@Suite("Catalog access")
struct CatalogAccessTests {
    private func mode(_ path: String) throws -> Int {
        try #require((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue)
    }

    @Test("what an import writes is owner-only (0600 files, 0700 folders); a folder the user made keeps its mode")
    func ownerOnlyModes() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let made = folder.file("made-by-medsynth")
        let run = try Medsynth.run(["import", "--catalog", made, Samples.path("pydicom-data/emri_small.dcm")])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(try mode(made) == 0o700)
        var checked = 0
        for case let relative as String in FileManager.default.enumerator(atPath: made)! {
            let path = "\(made)/\(relative)"
            var isFolder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
            #expect(try mode(path) == (isFolder.boolValue ? 0o700 : 0o600), "\(relative)")
            checked += 1
        }
        #expect(checked >= 5)  // database, locks, storage folders, the copy
        let existing = folder.file("users-folder")
        try FileManager.default.createDirectory(
            atPath: existing, withIntermediateDirectories: false,
            attributes: [.posixPermissions: 0o750])
        _ = try Medsynth.run(["import", "--catalog", existing, Samples.path("pydicom-data/emri_small.dcm")])
        #expect(try mode(existing) == 0o750)
        #expect(try mode("\(existing)/catalog.sqlite") == 0o600)
    }

    @Test("two first imports into one new catalog: one imports, the other waits or gets the lock's status 42")
    func twoFirstImports() throws {
        for trial in 0..<4 {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let catalog = folder.file("catalog")
            let inputs = ["pydicom-data/emri_small.dcm", "pydicom-data/emri_small_RLE.dcm", "deid-data/GREYSCALE_CINE.dcm"].map(
                Samples.path)
            let results = try [0, 1].concurrentMap { _ in try Medsynth.run(["import", "--catalog", catalog] + inputs) }
            let statuses = results.map(\.status).sorted()
            #expect(statuses == [0, 0] || statuses == [0, 42], "trial \(trial): \(results.map(\.standardError))")
            for result in results where result.status == 42 {
                #expect(result.standardError.contains("another import is writing to this catalog"))
            }
        }
    }

    @Test("readers during the creation of a catalog succeed or find no catalog; none sees a half-made schema")
    func readersDuringCreation() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = folder.file("catalog")
        let readers = (0..<12).map { $0 }
        let outcome = try ([-1] + readers).concurrentMap { index -> ProcessOutput in
            if index < 0 {
                return try Medsynth.run(["import", "--catalog", catalog, Samples.path("pydicom-data/emri_small.dcm")])
            }
            return try Medsynth.run(
                [["stats", "query", "models"][index % 3]] + (index % 3 == 1 ? ["instances"] : [])
                    + ["--catalog", catalog])
        }
        #expect(outcome[0].status == 0)
        for reader in outcome.dropFirst() {
            // 20: no catalog yet (the database file did not exist when it looked).
            #expect(reader.status == 0 || reader.status == 20, "\(reader.standardError)")
            #expect(!reader.standardError.contains("already exists") && !reader.standardError.contains("no such table"))
        }
    }
}

extension Array where Element: Sendable {
    /// `transform` on every element at once, one thread each, results in order.
    func concurrentMap<Result: Sendable>(_ transform: @escaping @Sendable (Element) throws -> Result) throws -> [Result] {
        let results = ResultBox<Result>(count: count)
        DispatchQueue.concurrentPerform(iterations: count) { index in
            results.set(index, Swift.Result { try transform(self[index]) })
        }
        return try results.values.map { try $0!.get() }
    }
}

private final class ResultBox<Value: Sendable>: @unchecked Sendable {
    private var storage: [Result<Value, Error>?]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Result<Value, Error>) { lock.withLock { storage[index] = value } }
    var values: [Result<Value, Error>?] { lock.withLock { storage } }
}
