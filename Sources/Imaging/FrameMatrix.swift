import Engine

/// Frames as rows of one matrix: `count` frames of `pixels` values each, in
/// the generator's range [-1, 1].
public struct FrameMatrix: Sendable {
    public let pixels: Int
    public let values: [Float]
    public var count: Int { pixels == 0 ? 0 : values.count / pixels }

    public init(pixels: Int, values: [Float]) {
        precondition(pixels > 0 && values.count % pixels == 0)
        self.pixels = pixels
        self.values = values
    }

    /// The rows at `indices`.
    public func rows(_ indices: [Int]) -> FrameMatrix {
        var picked = [Float]()
        picked.reserveCapacity(indices.count * pixels)
        for index in indices { picked.append(contentsOf: values[(index * pixels)..<((index + 1) * pixels)]) }
        return FrameMatrix(pixels: pixels, values: picked)
    }

    public func row(_ index: Int) -> ArraySlice<Float> { values[(index * pixels)..<((index + 1) * pixels)] }

    /// Square frames box-averaged down to `side` x `side`; their side must be a multiple of it.
    public func downsampled(to side: Int) -> FrameMatrix {
        let frameSide = Int(Double(pixels).squareRoot().rounded())
        precondition(
            frameSide * frameSide == pixels && frameSide >= side && frameSide % side == 0,
            "frames must be square and a multiple of \(side) pixels wide")
        guard frameSide != side else { return self }
        let factor = frameSide / side, scale = 1 / Float(factor * factor)
        var result = [Float](repeating: 0, count: count * side * side)
        for frame in 0..<count {
            let source = frame * pixels
            for y in 0..<frameSide {
                for x in 0..<frameSide {
                    result[frame * side * side + (y / factor) * side + x / factor] += scale * values[source + y * frameSide + x]
                }
            }
        }
        return FrameMatrix(pixels: side * side, values: result)
    }
}

/// Distances between frames: the root mean square difference of their
/// intensities on a 0-to-1 scale (so 0 is identical, 1 is black against
/// white), the unit of every distance in `medsynth evaluate` and of the
/// export's privacy filter (docs/evaluation.md).
public enum FrameDistance {
    /// The distance between two frames given in [-1, 1].
    public static func between(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
        precondition(a.count == b.count)
        var total: Float = 0
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                for index in 0..<x.count {
                    let difference = x[index] - y[index]
                    total += difference * difference
                }
            }
        }
        // Halved: [-1, 1] differences are twice the 0-to-1 ones.
        return 0.5 * (total / Float(a.count)).squareRoot()
    }

    /// For every row of `queries`, the nearest row of `references` (its
    /// index and distance); (-1, infinity) when there are no references.
    public static func nearest(_ queries: FrameMatrix, in references: FrameMatrix) -> [(index: Int, distance: Float)] {
        nearest(queries, in: references, count: 1).map { $0.first ?? (-1, .infinity) }
    }

    /// For every row of `queries`, the `count` nearest rows of `references`,
    /// nearest first. The candidates come from one matrix product per block
    /// of queries (|r|^2 - 2 q.r); their distances are then recomputed
    /// exactly, so a copy measures 0 whatever the rounding of the product.
    public static func nearest(_ queries: FrameMatrix, in references: FrameMatrix, count: Int) -> [[(index: Int, distance: Float)]] {
        precondition(queries.pixels == references.pixels && count >= 1)
        let n = queries.count, m = references.count, p = queries.pixels
        guard m > 0, n > 0 else { return Array(repeating: [], count: n) }
        let referenceNorms = (0..<m).map { j in references.row(j).reduce(0) { $0 + $1 * $1 } }
        var result: [[(index: Int, distance: Float)]] = []
        result.reserveCapacity(n)
        let block = 256
        var products = [Float](repeating: 0, count: min(block, n) * m)
        for start in stride(from: 0, to: n, by: block) {
            let rows = min(block, n - start)
            queries.values.withUnsafeBufferPointer { q in
                references.values.withUnsafeBufferPointer { r in
                    products.withUnsafeMutableBufferPointer { c in
                        gemm(
                            transposeA: false, transposeB: true, m: rows, n: m, k: p, q.baseAddress! + start * p, r.baseAddress!,
                            beta: 0, c.baseAddress!)
                    }
                }
            }
            for row in 0..<rows {
                let query = start + row
                // The `count` smallest by the product's estimate, kept sorted (count is small).
                var best: [(index: Int, estimate: Float)] = []
                for j in 0..<m {
                    let estimate = referenceNorms[j] - 2 * products[row * m + j]
                    if best.count < count || estimate < best[best.count - 1].estimate {
                        let position = best.firstIndex { $0.estimate > estimate } ?? best.count
                        best.insert((j, estimate), at: position)
                        if best.count > count { best.removeLast() }
                    }
                }
                result.append(
                    best.map { ($0.index, between(queries.row(query), references.row($0.index))) }
                        .sorted { $0.distance < $1.distance })
            }
        }
        return result
    }
}
