import TestSupport
import Testing

@testable import DICOM

@Suite("DICOM Segmentation")
struct SegmentationTests {
    /// pydicom's reading of liver.dcm (an independent decoder): the set pixels
    /// of each frame, and the first of them (row, column).
    static let areas = [36233, 35645, 35220]
    static let firstSetPixel = [(145, 254), (146, 254), (147, 249)]
    static let referencedCT = (1...3).map { "1.2.392.200103.20080913.113635.2.2009.6.22.21.43.10.2343\(4 - $0).1" }

    @Test("a binary Segmentation's masks, segments and references, in both byte orders, as pydicom reads them")
    func liver() throws {
        for name in ["liver.dcm", "liver_expb.dcm"] {
            let metadata = try InstanceMetadata(file: try DicomFile(path: Samples.path("pydicom-data/\(name)")))
            let content = try #require(metadata.segmentation, "\(name)")
            #expect(content.segments == [SegmentationContent.Segment(number: 1, label: "Liver")])
            #expect(content.frames.map(\.mask.area) == Self.areas, "\(name)")
            #expect(content.frames.map(\.sopInstanceUID) == Self.referencedCT)
            #expect(content.frames.allSatisfy { $0.frameNumber == nil && $0.segmentNumber == 1 })
            for (frame, first) in zip(content.frames, Self.firstSetPixel) {
                #expect(frame.mask.pixels.firstIndex(of: 1) == first.0 * 512 + first.1)
            }
            #expect(content.frames.map(\.entry) == ["segment 1, frame 1", "segment 1, frame 2", "segment 1, frame 3"])
        }
    }

    @Test("an image is no Segmentation")
    func image() throws {
        let metadata = try InstanceMetadata(file: try DicomFile(path: Samples.path("pydicom-data/emri_small.dcm")))
        #expect(metadata.segmentation == nil)
    }
}
