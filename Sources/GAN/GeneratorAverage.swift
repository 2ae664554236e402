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
/// beta = 0.5^(batch / half-life).
///
/// BatchNorm's running statistics are not averaged: they are estimated
/// again for the averaged weights (`calibrated()`) whenever the average is
/// served. The live generator's statistics do not fit it: averaging weights
/// that swing from step to step shrinks the activations they make, and the
/// live statistics normalise them too far, which smooths the speckle out of
/// the frames (measured in docs/training.md, "The generator's weight average").
public final class GeneratorAverage {
    /// The averaged generator (same configuration as the live one); its
    /// BatchNorm statistics are current only after `calibrated()`.
    public let generator: Generator
    public let halfLifeImages: Int
    /// The latent batches the statistics are estimated on: fixed, so that the
    /// statistics are a function of the averaged weights alone.
    private let calibrationBatches: [Tensor]
    private var statisticsCurrent = false

    /// The half-life is at most this share of the images seen so far.
    public static let rampUp = 0.05
    /// The statistics are the mean over this many generated images (in
    /// batches of the training's size).
    public static let calibrationImages = 128

    /// Starts as a copy of `live`; `calibration` draws the latents the
    /// BatchNorm statistics are estimated on.
    public init(of live: Generator, halfLifeImages: Int, batchSize: Int, calibration: EngineRandom) {
        precondition(halfLifeImages > 0, "an average needs a positive half-life")
        generator = Generator(configuration: live.configuration, seed: 0)
        self.halfLifeImages = halfLifeImages
        generator.store.values.update(from: live.store.values, count: live.store.count)
        var random = calibration
        let dimension = live.configuration.latentDimension
        calibrationBatches = stride(from: 0, to: Self.calibrationImages, by: batchSize).map { start in
            let count = min(batchSize, Self.calibrationImages - start)
            return Tensor(shape: [count, dimension], values: (0..<(count * dimension)).map { _ in random.normal() })
        }
    }

    /// The averaged generator with BatchNorm statistics estimated for its
    /// weights (`Generator.recalibrateBatchNorm`), again only if an update
    /// came since.
    public func calibrated() -> Generator {
        if !statisticsCurrent {
            generator.recalibrateBatchNorm(with: calibrationBatches)
            statisticsCurrent = true
        }
        return generator
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
        statisticsCurrent = false
    }
}
