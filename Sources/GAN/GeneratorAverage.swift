import Engine
import Foundation

/// An exponential moving average of a generator's weights, the generator a
/// limited-data GAN serves (Karras et al., "Training Generative Adversarial
/// Networks with Limited Data", NeurIPS 2020, after Yazici et al. 2019): the
/// live generator chases a moving discriminator, the average smooths out
/// its step-to-step swings.
///
/// As in StyleGAN2-ADA, the half-life is counted in images, and early in
/// training it is at most `rampUp` of the images seen, so the average does
/// not hold on to the random initialisation. After each generator step,
/// every parameter p moves the average a to p + beta (a - p), with
/// beta = 0.5^(batch / half-life). BatchNorm's running statistics are the
/// live generator's, copied (they are estimates, not weights).
public final class GeneratorAverage {
    /// The averaged generator (same configuration as the live one).
    public let generator: Generator
    public let halfLifeImages: Int

    /// The half-life is at most this share of the images seen so far.
    public static let rampUp = 0.05

    /// Starts as a copy of `live`.
    public init(of live: Generator, halfLifeImages: Int) {
        precondition(halfLifeImages > 0, "an average needs a positive half-life")
        generator = Generator(configuration: live.configuration, seed: 0)
        self.halfLifeImages = halfLifeImages
        generator.store.values.update(from: live.store.values, count: live.store.count)
        copyBuffers(from: live)
    }

    /// The weight the average keeps after a step of `batchSize` images taken
    /// when `imagesBefore` images had been seen.
    public func beta(batchSize: Int, imagesBefore: Int) -> Float {
        let halfLife = min(Double(halfLifeImages), Double(imagesBefore) * Self.rampUp)
        // At the first step the half-life is 0: the average becomes the live weights.
        return halfLife > 0 ? Float(Foundation.pow(0.5, Double(batchSize) / halfLife)) : 0
    }

    /// Moves the average towards `live` after a generator step.
    public func update(from live: Generator, batchSize: Int, imagesBefore: Int) {
        let beta = beta(batchSize: batchSize, imagesBefore: imagesBefore)
        let average = generator.store.values!, current = live.store.values!
        for index in 0..<live.store.count { average[index] = current[index] + beta * (average[index] - current[index]) }
        copyBuffers(from: live)
    }

    private func copyBuffers(from live: Generator) {
        for (target, source) in zip(generator.store.buffers, live.store.buffers) {
            target.tensor.data.update(from: source.tensor.data, count: source.tensor.count)
        }
    }
}
