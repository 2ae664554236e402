import Catalog
import Foundation
import Frames
import Ingest
import TestSupport
import Testing

@Suite("Training candidates")
struct TrainingCandidatesTests {
    @Test("a DICOM Segmentation is no training candidate, even asked for by its modality")
    func segmentationsAreLabels() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        _ = try Importer(catalog: catalog).run(paths: [Samples.path("pydicom-data/liver.dcm"), Samples.path("pydicom-data/emri_small.dcm")])
        #expect(try catalog.trainingCandidates(modality: "SEG", filter: QueryFilter(), includeSynthetic: true).isEmpty)
        #expect(try catalog.trainingCandidates(modality: "MR", filter: QueryFilter(), includeSynthetic: false).count == 1)
    }
}
