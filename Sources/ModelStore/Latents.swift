import DICOM
import Engine
import Foundation

/// The generator inputs of a synthesis: [count, latent_dim] float32, drawn
/// from a seed or read from a `.npy` file.
public struct Latents: Sendable {
    public enum Source: Sendable, Equatable {
        /// Row i is latent_dim standard normal draws from the stream
        /// (seed, synthesis latents, i): the first rows do not depend on the count.
        case seed(UInt64)
        /// Rows of a float32 [N, latent_dim] `.npy` file, and its SHA-256.
        case file(path: String, sha256: String)

        public var seed: UInt64? {
            if case .seed(let seed) = self { return seed }
            return nil
        }

        public var fileSha256: String? {
            if case .file(_, let sha256) = self { return sha256 }
            return nil
        }
    }

    public let source: Source
    public let count: Int
    public let dimension: Int
    /// Row-major [count, dimension].
    public let values: [Float]

    public static func seeded(_ seed: UInt64, count: Int, dimension: Int) -> Latents {
        Latents(source: .seed(seed), count: count, dimension: dimension, values: seededRows(seed, 0..<count, dimension: dimension))
    }

    /// A seeded run that withholds frames (copies, doubtful labels) draws at
    /// most this many latents per frame it must give (and at least 100 in
    /// all) before it gives up on reaching its count: `synthesize`'s default
    /// draw limit, and the utility measure's.
    public static let drawsPerFrame = 10

    public static func defaultDrawLimit(target: Int) -> Int { max(target * drawsPerFrame, 100) }

    /// Rows `indices` of the seeded latents, row-major: row i depends only on (seed, i).
    public static func seededRows(_ seed: UInt64, _ indices: Range<Int>, dimension: Int) -> [Float] {
        var values = [Float]()
        values.reserveCapacity(indices.count * dimension)
        for index in indices {
            var random = SeedStreams.stream(.synthesisLatents, seed: seed, index: UInt64(index))
            for _ in 0..<dimension { values.append(random.normal()) }
        }
        return values
    }

    /// Reads `path`, which must hold float32 [N, dimension] with finite
    /// values and at most `maximumRows` rows (checked from the file's size
    /// before it is read).
    public static func read(path: String, dimension: Int, maximumRows: Int) throws -> Latents {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        // A .npy header is at most 64 KiB in practice (version 1 allows 65,535 bytes).
        guard size <= maximumRows * dimension * 4 + 65_536 else {
            throw ModelError.latents("larger than \(maximumRows) rows of \(dimension) float32 values", path: path)
        }
        let array: NamedArray
        do {
            array = try NumpyFile.read(path: path)
        } catch let error as TensorFileError {
            throw ModelError.latents(error.reason, path: path)
        }
        guard array.shape.count == 2, array.shape[1] == dimension, array.shape[0] >= 1 else {
            throw ModelError.latents("expected float32 [N, \(dimension)], the file holds \(array.shape)", path: path)
        }
        if let row = array.values.firstIndex(where: { !$0.isFinite }).map({ $0 / dimension }) {
            throw ModelError.latents("row \(row) holds a value that is not finite", path: path)
        }
        return Latents(
            source: .file(path: path, sha256: try FileDigest.sha256(path: path)), count: array.shape[0],
            dimension: dimension, values: array.values)
    }

    /// Rows `range` (row-major).
    public func rows(_ range: Range<Int>) -> ArraySlice<Float> { values[(range.lowerBound * dimension)..<(range.upperBound * dimension)] }
}
