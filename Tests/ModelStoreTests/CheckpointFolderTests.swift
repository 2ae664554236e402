import Engine
import Foundation
import GAN
import TestSupport
import Testing

@testable import ModelStore

@Suite("Checkpoint folders")
struct CheckpointFolderTests {
    init() { EngineThreads.configure(2) }

    /// A compact generator with a 64 x 64 DCGAN discriminator, both seeded.
    static func makeStep(seed: UInt64) -> TrainingStep {
        TrainingStep(generator: Generator(preset: .compact, seed: seed), discriminator: Discriminator(resolution: 64, seed: seed + 1))
    }

    /// `count` random real frames in [-1, 1] and latents, for one training step.
    static func batch(_ count: Int, _ random: inout EngineRandom) -> (real: Tensor, latents: Tensor) {
        let real = Tensor(shape: [count, 1, 64, 64], values: (0..<(count * 64 * 64)).map { _ in random.uniform(-1, 1) })
        let latents = Tensor(shape: [count, 128], values: (0..<(count * 128)).map { _ in random.normal() })
        return (real, latents)
    }

    @Test("a folder written by another tool (model.json + generator.safetensors) gives that tool's output")
    func foreignFolder() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let io = ForeignCheckpoint.fixtures.appendingPathComponent("compact_generator_io.safetensors")
        // Keys as another tool may write them, in another order, with an extra one.
        _ = try ForeignCheckpoint.make(
            at: folder.url,
            modelJSON: #"{"resolution": 64, "channels": 1, "framework": "pytorch", "preset": "compact", "latent_dim": 128}"#)
        let generator = try CheckpointFolder.loadGenerator(from: folder.url)
        let expected = try SafeTensors.read(path: io.path).tensors
        let latents = expected["latents"]!
        let output = generator.forward(Tensor(shape: latents.shape, values: latents.values), training: false)
        let difference = largestDifference(output.values, expected["inference"]!.values)
        print("checkpoint folder: largest absolute difference \(difference)")
        #expect(difference <= 1e-4)
    }

    @Test("write then restore: same outputs, same optimiser state, training continues identically")
    func roundTrip() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var random = EngineRandom(seed: 5)
        let (real, latents) = Self.batch(4, &random)
        let original = Self.makeStep(seed: 1)
        original.run(real: real, latents: latents)
        try CheckpointFolder.write(ModelDescription(preset: .compact), generator: original.generator, training: original, to: folder.url)
        let description = try CheckpointFolder.readDescription(folder: folder.url)
        #expect(description.step == 1 && description.discriminator == .dcgan && description.resolution == 64)

        let restored = Self.makeStep(seed: 99)
        try CheckpointFolder.restore(restored, from: folder.url)
        #expect(restored.generatorOptimizer.step == 1)
        #expect(restored.discriminatorOptimizer.secondMoment.values == original.discriminatorOptimizer.secondMoment.values)
        let next = Tensor(shape: [4, 128], values: (0..<512).map { _ in random.normal() })
        let lossesOriginal = original.run(real: real, latents: next)
        let lossesRestored = restored.run(real: real, latents: next)
        #expect(lossesOriginal.discriminatorLoss == lossesRestored.discriminatorLoss)
        #expect(lossesOriginal.generatorLoss == lossesRestored.generatorLoss)
        let a = original.generator.forward(latents, training: false).values
        let b = restored.generator.forward(latents, training: false).values
        #expect(a == b)
    }

    @Test("a kill after any file operation of a checkpoint write leaves a checkpoint that restores (the old or the new one)")
    func killAtEveryOperation() throws {
        var random = EngineRandom(seed: 6)
        let (real, latents) = Self.batch(2, &random)
        let operationCount = 11  // folder, four files, commit, four renames, finish
        for completed in 0...operationCount {
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let first = Self.makeStep(seed: 3)
            first.run(real: real, latents: latents)
            try CheckpointFolder.write(ModelDescription(preset: .compact), generator: first.generator, training: first, to: folder.url)
            first.run(real: real, latents: latents)
            // The process dies after `completed` operations: nothing after them runs, nothing is cleaned up.
            let operations = try CheckpointFolder.writeOperations(
                ModelDescription(preset: .compact), generator: first.generator,
                training: first, to: folder.url)
            #expect(operations.count == operationCount)
            for operation in operations.prefix(completed) { try operation.run() }
            try CheckpointFolder.recover(folder: folder.url)
            let restored = Self.makeStep(seed: 77)
            try CheckpointFolder.restore(restored, from: folder.url)
            let committed = completed > operations.firstIndex { $0.name == "commit" }!
            #expect(restored.generatorOptimizer.step == (committed ? 2 : 1), "killed after \(completed) operations")
            #expect(try CheckpointFolder.readDescription(folder: folder.url).step == restored.generatorOptimizer.step)
            let left = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            #expect(left.allSatisfy { !$0.hasSuffix(".next") && $0 != CheckpointFolder.commitMarker }, "\(left)")
        }
    }

    @Test("clear errors: no model.json, an unknown preset, a size that does not match, a missing weight file")
    func errors() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let modelPath = folder.url.appendingPathComponent(CheckpointFolder.modelFile)
        let missing = #expect(throws: TensorFileError.self) { _ = try CheckpointFolder.loadGenerator(from: folder.url) }
        #expect(missing?.reason.contains("no model.json") == true && missing?.path == modelPath.path)
        try Data(#"{"preset": "huge", "latent_dim": 128, "resolution": 64, "channels": 1}"#.utf8).write(to: modelPath)
        let unknown = #expect(throws: TensorFileError.self) { _ = try CheckpointFolder.loadGenerator(from: folder.url) }
        #expect(unknown?.reason.contains("unknown preset \"huge\"") == true)
        try Data(#"{"preset": "compact", "latent_dim": 128, "resolution": 256, "channels": 1}"#.utf8).write(to: modelPath)
        let mismatch = #expect(throws: TensorFileError.self) { _ = try CheckpointFolder.loadGenerator(from: folder.url) }
        #expect(mismatch?.reason.contains("resolution 64") == true)
        try Data(#"{"preset": "compact", "latent_dim": 128, "resolution": 64, "channels": 1}"#.utf8).write(to: modelPath)
        let noWeights = #expect(throws: TensorFileError.self) { _ = try CheckpointFolder.loadGenerator(from: folder.url) }
        #expect(noWeights?.path.hasSuffix(CheckpointFolder.generatorFile) == true)
    }
}
