import Catalog
import DICOM
import Engine
import Foundation
import GAN
import Imaging

/// A new model: what it trains on and how.
public struct TrainingRequest: Sendable {
    public var modality: String
    /// Patient, study and series filters (the modality and synthetic fields are ignored).
    public var filter = QueryFilter()
    public var includeSynthetic = false
    /// Empty: `<modality>-<preset>-<id>`.
    public var name = ""
    public var preset: GeneratorPreset = .compact
    /// `dcgan`, or `transfer` with `backbone` and `backboneWeights`.
    public var discriminator = "dcgan"
    public var backbone: BackboneKind?
    /// A Keras 2 weight file (`*_notop.h5`) of `backbone`.
    public var backboneWeights: String?
    public var batchSize = 32
    public var learningRate = 2e-4
    public var seed: UInt64 = 1
    public var augment = true
    public var threads = 2
    public var gridEveryEpochs = 10
    public var checkpointEverySteps = 250
    public var validationFraction = 0.1
    public var splitBy: SplitGrouping = .series

    public init(modality: String) { self.modality = modality }
}

/// How much to train in one run.
public enum TrainingLength: Sendable {
    case steps(Int)
    case epochs(Int)
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
    public var imagesPerSecond: Double
}

/// How a run ended.
public enum TrainingOutcome: Sendable, Equatable {
    case finished
    /// Stopped on request after writing a checkpoint; `--resume` continues.
    case stopped
}

/// Trains one model of the registry: the architecture page's step (BCE, D
/// step then G step, Adam) on batches of the model's training frames, with
/// DiffAugment; checkpoints, sample grids, the loss log and plot in the
/// model's folder; progress in the registry.
///
/// Every random draw derives from the seed and a counter (`TrainingRandom`),
/// so the state to save is the step alone, and a resumed run continues
/// exactly where a single run would be.
public final class ModelTrainer {
    public private(set) var model: ModelRecord
    public private(set) var description: ModelDescription
    public let folder: URL
    public let dataset: FrameDataset
    public let split: ValidationSplit
    /// Frame indices of the training side, in data set order.
    public let trainingFrames: [Int]
    /// Things the user should know (few frames, frames that did not decode).
    public private(set) var warnings: [String] = []
    let catalog: Catalog
    let training: TrainingStep
    let hyperparameters: Hyperparameters
    let seed: UInt64
    private(set) var losses: [LossRecord]
    private var realBatch: Tensor?
    /// Held for the trainer's life: no other process trains this model meanwhile.
    private let lock: ModelLock

    public static let lossesFile = "losses.csv"
    public static let lossPlotFile = "losses.png"
    public static let samplesFolder = "samples"
    public static let trainingFramesGrid = "training-frames.png"
    /// Fewer training frames than this gets a warning.
    public static let fewFramesWarningThreshold = 500
    /// The fixed latent batch of the sample grids: 8 x 8 images.
    public static let gridSize = 64

    public var step: Int { training.generatorOptimizer.step }
    public var epoch: Int { step / hyperparameters.stepsPerEpoch }

    private init(catalog: Catalog, model: ModelRecord, description: ModelDescription, dataset: FrameDataset,
                 split: ValidationSplit, training: TrainingStep, losses: [LossRecord], lock: ModelLock) {
        self.lock = lock
        self.catalog = catalog
        self.model = model
        self.description = description
        self.folder = catalog.directory.appendingPathComponent(model.folder, isDirectory: true)
        self.dataset = dataset
        self.split = split
        trainingFrames = split.frames(of: dataset).training
        self.training = training
        hyperparameters = description.hyperparameters!
        seed = description.seed!
        self.losses = losses
    }

    // MARK: Making and reopening models

    /// Builds the data set of `request`, registers the model with its
    /// lineage, and writes its first checkpoint (step 0).
    public static func create(_ request: TrainingRequest, catalog: Catalog, shouldStop: () -> Bool = { false },
                              decodeProgress: @Sendable (Int, Int) -> Void = { _, _ in }) throws -> ModelTrainer {
        let modality = request.modality.uppercased()
        // The backbone first: a weight file that does not fit stops the run before anything is registered.
        let transfer = try request.discriminator == "transfer" ? loadBackbone(request) : nil
        let known = try catalog.modalities()
        guard known.contains(modality) else { throw TrainingError.unknownModality(modality, known: known) }
        let candidates = try catalog.trainingCandidates(modality: modality, filter: request.filter,
                                                        includeSynthetic: request.includeSynthetic)
        guard !candidates.isEmpty else {
            let synthetic = try catalog.trainingCandidates(modality: modality, filter: request.filter, includeSynthetic: true)
            throw TrainingError.noInstances("no real \(modality) instances match the filters"
                                            + (synthetic.isEmpty ? "" : " (\(synthetic.count) synthetic ones do; --include-synthetic trains on them)"))
        }
        let decodable = candidates.filter(\.decodable)
        guard !decodable.isEmpty else {
            throw TrainingError.noDecodableFrames("none of the \(candidates.count) \(modality) instances has frames DCMTK can decode "
                                                  + "(see 'medsynth query instances --modality \(modality)')")
        }
        let configuration = request.preset.configuration()
        let dataset = try FrameDataset.load(decodable, preprocessing: FramePreprocessing(resolution: configuration.resolution),
                                            catalog: catalog, progress: decodeProgress)
        guard dataset.count > 0 else {
            throw TrainingError.noDecodableFrames("no frame of the \(decodable.count) decodable \(modality) instances decoded: "
                                                  + dataset.failures.prefix(3).joined(separator: "; "))
        }
        // A stop asked for while the frames were decoded: nothing registered yet.
        guard !shouldStop() else { throw TrainingError.stoppedBeforeStart }
        let split = ValidationSplit.make(dataset, grouping: request.splitBy, fraction: request.validationFraction,
                                         random: TrainingRandom.stream(.split, seed: request.seed))
        let sides = split.frames(of: dataset)
        let hyperparameters = Hyperparameters(
            batchSize: request.batchSize, learningRate: request.learningRate, augment: request.augment ? "diffaugment" : "none",
            threads: request.threads, stepsPerEpoch: max(1, sides.training.count / request.batchSize),
            gridEveryEpochs: request.gridEveryEpochs, checkpointEverySteps: request.checkpointEverySteps)
        let summary = trainingSetSummary(dataset: dataset, split: split)

        var model = ModelRecord(name: request.name, modality: modality, preset: request.preset.rawValue,
                                discriminator: transfer.map { "transfer-\($0.summary.kind.rawValue)" } ?? request.discriminator,
                                resolution: configuration.resolution,
                                frameCount: sides.training.count, validationFrameCount: sides.validation.count,
                                trainingSetDigest: summary.digest, createdAt: Self.timestamp())
        let framesPerInstance = dataset.framesPerInstance
        let lineage = dataset.instances.indices.compactMap { index -> (instanceId: Int64, role: LineageRole, frames: Int)? in
            let frames = framesPerInstance[index]
            guard frames > 0 else { return nil }
            return (dataset.instances[index].instanceId, split.heldOut[index] ? .validation : .training, frames)
        }
        try catalog.registerModel(&model, lineage: lineage)

        var description = ModelDescription(preset: request.preset, discriminator: request.discriminator, step: 0)
        description.name = model.name
        description.modality = modality
        description.seed = request.seed
        description.epoch = 0
        description.hyperparameters = hyperparameters
        description.trainingSet = summary
        description.backbone = transfer?.summary
        EngineThreads.configure(request.threads)
        let training = makeTrainingStep(description: description, configuration: configuration, backbone: transfer?.backbone)
        let folder = catalog.directory.appendingPathComponent(model.folder, isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let trainer = ModelTrainer(catalog: catalog, model: model, description: description, dataset: dataset,
                                   split: split, training: training, losses: [], lock: try ModelLock(folder: folder, model: model.name))
        trainer.warnings = dataset.failures
        let heldShare = Double(sides.validation.count) / Double(dataset.count)
        if request.validationFraction > 0, heldShare > 2 * request.validationFraction {
            trainer.warnings.append("\(sides.validation.count) of \(dataset.count) frames ("
                                    + String(format: "%.0f%%", 100 * heldShare) + ") are held out for validation, more than "
                                    + "--validation-fraction \(request.validationFraction), because no smaller \(request.splitBy.rawValue) fits")
        }
        if sides.training.count < fewFramesWarningThreshold {
            trainer.warnings.append("only \(sides.training.count) training frames (from \(Set(sides.training.map { dataset.frameInstance[$0] }).count) "
                                    + "instances); GANs usually need thousands, so expect samples close to the training frames")
        }
        try trainer.writeTrainingFramesGrid()
        try trainer.saveCheckpoint(status: "training")
        return trainer
    }

    /// Reopens a model of the registry at its last checkpoint. `threads`
    /// overrides the recorded count (the continuation then differs in the
    /// last bits from a single run).
    public static func resume(_ idOrName: String, catalog: Catalog, threads: Int? = nil,
                              decodeProgress: @Sendable (Int, Int) -> Void = { _, _ in }) throws -> ModelTrainer {
        guard let model = try catalog.model(idOrName) else { throw TrainingError.modelNotFound(idOrName) }
        let folder = catalog.directory.appendingPathComponent(model.folder, isDirectory: true)
        let lock = try ModelLock(folder: folder, model: model.name)
        // A kill during the last checkpoint write left it to finish or to discard.
        try CheckpointFolder.recover(folder: folder)
        var description = try CheckpointFolder.readDescription(folder: folder)
        guard let preset = GeneratorPreset(rawValue: description.preset), var hyperparameters = description.hyperparameters,
              description.seed != nil, let recordedSet = description.trainingSet else {
            throw TrainingError.inconsistentCheckpoint("model.json lacks the training fields medsynth writes",
                                                       path: folder.appendingPathComponent(CheckpointFolder.modelFile).path)
        }
        let (dataset, split) = try frames(of: model, description: description, catalog: catalog, progress: decodeProgress)
        var warnings: [String] = []
        if let threads, threads != hyperparameters.threads {
            warnings.append("resuming with \(threads) threads instead of \(hyperparameters.threads): "
                            + "the result will differ slightly from an uninterrupted run")
            hyperparameters.threads = threads
            description.hyperparameters = hyperparameters
        }
        EngineThreads.configure(hyperparameters.threads)
        var backbone: Backbone?
        if description.discriminator == "transfer" {
            guard let recorded = description.backbone else {
                throw TrainingError.inconsistentCheckpoint("model.json names a transfer discriminator but no backbone",
                                                           path: folder.appendingPathComponent(CheckpointFolder.modelFile).path)
            }
            let digest = try weightFileDigest(recorded.weights)
            guard digest == recorded.weightsSha256 else {
                throw TrainingError.inconsistentCheckpoint("the backbone weight file changed since the model was created "
                                                           + "(sha256 \(digest.prefix(12))..., recorded \(recorded.weightsSha256.prefix(12))...)",
                                                           path: recorded.weights)
            }
            backbone = try recorded.kind.load(weights: recorded.weights)
        }
        let training = makeTrainingStep(description: description, configuration: preset.configuration(channels: description.channels),
                                        backbone: backbone)
        try CheckpointFolder.restore(training, from: folder)
        let losses = try LossRecord.read(folder.appendingPathComponent(lossesFile)).filter { $0.step <= training.generatorOptimizer.step }
        let trainer = ModelTrainer(catalog: catalog, model: model, description: description, dataset: dataset, split: split,
                                   training: training, losses: losses, lock: lock)
        trainer.warnings = warnings
        return trainer
    }

    /// The frames a registered model trained on and was validated with, as
    /// its lineage records them (from the frame cache when present), checked
    /// against the training-set digest in its `model.json`.
    public static func frames(of model: ModelRecord, description: ModelDescription, catalog: Catalog,
                              progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws -> (dataset: FrameDataset, split: ValidationSplit) {
        let folder = catalog.directory.appendingPathComponent(model.folder, isDirectory: true)
        guard let recordedSet = description.trainingSet else {
            throw TrainingError.inconsistentCheckpoint("model.json lacks the training set medsynth records",
                                                       path: folder.appendingPathComponent(CheckpointFolder.modelFile).path)
        }
        let lineage = try catalog.lineage(modelId: model.id!)
        let dataset = try FrameDataset.load(lineage.map(\.candidate), preprocessing: FramePreprocessing(resolution: description.resolution),
                                            catalog: catalog, progress: progress)
        let split = ValidationSplit(grouping: SplitGrouping(rawValue: recordedSet.validationGroupedBy) ?? .series,
                                    heldOut: lineage.map { $0.role == .validation })
        guard trainingSetSummary(dataset: dataset, split: split).digest == recordedSet.digest else {
            throw TrainingError.inconsistentCheckpoint("the model's training frames no longer match its training-set digest",
                                                       path: folder.path)
        }
        return (dataset, split)
    }

    /// The backbone `request` names, loaded from its weight file, and its summary for model.json.
    static func loadBackbone(_ request: TrainingRequest) throws -> (backbone: Backbone, summary: BackboneSummary) {
        guard let kind = request.backbone, let path = request.backboneWeights else {
            throw TrainingError.noBackbone
        }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let digest = try weightFileDigest(absolute)
        let backbone = try kind.load(weights: absolute)
        // The head's parameters: the Linear layer on the pooled features.
        return (backbone, BackboneSummary(kind: kind, weights: absolute, weightsSha256: digest,
                                          frozenParameters: backbone.kerasParameterCount, trainableParameters: backbone.featureCount + 1))
    }

    /// The SHA-256 of a backbone weight file, which must be readable.
    static func weightFileDigest(_ path: String) throws -> String {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw TensorFileError("cannot read the backbone weight file", path: path)
        }
        return try FileDigest.sha256(path: path)
    }

    private static func makeTrainingStep(description: ModelDescription, configuration: GeneratorConfiguration,
                                         backbone: Backbone?) -> TrainingStep {
        let seed = description.seed!, hyperparameters = description.hyperparameters!
        let generator = Generator(configuration: configuration, seed: TrainingRandom.seed(.generatorInitialisation, seed: seed))
        let discriminatorSeed = TrainingRandom.seed(.discriminatorInitialisation, seed: seed)
        let discriminator: any DiscriminatorNetwork = backbone.map {
            TransferDiscriminator(backbone: $0, resolution: configuration.resolution, seed: discriminatorSeed)
        } ?? Discriminator(resolution: configuration.resolution, channels: configuration.channels, seed: discriminatorSeed)
        let training = TrainingStep(generator: generator, discriminator: discriminator, learningRate: Float(hyperparameters.learningRate))
        if hyperparameters.augment == "diffaugment" { training.augmentation = DiffAugment(seed: 0) }
        return training
    }

    /// The digest and counts model.json records (no identifiers).
    static func trainingSetSummary(dataset: FrameDataset, split: ValidationSplit) -> TrainingSetSummary {
        var text = dataset.preprocessing.summary + "\n"
        let framesPerInstance = dataset.framesPerInstance
        for (index, instance) in dataset.instances.enumerated() where framesPerInstance[index] > 0 {
            text += "\(instance.sopInstanceUid) \(instance.sha256) \(split.heldOut[index] ? "validation" : "training")\n"
        }
        let sides = split.frames(of: dataset)
        let used = dataset.instances.indices.filter { framesPerInstance[$0] > 0 }
        return TrainingSetSummary(
            digest: FileDigest.sha256(bytes: Array(text.utf8)), preprocessing: dataset.preprocessing.summary,
            trainingFrames: sides.training.count, trainingInstances: used.filter { !split.heldOut[$0] }.count,
            validationGroupedBy: split.grouping.rawValue, validationGroups: split.validationGroups(of: dataset),
            validationFrames: sides.validation.count, validationInstances: used.filter { split.heldOut[$0] }.count)
    }

    // MARK: Training

    /// Trains for `length` more; after each step asks `shouldStop` (a
    /// signal arrived) and reports `progress`. Writes a checkpoint every
    /// `checkpoint_every_steps`, a sample grid every `grid_every_epochs`, and
    /// both at the end of the run, stopped or not.
    public func train(_ length: TrainingLength, shouldStop: () -> Bool = { false },
                      progress: (TrainingProgress) -> Void = { _ in }) throws -> TrainingOutcome {
        let runSteps: Int
        switch length {
        case .steps(let count): runSteps = count
        case .epochs(let count): runSteps = count * hyperparameters.stepsPerEpoch
        }
        precondition(runSteps > 0, "a run needs at least one step")
        let stepsPerGrid = hyperparameters.stepsPerEpoch * hyperparameters.gridEveryEpochs
        let clock = ContinuousClock(), started = clock.now
        do {
            if model.status != "training" { try updateRegistry(status: "training") }
            for runStep in 1...runSteps {
                let (discriminatorLoss, generatorLoss) = runOneStep()
                losses.append(LossRecord(step: step, epoch: epoch, discriminatorLoss: discriminatorLoss, generatorLoss: generatorLoss))
                let elapsed = started.duration(to: clock.now)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                progress(TrainingProgress(step: step, runStep: runStep, runSteps: runSteps, epoch: epoch,
                                          discriminatorLoss: discriminatorLoss, generatorLoss: generatorLoss,
                                          imagesPerSecond: Double(runStep * hyperparameters.batchSize) / max(seconds, 1e-9)))
                if shouldStop() && runStep < runSteps {
                    try finishRun(status: "stopped")
                    return .stopped
                }
                if runStep < runSteps {
                    if step % stepsPerGrid == 0 { try writeSampleGrid() }
                    if step % hyperparameters.checkpointEverySteps == 0 { try saveCheckpoint(status: "training") }
                }
            }
            try finishRun(status: "finished")
            return .finished
        } catch {
            // Steps and epochs stay those of the last checkpoint, which is what the files hold.
            model.status = "failed"
            try? catalog.updateModel(model)
            throw error
        }
    }

    /// One D step and one G step on the next batch. The batch, the latents
    /// and the augmentations of step s depend only on the seed and s.
    func runOneStep() -> (Float, Float) {
        let batchSize = hyperparameters.batchSize, stepsPerEpoch = hyperparameters.stepsPerEpoch
        let epochIndex = step / stepsPerEpoch, position = step % stepsPerEpoch
        var orderRandom = TrainingRandom.stream(.epochOrder, seed: seed, index: UInt64(epochIndex))
        let order = orderRandom.shuffled(trainingFrames)
        let indices = (0..<batchSize).map { order[(position * batchSize + $0) % order.count] }
        let real = dataset.batch(indices, into: &realBatch)
        var latentRandom = TrainingRandom.stream(.latents, seed: seed, index: UInt64(step))
        let latentDimension = training.generator.configuration.latentDimension
        let latents = Tensor(shape: [batchSize, latentDimension], values: (0..<batchSize * latentDimension).map { _ in latentRandom.normal() })
        training.augmentation?.random = TrainingRandom.stream(.augmentation, seed: seed, index: UInt64(step))
        let result = training.run(real: real, latents: latents)
        return (result.discriminatorLoss, result.generatorLoss)
    }

    private func finishRun(status: String) throws {
        try writeSampleGrid()
        try saveCheckpoint(status: status)
    }

    // MARK: Files

    /// Writes the checkpoint, the loss log and plot, then records the step
    /// and the generator's digest in the registry.
    func saveCheckpoint(status: String) throws {
        description.step = step
        description.epoch = epoch
        try CheckpointFolder.write(description, generator: training.generator, training: training, to: folder)
        try LossRecord.write(losses, to: folder.appendingPathComponent(Self.lossesFile))
        if losses.count >= 2 {
            try LossPlot(steps: losses.map(\.step), series: [
                .init(label: "D", values: losses.map(\.discriminatorLoss), colour: (200, 60, 40)),
                .init(label: "G", values: losses.map(\.generatorLoss), colour: (40, 90, 200)),
            ]).write(path: folder.appendingPathComponent(Self.lossPlotFile).path)
        }
        model.checkpointDigest = try FileDigest.sha256(path: folder.appendingPathComponent(CheckpointFolder.generatorFile).path)
        try updateRegistry(status: status)
    }

    private func updateRegistry(status: String) throws {
        model.status = status
        model.steps = step
        model.epochs = epoch
        model.updatedAt = Self.timestamp()
        try catalog.updateModel(model)
    }

    /// `samples/step-NNNNNN.png`: the generator (inference mode) on the
    /// fixed latent batch, 8 x 8.
    func writeSampleGrid() throws {
        try writeGrid(generateFixedSamples(), count: Self.gridSize, named: String(format: "step-%06d.png", step))
    }

    /// `samples/training-frames.png`: up to 64 training frames, evenly
    /// spaced through the data set, as the model sees them (before
    /// augmentation), to compare the generated grids with.
    func writeTrainingFramesGrid() throws {
        let shown = min(Self.gridSize, trainingFrames.count)
        let plane = description.resolution * description.resolution
        var images: [Float] = []
        for slot in 0..<shown {
            let frame = trainingFrames[slot * trainingFrames.count / shown]
            images += dataset.values[(frame * plane)..<((frame + 1) * plane)]
        }
        try writeGrid(images, count: shown, named: Self.trainingFramesGrid)
    }

    /// `samples/<name>`: `count` images of the model's resolution, 8 per row.
    private func writeGrid(_ images: [Float], count: Int, named name: String) throws {
        let samples = folder.appendingPathComponent(Self.samplesFolder, isDirectory: true)
        try FileManager.default.createDirectory(at: samples, withIntermediateDirectories: true)
        try SampleGrid.write(images: images, count: count, side: description.resolution, columns: 8,
                             path: samples.appendingPathComponent(name).path)
    }

    /// The generator's output for the fixed latent batch, in chunks (the
    /// result does not depend on the chunk size in inference mode).
    public func generateFixedSamples() -> [Float] {
        let latentDimension = training.generator.configuration.latentDimension
        var random = TrainingRandom.stream(.gridLatents, seed: seed)
        let latents = (0..<Self.gridSize * latentDimension).map { _ in random.normal() }
        var images: [Float] = []
        let chunk = 16
        for start in stride(from: 0, to: Self.gridSize, by: chunk) {
            let batch = Tensor(shape: [chunk, latentDimension],
                               values: Array(latents[(start * latentDimension)..<((start + chunk) * latentDimension)]))
            images += training.generator.forward(batch, training: false).values
        }
        return images
    }

    static func timestamp() -> String {
        Date().formatted(.iso8601)
    }
}

/// The counter-based random streams of a training: each purpose and index
/// gets its own generator, seeded from the run's seed, so no generator
/// state needs saving and a resumed run draws what a single run would.
public enum TrainingRandom {
    public enum Purpose: UInt64, Sendable {
        case generatorInitialisation = 1, discriminatorInitialisation, split, epochOrder, latents, augmentation, gridLatents
        /// The latents of `medsynth synthesize`, one stream per latent index.
        case synthesisLatents
    }

    public static func stream(_ purpose: Purpose, seed: UInt64, index: UInt64 = 0) -> EngineRandom {
        EngineRandom(seed: self.seed(purpose, seed: seed, index: index))
    }

    /// The seed of a stream: the run's seed, the purpose and the index mixed
    /// through SplitMix64 twice, so that neighbouring indices give unrelated streams.
    static func seed(_ purpose: Purpose, seed: UInt64, index: UInt64 = 0) -> UInt64 {
        var mixer = EngineRandom(seed: seed ^ (purpose.rawValue &* 0x9E37_79B9_7F4A_7C15))
        var second = EngineRandom(seed: mixer.nextUInt64() ^ (index &* 0xD1B5_4A32_D192_ED03))
        return second.nextUInt64()
    }
}

/// One line of `losses.csv`.
struct LossRecord: Equatable, Sendable {
    var step: Int
    var epoch: Int
    var discriminatorLoss: Float
    var generatorLoss: Float

    static let header = "step,epoch,discriminator_loss,generator_loss"

    static func write(_ records: [LossRecord], to file: URL) throws {
        var text = header + "\n"
        for record in records {
            text += "\(record.step),\(record.epoch),\(record.discriminatorLoss),\(record.generatorLoss)\n"
        }
        do {
            try Data(text.utf8).write(to: file, options: .atomic)
        } catch {
            throw TensorFileError("cannot write the loss log (\(error.localizedDescription))", path: file.path)
        }
    }

    /// The records of a log; none when it does not exist yet.
    static func read(_ file: URL) throws -> [LossRecord] {
        guard let data = FileManager.default.contents(atPath: file.path) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst().map { line in
            let fields = line.split(separator: ",")
            guard fields.count == 4, let step = Int(fields[0]), let epoch = Int(fields[1]),
                  let discriminatorLoss = Float(fields[2]), let generatorLoss = Float(fields[3]) else {
                throw TensorFileError("unreadable line \"\(line)\"", path: file.path)
            }
            return LossRecord(step: step, epoch: epoch, discriminatorLoss: discriminatorLoss, generatorLoss: generatorLoss)
        }
    }
}
