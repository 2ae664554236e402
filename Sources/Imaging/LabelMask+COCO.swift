import DICOM
import Foundation

extension LabelMask {
    /// The set pixels with a clear 4-neighbour or the frame's edge beside
    /// them, as (x, y): the outline that an overlay draws.
    public var outline: [(x: Int, y: Int)] {
        let bits = pixels
        func isSet(_ x: Int, _ y: Int) -> Bool { x >= 0 && y >= 0 && x < columns && y < rows && bits[y * columns + x] != 0 }
        var points: [(x: Int, y: Int)] = []
        for y in 0..<rows {
            for x in 0..<columns where bits[y * columns + x] != 0 {
                if !isSet(x - 1, y) || !isSet(x + 1, y) || !isSet(x, y - 1) || !isSet(x, y + 1) { points.append((x, y)) }
            }
        }
        return points
    }

    // MARK: COCO

    /// What is wrong with a COCO mask.
    public struct FormatError: Error, Equatable, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// A COCO RLE mask: `counts` are run lengths in column-major order
    /// (COCO's, Fortran order), clear first, over `rows` x `columns`.
    public init(cocoCounts counts: [Int], rows: Int, columns: Int) throws {
        guard counts.allSatisfy({ $0 >= 0 }) else { throw FormatError(description: "RLE counts must not be negative") }
        let total = counts.reduce(0, +)
        guard total == rows * columns else {
            throw FormatError(
                description: "RLE counts cover \(total) pixels, but the mask is \(columns)x\(rows) (\(rows * columns) pixels)")
        }
        var pixels = [UInt8](repeating: 0, count: rows * columns)
        var offset = 0
        for (index, length) in counts.enumerated() {
            if index % 2 == 1 {
                for position in offset..<(offset + length) {
                    pixels[(position % rows) * columns + position / rows] = 1
                }
            }
            offset += length
        }
        self.init(rows: rows, columns: columns, pixels: pixels)
    }

    /// The mask as COCO's uncompressed RLE counts (the inverse of
    /// `init(cocoCounts:rows:columns:)`): run lengths in column-major order,
    /// clear first.
    public var cocoCounts: [Int] {
        // Column-major runs are the row-major runs of the transposed mask.
        let bits = pixels
        let transposed = (0..<(rows * columns)).map { bits[($0 % rows) * columns + $0 / rows] }
        return LabelMask(rows: columns, columns: rows, pixels: transposed).runs
    }

    /// COCO's compressed RLE string (pycocotools' `rleToString`): each count
    /// in 5-bit groups as characters from 48, the 0x20 bit saying more
    /// follow, counts after the second stored as the difference to the count
    /// two before.
    public static func cocoCounts(compressed text: String) throws -> [Int] {
        var counts: [Int] = []
        let bytes = Array(text.utf8)
        var position = 0
        while position < bytes.count {
            var value = 0
            var group = 0
            var more = true
            while more {
                guard position < bytes.count, bytes[position] >= 48, bytes[position] < 48 + 64, group < 12 else {
                    throw FormatError(description: "RLE counts string is not COCO's compressed form")
                }
                let code = Int(bytes[position]) - 48
                value |= (code & 0x1f) << (5 * group)
                more = code & 0x20 != 0
                position += 1
                group += 1
                if !more, code & 0x10 != 0 { value |= -1 << (5 * group) }
            }
            if counts.count > 2 { value += counts[counts.count - 2] }
            counts.append(value)
        }
        return counts
    }

    /// A mask from COCO polygons (each `[x1, y1, x2, y2, ...]` in the frame's
    /// pixels, (0, 0) the centre of the top-left pixel): a pixel is set when
    /// its centre is inside one polygon by the even-odd rule, a centre on an
    /// edge counting when the edge is a left or top one (so a polygon's
    /// pixels number about its area, and two polygons sharing an edge share
    /// no pixel). Polygons of one object are united.
    public init(polygons: [[Double]], rows: Int, columns: Int) {
        var pixels = [UInt8](repeating: 0, count: rows * columns)
        for polygon in polygons where polygon.count >= 6 {
            let points = stride(from: 0, to: polygon.count - 1, by: 2).map { (x: polygon[$0], y: polygon[$0 + 1]) }
            for y in 0..<rows {
                // Crossings of the row through the pixel centres, then fill between pairs.
                let centre = Double(y)
                var crossings: [Double] = []
                for index in points.indices {
                    let a = points[index], b = points[(index + 1) % points.count]
                    if (a.y <= centre) != (b.y <= centre) {
                        crossings.append(a.x + (centre - a.y) / (b.y - a.y) * (b.x - a.x))
                    }
                }
                crossings.sort()
                for pair in stride(from: 0, to: crossings.count - 1, by: 2) {
                    let first = max(0, Int((crossings[pair]).rounded(.up)))
                    let last = min(columns - 1, Int((crossings[pair + 1]).rounded(.up)) - 1)
                    if first <= last { for x in first...last { pixels[y * columns + x] = 1 } }
                }
            }
        }
        self.init(rows: rows, columns: columns, pixels: pixels)
    }
}
