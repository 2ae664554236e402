import Engine

/// One GAN training step exactly as the architecture page defines it:
///
/// - D step: the real batch labelled 1 and a generated batch (no gradient
///   into G) labelled 0 through D, the two mean BCE losses summed, Adam on D;
/// - G step: the same generated batch through D again, labelled 1 (the
///   non-saturating loss), gradients through D into G only, Adam on G.
///
/// With `augmentation`, every batch D sees (real and generated, in both
/// steps) is augmented with fresh parameters, and G's gradient flows back
/// through the augmentation; with `adaptive` too, each image gets each
/// transform with ADA's probability p, which follows D's outputs on real
/// images. With `lecam`, D's loss has LeCam's term. With `average`, the
/// moving average of G's weights follows each G step. With `loss`
/// `.relativistic`, both steps use the relativistic pairing loss instead
/// (`RelativisticPairingLoss`): D's pairs each real image with the generated
/// image of the same place in the batch; G's pairs each generated image with
/// D's score, after D's update, of the real image of that place. With
/// `penalty`, D's loss has the first-order R1 and R2 stand-in
/// (`GradientPenalty`) on the real and the generated batch it sees.
public final class TrainingStep {
    public let generator: Generator
    public let discriminator: any DiscriminatorNetwork
    public let generatorOptimizer: Adam
    public let discriminatorOptimizer: Adam
    public var augmentation: DiffAugment?
    public var adaptive: AdaptiveAugmentation?
    public var average: GeneratorAverage?
    public var lecam: LeCamRegularizer?
    public var loss = AdversarialLoss.nonSaturating
    /// The first-order R1 and R2 stand-in in D's loss (`GradientPenalty`); nil: none.
    public var penalty: GradientPenalty?
    /// The generator samples come from: the average when there is one, its
    /// BatchNorm statistics estimated for its current weights (a few forward
    /// passes after each step).
    public var servedGenerator: Generator { average?.calibrated() ?? generator }
    private var logitGradient: Tensor?

    /// Both networks get Adam with these settings (defaults: the architecture page's).
    public init(
        generator: Generator, discriminator: any DiscriminatorNetwork, learningRate: Float = 2e-4, beta1: Float = 0.5,
        beta2: Float = 0.999, epsilon: Float = 1e-8
    ) {
        self.generator = generator
        self.discriminator = discriminator
        generatorOptimizer = Adam(store: generator.store, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon)
        discriminatorOptimizer = Adam(
            store: discriminator.store, learningRate: learningRate, beta1: beta1, beta2: beta2,
            epsilon: epsilon)
    }

    /// Runs one step on `real` [N, channels, R, R] in [-1, 1] and `latents`
    /// [N, latent_dim]; returns D's loss (real + generated), G's loss, and
    /// what ADA watches.
    @discardableResult
    public func run(real: Tensor, latents: Tensor) -> StepResult {
        if let adaptive { augmentation?.probability = adaptive.probability }
        let probability = augmentation?.probability ?? 0
        let generated = generator.forward(latents, training: true)

        discriminator.store.zeroGradients()
        let discriminatorStep = accumulateDiscriminatorGradients(real: real, generated: generated)
        discriminatorOptimizer.update()

        generator.store.zeroGradients()
        let generatorLoss: Float
        let imageGradient: Tensor
        switch loss {
        case .nonSaturating:
            generatorLoss = BinaryCrossEntropy.withLogits(
                discriminator.forward(seenByDiscriminator(generated), training: true), target: 1, gradient: &logitGradient)
            imageGradient = discriminator.backward(logitGradient!, parameterGradients: false)
        case .relativistic:
            // D's score of each real image after its update; the generated pass comes last, so its caches serve the backward.
            let realLogits = Self.kept(discriminator.forward(seenByDiscriminator(real), training: true))
            let pairs = RelativisticPairingLoss.loss(
                winner: discriminator.forward(seenByDiscriminator(generated), training: true), loser: realLogits)
            generatorLoss = pairs.loss
            imageGradient = discriminator.backward(pairs.winnerGradient, parameterGradients: false)
        }
        generator.backward(augmentation?.backward(imageGradient) ?? imageGradient)
        generatorOptimizer.update()
        let batchSize = latents.shape[0]
        average?.update(from: generator, batchSize: batchSize, imagesBefore: (generatorOptimizer.step - 1) * batchSize)
        adaptive?.adjust(step: generatorOptimizer.step, batchSize: batchSize)
        return StepResult(
            discriminatorLoss: discriminatorStep.loss, generatorLoss: generatorLoss,
            realSign: discriminatorStep.signSum / Float(latents.shape[0]), augmentationProbability: probability)
    }

    /// The images D sees: augmented (fresh parameters each call) when training
    /// augments. The augmentation's next call reuses the result's storage.
    private func seenByDiscriminator(_ images: Tensor) -> Tensor { augmentation?.forward(images) ?? images }

    /// Adds D's parameter gradients of its step on `real` and `generated`
    /// (the adversarial loss, LeCam's term, the gradient penalty and D's
    /// reconstruction) into its store, and lets ADA observe the real logits
    /// (with the relativistic loss, their differences from the generated).
    /// Returns D's adversarial loss, the penalty and reconstruction losses (0
    /// without them) and the sum of the signs ADA observed.
    ///
    /// Each backward pass needs D's caches of its own forward pass, and D
    /// keeps those of its last pass only; so a batch whose gradient waits for
    /// a later pass (the relativistic loss pairs real with generated logits;
    /// the penalty compares each batch with its perturbed copy) goes through
    /// D again before its backward.
    func accumulateDiscriminatorGradients(real: Tensor, generated: Tensor) -> (
        loss: Float, regularization: Float, signSum: Float
    ) {
        // A copy: the generated batch's augmentation reuses the storage.
        let seenReal = Self.kept(seenByDiscriminator(real))
        let realLogits = Self.kept(discriminator.forward(seenReal, training: true))
        let signSum: Float
        let adversarialLoss: Float
        var regularization: Float = 0
        if loss == .nonSaturating {
            signSum = observe(realLogits)
            let realLoss = BinaryCrossEntropy.withLogits(realLogits, target: 1, gradient: &logitGradient)
            let realGradient = logitGradient!
            lecam?.addTerm(logits: realLogits, real: true, into: realGradient)
            regularization += penalize(seenReal, logits: realLogits, into: realGradient)
            regularization += discriminator.accumulateRealParameterGradients(realGradient, images: seenReal)
            let seenGenerated = seenByDiscriminator(generated)
            let generatedLogits = Self.kept(discriminator.forward(seenGenerated, training: true))
            let generatedLoss = BinaryCrossEntropy.withLogits(generatedLogits, target: 0, gradient: &logitGradient)
            let generatedGradient = logitGradient!
            lecam?.addTerm(logits: generatedLogits, real: false, into: generatedGradient)
            lecam?.update(realMean: Self.mean(realLogits), generatedMean: Self.mean(generatedLogits))
            regularization += penalize(seenGenerated, logits: generatedLogits, into: generatedGradient)
            discriminator.accumulateParameterGradients(generatedGradient)
            adversarialLoss = realLoss + generatedLoss
        } else {
            let seenGenerated = seenByDiscriminator(generated)
            let generatedLogits = Self.kept(discriminator.forward(seenGenerated, training: true))
            signSum = observe(realLogits, minus: generatedLogits)
            let pairs = RelativisticPairingLoss.loss(winner: realLogits, loser: generatedLogits)
            lecam?.addTerm(logits: realLogits, real: true, into: pairs.winnerGradient)
            lecam?.addTerm(logits: generatedLogits, real: false, into: pairs.loserGradient)
            lecam?.update(realMean: Self.mean(realLogits), generatedMean: Self.mean(generatedLogits))
            regularization += penalize(seenGenerated, logits: generatedLogits, into: pairs.loserGradient)
            discriminator.accumulateParameterGradients(pairs.loserGradient)
            regularization += penalize(seenReal, logits: realLogits, into: pairs.winnerGradient, restoringCaches: false)
            _ = discriminator.forward(seenReal, training: true)
            regularization += discriminator.accumulateRealParameterGradients(pairs.winnerGradient, images: seenReal)
            adversarialLoss = pairs.loss
        }
        return (adversarialLoss, regularization, signSum)
    }

    /// With a gradient penalty, adds its parameter gradients over a perturbed
    /// copy of `seen` (whose logits are `logits`) into D's store and its
    /// gradient with respect to `logits` into `gradient`, then, when
    /// `restoringCaches`, passes `seen` through D again so that its caches
    /// are the clean pass's. Returns the penalty; without one, does nothing.
    private func penalize(_ seen: Tensor, logits: Tensor, into gradient: Tensor, restoringCaches: Bool = true) -> Float {
        guard let penalty else { return 0 }
        let (value, cleanGradient) = penalty.accumulatePerturbedPass(of: seen, clean: logits, through: discriminator)
        for index in 0..<gradient.count { gradient.data[index] += cleanGradient.data[index] }
        if restoringCaches { _ = discriminator.forward(seen, training: true) }
        return value
    }

    private static func mean(_ logits: Tensor) -> Float { logits.values.reduce(0, +) / Float(logits.count) }

    /// A copy of `logits` (or of images), whose storage the next pass reuses.
    private static func kept(_ logits: Tensor) -> Tensor { Tensor(shape: logits.shape, values: logits.values) }

    /// ADA watches the signs of D's logits on real images, less those on
    /// generated ones pair by pair when given; returns their sum.
    private func observe(_ realLogits: Tensor, minus generatedLogits: Tensor? = nil) -> Float {
        let signSum = AdaptiveAugmentation.signSum(realLogits, minus: generatedLogits)
        adaptive?.observe(signSum: signSum, count: realLogits.count)
        return signSum
    }
}

/// What one training step gives.
public struct StepResult: Sendable {
    /// D's loss (real + generated) and G's.
    public var discriminatorLoss: Float
    public var generatorLoss: Float
    /// The mean sign of D's logits on the step's real images (with the
    /// relativistic loss, of real minus generated logits pair by pair): ADA's
    /// overfitting heuristic r_t on one batch (1: D calls them all real, or
    /// ranks every real image above its partner).
    public var realSign: Float
    /// The chance an image had of each transform: 1 for DiffAugment's
    /// fixed policy, 0 without augmentation, ADA's p with it.
    public var augmentationProbability: Float
}
