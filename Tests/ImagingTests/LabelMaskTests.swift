import DICOM
import Foundation
import Testing

@testable import Imaging

@Suite("Label masks")
struct LabelMaskTests {
    /// 4 rows x 5 columns.
    static let bitmap: [UInt8] = [
        0, 1, 1, 0, 0,
        0, 1, 1, 0, 0,
        0, 0, 1, 1, 0,
        0, 0, 0, 0, 0,
    ]

    @Test("runs round-trip through the catalog's encoding; the outline is the set pixels beside a clear one")
    func runs() throws {
        let mask = LabelMask(rows: 4, columns: 5, pixels: Self.bitmap)
        #expect(mask.runs == [1, 2, 3, 2, 4, 2, 6])
        #expect(mask.pixels == Self.bitmap && mask.area == 6)
        #expect(LabelMask(rows: 4, columns: 5, encoded: mask.encoded) == mask)
        #expect(LabelMask(rows: 5, columns: 5, encoded: mask.encoded) == nil)
        #expect(LabelMask(rows: 3, columns: 3, pixels: [1, 1, 1, 1, 1, 1, 1, 1, 1]).outline.count == 8)
    }

    /// COCO's counts are column-major; the compressed strings were made by a
    /// Python transcription of pycocotools' `rleToString` (maskApi.c).
    @Test("COCO RLE: column-major counts read and written, and pycocotools' compressed strings")
    func cocoRunLengths() throws {
        let counts = [4, 2, 2, 3, 3, 1, 5]
        #expect(try LabelMask(cocoCounts: counts, rows: 4, columns: 5).pixels == Self.bitmap)
        #expect(LabelMask(rows: 4, columns: 5, pixels: Self.bitmap).cocoCounts == counts)
        // A set first pixel starts with an empty clear run; a full mask is one.
        #expect(LabelMask(rows: 2, columns: 1, pixels: [1, 0]).cocoCounts == [0, 1, 1])
        #expect(LabelMask(rows: 2, columns: 2, pixels: [1, 1, 1, 1]).cocoCounts == [0, 4])
        #expect(try LabelMask.cocoCounts(compressed: "42211N2") == counts)
        // Large counts, and differences to the count two before that are negative.
        #expect(try LabelMask.cocoCounts(compressed: "PeQ33j7U1]HiN") == [100000, 3, 250, 40, 7, 1])
        #expect(throws: LabelMask.FormatError.self) { try LabelMask(cocoCounts: [4, 2], rows: 4, columns: 5) }
        #expect(throws: LabelMask.FormatError.self) { try LabelMask.cocoCounts(compressed: "4 2") }
    }

    @Test("polygons: pixel centres inside, left and top edges in, right and bottom edges out")
    func polygons() {
        let square = LabelMask(polygons: [[1, 0, 3, 0, 3, 2, 1, 2]], rows: 4, columns: 5)
        #expect(square.pixels == [0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        // A triangle: the row of centres y = 1 enters at x = 0 and leaves at x = 1 (out); y = 2, at 0 and 2.
        let triangle = LabelMask(polygons: [[0, 0, 3, 3, 0, 3]], rows: 4, columns: 5)
        #expect(Array(triangle.pixels[5..<10]) == [1, 0, 0, 0, 0])
        #expect(Array(triangle.pixels[10..<15]) == [1, 1, 0, 0, 0])
    }
}
