import Engine
import Foundation
import GAN
import TestSupport
import Testing

@Suite("Generator and discriminator")
struct ModelTests {
    init() { EngineThreads.configure(2) }

    @Test("parameter counts equal the architecture page")
    func parameterCounts() {
        #expect(Generator(preset: .compact, seed: 1).store.count == 1_812_961)
        #expect(Generator(preset: .paper, seed: 1).store.count == 18_277_089)
        var nearest = GeneratorPreset.compact.configuration()
        nearest.upsampling = .nearest
        #expect(Generator(configuration: nearest, seed: 1).store.count == 1_812_961)
        // Noise inputs: one scale per channel of each level, 3F for F = 128, 64, 32, 16 (compact) or 512 ... 16 (paper).
        var noisy = GeneratorPreset.compact.configuration()
        noisy.noiseInputs = true
        #expect(Generator(configuration: noisy, seed: 1).store.count == 1_812_961 + 720)
        noisy = GeneratorPreset.paper.configuration()
        noisy.noiseInputs = true
        #expect(Generator(configuration: noisy, seed: 1).store.count == 18_277_089 + 3_024)
        // 4x4 convolutions 1->64->128->256->512, three BatchNorms, Linear 8192 -> 1.
        #expect(Discriminator(resolution: 64, seed: 1).store.count == 2_764_481)
        // The residual preset: a bottleneck block 3F -> F -> F -> 3F after each level (15F^2 + 5F), and in D one
        // W -> W/2 -> W/2 -> W after each block in place of the BatchNorms; D's decoder: 256 -> 64 -> 32 -> 16 -> 1, 3x3.
        #expect(Generator(preset: .residual, seed: 1).store.count == 2_140_561)
        #expect(Discriminator(resolution: 64, residual: true, seed: 1).store.count == 3_896_129)
        #expect(Discriminator(resolution: 64, reconstructionWeight: 1, seed: 1).store.count == 2_764_481 + 170_753)
    }

    @Test("tensor names and shapes are the architecture page's")
    func names() {
        let generator = Generator(preset: .compact, seed: 1)
        let shapes = Dictionary(uniqueKeysWithValues: generator.store.namedArrays().map { ($0.name, $0.array.shape) })
        #expect(shapes["fc.weight"] == [4096, 128])
        #expect(shapes["bn0.running_var"] == [256])
        #expect(shapes["levels.0.a.weight"] == [128, 256, 3, 3])
        #expect(shapes["levels.0.b1.weight"] == [256, 256, 1, 1])
        #expect(shapes["levels.0.b2.weight"] == [256, 128, 3, 3])
        #expect(shapes["levels.0.c2.weight"] == [256, 128, 1, 1])
        #expect(shapes["levels.3.bn.running_mean"] == [48])
        #expect(shapes["out.weight"] == [1, 48, 3, 3])
        // Resize-convolution: the same names, b2 and c2 ordinary convolutions (out, in, k, k).
        var configuration = GeneratorPreset.compact.configuration()
        configuration.upsampling = .nearest
        let nearest = Generator(configuration: configuration, seed: 1)
        let nearestShapes = Dictionary(uniqueKeysWithValues: nearest.store.namedArrays().map { ($0.name, $0.array.shape) })
        #expect(Set(nearestShapes.keys) == Set(shapes.keys))
        #expect(nearestShapes["levels.0.b2.weight"] == [128, 256, 3, 3] && nearestShapes["levels.0.c2.weight"] == [128, 256, 1, 1])
        let discriminator = Discriminator(resolution: 64, seed: 1)
        let names = Set(discriminator.store.namedArrays().map(\.name))
        #expect(names.contains("blocks.0.conv.weight") && !names.contains("blocks.0.bn.weight"))
        #expect(names.contains("blocks.3.bn.running_var") && names.contains("fc.weight"))
    }

    @Test("a compact checkpoint written by another tool gives its output (training and inference mode)")
    func checkpointForward() throws {
        let checkpoint = try #require(
            Bundle.module.url(forResource: "compact_generator", withExtension: "safetensors", subdirectory: "Fixtures"))
        let io = try #require(
            Bundle.module.url(forResource: "compact_generator_io", withExtension: "safetensors", subdirectory: "Fixtures"))
        let expected = try SafeTensors.read(path: io.path).tensors
        let latents = expected["latents"]!
        for mode in ["inference", "training"] {
            let generator = Generator(preset: .compact, seed: 7)
            let extra = try generator.store.load(try SafeTensors.read(path: checkpoint.path).tensors, source: checkpoint.path)
            #expect(extra.isEmpty)
            let output = generator.forward(Tensor(shape: latents.shape, values: latents.values), training: mode == "training")
            #expect(output.shape == [2, 1, 64, 64])
            let difference = largestDifference(output.values, expected[mode]!.values)
            print("compact generator (\(mode)): largest absolute difference \(difference)")
            #expect(difference <= 1e-4)
        }
    }

    /// With LeakyReLU(0.2), moving one parameter by the finite-difference step
    /// pushes some of this small network's pre-activations across the kink at
    /// 0, which makes the numeric derivative wrong by several percent (seen:
    /// up to 10 %, shrinking only linearly with the step). LeakyReLU's own
    /// gradient is checked away from its kink in EngineTests; this test checks
    /// how gradients flow through the levels, BatchNorms and branches, so it
    /// uses a smooth slope of 1. The noise scales start at 0; set away from it,
    /// the check sees the noise reach the output through the rest of the level.
    @Test(
        "whole small generator: finite differences",
        arguments: [(Upsampling.transposed, false), (.nearest, false), (.nearest, true)])
    func generatorGradients(upsampling: Upsampling, noiseInputs: Bool) {
        let configuration = GeneratorConfiguration(
            latentDimension: 6, baseChannels: 6, levels: [1, 0], negativeSlope: 1, upsampling: upsampling, noiseInputs: noiseInputs)
        let generator = Generator(configuration: configuration, seed: 3)
        let scales = generator.store.parameters.filter { $0.name.hasSuffix(".noise.scale") }
        #expect(scales.map(\.name) == (noiseInputs ? ["levels.0.noise.scale", "levels.1.noise.scale"] : []))
        var scaleRandom = EngineRandom(seed: 5)
        for scale in scales { for index in 0..<scale.count { generator.store.value(scale)[index] = scaleRandom.uniform(-0.5, 0.5) } }
        var random = EngineRandom(seed: 4)
        let latents = Tensor(shape: [3, 6], values: (0..<18).map { _ in random.normal() })
        let weights = Tensor(shape: [3, 1, 16, 16], values: (0..<768).map { _ in random.uniform(-1, 1) })
        checkWholeNetwork(
            "generator (\(upsampling.rawValue)\(noiseInputs ? ", noise inputs" : ""))", store: generator.store, weights: weights,
            forward: { generator.forward(latents, training: true) },
            backward: { generator.backward($0) })
    }

    /// Synthesis and resume rely on this: the noise is drawn from the latent,
    /// so an image does not depend on its batch or on earlier calls (a noise
    /// drawn by batch position would move it by the noise's own size, 0.1).
    @Test("noise inputs: an image depends on its latent alone, and the noise changes it")
    func noiseFollowsTheLatent() {
        var configuration = GeneratorConfiguration(latentDimension: 6, baseChannels: 6, levels: [1, 0], noiseInputs: true)
        let noisy = Generator(configuration: configuration, seed: 3)
        configuration.noiseInputs = false
        let plain = Generator(configuration: configuration, seed: 3)
        for scale in noisy.store.parameters where scale.name.hasSuffix(".noise.scale") {
            noisy.store.value(scale).update(repeating: 0.5, count: scale.count)
        }
        var random = EngineRandom(seed: 5)
        let rows = (0..<3).map { _ in (0..<6).map { _ in random.normal() } }
        let together = noisy.forward(Tensor(shape: [3, 6], values: rows.flatMap { $0 }), training: false).values
        let plane = 16 * 16
        for (index, row) in rows.enumerated().reversed() {
            let alone = noisy.forward(Tensor(shape: [1, 6], values: row), training: false).values
            // Not bit for bit: the matrix products of a batch of 1 and of 3 round differently (1e-7).
            #expect(largestDifference(alone, Array(together[(index * plane)..<((index + 1) * plane)])) < 1e-5, "image \(index)")
        }
        let withoutNoise = plain.forward(Tensor(shape: [3, 6], values: rows.flatMap { $0 }), training: false).values
        #expect(largestDifference(together, withoutNoise) > 0.01)
    }

    /// The checkerboard of transposed convolutions (Odena et al. 2016) is
    /// power at the highest frequencies, where the image alternates from one
    /// pixel to the next. Measured on the untrained compact generator's
    /// output (its branch c writes only every other pixel), as the share of
    /// the power of the image's 2x2-periodic part: the mean of each of the
    /// four pixel phases, less the image mean.
    @Test("the untrained nearest generator has less checkerboard than the transposed one")
    func checkerboard() {
        func checkerboardShare(_ upsampling: Upsampling) -> Double {
            var configuration = GeneratorPreset.compact.configuration()
            configuration.upsampling = upsampling
            let generator = Generator(configuration: configuration, seed: 2)
            var random = EngineRandom(seed: 3)
            let images = generator.forward(Tensor(shape: [8, 128], values: (0..<1024).map { _ in random.normal() }), training: true)
            var periodic = 0.0, total = 0.0
            for image in 0..<8 {
                let pixels = (0..<4096).map { Double(images.data[image * 4096 + $0]) }
                let mean = pixels.reduce(0, +) / 4096
                for phase in 0..<4 {
                    let members = (0..<4096).filter { ($0 / 64) % 2 == phase / 2 && ($0 % 64) % 2 == phase % 2 }
                    let phaseMean = members.map { pixels[$0] }.reduce(0, +) / Double(members.count)
                    periodic += (phaseMean - mean) * (phaseMean - mean) * Double(members.count)
                }
                total += pixels.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
            }
            return periodic / total
        }
        let transposed = checkerboardShare(.transposed), nearest = checkerboardShare(.nearest)
        print("share of the untrained output's variance that is 2x2-periodic: transposed \(transposed), nearest \(nearest)")
        #expect(nearest < transposed / 4)
    }

    /// A smooth slope, for the reason given above the generator's check.
    @Test("whole discriminator: finite differences, input gradient included (with and without minibatch std)", arguments: [false, true])
    func discriminatorGradients(minibatchStandardDeviation: Bool) {
        let discriminator = Discriminator(
            resolution: 16, negativeSlope: 1, minibatchStandardDeviation: minibatchStandardDeviation, seed: 3)
        #expect(discriminator.store.parameter(named: "fc.weight")?.shape == [1, (minibatchStandardDeviation ? 513 : 512)])
        var random = EngineRandom(seed: 6)
        let images = Tensor(shape: [3, 1, 16, 16], values: (0..<768).map { _ in random.uniform(-1, 1) })
        let weights = Tensor(shape: [3, 1], values: [0.7, -0.4, 1.1])
        checkWholeNetwork(
            "discriminator", store: discriminator.store, weights: weights,
            forward: { discriminator.forward(images, training: true) },
            backward: { _ = discriminator.backward($0, parameterGradients: true) })
        // The input gradient (what the generator step needs), at a few pixels.
        _ = discriminator.forward(images, training: true)
        let inputGradient = discriminator.backward(weights, parameterGradients: false).values
        for index in [0, 77, 300, 767] {
            let numeric = centralDifference(images.data + index) { weightedSum(discriminator.forward(images, training: true), weights) }
            #expect(abs(Double(inputGradient[index]) - numeric) <= 3e-3 + 1e-2 * abs(numeric), "pixel \(index)")
        }
    }

    func weightedSum(_ y: Tensor, _ weights: Tensor) -> Double {
        (0..<y.count).reduce(0) { $0 + Double(y.data[$1]) * Double(weights.data[$1]) }
    }

    func centralDifference(_ pointer: UnsafeMutablePointer<Float>, _ loss: () -> Double) -> Double {
        let saved = pointer.pointee
        pointer.pointee = saved + 1e-2
        let plus = loss()
        pointer.pointee = saved - 1e-2
        let minus = loss()
        pointer.pointee = saved
        return (plus - minus) / 2e-2
    }

    /// Runs the backward pass for L = sum(output * weights), then compares
    /// three sampled entries of every parameter with central differences
    /// (step and tolerance argued in EngineTests/GradientCheckTests.swift).
    func checkWholeNetwork(
        _ label: String, store: ParameterStore, weights: Tensor, forward: () -> Tensor,
        backward: (Tensor) -> Void
    ) {
        store.zeroGradients()
        _ = forward()
        backward(weights)
        let analytic = Array(UnsafeBufferPointer(start: store.gradients, count: store.count))
        var random = EngineRandom(seed: 11)
        var largest: Double = 0
        for parameter in store.parameters {
            for _ in 0..<3 {
                let index = Int(random.nextUInt64() % UInt64(parameter.count))
                let numeric = centralDifference(store.value(parameter) + index) { weightedSum(forward(), weights) }
                let value = Double(analytic[parameter.offset + index])
                largest = max(largest, abs(value - numeric))
                #expect(abs(value - numeric) <= 3e-3 + 1e-2 * abs(numeric), "\(label) \(parameter.name)[\(index)]: \(value) vs \(numeric)")
            }
        }
        print("gradient check whole \(label): largest difference \(largest)")
    }

    @Test("the discriminator's own step adds the same gradients as a full backward pass, without the image gradient")
    func discriminatorParameterGradientsOnly() {
        let discriminator = Discriminator(resolution: 32, seed: 3)
        let (full, parametersOnly) = OwnStepGradients.measure(discriminator)
        let firstWeight = discriminator.store.parameter(named: "blocks.0.conv.weight")!
        #expect(full == parametersOnly)
        #expect(full[firstWeight.offset..<(firstWeight.offset + firstWeight.count)].contains { $0 != 0 })
    }
}

/// A discriminator's parameter gradients for one batch of 3 images at 32 x 32,
/// from a full backward pass and from its own step's
/// `accumulateParameterGradients`, each from zero.
enum OwnStepGradients {
    static func measure(_ discriminator: any DiscriminatorNetwork) -> (full: [Float], ownStep: [Float]) {
        var random = EngineRandom(seed: 5)
        let images = Tensor(shape: [3, 1, 32, 32], values: (0..<3 * 32 * 32).map { _ in random.uniform(-1, 1) })
        let logitGradient = Tensor(shape: [3, 1], values: [0.5, -1, 2])
        func gradients(_ accumulate: () -> Void) -> [Float] {
            discriminator.store.zeroGradients()
            _ = discriminator.forward(images, training: true)
            accumulate()
            return Array(UnsafeBufferPointer(start: discriminator.store.gradients, count: discriminator.store.count))
        }
        return (
            gradients { _ = discriminator.backward(logitGradient, parameterGradients: true) },
            gradients { discriminator.accumulateParameterGradients(logitGradient) }
        )
    }
}
