import Foundation

/// A binary mask over one frame (a segment of a DICOM Segmentation frame, a
/// COCO mask: the COCO forms are read in Imaging), `rows` x `columns`, kept as run lengths row
/// by row: a run of clear pixels first (possibly empty), then set and clear
/// runs in turn. Masks of a few objects on a large frame are a few hundred
/// runs, where the bitmap would be the frame's size.
public struct LabelMask: Equatable, Sendable {
    public let rows: Int
    public let columns: Int
    /// Alternating clear and set runs, row-major, summing to `rows * columns`.
    public let runs: [Int]

    /// A mask from its runs; nil when they do not cover the size or one is negative.
    public init?(rows: Int, columns: Int, runs: [Int]) {
        guard runs.allSatisfy({ $0 >= 0 }), runs.reduce(0, +) == rows * columns else { return nil }
        self.rows = rows
        self.columns = columns
        self.runs = runs
    }

    /// A mask from one byte per pixel, row by row: non-zero is set.
    public init(rows: Int, columns: Int, pixels: [UInt8]) {
        precondition(pixels.count == rows * columns, "mask pixels do not match its size")
        self.rows = rows
        self.columns = columns
        var runs: [Int] = []
        var current: UInt8 = 0
        var length = 0
        for pixel in pixels {
            let value: UInt8 = pixel != 0 ? 1 : 0
            if value != current {
                runs.append(length)
                current = value
                length = 0
            }
            length += 1
        }
        runs.append(length)
        self.runs = runs
    }

    /// One byte per pixel, row by row: 1 set, 0 clear.
    public var pixels: [UInt8] {
        var pixels = [UInt8](repeating: 0, count: rows * columns)
        var offset = 0
        for (index, length) in runs.enumerated() {
            if index % 2 == 1 { for position in offset..<(offset + length) { pixels[position] = 1 } }
            offset += length
        }
        return pixels
    }

    /// Set pixels.
    public var area: Int { stride(from: 1, to: runs.count, by: 2).reduce(0) { $0 + runs[$1] } }

    // MARK: Storage

    /// The runs as little-endian 32-bit counts, for the catalog.
    public var encoded: Data {
        var data = Data(capacity: runs.count * 4)
        for run in runs { withUnsafeBytes(of: UInt32(run).littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    /// A mask read back from `encoded`; nil when the runs do not cover the size.
    public init?(rows: Int, columns: Int, encoded: Data) {
        guard encoded.count % 4 == 0 else { return nil }
        let runs = stride(from: 0, to: encoded.count, by: 4).map { offset in
            Int(
                encoded[encoded.startIndex + offset..<encoded.startIndex + offset + 4].enumerated()
                    .reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) })
        }
        self.init(rows: rows, columns: columns, runs: runs)
    }
}

/// As the decode worker sends it: the size and the runs, checked on reading.
extension LabelMask: Codable {
    private enum CodingKeys: String, CodingKey { case rows, columns, runs }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let rows = try container.decode(Int.self, forKey: .rows), columns = try container.decode(Int.self, forKey: .columns)
        guard let mask = LabelMask(rows: rows, columns: columns, runs: try container.decode([Int].self, forKey: .runs)) else {
            throw DecodingError.dataCorruptedError(forKey: .runs, in: container, debugDescription: "runs do not cover the mask")
        }
        self = mask
    }
}
