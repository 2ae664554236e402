import Engine
import Foundation
import Testing

@testable import GAN

@Suite("The generator's weight average")
struct GeneratorAverageTests {
    static let configuration = GeneratorConfiguration(latentDimension: 6, baseChannels: 6, levels: [1, 0], negativeSlope: 0.2)

    @Test("beta is 0.5^(batch / half-life), the half-life at most 5 % of the images seen")
    func betaFollowsADA() {
        let average = GeneratorAverage(
            of: Generator(configuration: Self.configuration, seed: 1), halfLifeImages: 1000, batchSize: 8,
            calibration: EngineRandom(seed: 3))
        #expect(average.beta(batchSize: 8, imagesBefore: 0) == 0)
        // 4,000 images seen: the ramp-up allows a half-life of 200 images.
        #expect(abs(average.beta(batchSize: 8, imagesBefore: 4000) - Float(0.5).power(8.0 / 200)) < 1e-6)
        #expect(abs(average.beta(batchSize: 8, imagesBefore: 100_000) - Float(0.5).power(8.0 / 1000)) < 1e-6)
    }

    @Test("each update moves every weight to p + beta (a - p); BatchNorm's statistics are the average's own")
    func updateMovesTowardsTheLiveWeights() {
        let live = Generator(configuration: Self.configuration, seed: 1)
        let average = GeneratorAverage(of: live, halfLifeImages: 1000, batchSize: 8, calibration: EngineRandom(seed: 3))
        let count = live.store.count
        #expect((0..<count).allSatisfy { average.generator.store.values[$0] == live.store.values[$0] })
        let before = Array(UnsafeBufferPointer(start: live.store.values, count: count))
        var random = EngineRandom(seed: 2)
        for index in 0..<count { live.store.values[index] += random.uniform(-1, 1) }
        for (_, tensor) in live.store.buffers { tensor.data.update(repeating: 0.25, count: tensor.count) }
        average.update(from: live, batchSize: 8, imagesBefore: 4000)
        let beta = average.beta(batchSize: 8, imagesBefore: 4000)
        let largest =
            (0..<count).map { index -> Float in
                let expected = live.store.values[index] + beta * (before[index] - live.store.values[index])
                return abs(average.generator.store.values[index] - expected)
            }.max() ?? 0
        print("weight average, beta \(beta): largest difference from p + beta (a - p) \(largest) over \(count) weights")
        #expect(largest < 1e-6 && beta > 0.9 && beta < 1)
        // The live generator's statistics are not copied: the average's are estimated for its weights.
        let served = average.calibrated()
        #expect(served.store.buffers.allSatisfy { !$0.tensor.values.contains(0.25) })
    }

    /// With one calibration batch, the running statistics are that batch's,
    /// so inference mode gives what training mode gives on it (up to the
    /// unbiased variance's factor n / (n - 1), with n = 128 x 4 x 4 or more).
    @Test("calibrated statistics normalise the average's own activations")
    func calibrationFitsTheAverage() {
        let live = Generator(configuration: Self.configuration, seed: 1)
        let average = GeneratorAverage(
            of: live, halfLifeImages: 1000, batchSize: GeneratorAverage.calibrationImages, calibration: EngineRandom(seed: 3))
        var random = EngineRandom(seed: 2)
        for index in 0..<live.store.count { live.store.values[index] += random.uniform(-1, 1) }
        average.update(from: live, batchSize: 8, imagesBefore: 4000)
        var calibration = EngineRandom(seed: 3)
        let latents = Tensor(
            shape: [GeneratorAverage.calibrationImages, 6],
            values: (0..<(GeneratorAverage.calibrationImages * 6)).map { _ in calibration.normal() })
        let served = average.calibrated()
        let inference = served.forward(latents, training: false).values
        let training = served.forward(latents, training: true).values
        let difference = zip(inference, training).map { abs($0 - $1) }.max() ?? 0
        print("calibrated average: largest difference between inference and training mode \(difference)")
        #expect(difference < 1e-3)
        // The live generator's statistics (the old behaviour) do not fit: the same comparison is far off.
        for (target, source) in zip(served.store.buffers, live.store.buffers) {
            target.tensor.data.update(from: source.tensor.data, count: source.tensor.count)
        }
        let withLiveStatistics = served.forward(latents, training: false).values
        #expect((zip(withLiveStatistics, training).map { abs($0 - $1) }.max() ?? 0) > 10 * difference)
    }
}

extension Float {
    fileprivate func power(_ exponent: Double) -> Float { Float(Foundation.pow(Double(self), exponent)) }
}
