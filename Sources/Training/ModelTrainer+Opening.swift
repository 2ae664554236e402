import Catalog
import Engine
import Foundation
import Frames
import GAN
import Imaging
import ModelStore

/// Making a new model and reopening one at its last checkpoint.
extension ModelTrainer {
    /// Builds the data set of `request`, registers the model with its
    /// lineage, and writes its first checkpoint (step 0).
    public static func create(
        _ request: TrainingRequest, catalog: Catalog, shouldStop: () -> Bool = { false },
        decodeProgress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws -> ModelTrainer {
        let modality = request.modality.uppercased()
        // The backbone first: a weight file that does not fit stops the run before anything is registered.
        let frozen = try FrozenBackbone(request.discriminator, seed: request.seed)
        var configuration = request.preset.configuration()
        configuration.upsampling = request.generatorUpsampling
        configuration.noiseInputs = request.noiseInputs
        let (dataset, labels) = try trainingFrames(
            of: request, modality: modality, resolution: configuration.resolution, catalog: catalog,
            progress: decodeProgress)
        // A stop asked for while the frames were decoded: nothing registered yet.
        guard !shouldStop() else { throw TrainingError.stoppedBeforeStart }
        configuration.channels = 1 + (labels?.channels.count ?? 0)
        let split = ValidationSplit.make(
            dataset, grouping: request.splitBy, fraction: request.validationFraction,
            random: SeedStreams.stream(.split, seed: request.splitSeed ?? request.seed))
        let frames = ModelFrames(dataset: dataset, split: split, labels: labels)
        guard !frames.trainingFrames.isEmpty else {
            throw TrainingError.noInstances(
                "the validation split holds out every labelled frame; lower --validation-fraction or draw another split (--split-seed)")
        }
        var summary = TrainingSetSummary(dataset: dataset, split: split, labels: labels)
        summary.splitSeed = request.splitSeed
        var hyperparameters = Hyperparameters(
            batchSize: request.batchSize, learningRate: request.learningRate, augment: request.augmentation,
            threads: request.threads, stepsPerEpoch: max(1, summary.trainingFrames / request.batchSize),
            gridEveryEpochs: request.gridEveryEpochs, checkpointEverySteps: request.checkpointEverySteps,
            adaptiveAugmentation: request.augmentation == .adaptive ? request.adaptiveAugmentation : nil,
            emaHalfLifeImages: request.emaHalfLifeImages, lecamWeight: request.lecamWeight,
            minibatchStandardDeviation: request.minibatchStandardDeviation && request.discriminator == .dcgan ? true : nil,
            copyCheck: request.copyCheck, adversarialLoss: request.adversarialLoss == .nonSaturating ? nil : request.adversarialLoss,
            gradientPenalty: request.gradientPenalty,
            reconstructionWeight: request.discriminator == .dcgan ? request.reconstructionWeight : nil)
        hyperparameters.augmentTransforms = request.augmentation == .off ? nil : request.augmentationTransforms
        let model = try register(
            request, modality: modality, resolution: configuration.resolution, summary: summary,
            backbone: frozen?.kind, frames: frames, catalog: catalog)
        var architecture = ModelDescription(
            preset: request.preset, channels: configuration.channels, discriminator: request.discriminator.kind, step: 0)
        architecture.labels = labels.map { labels in
            LabelRecord(
                kind: labels.channels.kind, labelSet: labels.labelSet.name, keypoints: labels.labelSet.keypoints,
                skeleton: labels.labelSet.skeletonPairs, sigma: labels.channels.sigma)
        }
        architecture.upsampling = request.generatorUpsampling
        architecture.noiseInputs = request.noiseInputs ? true : nil
        (architecture.name, architecture.modality) = (model.name, modality)
        var record = TrainingRecord(
            epoch: 0, seed: request.seed, hyperparameters: hyperparameters, trainingSet: summary, backbone: nil)
        EngineThreads.configure(request.threads)
        let training = makeTrainingStep(record, configuration: configuration, frozen: frozen, frames: frames)
        record.backbone = frozen?.summary(of: training.discriminator)
        let folder = catalog.folder(of: model)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let trainer = ModelTrainer(
            catalog: catalog, model: model, architecture: architecture, record: record, frames: frames,
            training: training, losses: [], lock: try ModelLock(folder: folder, model: model.name))
        trainer.warnings = dataset.failures + (labels?.failures ?? []) + creationWarnings(request, frames: frames)
        try trainer.writeTrainingFramesGrid()
        try trainer.saveCheckpoint(status: .training)
        return trainer
    }

    /// Reopens a model of the registry at its last checkpoint, with the
    /// changes `options` allows.
    public static func resume(
        _ idOrName: String, catalog: Catalog, options: ResumeOptions = ResumeOptions(),
        decodeProgress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws -> ModelTrainer {
        guard let model = try catalog.model(idOrName) else { throw ModelError.notFound(idOrName) }
        let folder = catalog.folder(of: model)
        let lock = try ModelLock(folder: folder, model: model.name)
        // A kill during the last checkpoint write left it to finish or to discard.
        try CheckpointFolder.recover(folder: folder)
        var architecture = try CheckpointFolder.readDescription(folder: folder)
        let modelFile = folder.appendingPathComponent(CheckpointFolder.modelFile).path
        guard var record = architecture.training else {
            throw ModelError.modelFiles("model.json lacks the training record medsynth writes", path: modelFile)
        }
        // Without its settings ADA could not be rebuilt, and the run would go on with DiffAugment's p of 1.
        if record.hyperparameters.augment == .adaptive && record.hyperparameters.adaptiveAugmentation == nil {
            throw ModelError.modelFiles("model.json trains with augment 'ada' but lacks its 'ada' settings", path: modelFile)
        }
        architecture.training = nil
        try check(options, on: architecture, model: model)
        let frames = try ModelFrames.load(
            model, description: architecture.with(record), catalog: catalog, withLabels: true, progress: decodeProgress)
        let warnings = apply(options, to: &record)
        EngineThreads.configure(record.hyperparameters.threads)
        let frozen = try architecture.discriminator.flatMap { kind in
            kind == .dcgan
                ? nil
                : try FrozenBackbone.reload(
                    for: kind, &record.backbone, from: options.backboneWeights, seed: record.seed, modelFile: modelFile)
        }
        let training = makeTrainingStep(
            record, configuration: try architecture.generatorConfiguration(source: modelFile), frozen: frozen, frames: frames)
        try CheckpointFolder.restore(training, from: folder)
        let losses = try LossRecord.read(folder.appendingPathComponent(ModelFolderWriter.lossesFile))
            .filter { $0.step <= training.generatorOptimizer.step }
        let trainer = ModelTrainer(
            catalog: catalog, model: model, architecture: architecture, record: record, frames: frames,
            training: training, losses: losses, lock: lock)
        trainer.warnings = warnings
        return trainer
    }

    /// Checks, before any frame is decoded, that `options` apply to the
    /// model and that a resumed run of `length` has steps to take:
    /// `.plannedRemainder` needs a plan the model's last run did not reach.
    /// (`resume` and `train` check again on what they reopened.)
    public static func checkResumable(_ idOrName: String, length: TrainingLength, options: ResumeOptions, catalog: Catalog) throws {
        guard let model = try catalog.model(idOrName) else { throw ModelError.notFound(idOrName) }
        let description = try CheckpointFolder.readDescription(folder: catalog.folder(of: model))
        try check(options, on: description, model: model)
        guard length == .plannedRemainder else { return }
        // A model.json without a training record is refused by `resume` before any work.
        _ = try description.training?.plannedStepsLeft(from: description.step ?? 0, model: model.name)
    }

    /// Refuses what `options` would change that this model does not have.
    private static func check(_ options: ResumeOptions, on description: ModelDescription, model: ModelRecord) throws {
        if options.backboneWeights != nil, description.discriminator != .transfer, description.discriminator != .projected {
            throw TrainingError.notApplicable(
                "--backbone-weights goes with a transfer or projected discriminator; this model's is "
                    + "\((description.discriminator ?? .dcgan).rawValue): \(model.name)")
        }
    }

    /// Records what `options` changes; returns what the user should know.
    private static func apply(_ options: ResumeOptions, to record: inout TrainingRecord) -> [String] {
        var warnings: [String] = []
        if let threads = options.threads, threads != record.hyperparameters.threads {
            warnings.append(
                "resuming with \(threads) threads instead of \(record.hyperparameters.threads): "
                    + "the result will differ slightly from an uninterrupted run")
            record.hyperparameters.threads = threads
        }
        record.hyperparameters.gridEveryEpochs = options.gridEveryEpochs ?? record.hyperparameters.gridEveryEpochs
        record.hyperparameters.checkpointEverySteps = options.checkpointEverySteps ?? record.hyperparameters.checkpointEverySteps
        record.hyperparameters.copyCheck = CopyCheckSettings.adjusted(
            record.hyperparameters.copyCheck, everySteps: options.copyCheckEverySteps, limitPercent: options.copyLimitPercent)
        return warnings
    }

    /// The decoded frames of the instances `request` selects, and with
    /// `request.labels` their labels (only instances with labels of the set are kept).
    private static func trainingFrames(
        of request: TrainingRequest, modality: String, resolution: Int, catalog: Catalog,
        progress: @Sendable (Int, Int) -> Void
    ) throws -> (FrameDataset, FrameLabels?) {
        let known = try catalog.modalities()
        guard known.contains(modality) else { throw TrainingError.unknownModality(modality, known: known) }
        let candidates = try catalog.trainingCandidates(
            modality: modality, filter: request.filter,
            includeSynthetic: request.includeSynthetic)
        guard !candidates.isEmpty else {
            let synthetic = try catalog.trainingCandidates(modality: modality, filter: request.filter, includeSynthetic: true)
            throw TrainingError.noInstances(
                "no real \(modality) instances match the filters"
                    + (synthetic.isEmpty ? "" : " (\(synthetic.count) synthetic ones do; --include-synthetic trains on them)"))
        }
        var decodable = candidates.filter(\.decodable)
        guard !decodable.isEmpty else {
            throw TrainingError.noDecodableFrames(
                "none of the \(candidates.count) \(modality) instances has frames DCMTK can decode "
                    + "(see 'medsynth query instances --modality \(modality)')")
        }
        var labelSource: (annotations: LabelledFrames.Annotations, labelSet: LabelSetRecord)?
        if let labels = request.labels {
            let annotations = try LabelledFrames.Annotations(of: decodable, catalog: catalog)
            let labelSet: LabelSetRecord
            do {
                labelSet = try annotations.chooseLabelSet(requested: labels.labelSet, carrying: labels.kind)
            } catch {
                throw TrainingError.noInstances("\(error)")
            }
            decodable = decodable.filter { !annotations.of($0, labelSet: labelSet, carrying: labels.kind).isEmpty }
            guard !decodable.isEmpty else {
                throw TrainingError.noInstances("no \(modality) instance has \(labels.kind.rawValue) of label set \(labelSet.name)")
            }
            labelSource = (annotations, labelSet)
        }
        let dataset = try FrameDataset.load(
            decodable,
            preprocessing: FramePreprocessing(resolution: resolution, region: request.region, annotations: request.annotations),
            catalog: catalog,
            progress: progress)
        guard dataset.count > 0 else {
            throw TrainingError.noDecodableFrames(
                "no frame of the \(decodable.count) decodable \(modality) instances decoded: "
                    + dataset.failures.prefix(3).joined(separator: "; "))
        }
        guard let labels = request.labels, let labelSource else { return (dataset, nil) }
        let channels = LabelChannels(kind: labels.kind, keypointNames: labelSource.labelSet.keypoints, sigma: labels.sigma)
        let frameLabels = FrameLabels.load(
            dataset, annotations: labelSource.annotations, labelSet: labelSource.labelSet, channels: channels, catalog: catalog)
        guard !frameLabels.labelledFrames.isEmpty else {
            throw TrainingError.noInstances(
                "no frame's labels of label set \(labelSource.labelSet.name) could be placed: "
                    + frameLabels.failures.prefix(3).joined(separator: "; "))
        }
        return (dataset, frameLabels)
    }

    /// Registers the model with its lineage: every instance that gave frames, and its role.
    private static func register(
        _ request: TrainingRequest, modality: String, resolution: Int, summary: TrainingSetSummary,
        backbone: BackboneKind?, frames: ModelFrames, catalog: Catalog
    ) throws -> ModelRecord {
        var model = ModelRecord(
            name: request.name, modality: modality, preset: request.preset.rawValue,
            discriminator: request.discriminator.kind, backbone: backbone, resolution: resolution,
            frameCount: summary.trainingFrames, validationFrameCount: summary.validationFrames,
            trainingSetDigest: summary.digest, createdAt: timestamp())
        let dataset = frames.dataset, framesPerInstance = dataset.framesPerInstance
        let lineage = dataset.instances.indices.compactMap { index -> (instanceId: Int64, role: LineageRole, frames: Int)? in
            guard framesPerInstance[index] > 0 else { return nil }
            return (dataset.instances[index].instanceId, frames.split.heldOut[index] ? .validation : .training, framesPerInstance[index])
        }
        try catalog.registerModel(&model, lineage: lineage)
        return model
    }

    /// A split that holds out far more than asked, and a small training side.
    private static func creationWarnings(_ request: TrainingRequest, frames: ModelFrames) -> [String] {
        let dataset = frames.dataset, sides = frames.split.frames(of: dataset)
        var warnings: [String] = []
        let heldShare = Double(sides.validation.count) / Double(dataset.count)
        if request.validationFraction > 0, heldShare > 2 * request.validationFraction {
            warnings.append(
                "\(sides.validation.count) of \(dataset.count) frames (" + String(format: "%.0f%%", 100 * heldShare)
                    + ") are held out for validation, more than --validation-fraction \(request.validationFraction), "
                    + "because no smaller \(request.splitBy.rawValue) fits")
        }
        let training = frames.trainingFrames
        if let labels = frames.labels, training.count < sides.training.count {
            warnings.append(
                "\(sides.training.count - training.count) of the \(sides.training.count) training frames have no "
                    + "\(labels.channels.kind.rawValue) of label set \(labels.labelSet.name) and are left out: a labelled model "
                    + "trains on labelled frames only")
        }
        if training.count < fewFramesWarningThreshold {
            warnings.append(
                "only \(training.count) training frames (from \(Set(training.map { dataset.frameInstance[$0] }).count) "
                    + "instances); GANs usually need thousands, so expect samples close to the training frames")
        }
        // Frames of one series are one acquisition: a generator that learns two of them can only give them back.
        let trainingGroups = frames.split.groups(of: dataset, heldOut: false)
        if trainingGroups < fewGroupsWarningThreshold {
            let groups = request.splitBy == .series ? "series" : trainingGroups == 1 ? "patient" : "patients"
            warnings.append(
                "the training frames come from only \(trainingGroups) \(groups); a generator "
                    + "that learns them reproduces them, so expect copies of training frames (evaluate counts them, "
                    + "synthesize withholds them)")
        }
        return warnings
    }

    /// The networks and their optimisers, initialised from the seed streams,
    /// with Adam's settings as `model.json` records them.
    private static func makeTrainingStep(
        _ record: TrainingRecord, configuration: GeneratorConfiguration, frozen: FrozenBackbone?, frames: ModelFrames
    ) -> TrainingStep {
        let generator = Generator(configuration: configuration, seed: SeedStreams.seed(.generatorInitialisation, seed: record.seed))
        let discriminator = makeDiscriminator(record, configuration: configuration, frozen: frozen, frames: frames)
        let hyperparameters = record.hyperparameters
        let training = TrainingStep(
            generator: generator, discriminator: discriminator, learningRate: Float(hyperparameters.learningRate),
            beta1: Float(hyperparameters.beta1), beta2: Float(hyperparameters.beta2),
            epsilon: Float(hyperparameters.epsilon))
        if hyperparameters.augment != .off {
            let augmentation = DiffAugment(seed: 0)
            augmentation.transforms = Set(hyperparameters.augmentTransforms ?? AugmentationTransform.allCases)
            augmentation.imageChannels = frames.labels == nil ? nil : 1
            training.augmentation = augmentation
        }
        if hyperparameters.augment == .adaptive, let settings = hyperparameters.adaptiveAugmentation {
            training.adaptive = AdaptiveAugmentation(target: Float(settings.target), rampImages: settings.rampImages)
        }
        if let weight = hyperparameters.lecamWeight { training.lecam = LeCamRegularizer(weight: Float(weight)) }
        training.loss = hyperparameters.adversarialLoss ?? .nonSaturating
        if let weight = hyperparameters.gradientPenalty { training.penalty = GradientPenalty(weight: Float(weight)) }
        if let halfLife = hyperparameters.emaHalfLifeImages {
            training.average = GeneratorAverage(
                of: generator, halfLifeImages: halfLife, batchSize: hyperparameters.batchSize,
                calibration: SeedStreams.stream(.averageStatistics, seed: record.seed))
        }
        return training
    }

    /// The discriminator `frozen` makes: dcgan without a backbone, else
    /// transfer on any backbone or projected on MobileNetV2 (a random one
    /// calibrated on `calibrationFrameCount` training frames spread over the set).
    private static func makeDiscriminator(
        _ record: TrainingRecord, configuration: GeneratorConfiguration, frozen: FrozenBackbone?, frames: ModelFrames
    ) -> any DiscriminatorNetwork {
        let seed = SeedStreams.seed(.discriminatorInitialisation, seed: record.seed)
        guard let frozen else {
            return Discriminator(
                resolution: configuration.resolution, channels: configuration.channels,
                minibatchStandardDeviation: record.hyperparameters.minibatchStandardDeviation == true,
                reconstructionWeight: record.hyperparameters.reconstructionWeight.map { Float($0) },
                residual: configuration.residual, seed: seed)
        }
        guard frozen.discriminator == .projected else {
            return TransferDiscriminator(backbone: frozen.backbone, resolution: configuration.resolution, seed: seed)
        }
        guard let mobileNet = frozen.backbone as? MobileNetV2 else {
            preconditionFailure("a projected discriminator's backbone is MobileNetV2 (FrozenBackbone makes no other)")
        }
        let projected = ProjectedDiscriminator(backbone: mobileNet, resolution: configuration.resolution, seed: seed)
        if frozen.weights == nil {
            let training = frames.split.frames(of: frames.dataset).training
            let count = min(calibrationFrameCount, training.count)
            var batch: Tensor?
            projected.calibrate(on: frames.dataset.batch((0..<count).map { training[$0 * training.count / count] }, into: &batch))
        }
        return projected
    }

    /// The training frames a random backbone's BatchNorm statistics are taken from.
    static let calibrationFrameCount = 64
}

extension TrainingRecord {
    /// The steps from `step` to the one the latest run planned to reach;
    /// throws when none are left (or no plan was recorded).
    func plannedStepsLeft(from step: Int, model: String) throws -> Int {
        guard let plannedStep, plannedStep > step else {
            throw TrainingError.nothingPlanned(model, step: step, planned: plannedStep)
        }
        return plannedStep - step
    }
}

extension ModelDescription {
    /// This description with `record` as its training record.
    func with(_ record: TrainingRecord) -> ModelDescription {
        var description = self
        description.training = record
        return description
    }
}
