import Catalog
import Engine
import Foundation
import Frames
import GAN
import ModelStore

/// Trains one model of the registry: the architecture page's step (BCE, D
/// step then G step, Adam) on batches of the model's training frames, with
/// DiffAugment; checkpoints, sample grids, the loss log and plot in the
/// model's folder (`ModelFolderWriter`); progress in the registry.
/// `ModelTrainer+Opening.swift` creates and reopens trainers.
///
/// Every random draw derives from the seed and a counter (`SeedStreams`),
/// so the state to save is the step alone, and a resumed run continues
/// exactly where a single run would be.
public final class ModelTrainer {
    public private(set) var model: ModelRecord
    /// What `model.json` records of the training.
    public private(set) var record: TrainingRecord
    public let folder: URL
    public var dataset: FrameDataset { frames.dataset }
    public var split: ValidationSplit { frames.split }
    /// Frame indices of the training side, in data set order.
    public let trainingFrames: [Int]
    /// Things the user should know (few frames, frames that did not decode).
    public internal(set) var warnings: [String] = []
    let catalog: Catalog
    let training: TrainingStep
    /// `model.json`'s architecture keys; `description` adds `record`.
    private let architecture: ModelDescription
    private let files: ModelFolderWriter
    private(set) var losses: [LossRecord]
    /// The copy checks of this run, in order.
    public private(set) var copyChecks: [CopyCheckResult] = []
    /// The step of the last checkpoint written, which the files hold.
    public private(set) var keptStep = 0
    public var keptEpoch: Int { keptStep / record.hyperparameters.stepsPerEpoch }
    /// Made at the first copy check (the detector compares every training frame with every other).
    var copyWatch: CopyWatch?
    private let frames: ModelFrames
    private var realBatch: Tensor?
    /// Held for the trainer's life: no other process trains this model meanwhile.
    private let lock: ModelLock

    /// Fewer training frames than this gets a warning.
    public static let fewFramesWarningThreshold = 500
    /// Below this many training series (or patients) `train` warns that the model will copy.
    public static let fewGroupsWarningThreshold = 3
    /// The fixed latent batch of the sample grids: 8 x 8 images.
    public static let gridSize = 64

    public var step: Int { training.generatorOptimizer.step }
    public var epoch: Int { step / record.hyperparameters.stepsPerEpoch }
    /// The whole `model.json`.
    public var description: ModelDescription {
        var description = architecture.with(record)
        description.step = step
        return description
    }

    init(
        catalog: Catalog, model: ModelRecord, architecture: ModelDescription, record: TrainingRecord, frames: ModelFrames,
        training: TrainingStep, losses: [LossRecord], lock: ModelLock
    ) {
        self.lock = lock
        self.catalog = catalog
        self.model = model
        self.architecture = architecture
        self.record = record
        folder = catalog.folder(of: model)
        files = ModelFolderWriter(folder: folder, side: architecture.resolution)
        self.frames = frames
        trainingFrames = frames.trainingFrames
        self.training = training
        self.losses = losses
        keptStep = training.generatorOptimizer.step
    }

    // MARK: Training

    /// Trains for `length` more; after each step asks `shouldStop` (a
    /// signal arrived) and reports `progress`. Writes a checkpoint every
    /// `checkpoint_every_steps`, a sample grid every `grid_every_epochs`, and
    /// both at the end of the run, stopped or not. With a copy check
    /// (`CopyCheckSettings`) every checkpoint but a stop request's follows a
    /// check within its limit, and a check beyond it ends the run with
    /// `.copyLimit`: the files then hold the last step within it.
    public func train(
        _ length: TrainingLength, shouldStop: () -> Bool = { false },
        progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> TrainingOutcome {
        let runSteps = try steps(of: length)
        record.plannedStep = step + runSteps
        let clock = ContinuousClock(), started = clock.now
        var firstStepEnded = started
        do {
            if model.status != .training { try updateRegistry(status: .training) }
            for runStep in 1...runSteps {
                let result = runOneStep()
                losses.append(
                    LossRecord(
                        step: step, epoch: epoch, discriminatorLoss: result.discriminatorLoss, generatorLoss: result.generatorLoss,
                        augmentationProbability: result.augmentationProbability, realSign: result.realSign))
                let now = clock.now
                if runStep == 1 { firstStepEnded = now }
                // Step 1's own rate, then the rate since it ended: the first step
                // also allocates the buffers and has taken from 0.3 to 9 s alone.
                let (ratedSteps, since) = runStep == 1 ? (1, started) : (runStep - 1, firstStepEnded)
                let elapsed = since.duration(to: now)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                progress(
                    TrainingProgress(
                        step: step, runStep: runStep, runSteps: runSteps, epoch: epoch,
                        discriminatorLoss: result.discriminatorLoss, generatorLoss: result.generatorLoss,
                        augmentationProbability: result.augmentationProbability,
                        imagesPerSecond: Double(ratedSteps * record.hyperparameters.batchSize) / max(seconds, 1e-9),
                        copyCheck: copyChecks.last))
                let last = runStep == runSteps
                if !passesCopyCheck(due: last || isCheckpointStep) {
                    try updateRegistry(status: .finished, step: keptStep)
                    return .copyLimit
                }
                if last { break }
                if shouldStop() {
                    try finishRun(status: .stopped)
                    return .stopped
                }
                try writePeriodicFiles()
            }
            try finishRun(status: .finished)
            return .finished
        } catch {
            // Steps and epochs stay those of the last checkpoint, which is what the files hold.
            model.status = .failed
            try? catalog.updateModel(model)
            throw error
        }
    }

    /// Runs the copy check when it is due (at its period, or `due`: a
    /// checkpoint or the run's end comes) and records it in `copyChecks`;
    /// false when the copies are beyond the limit. True without a check.
    private func passesCopyCheck(due: Bool) -> Bool {
        guard let settings = record.hyperparameters.copyCheck, due || step % settings.everySteps == 0 else { return true }
        if copyWatch == nil {
            copyWatch = CopyWatch(
                settings, frames: frames, seed: record.seed, latentDimension: training.generator.configuration.latentDimension)
        }
        let copies = copyWatch!.copies(by: training.servedGenerator)
        copyChecks.append(CopyCheckResult(step: step, copies: copies, frames: settings.frames))
        return settings.allows(copies: copies)
    }

    private var isCheckpointStep: Bool { step % record.hyperparameters.checkpointEverySteps == 0 }

    /// The steps `length` asks for from the current step.
    func steps(of length: TrainingLength) throws -> Int {
        let steps: Int
        switch length {
        case .steps(let count): steps = count
        case .epochs(let count): steps = count * record.hyperparameters.stepsPerEpoch
        case .plannedRemainder: steps = try record.plannedStepsLeft(from: step, model: model.name)
        }
        precondition(steps > 0, "a run needs at least one step")
        return steps
    }

    /// One D step and one G step on the next batch. The batch, the latents
    /// and the augmentations of step s depend only on the seed and s.
    func runOneStep() -> StepResult {
        let batchSize = record.hyperparameters.batchSize, stepsPerEpoch = record.hyperparameters.stepsPerEpoch
        let epochIndex = step / stepsPerEpoch, position = step % stepsPerEpoch
        var orderRandom = SeedStreams.stream(.epochOrder, seed: record.seed, index: UInt64(epochIndex))
        let order = orderRandom.shuffled(trainingFrames)
        let indices = (0..<batchSize).map { order[(position * batchSize + $0) % order.count] }
        let real = frames.batch(indices, into: &realBatch)
        var latentRandom = SeedStreams.stream(.latents, seed: record.seed, index: UInt64(step))
        let latentDimension = training.generator.configuration.latentDimension
        let latents = Tensor(
            shape: [batchSize, latentDimension], values: (0..<batchSize * latentDimension).map { _ in latentRandom.normal() })
        training.augmentation?.random = SeedStreams.stream(.augmentation, seed: record.seed, index: UInt64(step))
        training.penalty?.random = SeedStreams.stream(.penaltyNoise, seed: record.seed, index: UInt64(step))
        return training.run(real: real, latents: latents)
    }

    /// The sample grid and the checkpoint when their period comes round; with
    /// a copy check, a checkpoint after every check too (each passed), so
    /// that a check beyond the limit leaves the files at the last one within it.
    private func writePeriodicFiles() throws {
        let hyperparameters = record.hyperparameters
        if step % (hyperparameters.stepsPerEpoch * hyperparameters.gridEveryEpochs) == 0 { try writeSampleGrid() }
        if isCheckpointStep || copyChecks.last?.step == step { try saveCheckpoint(status: .training) }
    }

    private func finishRun(status: ModelStatus) throws {
        try writeSampleGrid()
        try saveCheckpoint(status: status)
    }

    // MARK: Files

    /// Writes the checkpoint, the loss log and plot, then records the step
    /// and the generator's digest in the registry.
    func saveCheckpoint(status: ModelStatus) throws {
        record.epoch = epoch
        model.checkpointDigest = try files.writeCheckpoint(description, training: training, losses: losses)
        keptStep = step
        try updateRegistry(status: status)
    }

    /// Records `status` and the step the files hold (by default the current one).
    private func updateRegistry(status: ModelStatus, step: Int? = nil) throws {
        let step = step ?? self.step
        model.status = status
        model.steps = step
        model.epochs = step / record.hyperparameters.stepsPerEpoch
        model.updatedAt = Self.timestamp()
        try catalog.updateModel(model)
    }

    /// `samples/step-NNNNNN.png`: the generator (inference mode; its weight
    /// average when there is one) on the fixed latent batch, 8 x 8.
    func writeSampleGrid() throws {
        try files.writeSampleGrid(training.servedGenerator.imageChannel(of: generateFixedSamples()), count: Self.gridSize, step: step)
    }

    /// `samples/training-frames.png`: up to 64 training frames, evenly
    /// spaced through the data set, as the model sees them (before
    /// augmentation), to compare the generated grids with.
    func writeTrainingFramesGrid() throws {
        let shown = min(Self.gridSize, trainingFrames.count)
        let plane = dataset.resolution * dataset.resolution
        var images: [Float] = []
        for slot in 0..<shown {
            let frame = trainingFrames[slot * trainingFrames.count / shown]
            images += dataset.values[(frame * plane)..<((frame + 1) * plane)]
        }
        try files.writeTrainingFramesGrid(images, count: shown)
    }

    /// The generator's output for the fixed latent batch.
    public func generateFixedSamples() -> [Float] {
        var random = SeedStreams.stream(.gridLatents, seed: record.seed)
        let latents = (0..<Self.gridSize * training.generator.configuration.latentDimension).map { _ in random.normal() }
        return training.servedGenerator.inferenceImages(latents: latents)
    }

    static func timestamp() -> String {
        Date().formatted(.iso8601)
    }
}
