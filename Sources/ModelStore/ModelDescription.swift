import Engine
import Foundation
import Frames
import GAN
import Imaging

/// The discriminator a model trains with (architecture page): the DCGAN one,
/// trained from scratch; the paper's transfer discriminator, a frozen
/// ImageNet backbone with a trainable Linear head; or Projected GAN's, a
/// frozen MobileNetV2 with trainable heads at three scales (docs/transfer.md).
public enum DiscriminatorKind: String, Codable, CaseIterable, Sendable {
    case dcgan, transfer, projected
}

/// What every batch the discriminator sees goes through.
public enum Augmentation: String, Codable, CaseIterable, Sendable {
    /// DiffAugment: translation, cutout, brightness and contrast.
    case diffaugment
    /// DiffAugment's transforms, each applied with ADA's adaptive probability (`AdaptiveAugmentation`).
    case adaptive = "ada"
    case off = "none"
}

/// How ADA's probability moves (`AdaptiveAugmentation`).
public struct AdaptiveAugmentationSettings: Codable, Equatable, Sendable {
    /// The overfitting heuristic r_t it steers towards.
    public var target: Double
    /// Images over which p can go from 0 to 1.
    public var rampImages: Int

    public init(target: Double, rampImages: Int) {
        self.target = target
        self.rampImages = rampImages
    }

    enum CodingKeys: String, CodingKey {
        case target
        case rampImages = "ramp_images"
    }
}

/// `model.json` of a checkpoint folder: at least the four keys of the
/// architecture page. What `medsynth train` adds is `training`, written at
/// the same level of the file; unknown keys are ignored, so folders written
/// by other tools load.
public struct ModelDescription: Codable, Equatable, Sendable {
    public var preset: String
    public var latentDim: Int
    public var resolution: Int
    public var channels: Int
    /// How the generator upsamples; nil means the paper's transposed
    /// convolutions (folders written before the choice, or by other tools).
    public var upsampling: Upsampling?
    /// True when the generator's levels have noise inputs; nil means none
    /// (the paper's generator, folders written before the choice, other tools').
    public var noiseInputs: Bool?
    /// The discriminator kind when one is saved.
    public var discriminator: DiscriminatorKind?
    /// Optimiser steps taken (with optimiser state saved).
    public var step: Int?
    /// The model's name and modality: medsynth always states them, another
    /// tool's folder may.
    public var name: String?
    public var modality: String?
    /// What the channels after the image's are when the model draws each
    /// frame with its labels (`train --labels`); nil: the image alone.
    public var labels: LabelRecord?
    /// What `medsynth train` records; nil in a folder another tool wrote.
    public var training: TrainingRecord?

    public init(preset: GeneratorPreset, channels: Int = 1, discriminator: DiscriminatorKind? = nil, step: Int? = nil) {
        self.preset = preset.rawValue
        let configuration = preset.configuration(channels: channels)
        latentDim = configuration.latentDimension
        resolution = configuration.resolution
        self.channels = channels
        self.discriminator = discriminator
        self.step = step
    }

    enum CodingKeys: String, CodingKey {
        case preset, resolution, channels, upsampling, discriminator, step, name, modality, labels
        case latentDim = "latent_dim"
        case noiseInputs = "noise_inputs"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        preset = try container.decode(String.self, forKey: .preset)
        latentDim = try container.decode(Int.self, forKey: .latentDim)
        resolution = try container.decode(Int.self, forKey: .resolution)
        channels = try container.decode(Int.self, forKey: .channels)
        upsampling = try container.decodeIfPresent(Upsampling.self, forKey: .upsampling)
        noiseInputs = try container.decodeIfPresent(Bool.self, forKey: .noiseInputs)
        // Another tool's folder may name a discriminator medsynth does not know; only its generator is used.
        discriminator = (try? container.decodeIfPresent(DiscriminatorKind.self, forKey: .discriminator)) ?? nil
        step = try container.decodeIfPresent(Int.self, forKey: .step)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        modality = try container.decodeIfPresent(String.self, forKey: .modality)
        labels = try container.decodeIfPresent(LabelRecord.self, forKey: .labels)
        training = try TrainingRecord.isPresent(in: decoder) ? TrainingRecord(from: decoder) : nil
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(preset, forKey: .preset)
        try container.encode(latentDim, forKey: .latentDim)
        try container.encode(resolution, forKey: .resolution)
        try container.encode(channels, forKey: .channels)
        try container.encodeIfPresent(upsampling, forKey: .upsampling)
        try container.encodeIfPresent(noiseInputs, forKey: .noiseInputs)
        try container.encodeIfPresent(discriminator, forKey: .discriminator)
        try container.encodeIfPresent(step, forKey: .step)
        try container.encodeIfPresent(name, forKey: .name)
        try container.encodeIfPresent(modality, forKey: .modality)
        try container.encodeIfPresent(labels, forKey: .labels)
        // The training keys sit beside the architecture page's, as they always have.
        try training?.encode(to: encoder)
    }

    /// The generator this description names, checked for consistency.
    public func generatorConfiguration(source: String) throws -> GeneratorConfiguration {
        guard let known = GeneratorPreset(rawValue: preset) else {
            throw TensorFileError(
                "unknown preset \"\(preset)\" (known: \(GeneratorPreset.allCases.map(\.rawValue).joined(separator: ", ")))", path: source)
        }
        var configuration = known.configuration(channels: channels)
        configuration.upsampling = upsampling ?? .transposed
        configuration.noiseInputs = noiseInputs ?? false
        if let labels {
            guard channels == 1 + labels.channels.count, labels.kind == .masks || (labels.sigma ?? 0) > 0 else {
                throw TensorFileError(
                    "labels of \(labels.kind.rawValue) (\(labels.channels.count) channels, sigma \(labels.sigma.map { "\($0)" } ?? "none")) "
                        + "do not fit \(channels) channels: a labelled model has 1 + its label channels, and keypoints need a sigma above 0",
                    path: source)
            }
        }
        guard latentDim == configuration.latentDimension, resolution == configuration.resolution, channels >= 1 else {
            throw TensorFileError(
                "preset \(preset) has latent_dim \(configuration.latentDimension) and resolution \(configuration.resolution), "
                    + "the file says \(latentDim) and \(resolution) with \(channels) channels", path: source)
        }
        return configuration
    }
}

/// The labels a model draws with each frame (`model.json`'s `labels`): the
/// catalog label set they come from and go back to, with its keypoint names
/// (the heatmaps' order) and skeleton, and how they are drawn.
public struct LabelRecord: Codable, Equatable, Sendable {
    public var kind: LabelChannels.Kind
    public var labelSet: String
    public var keypoints: [String]
    /// COCO's pairs of keypoint numbers, from 1.
    public var skeleton: [[Int]]
    /// The heatmaps' Gaussian width in pixels of the training image; nil for masks.
    public var sigma: Double?

    public init(kind: LabelChannels.Kind, labelSet: String, keypoints: [String], skeleton: [[Int]], sigma: Double?) {
        self.kind = kind
        self.labelSet = labelSet
        self.keypoints = keypoints
        self.skeleton = skeleton
        self.sigma = kind == .keypoints ? sigma : nil
    }

    /// The channels after the image's.
    public var channels: LabelChannels { LabelChannels(kind: kind, keypointNames: keypoints, sigma: sigma ?? 0) }

    enum CodingKeys: String, CodingKey {
        case kind, keypoints, skeleton, sigma
        case labelSet = "label_set"
    }
}

/// The keys `medsynth train` writes into `model.json`, all present in every
/// folder it writes.
public struct TrainingRecord: Codable, Equatable, Sendable {
    /// Epochs completed: `step / steps_per_epoch`.
    public var epoch: Int
    /// The seed every random draw of the training derives from.
    public var seed: UInt64
    public var hyperparameters: Hyperparameters
    public var trainingSet: TrainingSetSummary
    /// The frozen backbone of a `transfer` discriminator.
    public var backbone: BackboneSummary?
    /// The step the latest run set out to reach, so that `train --resume`
    /// finishes a stopped run's plan; nil in folders written before it was recorded.
    public var plannedStep: Int?

    public init(
        epoch: Int, seed: UInt64, hyperparameters: Hyperparameters, trainingSet: TrainingSetSummary,
        backbone: BackboneSummary?
    ) {
        self.epoch = epoch
        self.seed = seed
        self.hyperparameters = hyperparameters
        self.trainingSet = trainingSet
        self.backbone = backbone
    }

    enum CodingKeys: String, CodingKey {
        case epoch, seed, hyperparameters, backbone
        case trainingSet = "training_set", plannedStep = "planned_step"
    }

    /// Whether a `model.json` holds a training record: `seed` marks one.
    static func isPresent(in decoder: any Decoder) throws -> Bool {
        try decoder.container(keyedBy: CodingKeys.self).contains(.seed)
    }
}

/// How a model is trained (architecture page: Adam with lr 2e-4, betas 0.5
/// and 0.999, eps 1e-8).
public struct Hyperparameters: Codable, Equatable, Sendable {
    public var batchSize: Int
    public var learningRate: Double
    /// Adam's settings, those of both networks.
    public var beta1 = 0.5
    public var beta2 = 0.999
    public var epsilon = 1e-8
    public var augment: Augmentation
    /// The transforms `augment` applies; nil: all three (and in models made before the choice).
    public var augmentTransforms: [AugmentationTransform]?
    /// ADA's settings when `augment` is `ada`.
    public var adaptiveAugmentation: AdaptiveAugmentationSettings?
    /// Engine threads; results are identical only for the same count.
    public var threads: Int
    public var stepsPerEpoch: Int
    /// A sample grid every this many epochs (and at the end of every run).
    public var gridEveryEpochs: Int
    public var checkpointEverySteps: Int
    /// The half-life in images of the generator's weight average
    /// (`GeneratorAverage`); nil when there is none (and in models made before it).
    public var emaHalfLifeImages: Int?
    /// The weight of LeCam's term in D's loss (`LeCamRegularizer`); nil when none.
    public var lecamWeight: Double?
    /// True when the `dcgan` discriminator has the minibatch standard
    /// deviation layer; nil in models without it.
    public var minibatchStandardDeviation: Bool?
    /// When training stops before the generator copies training frames
    /// (`CopyWatch`); nil: never (and in models made before it).
    public var copyCheck: CopyCheckSettings?
    /// The adversarial loss; nil: the paper's non-saturating loss (and in models made before the choice).
    public var adversarialLoss: AdversarialLoss?
    /// gamma of the first-order R1 and R2 stand-in in D's loss (`GradientPenalty`); nil: none.
    public var gradientPenalty: Double?
    /// The weight of the dcgan discriminator's reconstruction of the real
    /// images (FastGAN's self-supervision; `Discriminator`); nil: none.
    public var reconstructionWeight: Double?

    public init(
        batchSize: Int, learningRate: Double, augment: Augmentation, threads: Int, stepsPerEpoch: Int,
        gridEveryEpochs: Int, checkpointEverySteps: Int, adaptiveAugmentation: AdaptiveAugmentationSettings? = nil,
        emaHalfLifeImages: Int? = nil, lecamWeight: Double? = nil, minibatchStandardDeviation: Bool? = nil,
        copyCheck: CopyCheckSettings? = nil, adversarialLoss: AdversarialLoss? = nil,
        gradientPenalty: Double? = nil, reconstructionWeight: Double? = nil
    ) {
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.augment = augment
        self.adaptiveAugmentation = adaptiveAugmentation
        self.threads = threads
        self.stepsPerEpoch = stepsPerEpoch
        self.gridEveryEpochs = gridEveryEpochs
        self.checkpointEverySteps = checkpointEverySteps
        self.emaHalfLifeImages = emaHalfLifeImages
        self.lecamWeight = lecamWeight
        self.minibatchStandardDeviation = minibatchStandardDeviation
        self.copyCheck = copyCheck
        self.adversarialLoss = adversarialLoss
        self.gradientPenalty = gradientPenalty
        self.reconstructionWeight = reconstructionWeight
    }

    enum CodingKeys: String, CodingKey {
        case beta1, beta2, epsilon, augment, threads
        case batchSize = "batch_size", learningRate = "learning_rate", stepsPerEpoch = "steps_per_epoch"
        case gridEveryEpochs = "grid_every_epochs", checkpointEverySteps = "checkpoint_every_steps"
        case emaHalfLifeImages = "ema_half_life_images", lecamWeight = "lecam_weight"
        case minibatchStandardDeviation = "minibatch_std"
        case adaptiveAugmentation = "ada"
        case copyCheck = "copy_check"
        case adversarialLoss = "loss"
        case gradientPenalty = "gradient_penalty"
        case reconstructionWeight = "reconstruction_weight"
        case augmentTransforms = "augment_transforms"
    }
}

/// The copy check of training (docs/training.md, "Stopping before the
/// generator copies"): every `everySteps` steps the generator (its weight
/// average when there is one) makes `frames` frames from fixed latents, and
/// the export's copy test (`CopyDetector`) counts those that copy a training
/// frame. Within `limitPercent` the step is checkpointed; beyond it training
/// stops and the model stays at the last step within it. None of this
/// changes the steps themselves, so `train --resume` may change it.
public struct CopyCheckSettings: Codable, Equatable, Sendable {
    public var everySteps: Int
    /// The largest share of copies, in percent of `frames`, a kept step may have.
    public var limitPercent: Double
    public var frames: Int

    /// Measured on the sample US frames (docs/training.md): copies of a
    /// training set of two acquisitions rise from about 100 steps at batch 32.
    public static let standard = CopyCheckSettings(everySteps: 50, limitPercent: 1, frames: 256)

    public init(everySteps: Int, limitPercent: Double, frames: Int) {
        self.everySteps = everySteps
        self.limitPercent = limitPercent
        self.frames = frames
    }

    /// Whether `copies` of `frames` is within the limit.
    public func allows(copies: Int) -> Bool { Double(copies) <= limitPercent / 100 * Double(frames) }

    /// `current` with the period and the limit given (0 steps: no check);
    /// without a check, the standard one with them. Neither given: `current`.
    public static func adjusted(_ current: CopyCheckSettings?, everySteps: Int?, limitPercent: Double?) -> CopyCheckSettings? {
        guard everySteps != nil || limitPercent != nil else { return current }
        var check = current ?? .standard
        check.everySteps = everySteps ?? check.everySteps
        check.limitPercent = limitPercent ?? check.limitPercent
        return check.everySteps == 0 ? nil : check
    }

    enum CodingKeys: String, CodingKey {
        case frames
        case everySteps = "every_steps", limitPercent = "limit_percent"
    }
}

/// The backbone of a `transfer` or `projected` discriminator: which network,
/// and the weight file it was loaded from (needed again to resume) with its SHA-256.
public struct BackboneSummary: Codable, Equatable, Sendable {
    public var kind: BackboneKind
    /// The weight file's absolute path and SHA-256; nil for a projected
    /// discriminator's random backbone (from the seed, its BatchNorm
    /// statistics from the training frames).
    public var weights: String?
    public var weightsSha256: String?
    /// Parameters of the frozen backbone, as Keras counts them (with a projected discriminator's fixed mixings).
    public var frozenParameters: Int
    /// Parameters of the trainable head (or heads).
    public var trainableParameters: Int

    public init(kind: BackboneKind, weights: String?, weightsSha256: String?, frozenParameters: Int, trainableParameters: Int) {
        self.kind = kind
        self.weights = weights
        self.weightsSha256 = weightsSha256
        self.frozenParameters = frozenParameters
        self.trainableParameters = trainableParameters
    }

    enum CodingKeys: String, CodingKey {
        case kind, weights
        case weightsSha256 = "weights_sha256", frozenParameters = "frozen_parameters", trainableParameters = "trainable_parameters"
    }
}

/// What a model trained on, without naming any patient, study or instance
/// (the lineage is in the catalog's registry), so that a model folder can
/// be shared.
public struct TrainingSetSummary: Codable, Equatable, Sendable {
    /// SHA-256 over the preprocessing and the (SOP Instance UID, file SHA-256,
    /// role, and from preparation version 2 region source, rectangle and
    /// annotation pixels) of every instance, in UID order.
    public var digest: String
    public var preprocessing: String
    public var trainingFrames: Int
    public var trainingInstances: Int
    /// What the validation frames are held out by.
    public var validationGroupedBy: SplitGrouping
    public var validationGroups: Int
    public var validationFrames: Int
    public var validationInstances: Int
    /// The seed the validation split was drawn with when `train --split-seed`
    /// set it apart from the training's seed; nil: the training's seed.
    public var splitSeed: UInt64?
    /// The region and annotation choices and what they gave; absent in
    /// models made before frames were prepared (the whole frame).
    public var preparation: PreparationSummary?
    /// With labels, `FrameLabels.digest` of the labels the model trained
    /// with: checked on `--resume` only, so that `evaluate` and `synthesize`
    /// (which use the frames) do not depend on the catalog's annotations.
    public var labelsDigest: String?

    public init(
        digest: String, preprocessing: String, trainingFrames: Int, trainingInstances: Int, validationGroupedBy: SplitGrouping,
        validationGroups: Int, validationFrames: Int, validationInstances: Int, preparation: PreparationSummary? = nil
    ) {
        self.digest = digest
        self.preprocessing = preprocessing
        self.trainingFrames = trainingFrames
        self.trainingInstances = trainingInstances
        self.validationGroupedBy = validationGroupedBy
        self.validationGroups = validationGroups
        self.validationFrames = validationFrames
        self.validationInstances = validationInstances
        self.preparation = preparation
    }

    enum CodingKeys: String, CodingKey {
        case digest, preprocessing
        case trainingFrames = "training_frames", trainingInstances = "training_instances"
        case validationGroupedBy = "validation_grouped_by", validationGroups = "validation_groups"
        case validationFrames = "validation_frames", validationInstances = "validation_instances"
        case splitSeed = "split_seed"
        case preparation
        case labelsDigest = "labels_digest"
    }
}
