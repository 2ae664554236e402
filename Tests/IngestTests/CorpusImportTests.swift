import Catalog
import DICOM
import Foundation
import GRDB
import Ingest
import TestSupport
import Testing

/// The whole sample corpus imported once into a catalog folder, shared by the
/// tests of this suite (importing it takes a few seconds).
final class ImportedCorpus: Sendable {
    static let shared = try! ImportedCorpus()

    let folder: TemporaryFolder
    let catalog: Catalog
    let first: ImportResult
    let second: ImportResult
    let instanceCountAfterFirst: Int

    private init() throws {
        folder = try TemporaryFolder("medsynth-corpus")
        catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        first = try Importer(catalog: catalog).run(paths: [Samples.root.path])
        instanceCountAfterFirst = try catalog.read { try InstanceRecord.fetchCount($0) }
        second = try Importer(catalog: catalog).run(paths: [Samples.root.path])
    }
}

/// What pydicom read in the corpus (Tests/DICOMTests/Fixtures/reference.json).
struct PydicomView: Decodable {
    struct File: Decodable {
        let file: String
        let sopInstanceUid: String
        let modality: String?
        let rows: Int
        let columns: Int
        let frames: Int
    }
    let files: [File]

    static let corpus: PydicomView = {
        let url = Samples.repositoryRoot.appendingPathComponent("Tests/DICOMTests/Fixtures/reference.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try! decoder.decode(PydicomView.self, from: Data(contentsOf: url))
    }()
}

@Suite("Importing the sample corpus")
struct CorpusImportTests {
    let corpus = ImportedCorpus.shared

    @Test("every instance pydicom reads is catalogued with its modality, size and frames")
    func everyInstanceCatalogued() throws {
        let instances = try corpus.catalog.query(.instances, filter: QueryFilter())
        let column = { (name: String) in instances.columns.firstIndex(of: name)! }
        var byUID: [String: [CatalogValue]] = [:]
        for row in instances.rows {
            if case .text(let uid) = row[column("sop_instance_uid")] { byUID[uid] = row }
        }
        // Several sample files share a SOP Instance UID (one image in several
        // transfer syntaxes): the first by path is catalogued, so compare the
        // attributes of the first file of each UID.
        var firstOfUID: [String: PydicomView.File] = [:]
        for file in PydicomView.corpus.files where firstOfUID[file.sopInstanceUid] == nil {
            firstOfUID[file.sopInstanceUid] = file
        }
        // medsynth also reads a bare dataset without preamble, which pydicom
        // refuses without force=True.
        let bare = try InstanceMetadata(file: DicomFile(path: Samples.path("pydicom-data/OT-PAL-8-face.dcm")))
        #expect(Set(byUID.keys) == Set(firstOfUID.keys).union([bare.sopInstanceUID]))
        for (uid, file) in firstOfUID {
            let row = try #require(byUID[uid], "\(file.file) is not catalogued")
            #expect(row[column("modality")] == (file.modality.map { .text($0) } ?? .null), "\(file.file)")
            #expect(row[column("rows")] == .integer(Int64(file.rows)), "\(file.file)")
            #expect(row[column("columns")] == .integer(Int64(file.columns)), "\(file.file)")
            #expect(row[column("frames")] == .integer(Int64(file.frames)), "\(file.file)")
        }
        let cine = try #require(byUID.values.first { $0[column("original_path")] == .text(Samples.path("deid-data/RGB_CINE.dcm")) })
        #expect(cine[column("modality")] == .text("US"))
        #expect(cine[column("frames")] == .integer(51))
        #expect(cine[column("rows")] == .integer(672) && cine[column("columns")] == .integer(1016))
        let jpeg = try #require(
            byUID.values.first {
                $0[column("original_path")] == .text(Samples.path("pydicom-data/color3d_jpeg_baseline.dcm"))
            })
        #expect(jpeg[column("modality")] == .text("US") && jpeg[column("frames")] == .integer(120))
        #expect(jpeg[column("rows")] == .integer(480) && jpeg[column("columns")] == .integer(640))
    }

    @Test("what cannot be read is rejected with a reason per file")
    func rejections() throws {
        let rejected = corpus.first.rejections
        #expect(rejected.map(\.path) == [Samples.path("pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm")])
        #expect(rejected.first?.reason.contains("not readable as DICOM") == true)
        let stored = try corpus.catalog.read { try RejectionRecord.fetchAll($0) }
        #expect(stored.map(\.path) == rejected.map(\.path))
        #expect(corpus.first.summary.rejected == 1)
        // The only file that is not DICOM: the fetch script's stamp.
        #expect(corpus.first.summary.skipped == 1)
    }

    @Test("a second import of the same paths adds nothing")
    func secondImport() throws {
        let second = corpus.second.summary
        #expect(second.imported == 0)
        #expect(second.frames == 0)
        #expect(second.duplicates == corpus.first.summary.imported + corpus.first.summary.duplicates)
        let counts = try corpus.catalog.read { db in
            (try InstanceRecord.fetchCount(db), try DuplicateRecord.fetchCount(db), try RejectionRecord.fetchCount(db))
        }
        #expect(counts.0 == corpus.instanceCountAfterFirst)
        #expect(counts.1 == corpus.first.conflicts.count)
        #expect(counts.2 == 1)
    }

    @Test("every frame of every decodable ultrasound instance decodes")
    func ultrasoundFramesDecode() throws {
        let rows = try corpus.catalog.read { db in
            try InstanceRecord.fetchAll(
                db,
                sql: """
                    SELECT i.* FROM instances i JOIN series s ON s.id = i.series_id
                    WHERE s.modality = 'US' AND i.decodable = 1
                    """)
        }
        #expect(rows.count >= 8)
        var frames = 0
        for row in rows {
            let file = try DicomFile(path: corpus.catalog.storage.absolutePath(relative: row.storedPath))
            for index in 0..<row.frames {
                let frame = try file.grayFrame(index)
                #expect(frame.width == row.columns && frame.height == row.rows)
                frames += 1
            }
        }
        print("decoded \(frames) ultrasound frames from \(rows.count) instances")
        #expect(frames >= 51 + 120 + 27 + 30)
    }

    @Test("JPEG 2000 instances are catalogued as decodable")
    func jpeg2000Catalogued() throws {
        let rows = try corpus.catalog.read { db in
            try InstanceRecord.filter(Column("transfer_syntax").like("JPEG 2000%")).fetchAll(db)
        }
        // The truncated lossless file is rejected; the other eleven of the corpus are stored, less
        // those whose SOP Instance UID an uncompressed twin that sorts first took.
        #expect(rows.count >= 6)
        for row in rows {
            #expect(row.decodable, "\(row.originalPath): \(row.undecodableReason ?? "")")
        }
    }

    @Test("stored copies are content-addressed, byte-identical and owner-only")
    func managedCopies() throws {
        let rows = try corpus.catalog.read { try InstanceRecord.fetchAll($0) }
        for row in rows.prefix(10) {
            let stored = corpus.catalog.storage.absolutePath(relative: row.storedPath)
            #expect(row.storedPath.hasSuffix("\(row.sha256).dcm"))
            #expect(try FileDigest.sha256(path: stored) == row.sha256)
            #expect(try FileDigest.sha256(path: row.originalPath) == row.sha256)
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: corpus.catalog.directory.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
    }

    @Test("statistics count real and synthetic apart")
    func statistics() throws {
        let table = try corpus.catalog.statistics()
        let ultrasound = try #require(table.rows.first { $0[0] == .text("US") && $0[1] == .text("real") })
        #expect(ultrasound[2] == .integer(13))
        let synthetic = table.rows.filter { $0[1] == .text("synthetic") }
        // pydicom's SC_rgb_dcmtk_* secondary captures state Conversion Type SYN.
        #expect(synthetic.map { $0[0] } == [.text("OT")])
    }
}
