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
        case preset, resolution, channels, discriminator, step
        case latentDim = "latent_dim"
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

/// A checkpoint folder: `model.json`, `generator.safetensors`, and where saved
/// `discriminator.safetensors` and `optimizer.safetensors` (the Adam moments
/// of both networks). Tensor names and layouts are the architecture page's.
public enum CheckpointFolder {
    public static let modelFile = "model.json"
    public static let generatorFile = "generator.safetensors"
    public static let discriminatorFile = "discriminator.safetensors"
    public static let optimizerFile = "optimizer.safetensors"

    /// Writes the description and the generator, and the discriminator and
    /// optimiser state when given; creates the folder.
    public static func write(_ description: ModelDescription, generator: Generator, training: TrainingStep? = nil,
                             to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var described = description
        if let training {
            described.discriminator = described.discriminator ?? "dcgan"
            described.step = training.generatorOptimizer.step
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let modelPath = folder.appendingPathComponent(modelFile)
        do {
            try encoder.encode(described).write(to: modelPath, options: .atomic)
        } catch {
            throw TensorFileError("cannot write (\(error.localizedDescription))", path: modelPath.path)
        }
        let metadata = ["preset": described.preset, "latent_dim": String(described.latentDim),
                        "resolution": String(described.resolution), "channels": String(described.channels)]
        try SafeTensors.write(generator.store.namedArrays(), metadata: metadata,
                              to: folder.appendingPathComponent(generatorFile).path)
        guard let training else { return }
        try SafeTensors.write(training.discriminator.store.namedArrays(), metadata: metadata,
                              to: folder.appendingPathComponent(discriminatorFile).path)
        func moments(_ name: String, _ optimizer: Adam) -> [(name: String, array: NamedArray)] {
            [("\(name).first_moment", NamedArray(shape: optimizer.firstMoment.shape, values: optimizer.firstMoment.values)),
             ("\(name).second_moment", NamedArray(shape: optimizer.secondMoment.shape, values: optimizer.secondMoment.values))]
        }
        try SafeTensors.write(moments("generator", training.generatorOptimizer) + moments("discriminator", training.discriminatorOptimizer),
                              metadata: ["generator_step": String(training.generatorOptimizer.step),
                                         "discriminator_step": String(training.discriminatorOptimizer.step)],
                              to: folder.appendingPathComponent(optimizerFile).path)
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
        let description = try readDescription(folder: folder)
        let configuration = try description.generatorConfiguration(source: folder.appendingPathComponent(modelFile).path)
        let generator = Generator(configuration: configuration, seed: 0)
        let path = folder.appendingPathComponent(generatorFile).path
        try generator.store.load(try SafeTensors.read(path: path).tensors, source: path)
        return generator
    }

    /// Loads the discriminator and the optimiser state of a folder written
    /// with a training step into `training` (whose generator is loaded too).
    public static func restore(_ training: TrainingStep, from folder: URL) throws {
        let generatorPath = folder.appendingPathComponent(generatorFile).path
        try training.generator.store.load(try SafeTensors.read(path: generatorPath).tensors, source: generatorPath)
        let discriminatorPath = folder.appendingPathComponent(discriminatorFile).path
        try training.discriminator.store.load(try SafeTensors.read(path: discriminatorPath).tensors, source: discriminatorPath)
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
    }
}
