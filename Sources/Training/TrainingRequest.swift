import Catalog
import Frames
import GAN
import Imaging
import ModelStore

/// A new model: what it trains on and how.
public struct TrainingRequest: Sendable {
    public var modality: String
    /// Patient, study and series filters (the modality and synthetic fields are ignored).
    public var filter = QueryFilter()
    public var includeSynthetic = false
    /// Empty: `<modality>-<preset>-<id>`.
    public var name = ""
    public var preset: GeneratorPreset = .compact
    /// How the generator's levels upsample; nil: the preset's own
    /// (`generatorUpsampling`).
    public var upsampling: Upsampling?
    /// The generator's levels get StyleGAN's per-pixel noise inputs.
    public var noiseInputs = false
    public var discriminator: DiscriminatorChoice = .dcgan
    public var batchSize = 32
    public var learningRate = 2e-4
    public var seed: UInt64 = 1
    /// The seed of the validation split alone; nil: `seed`. Runs that differ
    /// only in `seed` then hold out the same frames, so their figures compare.
    public var splitSeed: UInt64?
    public var augmentation = Self.defaultAugmentation
    /// The transforms the augmentation applies; nil: all three.
    public var augmentationTransforms: [AugmentationTransform]?
    /// How ADA's probability moves, used when `augmentation` is `ada`.
    public var adaptiveAugmentation = Self.defaultAdaptiveAugmentation
    public var threads = 2
    public var gridEveryEpochs = 10
    public var checkpointEverySteps = 250
    public var validationFraction = 0.1
    public var splitBy: SplitGrouping = .series
    /// Which part of each frame to train on, and what to do with burned-in
    /// annotations inside it (docs/training.md, "Frame preparation").
    public var region: RegionChoice = .auto
    public var annotations: AnnotationHandling = .mask
    /// The half-life in images of the generator's weight average, which
    /// then makes the samples (`GeneratorAverage`); nil: no average.
    public var emaHalfLifeImages: Int? = 10_000
    /// The weight of LeCam's regularisation in D's loss; nil: none.
    public var lecamWeight: Double? = 0.01
    /// The adversarial loss of both networks (`train` gives the transfer and
    /// projected discriminators the non-saturating loss unless asked: `TrainingOptions`).
    public var adversarialLoss = AdversarialLoss.relativistic
    /// gamma of the first-order R1 and R2 stand-in in D's loss; nil: none
    /// (and with `train`'s transfer and projected discriminators unless asked).
    public var gradientPenalty: Double? = 0.1
    /// The weight of the dcgan discriminator's reconstruction of the real images; nil: none.
    public var reconstructionWeight: Double?
    /// The `dcgan` discriminator gets the minibatch standard deviation layer
    /// (the `transfer` and `projected` ones have none: their features are the backbone's).
    public var minibatchStandardDeviation = true
    /// Stop before the generator copies training frames; nil: no check.
    public var copyCheck: CopyCheckSettings? = .standard
    /// Draw each frame with its labels (docs/training.md, "Frames with their labels"); nil: frames alone.
    public var labels: LabelRequest?

    /// The defaults above are the options that the measurements of
    /// docs/training.md ("Limited-data options, measured") and
    /// docs/experiments/stronger-generator.md ("The default") chose: the
    /// relativistic loss with the gradient penalty at 0.1 and ADA's target at
    /// the paper's 0.6 beat the non-saturating loss at target 0.2 from three
    /// seeds. ADA's ramp is shorter than the paper's 500,000 images, which suit
    /// millions of images, not a few hundred.
    public static let defaultAdaptiveAugmentation = AdaptiveAugmentationSettings(target: 0.6, rampImages: 5_000)
    public static let defaultAugmentation = Augmentation.adaptive

    public init(modality: String) { self.modality = modality }

    /// `upsampling`, or the preset's: `compact` gets Odena et al.'s
    /// resize-convolution (measured), `paper` keeps the paper's layer table.
    public var generatorUpsampling: Upsampling { upsampling ?? (preset == .paper ? .transposed : .nearest) }
}

/// Which labels a model draws with its frames: keypoint heatmaps or a mask
/// of one catalog label set (`train --labels`, `--label-set`, `--heatmap-sigma`).
public struct LabelRequest: Sendable, Equatable {
    public var kind: LabelChannels.Kind
    /// nil: the only label set of the frames.
    public var labelSet: String?
    /// The heatmaps' Gaussian width in pixels of the training image.
    public var sigma: Double

    public static let defaultSigma = 1.5

    public init(kind: LabelChannels.Kind, labelSet: String? = nil, sigma: Double = defaultSigma) {
        self.kind = kind
        self.labelSet = labelSet
        self.sigma = sigma
    }
}

/// The discriminator a new model trains with.
public enum DiscriminatorChoice: Sendable, Equatable {
    case dcgan
    /// The paper's: `backbone` frozen with the weights of a Keras file (`*_notop.h5`, or Keras 3's), a Linear head trained.
    case transfer(BackboneKind, weights: String)
    /// Projected GAN's: a frozen MobileNetV2 (from a weight file, or random
    /// and calibrated on the training frames when nil) with trainable heads
    /// at three scales (`ProjectedDiscriminator`).
    case projected(weights: String?)

    public var kind: DiscriminatorKind {
        switch self {
        case .dcgan: .dcgan
        case .transfer: .transfer
        case .projected: .projected
        }
    }
}

/// What `train --resume` may change: settings that do not define the model.
public struct ResumeOptions: Sendable {
    /// Engine threads instead of the recorded count (the continuation then
    /// differs in the last bits from a single run).
    public var threads: Int?
    /// The transfer backbone's weight file at a new path; it must have the recorded SHA-256.
    public var backboneWeights: String?
    public var gridEveryEpochs: Int?
    public var checkpointEverySteps: Int?
    /// A new copy check period (0: no check) and limit; a model without a
    /// check gets the standard one with the change.
    public var copyCheckEverySteps: Int?
    public var copyLimitPercent: Double?

    public init(
        threads: Int? = nil, backboneWeights: String? = nil, gridEveryEpochs: Int? = nil, checkpointEverySteps: Int? = nil,
        copyCheckEverySteps: Int? = nil, copyLimitPercent: Double? = nil
    ) {
        self.threads = threads
        self.backboneWeights = backboneWeights
        self.gridEveryEpochs = gridEveryEpochs
        self.checkpointEverySteps = checkpointEverySteps
        self.copyCheckEverySteps = copyCheckEverySteps
        self.copyLimitPercent = copyLimitPercent
    }
}

/// How much to train in one run.
public enum TrainingLength: Sendable, Equatable {
    case steps(Int)
    case epochs(Int)
    /// Up to the step the model's last run planned to reach (a stopped run's remainder).
    case plannedRemainder
}

/// What a running training reports after each step.
public struct TrainingProgress: Sendable {
    /// Steps of the model in all runs, and of this run.
    public var step: Int
    public var runStep: Int
    public var runSteps: Int
    public var epoch: Int
    public var discriminatorLoss: Float
    public var generatorLoss: Float
    /// ADA's p in the step (1 for DiffAugment's fixed policy, 0 without augmentation).
    public var augmentationProbability: Float
    /// Images per second: of the first step alone after it, then from the end of the first step.
    public var imagesPerSecond: Double
    /// The run's latest copy check, nil before the first.
    public var copyCheck: CopyCheckResult?
}

/// One copy check of a run: of `frames` generated frames, `copies` copy a training frame.
public struct CopyCheckResult: Codable, Equatable, Sendable {
    public var step: Int
    public var copies: Int
    public var frames: Int
}

/// How a run ended.
public enum TrainingOutcome: String, Codable, Sendable, Equatable {
    case finished
    /// Stopped on request after writing a checkpoint; `--resume` continues.
    case stopped
    /// A copy check found more copies than its limit: the model stays at the
    /// last checkpoint, whose check was within it.
    case copyLimit = "copy_limit"
}
