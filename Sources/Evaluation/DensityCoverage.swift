import Engine
import Imaging

/// Fidelity and diversity in a feature space: density and coverage (Naeem,
/// Oh, Uh, Choi and Yoo, "Reliable Fidelity and Diversity Metrics for
/// Generative Models", ICML 2020), with series as the samples: frames of one
/// cine are not independent, so each real frame gets a ball reaching the
/// k-th nearest other series (its nearest frame), and a series counts once.
/// Density: how many series' balls a generated frame falls in, over k,
/// averaged (about 1 for generated frames distributed like the real ones;
/// below 1 outside the real frames' support; above 1 crowded where the real
/// frames are).
/// Coverage: the share of real balls holding at least one generated frame
/// (1 when the generated frames reach every kind of real frame; low for a
/// collapsed model).
public struct DensityCoverage: Sendable, Equatable {
    public let density: Float
    public let densityInterval: [Float]
    public let coverage: Float
    public let coverageInterval: [Float]

    public static let neighbours = 5

    /// Nil when a real frame has fewer than `neighbours` other series.
    /// Intervals: 95 % bootstrap over generated frames (density) and over
    /// real series (coverage).
    public static func measure(real: FrameMatrix, series: [Int], generated: FrameMatrix, seed: UInt64) -> DensityCoverage? {
        let (n, m) = (real.count, generated.count)
        guard n > neighbours, m > 0 else { return nil }
        let realDistances = squaredDistances(real, real)
        var radii = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var nearestBySeries: [Int: Float] = [:]
            for j in 0..<n where series[j] != series[i] {
                nearestBySeries[series[j]] = min(nearestBySeries[series[j]] ?? .infinity, realDistances[i * n + j])
            }
            guard nearestBySeries.count >= neighbours else { return nil }
            radii[i] = nearestBySeries.values.sorted()[neighbours - 1]
        }
        let generatedDistances = squaredDistances(generated, real)
        var inBalls = [Int](repeating: 0, count: m), covered = [Bool](repeating: false, count: n)
        for j in 0..<m {
            var seriesHit = Set<Int>()
            for i in 0..<n where generatedDistances[j * n + i] <= radii[i] {
                seriesHit.insert(series[i])
                covered[i] = true
            }
            inBalls[j] = seriesHit.count
        }
        var random = EngineRandom(seed: seed ^ 0xDE5C0)
        // Density: each generated frame its own group (series hit over k); coverage: real frames grouped by series.
        let densityInterval = GroupBootstrap.ratioInterval([inBalls.map { (hits: $0, total: neighbours) }], random: &random)
        let coverageInterval = GroupBootstrap.ratioInterval([GroupBootstrap.groups(of: series) { covered[$0] }], random: &random)
        return DensityCoverage(
            density: Float(inBalls.reduce(0, +)) / Float(neighbours * m), densityInterval: densityInterval,
            coverage: Float(covered.filter { $0 }.count) / Float(n), coverageInterval: coverageInterval)
    }

    /// |a_i - b_j|^2 for every pair, [a.count, b.count], from one matrix product.
    static func squaredDistances(_ a: FrameMatrix, _ b: FrameMatrix) -> [Float] {
        let (n, m, k) = (a.count, b.count, a.pixels)
        var products = [Float](repeating: 0, count: n * m)
        a.values.withUnsafeBufferPointer { x in
            b.values.withUnsafeBufferPointer { y in
                products.withUnsafeMutableBufferPointer {
                    gemm(transposeA: false, transposeB: true, m: n, n: m, k: k, x.baseAddress!, y.baseAddress!, beta: 0, $0.baseAddress!)
                }
            }
        }
        let normsA = (0..<n).map { a.row($0).reduce(0) { $0 + $1 * $1 } }, normsB = (0..<m).map { b.row($0).reduce(0) { $0 + $1 * $1 } }
        for i in 0..<n { for j in 0..<m { products[i * m + j] = max(0, normsA[i] + normsB[j] - 2 * products[i * m + j]) } }
        return products
    }
}

/// The feature space of density and coverage: a fixed, randomly initialised
/// CNN, never trained. Naeem et al. (section 5) recommend random embeddings
/// where ImageNet features do not fit the data, as for medical frames, and
/// ImageNet weights are not available offline. Conv 4x4 stride 2 (1 -> 32 ->
/// 64 -> 128 channels) with ReLU on the 64 x 64 frame (box-averaged when
/// larger): 128 x 8 x 8 = 8,192 features per frame, each frame's features
/// scaled to unit length so that brightness does not dominate.
public enum RandomEmbedding {
    public static let seed: UInt64 = 20_200_713

    public static func features(_ frames: FrameMatrix) -> FrameMatrix {
        let small = frames.downsampled(to: 64)
        let store = ParameterStore()
        let initializer = DefaultInitializer(random: EngineRandom(seed: seed))
        var layers: [Layer] = []
        for (index, (input, output)) in [(1, 32), (32, 64), (64, 128)].enumerated() {
            layers.append(
                Conv2d(
                    "embedding\(index)", store: store, initializer: initializer, inChannels: input, outChannels: output,
                    kernel: 4, stride: 2, padding: 1))
            layers.append(LeakyReLU(slope: 0))
        }
        let network = Sequential(layers)
        store.seal()
        var values: [Float] = []
        for start in stride(from: 0, to: small.count, by: 64) {
            let rows = Array(start..<min(start + 64, small.count))
            let output = network.forward(Tensor(shape: [rows.count, 1, 64, 64], values: small.rows(rows).values), training: false)
            let perFrame = output.count / rows.count
            for frame in 0..<rows.count {
                let row = (0..<perFrame).map { output.data[frame * perFrame + $0] }
                let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
                values += norm > 0 ? row.map { $0 / norm } : row
            }
        }
        return FrameMatrix(pixels: 128 * 8 * 8, values: values)
    }
}
