import Engine
import Foundation
import GAN

/// A checkpoint folder: `model.json`, `generator.safetensors`, and where saved
/// `discriminator.safetensors` and `optimizer.safetensors` (the Adam moments
/// of both networks). With a weight average (`GeneratorAverage`),
/// `generator.safetensors` holds the average, which samples are made with,
/// and `generator_training.safetensors` the generator that trains. Tensor
/// names and layouts are the architecture page's.
public enum CheckpointFolder {
    public static let modelFile = "model.json"
    public static let generatorFile = "generator.safetensors"
    public static let discriminatorFile = "discriminator.safetensors"
    public static let optimizerFile = "optimizer.safetensors"
    public static let trainingGeneratorFile = "generator_training.safetensors"

    /// Marks a new checkpoint as complete: its files wait under `.next` names.
    public static let commitMarker = "checkpoint.commit"
    static let pendingSuffix = ".next"

    /// Writes the description and the generator, and the discriminator and
    /// optimiser state when given; creates the folder. Survives a kill at any
    /// instant: see `writeOperations`.
    public static func write(
        _ description: ModelDescription, generator: Generator, training: TrainingStep? = nil,
        to folder: URL
    ) throws {
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
    public static func writeOperations(
        _ description: ModelDescription, generator: Generator, training: TrainingStep? = nil,
        to folder: URL
    ) throws -> [Operation] {
        let files = checkpointFiles(description, generator: generator, training: training)
        let path = { (name: String) in folder.appendingPathComponent(name).path }
        let create = Operation(name: "create the folder") {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw TensorFileError("cannot create the checkpoint folder (\(error.localizedDescription))", path: folder.path)
            }
            try recover(folder: folder)
        }
        let writes = files.map { file in
            Operation(name: "write \(file.name)\(pendingSuffix)") {
                try DurableFile.write(try file.bytes(), to: path(file.name + pendingSuffix))
            }
        }
        let commit = Operation(name: "commit") { try DurableFile.write(Data(), to: path(commitMarker)) }
        let renames = files.map { file in
            Operation(name: "rename \(file.name)") { try DurableFile.rename(path(file.name + pendingSuffix), to: path(file.name)) }
        }
        let finish = Operation(name: "finish") { try DurableFile.remove(path(commitMarker)) }
        return [create] + writes + [commit] + renames + [finish]
    }

    /// The files of a checkpoint, each with a function that encodes it:
    /// the generator that makes samples, and with `training` the
    /// discriminator, both Adam states and, with an average, the generator
    /// that trains; `model.json` last.
    static func checkpointFiles(_ description: ModelDescription, generator: Generator, training: TrainingStep?)
        -> [(name: String, bytes: () throws -> Data)]
    {
        var described = description
        if let training {
            described.discriminator = described.discriminator ?? .dcgan
            described.step = training.generatorOptimizer.step
        }
        // Every file carries the step, so a mix of checkpoints is detected on load.
        var metadata = [
            "preset": described.preset, "latent_dim": String(described.latentDim),
            "resolution": String(described.resolution), "channels": String(described.channels),
        ]
        if let training { metadata["step"] = String(training.generatorOptimizer.step) }
        func weights(_ store: ParameterStore) -> () throws -> Data {
            { try SafeTensors.encode(store.namedArrays(), metadata: metadata) }
        }
        var files: [(name: String, bytes: () throws -> Data)] = [(generatorFile, weights(generator.store))]
        if let training {
            files.append((discriminatorFile, weights(training.discriminator.store)))
            files.append((optimizerFile, { try optimizerState(training) }))
            if training.average != nil { files.append((trainingGeneratorFile, weights(training.generator.store))) }
        }
        files.append(
            (
                modelFile,
                {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                    return try encoder.encode(described)
                }
            ))
        return files
    }

    /// `optimizer.safetensors`: both Adam states (moments and steps), LeCam's
    /// anchors when set and ADA's probability and pending signs (as text that
    /// reads back to the same floats).
    static func optimizerState(_ training: TrainingStep) throws -> Data {
        func moments(_ name: String, _ optimizer: Adam) -> [(name: String, array: NamedArray)] {
            [
                ("\(name).first_moment", NamedArray(shape: optimizer.firstMoment.shape, values: optimizer.firstMoment.values)),
                ("\(name).second_moment", NamedArray(shape: optimizer.secondMoment.shape, values: optimizer.secondMoment.values)),
            ]
        }
        let state = moments("generator", training.generatorOptimizer) + moments("discriminator", training.discriminatorOptimizer)
        var metadata = [
            "generator_step": String(training.generatorOptimizer.step),
            "discriminator_step": String(training.discriminatorOptimizer.step),
        ]
        if let anchors = training.lecam?.anchors {
            (metadata["lecam_real_anchor"], metadata["lecam_generated_anchor"]) = ("\(anchors.real)", "\(anchors.generated)")
        }
        if let adaptive = training.adaptive {
            metadata["ada_probability"] = "\(adaptive.probability)"
            metadata["ada_sign_sum"] = "\(adaptive.signSum)"
            metadata["ada_sign_count"] = "\(adaptive.signCount)"
        }
        return try SafeTensors.encode(state, metadata: metadata)
    }

    /// Completes or discards a checkpoint write that a kill interrupted: with
    /// the commit marker, renames the waiting `.next` files into place; without
    /// it, removes them. Call it holding the model's lock (training does,
    /// before it reads the folder); harmless on a folder never interrupted.
    public static func recover(folder: URL) throws {
        let names = [generatorFile, discriminatorFile, optimizerFile, trainingGeneratorFile, modelFile]
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
            throw TensorFileError(
                "\(modelFile) lacks preset, latent_dim, resolution or channels, has an incomplete training record, "
                    + "or is not JSON", path: path.path)
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
    /// with a training step into `training` (whose generator is loaded too,
    /// and its average when it has one).
    public static func restore(_ training: TrainingStep, from folder: URL) throws {
        /// Loads `store` from the file `name`; returns the step the file names.
        func load(_ store: ParameterStore, from name: String) throws -> String? {
            let path = folder.appendingPathComponent(name).path
            let file = try SafeTensors.read(path: path)
            try store.load(file.tensors, source: path)
            return file.metadata["step"]
        }
        var steps = [try load((training.average?.generator ?? training.generator).store, from: generatorFile)]
        if training.average != nil { steps.append(try load(training.generator.store, from: trainingGeneratorFile)) }
        steps.append(try load(training.discriminator.store, from: discriminatorFile))
        let optimizerPath = folder.appendingPathComponent(optimizerFile).path
        let state = try SafeTensors.read(path: optimizerPath)
        for (name, optimizer) in [("generator", training.generatorOptimizer), ("discriminator", training.discriminatorOptimizer)] {
            guard let first = state.tensors["\(name).first_moment"], let second = state.tensors["\(name).second_moment"],
                first.values.count == optimizer.firstMoment.count, second.values.count == optimizer.secondMoment.count,
                let step = state.metadata["\(name)_step"].flatMap(Int.init)
            else {
                throw TensorFileError("optimiser state for the \(name) is missing or does not fit the model", path: optimizerPath)
            }
            first.values.withUnsafeBufferPointer { optimizer.firstMoment.data.update(from: $0.baseAddress!, count: first.values.count) }
            second.values.withUnsafeBufferPointer { optimizer.secondMoment.data.update(from: $0.baseAddress!, count: second.values.count) }
            optimizer.restore(step: step)
        }
        if let lecam = training.lecam, let real = state.metadata["lecam_real_anchor"].flatMap(Float.init),
            let generated = state.metadata["lecam_generated_anchor"].flatMap(Float.init)
        {
            lecam.restore(anchors: (real, generated))
        }
        if let adaptive = training.adaptive {
            guard let probability = state.metadata["ada_probability"].flatMap(Float.init),
                let signSum = state.metadata["ada_sign_sum"].flatMap(Float.init),
                let signCount = state.metadata["ada_sign_count"].flatMap(Int.init)
            else {
                throw TensorFileError("the optimiser state lacks ADA's probability", path: optimizerPath)
            }
            adaptive.restore(probability: probability, signSum: signSum, signCount: signCount)
        }
        // Files written by `write` name their step; all must agree.
        steps.append(state.metadata["generator_step"])
        if steps.dropLast().contains(where: { $0 != nil }), Set(steps).count != 1 {
            throw TensorFileError(
                "the checkpoint's files are from different steps (\(steps.map { $0 ?? "?" }.joined(separator: ", "))); "
                    + "it was cut short while being written", path: folder.path)
        }
    }
}
