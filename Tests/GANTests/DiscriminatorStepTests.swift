import Engine
import Testing

@testable import GAN

/// D's step (`TrainingStep.accumulateDiscriminatorGradients`): every term of
/// its loss, through every pass it makes.
@Suite("Discriminator step")
struct DiscriminatorStepTests {
    /// D's step loss (adversarial, penalty and reconstruction) on fixed batches, its
    /// augmentations and perturbations drawn from the same seeds each time.
    static func discriminatorLoss(_ step: TrainingStep, real: Tensor, generated: Tensor) -> (total: Double, penalty: Double) {
        step.augmentation?.random = EngineRandom(seed: 21)
        step.penalty?.random = EngineRandom(seed: 22)
        step.discriminator.store.zeroGradients()
        let result = step.accumulateDiscriminatorGradients(real: real, generated: generated)
        return (Double(result.loss) + Double(result.regularization), Double(result.regularization))
    }

    /// The largest relative difference between `analytic` (D's store's
    /// gradients) and central finite differences of D's step loss, over the
    /// ten largest gradients of the parameter `name`.
    static func largestRelativeDifference(
        _ step: TrainingStep, parameter name: String, delta: Float, analytic: [Float], real: Tensor, generated: Tensor
    ) throws -> Double {
        let store = step.discriminator.store
        let parameter = try #require(store.parameter(named: name))
        let indices = (parameter.offset..<(parameter.offset + parameter.count)).sorted { abs(analytic[$0]) > abs(analytic[$1]) }
        return indices.prefix(10).map { index in
            let saved = store.values[index]
            store.values[index] = saved + delta
            let up = Self.discriminatorLoss(step, real: real, generated: generated).total
            store.values[index] = saved - delta
            let down = Self.discriminatorLoss(step, real: real, generated: generated).total
            store.values[index] = saved
            let numeric = (up - down) / Double(2 * delta)
            return abs(numeric - Double(analytic[index])) / abs(numeric)
        }.max()!
    }

    @Test(
        "D's step gradients match finite differences of its loss, with each adversarial loss, DiffAugment, minibatch std, the penalty and the reconstruction, with BatchNorm or residual blocks",
        arguments: [(AdversarialLoss.nonSaturating, false), (.relativistic, false), (.relativistic, true)])
    func discriminatorStepMatchesFiniteDifferences(loss: AdversarialLoss, residual: Bool) throws {
        let discriminator = Discriminator(
            resolution: 32, minibatchStandardDeviation: true, reconstructionWeight: 0.5, residual: residual, seed: 13)
        let step = TrainingStep(generator: Generator(preset: .compact, seed: 14), discriminator: discriminator)
        step.loss = loss
        step.augmentation = DiffAugment(seed: 0)
        // Training's scale of 0.01 turns float32's rounding of the logits into
        // noise of some per cent in the loss's finite differences; the
        // gradients take the same path at any scale.
        step.penalty = GradientPenalty(weight: 1, scale: 0.1)
        let real = GradientPenaltyTests.discs(count: 4, side: 32)
        let generated = GradientPenaltyTests.discs(count: 4, side: 32, shift: 3)
        let (total, regularization) = Self.discriminatorLoss(step, real: real, generated: generated)
        let store = discriminator.store
        let analytic = Array(UnsafeBufferPointer(start: store.gradients, count: store.count))
        let regularizationShare = regularization / total
        // The ten largest gradients of the last layer, of the decoder's last
        // convolution and of D's first, whose finite differences cross the
        // kinks of LeakyReLUs and BatchNorms of four images: some per cent
        // from the derivative.
        var largest: [Double] = []
        // The loss is quadratic in the decoder's last weights: a long step is exact there, and clear of float32's rounding.
        let checks: [(name: String, delta: Float, tolerance: Double)] = [
            ("fc.weight", 1e-3, 3e-3), ("decoder.out.weight", 5e-2, 1e-3), ("blocks.0.conv.weight", 1e-3, 0.06),
        ]
        for (name, delta, tolerance) in checks {
            let difference = try Self.largestRelativeDifference(
                step, parameter: name, delta: delta, analytic: analytic, real: real, generated: generated)
            #expect(difference < tolerance, "\(name)")
            largest.append(difference)
        }
        print(
            "D step (\(loss.rawValue), residual \(residual)): penalty and reconstruction \(regularizationShare) of the loss, largest relative differences \(largest)"
        )
        #expect(regularizationShare > 0.01, "the penalty and the reconstruction are a visible part of the loss checked")
    }

    @Test(
        "ADA watches the signs of D's real logits, or with the relativistic loss those of real minus generated, which no shift of D's output moves"
    )
    func adaptiveAugmentationSigns() throws {
        let discriminator = Discriminator(resolution: 32, seed: 16)
        let step = TrainingStep(generator: Generator(preset: .compact, seed: 14), discriminator: discriminator)
        let real = GradientPenaltyTests.discs(count: 6, side: 32)
        let generated = GradientPenaltyTests.discs(count: 6, side: 32, shift: 4)
        // D calls every image generated: the relativistic loss cannot see such a shift, so its logits drift so in training.
        let bias = try #require(discriminator.store.parameter(named: "fc.bias"))
        discriminator.store.values[bias.offset] = -1000
        let realLogits = discriminator.forward(real, training: true).values
        let generatedLogits = discriminator.forward(generated, training: true).values
        let pairSigns = zip(realLogits, generatedLogits).map { $0 > $1 ? Float(1) : ($0 < $1 ? -1 : 0) }.reduce(0, +)
        #expect(realLogits.allSatisfy { $0 < 0 })
        #expect(step.accumulateDiscriminatorGradients(real: real, generated: generated).signSum == -6)
        step.loss = .relativistic
        #expect(step.accumulateDiscriminatorGradients(real: real, generated: generated).signSum == pairSigns)
        print("pair signs: \(pairSigns)")
        #expect(pairSigns > -6, "the pairs' signs differ from the real logits' here")
    }

    @Test("with the reconstruction, D learns to rebuild a fixed real batch while it learns to tell it from generated images")
    func reconstructionFalls() {
        let discriminator = Discriminator(resolution: 32, reconstructionWeight: 1, seed: 15)
        let step = TrainingStep(generator: Generator(preset: .compact, seed: 14), discriminator: discriminator)
        let real = GradientPenaltyTests.discs(count: 8, side: 32)
        let generated = GradientPenaltyTests.discs(count: 8, side: 32, shift: 5)
        let losses = (0..<30).map { _ in
            discriminator.store.zeroGradients()
            let result = step.accumulateDiscriminatorGradients(real: real, generated: generated)
            step.discriminatorOptimizer.update()
            return result.regularization
        }
        print("reconstruction loss over 30 steps: \(losses)")
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(losses.last! < 0.5 * losses.first!, "the decoder learns to rebuild the discs")
    }
}
