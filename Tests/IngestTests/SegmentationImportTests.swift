import DICOM
import Foundation
import GRDB
import TestSupport
import Testing

@testable import Catalog
@testable import Ingest

/// DICOM Segmentation instances through `medsynth import`: masks of the
/// frames they reference, never images (docs/catalog.md).
@Suite("Segmentation import")
struct SegmentationImportTests {
    /// Two simulated cines of 4 frames with their Segmentations, in a workspace.
    static func simulated() throws -> (Workspace, xa: String) {
        let workspace = try Workspace()
        try SimulatedAngiography.generate(cines: 2, frames: 4, size: 96, seed: 3, segmentations: true, into: workspace.inputs.path)
        return (workspace, workspace.inputs.appendingPathComponent("xa").path)
    }

    @Test("the corpus's SEG is catalogued as labels; its masks wait for the CT frames it references")
    func corpusSegmentation() throws {
        let workspace = try Workspace()
        defer { workspace.folder.remove() }
        let catalog = try workspace.openCatalog()
        let result = try Importer(catalog: catalog).run(paths: [Samples.path("pydicom-data/liver.dcm")])
        #expect(result.summary.imported == 1 && result.rejections.isEmpty)
        let waiting = try catalog.read { try AnnotationRecord.fetchAll($0) }
        #expect(waiting.count == 3 && waiting.allSatisfy { $0.instanceId == nil && $0.maskRows == 512 })
        #expect(try catalog.query(.annotations, filter: QueryFilter()).rows.isEmpty)
        let statistics = try catalog.statistics()
        #expect(statistics.rows.map { Array($0[0...2]) } == [[.text("SEG"), .text("labels"), .integer(1)]])
        #expect(try catalog.read { try LabelSetRecord.fetchAll($0).map(\.name) } == ["Liver"])
    }

    @Test("a Segmentation imported before its cine is linked when the cine arrives; its masks are the COCO polygons' pixels")
    func linkedLater() throws {
        let (workspace, xa) = try Self.simulated()
        defer { workspace.folder.remove() }
        let catalog = try workspace.openCatalog()
        _ = try Importer(catalog: catalog).run(paths: [xa + "/seg"])
        #expect(try catalog.read { try AnnotationRecord.filter(Column("instance_id") == nil).fetchCount($0) } == 8)
        let result = try Importer(catalog: catalog).run(paths: [xa])
        #expect(result.rejections.isEmpty, "\(result.rejections)")
        #expect(try catalog.read { try AnnotationRecord.filter(Column("instance_id") == nil).fetchCount($0) } == 0)
        // The simulator fills each SEG frame with the rule COCO polygons are read with, from the polygon it writes.
        let cines = try catalog.read { try InstanceRecord.filter(Column("sop_class_uid") == "1.2.840.10008.5.1.4.1.1.12.1").fetchAll($0) }
        #expect(cines.count == 2)
        for cine in cines {
            for frame in 1...4 {
                let annotations = try catalog.annotations(sopInstanceUID: cine.sopInstanceUid, frameNumber: frame)
                let masks = annotations.compactMap { annotation, _ in
                    annotation.mask.flatMap { LabelMask(rows: 96, columns: 96, encoded: $0) }
                }
                #expect(annotations.map(\.labelSet.name).sorted() == ["Stent", "tavi-stent"])
                #expect(masks.count == 2 && masks[0] == masks[1] && masks[0].area > 100)
            }
        }
    }

    @Test("a Segmentation naming a frame its cine does not have is refused with the entry; waiting masks that do not fit are removed")
    func misfits() throws {
        let (workspace, xa) = try Self.simulated()
        defer { workspace.folder.remove() }
        let segmentation = xa + "/seg/cine-000-seg.dcm"
        let misfit = workspace.input("misfit-seg.dcm")
        let file = try DicomFile(path: segmentation)
        let referencedFrame =
            DicomPath(.perFrameFunctionalGroupsSequence).item(1, .derivationImageSequence).item(0, .sourceImageSequence)
            .item(0, .referencedFrameNumber)
        try file.setString(atPath: referencedFrame.description, "9")
        try file.save(to: misfit)
        let cine = try #require(try DicomFile(path: xa + "/cine-000.dcm").string(.sopInstanceUID))
        let message = "segment 1, frame 2: references frame 9 of \(cine), which has 4 frames"

        // The cine first: the Segmentation is refused whole.
        let catalog = try workspace.openCatalog()
        _ = try Importer(catalog: catalog).run(paths: [xa + "/cine-000.dcm"])
        let refused = try Importer(catalog: catalog).run(paths: [misfit])
        #expect(refused.summary.imported == 0 && refused.summary.rejected == 1)
        #expect(refused.rejections == [ImportProblem(path: misfit, reason: message)])
        #expect(try catalog.read { try AnnotationRecord.fetchCount($0) } == 0)

        // The Segmentation first: its three fitting masks are linked, the misfit removed.
        let other = try Workspace()
        defer { other.folder.remove() }
        let laterCatalog = try other.openCatalog()
        _ = try Importer(catalog: laterCatalog).run(paths: [misfit])
        let linked = try Importer(catalog: laterCatalog).run(paths: [xa + "/cine-000.dcm"])
        #expect(linked.rejections == [ImportProblem(path: misfit, reason: message + "; this mask was removed")])
        #expect(try laterCatalog.read { try AnnotationRecord.filter(Column("instance_id") != nil).fetchCount($0) } == 3)
    }
}
