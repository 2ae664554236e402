import DICOM
import Foundation
import GRDB
import TestSupport
import Testing

@testable import Catalog
@testable import Ingest

/// COCO annotation files through `medsynth import` (docs/catalog.md, "Annotations").
@Suite("Annotation import")
struct AnnotationImportTests {
    /// emri_small.dcm: 10 frames of 64x64 MR.
    static let mrUID = "1.2.826.0.1.3680043.2.1143.6455556726214900995651753669640998622"

    static var category: [String: Any] {
        [
            "id": 1, "name": "marks", "supercategory": "test", "keypoints": ["left", "right"], "skeleton": [[1, 2]],
        ]
    }

    /// A COCO file labelling frames of emri_small.dcm.
    static func coco(
        images: [[String: Any]] = [["id": 1, "width": 64, "height": 64, "sop_instance_uid": mrUID, "frame_number": 3]],
        categories: [[String: Any]] = [category], annotations: [[String: Any]]
    ) throws -> Data {
        try JSONSerialization.data(withJSONObject: ["images": images, "categories": categories, "annotations": annotations])
    }

    static func keypoints(_ id: Int, image: Int = 1, _ values: [Double]) -> [String: Any] {
        ["id": id, "image_id": image, "category_id": 1, "keypoints": values, "num_keypoints": values.count / 3]
    }

    /// A workspace with emri_small.dcm catalogued.
    static func catalogWithMR() throws -> (Workspace, Catalog) {
        let workspace = try Workspace()
        try workspace.copySample("pydicom-data/emri_small.dcm", as: "mr.dcm")
        let catalog = try workspace.openCatalog()
        _ = try Importer(catalog: catalog).run(paths: [workspace.input("mr.dcm")])
        return (workspace, catalog)
    }

    @Test("a folder holding DICOM and COCO imports both; keypoints read back as imported, in order")
    func folderWithBoth() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        try workspace.copySample("pydicom-data/emri_small.dcm", as: "mr.dcm")
        try Self.coco(annotations: [
            Self.keypoints(7, [10.25, 20, 2, 40, 50.5, 1]),
            [
                "id": 8, "image_id": 1, "category_id": 1, "keypoints": [0, 0, 0, 0, 0, 0],
                "segmentation": [[10, 10, 20, 10, 20, 20, 10, 20]],
            ],
        ]).write(to: URL(fileURLWithPath: workspace.input("labels.json")))
        let catalog = try workspace.openCatalog()
        let result = try Importer(catalog: catalog).run(paths: [workspace.inputs.path])
        #expect(result.summary.imported == 1 && result.summary.annotationFiles == 1 && result.summary.annotations == 2)
        #expect(result.rejections.isEmpty)
        let table = try catalog.query(.annotations, filter: QueryFilter())
        #expect(table.rows.count == 2)
        let column = { (name: String) in table.columns.firstIndex(of: name)! }
        #expect(table.rows[0][column("keypoints")] == .numbers([10.25, 20, 2, 40, 50.5, 1]))
        #expect(table.rows[0][column("frame_number")] == .integer(3))
        #expect(table.rows[0][column("sop_instance_uid")] == .text(Self.mrUID))
        #expect(table.rows[1][column("mask")] == .bool(true))
        let annotations = try catalog.read { try AnnotationRecord.order(Column("id")).fetchAll($0) }
        let encoded = try #require(annotations[1].mask)
        let mask = try #require(LabelMask(rows: 64, columns: 64, encoded: encoded))
        // Pixel centres on the square's left and top edges are in, on its right and bottom edges out: its area.
        #expect(mask.area == 10 * 10)
        #expect(mask.pixels[10 * 64 + 10] == 1 && mask.pixels[19 * 64 + 19] == 1 && mask.pixels[20 * 64 + 19] == 0)
        // The managed copy of the COCO file is kept, named by content.
        #expect(workspace.storedFiles(catalog).contains { $0.hasSuffix(".json") })
        let statistics = try catalog.statistics()
        #expect(statistics.rows.first?.last == .integer(1))
    }

    /// The bad entries the issue names, each with its exact message.
    enum BadEntry: String, CaseIterable, Sendable {
        case unknownInstance, unknownFrame, outsideFrame, keypointCount, maskSize, imageSize

        var images: [[String: Any]] {
            switch self {
            case .unknownInstance: [["id": 1, "sop_instance_uid": "1.2.3", "frame_number": 1]]
            case .unknownFrame: [["id": 1, "sop_instance_uid": mrUID, "frame_number": 11]]
            case .imageSize: [["id": 1, "width": 128, "height": 64, "sop_instance_uid": mrUID, "frame_number": 1]]
            default: [["id": 1, "sop_instance_uid": mrUID, "frame_number": 1]]
            }
        }

        var annotations: [[String: Any]] {
            switch self {
            case .outsideFrame: [keypoints(1, [1, 1, 2, 64, 2, 2])]
            case .keypointCount: [keypoints(1, [1, 1, 2])]
            case .maskSize: [["id": 1, "image_id": 1, "category_id": 1, "segmentation": ["size": [32, 64], "counts": [2048]]]]
            default: [keypoints(1, [1, 1, 2, 2, 2, 2])]
            }
        }

        var message: String {
            switch self {
            case .unknownInstance:
                "image 1: no instance with SOP Instance UID 1.2.3 in the catalog (import its DICOM file first, or in the same run)"
            case .unknownFrame: "image 1: frame 11 of \(mrUID) does not exist: the instance has 10 frames, numbered from 1"
            case .outsideFrame:
                "annotation 1 (image 1): keypoint 2 (right) at (64, 2) is outside the 64x64 frame (x from -0.5 to 63.5, y from -0.5 to 63.5)"
            case .keypointCount: "annotation 1 (image 1): 1 keypoint, but category marks has 2 (left, right)"
            case .maskSize: "annotation 1 (image 1): RLE mask is 64x32, but frame 1 of \(mrUID) is 64x64"
            case .imageSize: "image 1: 128x64 here, but \(mrUID) is 64x64"
            }
        }
    }

    /// Each bad entry, with its exact message; the file is refused whole and nothing stored changes.
    @Test("bad entries refuse the file with the entry and the reason", arguments: BadEntry.allCases)
    func badEntries(_ entry: BadEntry) throws {
        let (images, annotations, message) = (entry.images, entry.annotations, entry.message)
        let (workspace, catalog) = try Self.catalogWithMR()
        defer { workspace.folder.remove() }
        // A good file first: what it stored must not change.
        try Self.coco(annotations: [Self.keypoints(1, [5, 5, 2, 6, 6, 2])]).write(to: URL(fileURLWithPath: workspace.input("good.json")))
        _ = try Importer(catalog: catalog).run(paths: [workspace.input("good.json")])
        let before = try catalog.query(.annotations, filter: QueryFilter())
        let storedBefore = workspace.storedFiles(catalog)
        // One good annotation beside the bad one: none of the file is imported.
        let bad = workspace.input("bad.json")
        try Self.coco(
            images: images + [["id": 99, "sop_instance_uid": Self.mrUID, "frame_number": 2]],
            annotations: annotations + [Self.keypoints(100, image: 99, [3, 3, 2, 4, 4, 2])]
        ).write(to: URL(fileURLWithPath: bad))
        let result = try Importer(catalog: catalog).run(paths: [bad])
        #expect(result.summary.rejected == 1 && result.summary.annotations == 0)
        #expect(result.rejections == [ImportProblem(path: bad, reason: message)])
        #expect(try catalog.query(.annotations, filter: QueryFilter()) == before)
        #expect(workspace.storedFiles(catalog) == storedBefore)
        #expect(try catalog.read { try RejectionRecord.filter(Column("path") == bad).fetchAll($0).map(\.reason) } == [message])
    }

    @Test("a category whose keypoints differ from the stored label set refuses the file")
    func labelSetConflict() throws {
        let (workspace, catalog) = try Self.catalogWithMR()
        defer { workspace.folder.remove() }
        try Self.coco(annotations: [Self.keypoints(1, [5, 5, 2, 6, 6, 2])]).write(to: URL(fileURLWithPath: workspace.input("a.json")))
        var other = Self.category
        other["keypoints"] = ["right", "left"]
        try Self.coco(categories: [other], annotations: [Self.keypoints(1, [5, 5, 2, 6, 6, 2])])
            .write(to: URL(fileURLWithPath: workspace.input("b.json")))
        let result = try Importer(catalog: catalog).run(paths: [workspace.input("a.json"), workspace.input("b.json")])
        #expect(result.summary.annotationFiles == 1 && result.summary.rejected == 1)
        #expect(
            result.rejections.map(\.reason) == [
                "category 1 (marks): its keypoints [right, left] and skeleton differ from the catalog's label set marks [left, right]; "
                    + "a label set is stored once (rename the category, or give the same keypoints)"
            ])
    }

    @Test("the same file again is a duplicate; a new version of a path replaces its annotations; other JSON is skipped")
    func reimport() throws {
        let (workspace, catalog) = try Self.catalogWithMR()
        defer { workspace.folder.remove() }
        let path = workspace.input("labels.json")
        try Self.coco(annotations: [Self.keypoints(1, [5, 5, 2, 6, 6, 2])]).write(to: URL(fileURLWithPath: path))
        _ = try Importer(catalog: catalog).run(paths: [path])
        let again = try Importer(catalog: catalog).run(paths: [path])
        #expect(again.summary.duplicates == 1 && again.summary.annotations == 0)
        try Self.coco(annotations: [Self.keypoints(1, [7, 7, 2, 8, 8, 2]), Self.keypoints(2, [9, 9, 2, 10, 10, 2])])
            .write(to: URL(fileURLWithPath: path))
        let edited = try Importer(catalog: catalog).run(paths: [path])
        #expect(edited.summary.annotations == 2 && edited.summary.replaced == 1)
        let table = try catalog.query(.annotations, filter: QueryFilter())
        #expect(
            table.rows.map { $0[table.columns.firstIndex(of: "keypoints")!] } == [
                .numbers([7, 7, 2, 8, 8, 2]), .numbers([9, 9, 2, 10, 10, 2]),
            ])
        #expect(workspace.storedFiles(catalog).filter { $0.hasSuffix(".json") }.count == 1)
        try Data(#"{"generator": "medsynth", "frames": []}"#.utf8).write(to: URL(fileURLWithPath: workspace.input("manifest.json")))
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: workspace.input("broken.json")))
        let others = try Importer(catalog: catalog).run(paths: [workspace.input("manifest.json"), workspace.input("broken.json")])
        #expect(others.summary.skipped == 1 && others.rejections.map(\.reason) == ["not valid JSON"])
    }
}
