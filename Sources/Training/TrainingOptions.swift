import Catalog
import Frames
import GAN
import Imaging
import ModelStore

/// What a user asks of `medsynth train`, as given: a new model, or `resume`
/// of one, how long to train, and the evaluation at the end. Unset values
/// take `TrainingRequest`'s defaults. `validate()` refuses what cannot be
/// trained, with messages that name the command's options.
public struct TrainingOptions: Sendable {
    public var modality: String?
    /// The model to continue (id or name).
    public var resume: String?
    public var preset: GeneratorPreset?
    public var upsampling: Upsampling?
    public var noiseInputs = false
    public var discriminator: DiscriminatorKind?
    public var backbone: BackboneKind?
    /// An absolute path.
    public var backboneWeights: String?
    public var epochs: Int?
    public var steps: Int?
    public var batch: Int?
    public var learningRate: Double?
    public var seed: UInt64?
    public var splitSeed: UInt64?
    public var augment: Augmentation?
    public var augmentTransforms: [AugmentationTransform]?
    public var adaTarget: Double?
    public var adaRamp: Int?
    /// 0: no weight average.
    public var emaHalfLife: Int?
    /// 0: no LeCam regularisation.
    public var lecam: Double?
    public var loss: AdversarialLoss?
    /// 0: no gradient penalty.
    public var gradientPenalty: Double?
    /// 0: no reconstruction.
    public var reconstruction: Double?
    public var minibatchStd: Bool?
    public var filter = QueryFilter()
    public var includeSynthetic = false
    public var name: String?
    public var validationFraction: Double?
    public var splitBy: SplitGrouping?
    public var gridEvery: Int?
    public var checkpointEvery: Int?
    /// 0: no copy check.
    public var copyCheckEvery: Int?
    public var copyLimit: Double?
    /// Nil: one per core.
    public var threads: Int?
    public var evaluate = true
    public var evaluateCount: Int?
    public var region: RegionChoice?
    public var annotations: AnnotationHandling?
    public var labels: LabelChannels.Kind?
    public var labelSet: String?
    public var heatmapSigma: Double?

    public init() {}

    /// The frames the evaluation at the end generates.
    public var framesToEvaluate: Int { evaluateCount ?? 256 }

    /// Refuses options that cannot go together or are out of range, and on
    /// `resume` those that define the model (they are refused, not dropped).
    public func validate() throws(TrainingOptionsError) {
        try validateRun()
        if resume != nil { return try validateResume() }
        guard let modality, !modality.isEmpty else { throw .init("Give --modality (for example US), or --resume MODEL.") }
        if let batch, batch < 2 { throw .init("--batch must be at least 2 (BatchNorm needs two images).") }
        if let learningRate, !(learningRate > 0 && learningRate < 1) { throw .init("--lr must be between 0 and 1.") }
        if (augment ?? TrainingRequest.defaultAugmentation) != .adaptive, adaTarget != nil || adaRamp != nil {
            throw .init("--ada-target and --ada-ramp go with --augment ada.")
        }
        if augment == .off, augmentTransforms != nil { throw .init("--augment-transforms goes without --augment none.") }
        if augmentTransforms?.isEmpty == true { throw .init("--augment-transforms needs at least one of color, translation, cutout.") }
        if let adaTarget, !(adaTarget > -1 && adaTarget < 1) { throw .init("--ada-target must be between -1 and 1.") }
        if let adaRamp, adaRamp < 1 { throw .init("--ada-ramp must be at least 1 image.") }
        if let emaHalfLife, emaHalfLife < 0 { throw .init("--ema-half-life must be 0 (no average) or more images.") }
        if let lecam, !(0...10).contains(lecam) { throw .init("--lecam must be between 0 (none) and 10.") }
        if let gradientPenalty, !(0...100).contains(gradientPenalty) {
            throw .init("--gradient-penalty must be between 0 (none) and 100.")
        }
        if let reconstruction, !(0...100).contains(reconstruction) {
            throw .init("--reconstruction must be between 0 (none) and 100.")
        }
        if let validationFraction, !(0..<0.9).contains(validationFraction) {
            throw .init("--validation-fraction must be in [0, 0.9).")
        }
        try validateDiscriminator()
        try validateLabels()
        if let name, name.isEmpty || Int(name) != nil {
            throw .init("--name must be non-empty and not a number (numbers are model ids).")
        }
    }

    /// The checks of a new run and a resumed one alike: its length, threads, files and evaluation.
    private func validateRun() throws(TrainingOptionsError) {
        if epochs != nil && steps != nil { throw .init("Give --epochs or --steps, not both.") }
        if let epochs, epochs < 1 { throw .init("--epochs must be at least 1.") }
        if let steps, steps < 1 { throw .init("--steps must be at least 1.") }
        if let threads, threads < 1 { throw .init("--threads must be at least 1.") }
        if let gridEvery, gridEvery < 1 { throw .init("--grid-every must be at least 1.") }
        if let checkpointEvery, checkpointEvery < 1 { throw .init("--checkpoint-every must be at least 1.") }
        if let copyCheckEvery, copyCheckEvery < 0 { throw .init("--copy-check-every must be 0 (never) or more steps.") }
        if let copyLimit, !(0...100).contains(copyLimit) { throw .init("--copy-limit must be between 0 and 100 (percent).") }
        if copyLimit != nil, copyCheckEvery == 0 { throw .init("--copy-limit goes without --copy-check-every 0.") }
        if let evaluateCount, !(8...20_000).contains(evaluateCount) {
            throw .init("--evaluate-count must be between 8 and 20000.")
        }
        if evaluateCount != nil, !evaluate { throw .init("--evaluate-count goes without --no-evaluate.") }
    }

    private func validateDiscriminator() throws(TrainingOptionsError) {
        if discriminator == .transfer, backbone == nil || backboneWeights == nil {
            throw .init("--discriminator transfer needs --backbone xception|mobilenetv2 and --backbone-weights FILE.")
        }
        if let discriminator, discriminator != .dcgan, minibatchStd == true {
            throw .init("--minibatch-std goes with the dcgan discriminator, not \(discriminator.rawValue).")
        }
        if let discriminator, discriminator != .dcgan, let reconstruction, reconstruction > 0 {
            throw .init("--reconstruction goes with the dcgan discriminator, not \(discriminator.rawValue).")
        }
        if discriminator == .projected, let backbone, backbone != .mobilenetv2 {
            throw .init("--discriminator projected takes MobileNetV2 (--backbone mobilenetv2, or no --backbone), not \(backbone.rawValue).")
        }
        if discriminator != .transfer, discriminator != .projected, backbone != nil || backboneWeights != nil {
            throw .init("--backbone and --backbone-weights go with --discriminator transfer or projected.")
        }
    }

    private func validateLabels() throws(TrainingOptionsError) {
        if labels == nil, labelSet != nil || heatmapSigma != nil { throw .init("--label-set and --heatmap-sigma go with --labels.") }
        if labels == .masks, heatmapSigma != nil { throw .init("--heatmap-sigma goes with --labels keypoints.") }
        if let heatmapSigma, !(0.5...16).contains(heatmapSigma) { throw .init("--heatmap-sigma must be between 0.5 and 16 pixels.") }
        // The transfer and projected discriminators see the frame through a backbone made for one image, not its labels.
        if labels != nil, let discriminator, discriminator != .dcgan {
            throw .init("--labels goes with the dcgan discriminator, not \(discriminator.rawValue).")
        }
    }

    /// --resume continues a model as it was created: what defines it is refused, not dropped.
    private func validateResume() throws(TrainingOptionsError) {
        let fixed: [(String, Bool)] = [
            ("--modality", modality != nil), ("--name", name != nil), ("--patient", filter.patient != nil),
            ("--study", filter.study != nil), ("--series", filter.series != nil), ("--include-synthetic", includeSynthetic),
            ("--preset", preset != nil), ("--upsampling", upsampling != nil), ("--noise-inputs", noiseInputs),
            ("--discriminator", discriminator != nil), ("--backbone", backbone != nil), ("--batch", batch != nil),
            ("--lr", learningRate != nil), ("--seed", seed != nil), ("--augment", augment != nil),
            ("--augment-transforms", augmentTransforms != nil), ("--ada-target", adaTarget != nil),
            ("--ada-ramp", adaRamp != nil), ("--ema-half-life", emaHalfLife != nil),
            ("--lecam", lecam != nil), ("--loss", loss != nil),
            ("--gradient-penalty", gradientPenalty != nil),
            ("--reconstruction", reconstruction != nil), ("--[no-]minibatch-std", minibatchStd != nil),
            ("--validation-fraction", validationFraction != nil), ("--split-by", splitBy != nil),
            ("--split-seed", splitSeed != nil), ("--region", region != nil), ("--annotations", annotations != nil),
            ("--labels", labels != nil), ("--label-set", labelSet != nil), ("--heatmap-sigma", heatmapSigma != nil),
        ]
        let given = fixed.filter(\.1).map(\.0)
        if !given.isEmpty {
            throw .init(
                "--resume continues a model as it was created; drop \(given.joined(separator: ", ")) "
                    + "(train a new model to change them).")
        }
    }

    /// How much this run trains: --steps, else --epochs, else what the
    /// resumed model's last run planned, else 100 epochs.
    public var length: TrainingLength {
        if let steps { return .steps(steps) }
        if let epochs { return .epochs(epochs) }
        return resume != nil ? .plannedRemainder : .epochs(100)
    }

    /// What `resume` may change.
    public var resumeOptions: ResumeOptions {
        ResumeOptions(
            threads: threads, backboneWeights: backboneWeights, gridEveryEpochs: gridEvery, checkpointEverySteps: checkpointEvery,
            copyCheckEverySteps: copyCheckEvery, copyLimitPercent: copyLimit)
    }

    /// The new model these options describe (after `validate()`), with the defaults `TrainingRequest` names.
    public func request(processors: Int) -> TrainingRequest {
        var request = TrainingRequest(modality: modality ?? "")
        request.filter = filter
        request.includeSynthetic = includeSynthetic
        request.name = name ?? ""
        request.preset = preset ?? request.preset
        request.upsampling = upsampling
        request.noiseInputs = noiseInputs
        if discriminator == .transfer, let backbone, let backboneWeights {
            request.discriminator = .transfer(backbone, weights: backboneWeights)
        }
        if discriminator == .projected { request.discriminator = .projected(weights: backboneWeights) }
        request.batchSize = batch ?? request.batchSize
        request.learningRate = learningRate ?? request.learningRate
        request.seed = seed ?? request.seed
        request.splitSeed = splitSeed
        request.augmentation = augment ?? request.augmentation
        // In DiffAugment's order, and nil for all three: what model.json records.
        request.augmentationTransforms = augmentTransforms.map { given in AugmentationTransform.allCases.filter(given.contains) }
            .flatMap { $0.count == AugmentationTransform.allCases.count ? nil : $0 }
        request.adaptiveAugmentation.target = adaTarget ?? request.adaptiveAugmentation.target
        request.adaptiveAugmentation.rampImages = adaRamp ?? request.adaptiveAugmentation.rampImages
        // 0 is how the options say "none".
        request.emaHalfLifeImages = emaHalfLife.map { $0 == 0 ? nil : $0 } ?? request.emaHalfLifeImages
        request.lecamWeight = lecam.map { $0 == 0 ? nil : $0 } ?? request.lecamWeight
        // The relativistic loss and the penalty were measured as defaults with the dcgan discriminator; the
        // transfer (the paper's) and projected ones keep the paper's loss unless asked: the projected one
        // collapsed with them (docs/experiments/stronger-generator.md).
        let measuredDefaults = request.discriminator == .dcgan
        request.adversarialLoss = loss ?? (measuredDefaults ? request.adversarialLoss : .nonSaturating)
        request.gradientPenalty = gradientPenalty.map { $0 == 0 ? nil : $0 } ?? (measuredDefaults ? request.gradientPenalty : nil)
        request.reconstructionWeight = reconstruction.map { $0 == 0 ? nil : $0 } ?? request.reconstructionWeight
        request.minibatchStandardDeviation = minibatchStd ?? request.minibatchStandardDeviation
        request.threads = threads ?? processors
        request.gridEveryEpochs = gridEvery ?? request.gridEveryEpochs
        request.checkpointEverySteps = checkpointEvery ?? request.checkpointEverySteps
        request.copyCheck = CopyCheckSettings.adjusted(request.copyCheck, everySteps: copyCheckEvery, limitPercent: copyLimit)
        request.validationFraction = validationFraction ?? request.validationFraction
        request.splitBy = splitBy ?? request.splitBy
        request.region = region ?? request.region
        request.annotations = annotations ?? request.annotations
        request.labels = labels.map { LabelRequest(kind: $0, labelSet: labelSet, sigma: heatmapSigma ?? LabelRequest.defaultSigma) }
        return request
    }
}

/// Options of `medsynth train` that cannot be trained, with the reason.
public struct TrainingOptionsError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ description: String) { self.description = description }
}
