import Engine
import Foundation
import Imaging

/// The data-copying test of Meehan, Chaudhuri and Dasgupta (AISTATS 2020):
/// within cells of the training data, are generated frames closer to their
/// nearest training frame than held-out real frames are? Each cell gives a
/// Mann-Whitney U statistic as a Z score; C_T is their average weighted by
/// the share of held-out frames in each cell. C_T well below 0 (below -2
/// here) flags copying, near 0 is healthy, above 0 means the generated frames
/// lie further from the training frames than new real frames do
/// (under-fitting). Distances are copy distances (`CopyDistance`), which a
/// frame's brightness does not drive; the cells come from pixel k-means.
public struct DataCopyingTest: Sendable {
    public let z: Float
    /// Cells that had enough held-out and generated frames to count.
    public let cells: Int

    /// Below this C_T, a model is reported as copying.
    public static let copyingThreshold: Float = -2

    /// Cells from k-means on the training frames, k = held-out frames / 20
    /// (1 to 10); a cell counts when it holds at least 3 held-out and 3
    /// generated frames, else all frames form one cell. Nil when there are
    /// fewer than 2 held-out or generated frames. The distances are each
    /// frame's to its nearest training frame.
    public static func run(
        training: FrameMatrix, heldOut: FrameMatrix, generated: FrameMatrix, heldOutDistances: [Float],
        generatedDistances: [Float], seed: UInt64 = 1
    ) -> DataCopyingTest? {
        guard heldOut.count >= 2, generated.count >= 2, training.count >= 1 else { return nil }
        let k = max(1, min(10, heldOut.count / 20, training.count))
        let centroids = kMeans(training, k: k, seed: seed)
        let heldOutCells = FrameDistance.nearest(heldOut, in: centroids).map(\.index)
        let generatedCells = FrameDistance.nearest(generated, in: centroids).map(\.index)
        var weightedZ: Double = 0, weights: Double = 0, cells = 0
        for cell in 0..<centroids.count {
            let p = heldOutCells.indices.filter { heldOutCells[$0] == cell }.map { heldOutDistances[$0] }
            let q = generatedCells.indices.filter { generatedCells[$0] == cell }.map { generatedDistances[$0] }
            guard p.count >= 3, q.count >= 3 else { continue }
            let share = Double(p.count) / Double(heldOut.count)
            weightedZ += share * mannWhitneyZ(generated: q, heldOut: p)
            weights += share
            cells += 1
        }
        if cells == 0 {
            return DataCopyingTest(z: Float(mannWhitneyZ(generated: generatedDistances, heldOut: heldOutDistances)), cells: 1)
        }
        return DataCopyingTest(z: Float(weightedZ / weights), cells: cells)
    }

    /// Z of U = #{(i, j): q_i > p_j} + ties / 2 under the null of equal distributions.
    static func mannWhitneyZ(generated q: [Float], heldOut p: [Float]) -> Double {
        var u = 0.0
        for a in q {
            for b in p { u += a > b ? 1 : a == b ? 0.5 : 0 }
        }
        let m = Double(q.count), n = Double(p.count)
        return (u - m * n / 2) / (m * n * (m + n + 1) / 12).squareRoot()
    }

    /// Lloyd's k-means on the rows, started from k rows drawn at random, 10 rounds.
    static func kMeans(_ frames: FrameMatrix, k: Int, seed: UInt64) -> FrameMatrix {
        var random = EngineRandom(seed: seed)
        var centroids = frames.rows(random.shuffled(Array(0..<frames.count)).prefix(k).map { $0 })
        for _ in 0..<10 {
            let assignment = FrameDistance.nearest(frames, in: centroids).map(\.index)
            var sums = [Float](repeating: 0, count: k * frames.pixels), counts = [Int](repeating: 0, count: k)
            for (row, cell) in assignment.enumerated() {
                counts[cell] += 1
                for (offset, value) in frames.row(row).enumerated() { sums[cell * frames.pixels + offset] += value }
            }
            for cell in 0..<k where counts[cell] > 0 {
                for offset in 0..<frames.pixels { sums[cell * frames.pixels + offset] /= Float(counts[cell]) }
            }
            // An empty cell keeps its centroid.
            for cell in 0..<k where counts[cell] == 0 {
                for offset in 0..<frames.pixels { sums[cell * frames.pixels + offset] = centroids.values[cell * frames.pixels + offset] }
            }
            centroids = FrameMatrix(pixels: frames.pixels, values: sums)
        }
        return centroids
    }
}
