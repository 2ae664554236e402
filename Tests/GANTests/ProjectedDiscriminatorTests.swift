import Engine
import Testing

@testable import GAN

/// The projected discriminator on a random MobileNetV2 calibrated on the
/// test's images (as training does without a weight file).
@Suite("Projected discriminator")
struct ProjectedDiscriminatorTests {
    static func calibrated(seed: UInt64, images: Tensor) -> ProjectedDiscriminator {
        let discriminator = ProjectedDiscriminator(backbone: MobileNetV2(alpha: 0.35, seed: seed), resolution: 64, seed: seed + 1)
        discriminator.calibrate(on: images)
        return discriminator
    }

    /// The standard deviation of the last tap's features over a batch.
    static func lastTapSpread(_ discriminator: ProjectedDiscriminator, _ images: Tensor) -> Double {
        var x = discriminator.backbone.stages.front.forward(GrayscaleToRGB().forward(images), training: false)
        for block in discriminator.backbone.stages.blocks[...ProjectedDiscriminator.taps.last!] { x = block.forward(x) }
        let values = x.values.map(Double.init)
        let mean = values.reduce(0, +) / Double(values.count)
        return (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
    }

    @Test("calibration keeps a random backbone's features at unit scale, where its BatchNorms' initial statistics let them vanish")
    func calibrationKeepsTheFeatures() {
        let images = GradientPenaltyTests.discs(count: 8, side: 64)
        let raw = ProjectedDiscriminator(backbone: MobileNetV2(alpha: 0.35, seed: 3), resolution: 64, seed: 4)
        let calibrated = Self.calibrated(seed: 3, images: images)
        let (before, after) = (Self.lastTapSpread(raw, images), Self.lastTapSpread(calibrated, images))
        print("last tap's feature spread: \(before) uncalibrated, \(after) calibrated")
        #expect(before < 0.01)
        #expect((0.2...5).contains(after))
    }

    @Test(
        "the gradient with respect to the images matches finite differences of the logits, through each scale's head and tap alone, and all",
        arguments: [0, 1, 2, nil])
    func imageGradientMatchesFiniteDifferences(scale: Int?) throws {
        let images = GradientPenaltyTests.discs(count: 4, side: 64)
        let discriminator = Self.calibrated(seed: 5, images: images)
        // One scale alone: the other heads' last layers give nothing.
        for other in 0..<ProjectedDiscriminator.taps.count where scale != nil && other != scale {
            let weight = try #require(discriminator.store.parameter(named: "heads.\(other).fc.weight"))
            for index in weight.offset..<(weight.offset + weight.count) { discriminator.store.values[index] = 0 }
        }
        var random = EngineRandom(seed: 6)
        let weights = (0..<4).map { _ in random.uniform(-1, 1) }
        func objective(_ x: Tensor) -> Double {
            zip(discriminator.forward(x, training: true).values, weights).map { Double($0 * $1) }.reduce(0, +)
        }
        _ = objective(images)
        let gradient = discriminator.backward(Tensor(shape: [4, 1], values: weights), parameterGradients: false).values
        // Forty layers of ReLU6 make the logits kinked at a scale of 1e-3 of
        // a pixel: the steps are short, and float32's rounding then shows in
        // some of the ten. A tap left out of the backward is off by tens of per cent.
        let delta: Float = 3e-4
        let differences = gradient.indices.sorted { abs(gradient[$0]) > abs(gradient[$1]) }.prefix(10).map { index in
            var up = images.values, down = images.values
            up[index] += delta
            down[index] -= delta
            let numeric =
                (objective(Tensor(shape: images.shape, values: up)) - objective(Tensor(shape: images.shape, values: down)))
                / Double(2 * delta)
            return abs(numeric - Double(gradient[index])) / abs(numeric)
        }.sorted()
        print(
            "projected D, scale \(scale.map(String.init) ?? "all"): relative differences of the ten largest image gradients: \(differences)"
        )
        #expect(differences[5] < 0.02 && differences[9] < 0.08)
    }

    @Test(
        "D's step gradients of the heads match finite differences of its loss, with the relativistic loss, DiffAugment and the penalty",
        arguments: [AdversarialLoss.nonSaturating, .relativistic])
    func stepMatchesFiniteDifferences(loss: AdversarialLoss) throws {
        let real = GradientPenaltyTests.discs(count: 4, side: 64)
        let generated = GradientPenaltyTests.discs(count: 4, side: 64, shift: 5)
        let discriminator = Self.calibrated(seed: 7, images: real)
        let step = TrainingStep(generator: Generator(preset: .compact, seed: 8), discriminator: discriminator)
        step.loss = loss
        step.augmentation = DiffAugment(seed: 0)
        step.penalty = GradientPenalty(weight: 1, scale: 0.1)
        _ = DiscriminatorStepTests.discriminatorLoss(step, real: real, generated: generated)
        let store = discriminator.store
        let analytic = Array(UnsafeBufferPointer(start: store.gradients, count: store.count))
        for (name, tolerance) in [("heads.2.fc.weight", 3e-3), ("heads.1.0.conv.weight", 0.03), ("heads.0.0.conv.weight", 0.03)] {
            let difference = try DiscriminatorStepTests.largestRelativeDifference(
                step, parameter: name, delta: 1e-3, analytic: analytic, real: real, generated: generated)
            print("projected D step (\(loss.rawValue)), \(name): largest relative difference \(difference)")
            #expect(difference < tolerance, "\(name)")
        }
    }

    @Test("its parameters: the heads train, the backbone and the mixings stay")
    func parameterCounts() {
        let discriminator = ProjectedDiscriminator(backbone: MobileNetV2(alpha: 1, seed: 1), resolution: 64, seed: 2)
        #expect(discriminator.store.count == 1_193_859)
        #expect(discriminator.mixingParameterCount == 24 * 64 + 32 * 128 + 96 * 256)
    }
}
