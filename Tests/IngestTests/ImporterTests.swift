import DICOM
import Foundation
import GRDB
import TestSupport
import Testing

@testable import Catalog
@testable import Ingest

/// A catalog in a temporary folder, with a folder for the files to import.
struct Workspace {
    let folder: TemporaryFolder
    let inputs: URL
    var catalogFolder: URL { folder.url.appendingPathComponent("catalog") }

    init() throws {
        folder = try TemporaryFolder()
        inputs = folder.url.appendingPathComponent("inputs")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
    }

    func input(_ name: String) -> String { inputs.appendingPathComponent(name).path }

    func copySample(_ relative: String, as name: String) throws {
        try FileManager.default.copyItem(atPath: Samples.path(relative), toPath: input(name))
    }

    func openCatalog() throws -> Catalog { try Catalog(directory: catalogFolder, create: true) }

    /// Relative paths of the content files in storage.
    func storedFiles(_ catalog: Catalog) -> [String] { catalog.storage.allStoredFiles().sorted() }
}

@Suite("Importer")
struct ImporterTests {
    @Test("an identical copy is a duplicate, counted and not stored again")
    func identicalDuplicate() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        try workspace.copySample("pydicom-data/emri_small.dcm", as: "a.dcm")
        try workspace.copySample("pydicom-data/emri_small.dcm", as: "b.dcm")
        let catalog = try workspace.openCatalog()
        let result = try Importer(catalog: catalog).run(paths: [workspace.inputs.path])
        #expect(result.summary.imported == 1 && result.summary.duplicates == 1)
        #expect(result.conflicts.isEmpty)
        #expect(workspace.storedFiles(catalog).count == 1)
        #expect(try catalog.read { try DuplicateRecord.fetchCount($0) } == 0)
    }

    @Test("same UID with other bytes: the first stays, the second is recorded with its reason")
    func conflictingDuplicate() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        try workspace.copySample("pydicom-data/emri_small.dcm", as: "1-original.dcm")
        let changed = try DicomFile(path: Samples.path("pydicom-data/emri_small.dcm"))
        try changed.setString(.patientName, "Changed^Name")
        try changed.save(to: workspace.input("2-changed.dcm"))
        // Compressed pixel data are another representation, not a re-encoding (a big-endian twin is not a conflict).
        let compressed = try ExternalProcess.run(
            "dcmcrle", [Samples.path("pydicom-data/emri_small.dcm"), workspace.input("3-rle.dcm")])
        #expect(compressed.status == 0, "\(compressed.standardError)")
        try workspace.copySample("pydicom-data/emri_small_big_endian.dcm", as: "4-big-endian.dcm")
        let catalog = try workspace.openCatalog()
        let result = try Importer(catalog: catalog).run(paths: [workspace.inputs.path])
        #expect(result.summary.imported == 1 && result.summary.duplicates == 3)
        let kept = try #require(try catalog.read { try InstanceRecord.fetchOne($0) })
        #expect(kept.originalPath == workspace.input("1-original.dcm"))
        let recorded = try catalog.read { try DuplicateRecord.order(Column("path")).fetchAll($0) }
        #expect(recorded.map(\.path) == [workspace.input("2-changed.dcm"), workspace.input("3-rle.dcm")])
        #expect(recorded[0].reason.contains("different content (conflict)"))
        #expect(recorded[1].reason.contains("another transfer syntax (RLE"), "\(recorded[1].reason)")
        #expect(recorded.allSatisfy { $0.keptInstanceId == kept.id })
        #expect(workspace.storedFiles(catalog).count == 1)
    }

    @Test("a copy re-encoded by another writer (meta header, implicit VR, byte order, lengths, padding) is the same instance")
    func reencodedCopyIsTheSameInstance() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        // 16-bit pixels (OW) and 8-bit colour ones (OB in explicit VR, OW once read from implicit VR).
        let originals = ["mr": Samples.path("pydicom-data/emri_small.dcm"), "rgb": Samples.path("pydicom-data/SC_rgb.dcm")]
        // What a receiver or converter does: a new meta header, another uncompressed syntax, group lengths,
        // undefined-length sequences, trailing padding.
        let conversions = [("implicit", ["+ti"]), ("lengths", ["+te", "+g", "-e", "+p", "256", "64"])]
        var copies: [String] = []
        for (image, original) in originals.sorted(by: { $0.key < $1.key }) {
            try FileManager.default.copyItem(atPath: original, toPath: workspace.input("\(image)-0-original.dcm"))
            for (index, (name, options)) in conversions.enumerated() {
                let copy = workspace.input("\(image)-\(index + 1)-\(name).dcm")
                let output = try ExternalProcess.run("dcmconv", options + [original, copy])
                #expect(output.status == 0, "\(output.standardError)")
                copies.append(copy)
            }
        }
        let catalog = try workspace.openCatalog()
        let first = try Importer(catalog: catalog).run(paths: originals.values.sorted())
        #expect(first.summary.imported == 2)
        // Against the managed copies of catalogued instances.
        let second = try Importer(catalog: catalog).run(paths: copies)
        #expect(second.summary.imported == 0 && second.summary.duplicates == 4)
        #expect(second.conflicts.isEmpty, "\(second.conflicts)")
        // Against instances of the same run: all files of one folder, the conversions first by name order.
        let both = try Workspace()
        defer { both.folder.remove() }
        let fresh = try Importer(catalog: try both.openCatalog()).run(paths: [workspace.inputs.path])
        #expect(fresh.summary.imported == 2 && fresh.summary.duplicates == 4 && fresh.conflicts.isEmpty, "\(fresh.conflicts)")
        // A decode worker whose first request is a digest computes what this process does.
        let worker = DecodeWorker()
        defer { worker.stop() }
        let inWorker = try worker.datasetDigest(path: copies[0]).get()
        #expect(try inWorker == FileDigest.datasetSHA256(path: originals["mr"]!))
        #expect(try FileDigest.sha256(path: originals["mr"]!) != FileDigest.sha256(path: copies[0]))
    }

    @Test("a copy that decodes replaces a stored copy of its instance that does not, which stays in storage")
    func decodableCopyReplaces() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        // 693_UNCR is the same instance as 693_J2KR, uncompressed.
        try Samples.writeUndecodableCopy(of: "pydicom-data/693_J2KR.dcm", to: workspace.input("1-part2.dcm"))
        try workspace.copySample("pydicom-data/693_UNCR.dcm", as: "2-uncompressed.dcm")
        let catalog = try workspace.openCatalog()
        #expect(try Importer(catalog: catalog).run(paths: [workspace.input("1-part2.dcm")]).summary.imported == 1)
        let undecodable = try #require(try catalog.read { try InstanceRecord.fetchOne($0) })
        #expect(!undecodable.decodable)

        let second = try Importer(catalog: catalog).run(paths: [workspace.input("2-uncompressed.dcm")])
        #expect(second.summary.replaced == 1 && second.summary.imported == 0 && second.summary.duplicates == 0)
        #expect(second.replacements.map(\.path) == [workspace.input("2-uncompressed.dcm")])
        #expect(second.replacements.first?.reason.contains("decodes and is now the stored one") == true)
        let row = try #require(try catalog.read { try InstanceRecord.fetchOne($0) })
        #expect(row.id == undecodable.id && row.decodable && row.transferSyntax == "Little Endian Explicit")
        #expect(try row.sha256 == FileDigest.sha256(path: workspace.input("2-uncompressed.dcm")))
        let replaced = try #require(try catalog.read { try DuplicateRecord.fetchOne($0) })
        #expect(replaced.sha256 == undecodable.sha256 && replaced.storedPath == undecodable.storedPath)
        #expect(replaced.keptInstanceId == row.id && replaced.reason.hasPrefix("replaced by"))
        #expect(workspace.storedFiles(catalog) == [row.storedPath, undecodable.storedPath].sorted())
        // Recovery after an interrupted import keeps the replaced copy: duplicates names it.
        try catalog.write { try $0.execute(sql: "UPDATE import_runs SET status = 'running'") }
        #expect(workspace.storedFiles(try workspace.openCatalog()).count == 2)

        // Both in one run, the copy that does not decode first: the same outcome.
        let together = try Workspace()
        defer { together.folder.remove() }
        let oneRun = try together.openCatalog()
        let result = try Importer(catalog: oneRun).run(paths: [workspace.inputs.path])
        #expect(result.summary.imported == 1 && result.summary.replaced == 1 && result.conflicts.isEmpty)
        let kept = try #require(try oneRun.read { try InstanceRecord.fetchOne($0) })
        #expect(kept.decodable && kept.sha256 == row.sha256)
        #expect(try oneRun.read { try DuplicateRecord.fetchOne($0) }?.storedPath == undecodable.storedPath)
        #expect(together.storedFiles(oneRun) == workspace.storedFiles(catalog))

        // The other way round, a stored copy that decodes stays and the other is a conflict.
        let reverse = try Workspace()
        defer { reverse.folder.remove() }
        let reverseCatalog = try reverse.openCatalog()
        _ = try Importer(catalog: reverseCatalog).run(paths: [workspace.input("2-uncompressed.dcm")])
        let other = try Importer(catalog: reverseCatalog).run(paths: [workspace.input("1-part2.dcm")])
        #expect(other.summary.replaced == 0 && other.conflicts.count == 1)
        #expect(other.conflicts.first?.reason.contains("in another transfer syntax") == true)
    }

    @Test("an instance an older build catalogued as not decodable is marked decodable when imported again")
    func reimportMarksDecodable() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        try workspace.copySample("pydicom-data/US1_J2KR.dcm", as: "us.dcm")
        let catalog = try workspace.openCatalog()
        _ = try Importer(catalog: catalog).run(paths: [workspace.inputs.path])
        // What the catalog of a build without a JPEG 2000 decoder holds.
        try catalog.write { db in
            try db.execute(
                sql: """
                    UPDATE instances SET decodable = 0,
                    undecodable_reason = 'no decoder for transfer syntax JPEG 2000 (Lossless only) in DCMTK'
                    """)
        }
        // After it by name, a copy another writer re-encoded (group lengths, padding): compared with the stored copy.
        let padded = try ExternalProcess.run(
            "dcmconv", ["+g", "+p", "256", "64", Samples.path("pydicom-data/US1_J2KR.dcm"), workspace.input("z-padded.dcm")])
        #expect(padded.status == 0, "\(padded.standardError)")
        // One file per batch: the copy is compared after the batch that marked the instance decodable has ended.
        let again = try Importer(catalog: catalog, options: ImportOptions(batchSize: 1)).run(paths: [workspace.inputs.path])
        #expect(again.summary.replaced == 1 && again.summary.duplicates == 1 && again.conflicts.isEmpty, "\(again.conflicts)")
        #expect(again.replacements.first?.reason.contains("it decodes now") == true)
        let row = try #require(try catalog.read { try InstanceRecord.fetchOne($0) })
        #expect(row.decodable && row.undecodableReason == nil)
        #expect(workspace.storedFiles(catalog) == [row.storedPath])
        #expect(try catalog.read { try DuplicateRecord.fetchCount($0) } == 0)
    }

    @Test("non-DICOM files are skipped; truncated and garbage DICOM files are rejected; the rest is imported")
    func badInput() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        try Data("notes about the study".utf8).write(to: URL(fileURLWithPath: workspace.input("notes.txt")))
        try Data().write(to: URL(fileURLWithPath: workspace.input("empty")))
        let cine = try Data(contentsOf: URL(fileURLWithPath: Samples.path("deid-data/GREYSCALE_CINE.dcm")))
        try cine.prefix(cine.count / 3).write(to: URL(fileURLWithPath: workspace.input("truncated.dcm")))
        let garbage = Data(count: 128) + Data("DICM".utf8) + Data((0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 37) })
        try garbage.write(to: URL(fileURLWithPath: workspace.input("garbage.dcm")))
        try workspace.copySample("pydicom-data/emri_small.dcm", as: "good.dcm")
        let catalog = try workspace.openCatalog()
        let result = try Importer(catalog: catalog).run(paths: [workspace.inputs.path, workspace.input("missing.dcm")])
        #expect(result.summary.filesSeen == 5)
        #expect(result.summary.skipped == 2)
        #expect(result.summary.imported == 1)
        #expect(result.summary.rejected == 3)
        #expect(
            Set(result.rejections.map(\.path)) == [
                workspace.input("truncated.dcm"), workspace.input("garbage.dcm"),
                workspace.input("missing.dcm"),
            ])
        #expect(result.rejections.allSatisfy { !$0.reason.isEmpty })
        #expect(try catalog.read { try RejectionRecord.fetchCount($0) } == 3)
        #expect(workspace.storedFiles(catalog).count == 1)
    }

    @Test("a crash between publishing files and committing rows leaves no orphan and no dangling row after the next open")
    func crashBetweenWriteAndCommit() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        try workspace.copySample("pydicom-data/emri_small.dcm", as: "a.dcm")
        try workspace.copySample("deid-data/ultrasounds/GREYSCALE_IMAGE.dcm", as: "b.dcm")
        do {
            // What a crash (kill -9, power loss) leaves between the importer's two
            // steps: files published into storage, no rows, the run still running.
            let catalog = try workspace.openCatalog()
            let staged = try ["a.dcm", "b.dcm"].map { try catalog.storage.stage(source: workspace.input($0)) }
            try catalog.storage.publish(staged)
            var run = ImportRun(id: nil, startedAt: "2026-11-30T00:00:00Z", status: .running, paths: "[]")
            try catalog.write { try run.insert($0) }
            #expect(workspace.storedFiles(catalog).count == 2)
            #expect(try catalog.read { try InstanceRecord.fetchCount($0) } == 0)
        }
        let reopened = try workspace.openCatalog()
        #expect(workspace.storedFiles(reopened).isEmpty)
        #expect(try reopened.read { try InstanceRecord.fetchCount($0) } == 0)
        #expect(try reopened.read { try String.fetchAll($0, sql: "SELECT status FROM import_runs") } == ["interrupted"])
        // The catalog works on: the same files import normally.
        let result = try Importer(catalog: reopened).run(paths: [workspace.inputs.path])
        #expect(result.summary.imported == 2)
        #expect(workspace.storedFiles(reopened).count == 2)
    }

    @Test("a failed commit removes the files it had published")
    func failedCommit() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        try workspace.copySample("pydicom-data/emri_small.dcm", as: "a.dcm")
        let catalog = try workspace.openCatalog()
        // The commit fails as on a full disk: a trigger on the writer's connection refuses the rows.
        try catalog.write {
            try $0.execute(
                sql: "CREATE TEMP TRIGGER refuse BEFORE INSERT ON instances BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
        }
        #expect { try Importer(catalog: catalog).run(paths: [workspace.inputs.path]) } throws: { "\($0)".contains("disk is full") }
        #expect(workspace.storedFiles(catalog).isEmpty)
        #expect(try catalog.read { try InstanceRecord.fetchCount($0) } == 0)
        #expect(try catalog.read { try String.fetchAll($0, sql: "SELECT status FROM import_runs") } == ["failed"])
    }

    @Test("rows of an interrupted run whose file is missing are removed on the next open")
    func danglingRowsRemoved() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        try workspace.copySample("pydicom-data/emri_small.dcm", as: "a.dcm")
        try workspace.copySample("deid-data/ultrasounds/GREYSCALE_IMAGE.dcm", as: "b.dcm")
        do {
            let catalog = try workspace.openCatalog()
            _ = try Importer(catalog: catalog).run(paths: [workspace.inputs.path])
            // As if the run had never finished and one file had been lost with it.
            try catalog.write { try $0.execute(sql: "UPDATE import_runs SET status = 'running'") }
            let lost = try #require(try catalog.read { try InstanceRecord.fetchOne($0) })
            try FileManager.default.removeItem(atPath: catalog.storage.absolutePath(relative: lost.storedPath))
        }
        let reopened = try workspace.openCatalog()
        #expect(try reopened.read { try InstanceRecord.fetchCount($0) } == 1)
        for row in try reopened.read({ try InstanceRecord.fetchAll($0) }) {
            #expect(FileManager.default.fileExists(atPath: reopened.storage.absolutePath(relative: row.storedPath)))
        }
    }

    @Test("folders are read recursively without following a symbolic link loop")
    func symlinkLoop() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        let nested = workspace.inputs.appendingPathComponent("a/b")
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: Samples.path("pydicom-data/emri_small.dcm"),
            toPath: nested.appendingPathComponent("x.dcm").path)
        try FileManager.default.createSymbolicLink(
            atPath: nested.appendingPathComponent("up").path,
            withDestinationPath: workspace.inputs.path)
        let catalog = try workspace.openCatalog()
        let result = try Importer(catalog: catalog).run(paths: [workspace.inputs.path])
        #expect(result.summary.filesSeen == 1 && result.summary.imported == 1)
    }

    @Test("a second import into a catalog another import is writing is refused")
    func concurrentImportRefused() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        let catalog = try workspace.openCatalog()
        let lock = try #require(try ImportLock(catalog: catalog.directory, wait: false))
        defer { lock.release() }
        #expect(throws: CatalogError.self) { try Importer(catalog: catalog).run(paths: [workspace.inputs.path]) }
    }

    @Test("a missing catalog is an error naming the folder, unless asked to create it")
    func missingCatalog() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        let error = #expect(throws: CatalogError.self) { _ = try Catalog(directory: workspace.catalogFolder, create: false) }
        #expect(error?.description.hasSuffix(workspace.catalogFolder.path) == true)
    }
}
