import Engine
import Foundation

/// `model.json` of a checkpoint folder: at least the four keys of the
/// architecture page. Later keys (training hyper-parameters, lineage) are
/// optional here, and unknown keys are ignored, so folders written by other
/// tools load.
public struct ModelDescription: Codable, Equatable, Sendable {
    public var preset: String
    public var latentDim: Int
    public var resolution: Int
    public var channels: Int
    /// The discriminator kind when one is saved (`dcgan`).
    public var discriminator: String?
    /// Optimiser steps taken (with optimiser state saved).
    public var step: Int?
    /// The fields below are written by `medsynth train`.
    public var name: String?
    public var modality: String?
    /// Epochs completed: `step / steps_per_epoch`.
    public var epoch: Int?
    /// The seed every random draw of the training derives from.
    public var seed: UInt64?
    public var hyperparameters: Hyperparameters?
    public var trainingSet: TrainingSetSummary?
    /// The frozen backbone of a `transfer` discriminator.
    public var backbone: BackboneSummary?

    public init(preset: GeneratorPreset, channels: Int = 1, discriminator: String? = nil, step: Int? = nil) {
        self.preset = preset.rawValue
        let configuration = preset.configuration(channels: channels)
        latentDim = configuration.latentDimension
        resolution = configuration.resolution
        self.channels = channels
        self.discriminator = discriminator
        self.step = step
    }

    enum CodingKeys: String, CodingKey {
        case preset, resolution, channels, discriminator, step, name, modality, epoch, seed, hyperparameters, backbone
        case latentDim = "latent_dim"
        case trainingSet = "training_set"
    }

    /// The generator this description names, checked for consistency.
    public func generatorConfiguration(source: String) throws -> GeneratorConfiguration {
        guard let known = GeneratorPreset(rawValue: preset) else {
            throw TensorFileError("unknown preset \"\(preset)\" (known: \(GeneratorPreset.allCases.map(\.rawValue).joined(separator: ", ")))", path: source)
        }
        let configuration = known.configuration(channels: channels)
        guard latentDim == configuration.latentDimension, resolution == configuration.resolution, channels >= 1 else {
            throw TensorFileError("preset \(preset) has latent_dim \(configuration.latentDimension) and resolution \(configuration.resolution), "
                                  + "the file says \(latentDim) and \(resolution) with \(channels) channels", path: source)
        }
        return configuration
    }
}

/// How a model is trained (architecture page: Adam with lr 2e-4, betas 0.5
/// and 0.999, eps 1e-8).
public struct Hyperparameters: Codable, Equatable, Sendable {
    public var batchSize: Int
    public var learningRate: Double
    public var beta1 = 0.5
    public var beta2 = 0.999
    public var epsilon = 1e-8
    /// `diffaugment` or `none`.
    public var augment: String
    /// Engine threads; results are identical only for the same count.
    public var threads: Int
    public var stepsPerEpoch: Int
    /// A sample grid every this many epochs (and at the end of every run).
    public var gridEveryEpochs: Int
    public var checkpointEverySteps: Int

    public init(batchSize: Int, learningRate: Double, augment: String, threads: Int, stepsPerEpoch: Int,
                gridEveryEpochs: Int, checkpointEverySteps: Int) {
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.augment = augment
        self.threads = threads
        self.stepsPerEpoch = stepsPerEpoch
        self.gridEveryEpochs = gridEveryEpochs
        self.checkpointEverySteps = checkpointEverySteps
    }

    enum CodingKeys: String, CodingKey {
        case beta1, beta2, epsilon, augment, threads
        case batchSize = "batch_size", learningRate = "learning_rate", stepsPerEpoch = "steps_per_epoch"
        case gridEveryEpochs = "grid_every_epochs", checkpointEverySteps = "checkpoint_every_steps"
    }
}

/// The backbone of a `transfer` discriminator: which network, and the
/// weight file it was loaded from (needed again to resume) with its SHA-256.
public struct BackboneSummary: Codable, Equatable, Sendable {
    public var kind: BackboneKind
    public var weights: String
    public var weightsSha256: String
    /// Parameters of the frozen backbone, as Keras counts them.
    public var frozenParameters: Int
    /// Parameters of the trainable head.
    public var trainableParameters: Int

    public init(kind: BackboneKind, weights: String, weightsSha256: String, frozenParameters: Int, trainableParameters: Int) {
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
    /// role) of every instance, in UID order.
    public var digest: String
    public var preprocessing: String
    public var trainingFrames: Int
    public var trainingInstances: Int
    /// `series` or `patient`: what the validation frames are held out by.
    public var validationGroupedBy: String
    public var validationGroups: Int
    public var validationFrames: Int
    public var validationInstances: Int

    public init(digest: String, preprocessing: String, trainingFrames: Int, trainingInstances: Int, validationGroupedBy: String,
                validationGroups: Int, validationFrames: Int, validationInstances: Int) {
        self.digest = digest
        self.preprocessing = preprocessing
        self.trainingFrames = trainingFrames
        self.trainingInstances = trainingInstances
        self.validationGroupedBy = validationGroupedBy
        self.validationGroups = validationGroups
        self.validationFrames = validationFrames
        self.validationInstances = validationInstances
    }

    enum CodingKeys: String, CodingKey {
        case digest, preprocessing
        case trainingFrames = "training_frames", trainingInstances = "training_instances"
        case validationGroupedBy = "validation_grouped_by", validationGroups = "validation_groups"
        case validationFrames = "validation_frames", validationInstances = "validation_instances"
    }
}

/// A checkpoint folder: `model.json`, `generator.safetensors`, and where saved
/// `discriminator.safetensors` and `optimizer.safetensors` (the Adam moments
/// of both networks). Tensor names and layouts are the architecture page's.
public enum CheckpointFolder {
    public static let modelFile = "model.json"
    public static let generatorFile = "generator.safetensors"
    public static let discriminatorFile = "discriminator.safetensors"
    public static let optimizerFile = "optimizer.safetensors"

    /// Marks a new checkpoint as complete: its files wait under `.next` names.
    public static let commitMarker = "checkpoint.commit"
    static let pendingSuffix = ".next"

    /// Writes the description and the generator, and the discriminator and
    /// optimiser state when given; creates the folder. Survives a kill at any
    /// instant: see `writeOperations`.
    public static func write(_ description: ModelDescription, generator: Generator, training: TrainingStep? = nil,
                             to folder: URL) throws {
        for operation in try writeOperations(description, generator: generator, training: training, to: folder) {
            try operation.run()
        }
    }

    /// One file operation of a checkpoint write.
    public struct Operation {
        public let name: String
        public let run: () throws -> Void
    }

    /// The file operations of a checkpoint write, in order, so that a test can
    /// stop after any of them as a kill would. Each file is written complete
    /// and durable under a `.next` name; then the commit marker is made
    /// durable (the switch: from here `recover` finishes the checkpoint, before
    /// it `recover` discards it and the previous one stands untouched); then
    /// the files are renamed into place and the marker removed.
    public static func writeOperations(_ description: ModelDescription, generator: Generator, training: TrainingStep? = nil,
                                       to folder: URL) throws -> [Operation] {
        var described = description
        if let training {
            described.discriminator = described.discriminator ?? "dcgan"
            described.step = training.generatorOptimizer.step
        }
        // Every file carries the step, so a mix of checkpoints is detected on load.
        var metadata = ["preset": described.preset, "latent_dim": String(described.latentDim),
                        "resolution": String(described.resolution), "channels": String(described.channels)]
        if let training { metadata["step"] = String(training.generatorOptimizer.step) }
        var files: [(name: String, bytes: () throws -> Data)] = [
            (generatorFile, { try SafeTensors.encode(generator.store.namedArrays(), metadata: metadata) }),
        ]
        if let training {
            files.append((discriminatorFile, { try SafeTensors.encode(training.discriminator.store.namedArrays(), metadata: metadata) }))
            func moments(_ name: String, _ optimizer: Adam) -> [(name: String, array: NamedArray)] {
                [("\(name).first_moment", NamedArray(shape: optimizer.firstMoment.shape, values: optimizer.firstMoment.values)),
                 ("\(name).second_moment", NamedArray(shape: optimizer.secondMoment.shape, values: optimizer.secondMoment.values))]
            }
            let state = moments("generator", training.generatorOptimizer) + moments("discriminator", training.discriminatorOptimizer)
            let steps = ["generator_step": String(training.generatorOptimizer.step),
                         "discriminator_step": String(training.discriminatorOptimizer.step)]
            files.append((optimizerFile, { try SafeTensors.encode(state, metadata: steps) }))
        }
        files.append((modelFile, {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            return try encoder.encode(described)
        }))
        let path = { (name: String) in folder.appendingPathComponent(name).path }
        var operations = [Operation(name: "create the folder") {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw TensorFileError("cannot create the checkpoint folder (\(error.localizedDescription))", path: folder.path)
            }
            try recover(folder: folder)
        }]
        for file in files {
            operations.append(Operation(name: "write \(file.name)\(pendingSuffix)") {
                try DurableFile.write(try file.bytes(), to: path(file.name + pendingSuffix))
            })
        }
        operations.append(Operation(name: "commit") {
            try DurableFile.write(Data(), to: path(commitMarker))
        })
        for file in files {
            operations.append(Operation(name: "rename \(file.name)") {
                try DurableFile.rename(path(file.name + pendingSuffix), to: path(file.name))
            })
        }
        operations.append(Operation(name: "finish") {
            try DurableFile.remove(path(commitMarker))
        })
        return operations
    }

    /// Completes or discards a checkpoint write that a kill interrupted: with
    /// the commit marker, renames the waiting `.next` files into place; without
    /// it, removes them. Call it holding the model's lock (training does,
    /// before it reads the folder); harmless on a folder never interrupted.
    public static func recover(folder: URL) throws {
        let names = [generatorFile, discriminatorFile, optimizerFile, modelFile]
        let path = { (name: String) in folder.appendingPathComponent(name).path }
        let committed = FileManager.default.fileExists(atPath: path(commitMarker))
        for name in names where FileManager.default.fileExists(atPath: path(name + pendingSuffix)) {
            if committed {
                try DurableFile.rename(path(name + pendingSuffix), to: path(name))
            } else {
                try DurableFile.remove(path(name + pendingSuffix))
            }
        }
        if committed { try DurableFile.remove(path(commitMarker)) }
    }

    /// Reads and checks `model.json`.
    public static func readDescription(folder: URL) throws -> ModelDescription {
        let path = folder.appendingPathComponent(modelFile)
        guard let data = FileManager.default.contents(atPath: path.path) else {
            throw TensorFileError("no \(modelFile) in the checkpoint folder", path: path.path)
        }
        do {
            return try JSONDecoder().decode(ModelDescription.self, from: data)
        } catch {
            throw TensorFileError("\(modelFile) lacks preset, latent_dim, resolution or channels, or is not JSON", path: path.path)
        }
    }

    /// The generator of a checkpoint folder, with its weights and BatchNorm statistics.
    public static func loadGenerator(from folder: URL) throws -> Generator {
        let generator = try describedGenerator(folder)
        let path = folder.appendingPathComponent(generatorFile).path
        try generator.store.load(try SafeTensors.read(path: path).tensors, source: path)
        return generator
    }

    /// The generator of a checkpoint folder whose `generator.safetensors` has
    /// been read into `weights` (so that a digest of those bytes names
    /// exactly the weights loaded, even if the file is replaced meanwhile).
    public static func loadGenerator(from folder: URL, weights: Data) throws -> Generator {
        let generator = try describedGenerator(folder)
        let path = folder.appendingPathComponent(generatorFile).path
        try generator.store.load(try SafeTensors.read(data: weights, path: path).tensors, source: path)
        return generator
    }

    /// The generator `model.json` describes, before its weights are loaded.
    private static func describedGenerator(_ folder: URL) throws -> Generator {
        let description = try readDescription(folder: folder)
        let configuration = try description.generatorConfiguration(source: folder.appendingPathComponent(modelFile).path)
        return Generator(configuration: configuration, seed: 0)
    }

    /// Loads the discriminator and the optimiser state of a folder written
    /// with a training step into `training` (whose generator is loaded too).
    public static func restore(_ training: TrainingStep, from folder: URL) throws {
        let generatorPath = folder.appendingPathComponent(generatorFile).path
        let generatorTensors = try SafeTensors.read(path: generatorPath)
        try training.generator.store.load(generatorTensors.tensors, source: generatorPath)
        let discriminatorPath = folder.appendingPathComponent(discriminatorFile).path
        let discriminatorTensors = try SafeTensors.read(path: discriminatorPath)
        try training.discriminator.store.load(discriminatorTensors.tensors, source: discriminatorPath)
        let optimizerPath = folder.appendingPathComponent(optimizerFile).path
        let state = try SafeTensors.read(path: optimizerPath)
        for (name, optimizer) in [("generator", training.generatorOptimizer), ("discriminator", training.discriminatorOptimizer)] {
            guard let first = state.tensors["\(name).first_moment"], let second = state.tensors["\(name).second_moment"],
                  first.values.count == optimizer.firstMoment.count, second.values.count == optimizer.secondMoment.count,
                  let step = state.metadata["\(name)_step"].flatMap(Int.init) else {
                throw TensorFileError("optimiser state for the \(name) is missing or does not fit the model", path: optimizerPath)
            }
            first.values.withUnsafeBufferPointer { optimizer.firstMoment.data.update(from: $0.baseAddress!, count: first.values.count) }
            second.values.withUnsafeBufferPointer { optimizer.secondMoment.data.update(from: $0.baseAddress!, count: second.values.count) }
            optimizer.restore(step: step)
        }
        // Files written by `write` name their step; all must agree.
        let steps = [generatorTensors.metadata["step"], discriminatorTensors.metadata["step"], state.metadata["generator_step"]]
        if steps[0] != nil || steps[1] != nil, Set(steps).count != 1 {
            throw TensorFileError("the checkpoint's files are from different steps (\(steps.map { $0 ?? "?" }.joined(separator: ", "))); "
                                  + "it was cut short while being written", path: folder.path)
        }
    }
}
