import Engine
import GAN
import Testing

/// The paths and layouts `bench --profile` lists, as the layers' declarations make them.
@Suite("Convolution plans of the networks")
struct ConvolutionPlanTests {
    /// The plans of both networks after one forward pass each.
    static func plans(_ preset: GeneratorPreset, noiseInputs: Bool = false, kernels: ConvolutionKernels = .oneDNN) -> [String: String] {
        var configuration = preset.configuration()
        configuration.noiseInputs = noiseInputs
        let generator = Generator(configuration: configuration, seed: 1)
        let discriminator = Discriminator(resolution: configuration.resolution, residual: configuration.residual, seed: 2)
        for store in [generator.store, discriminator.store] { store.convolutionKernels = kernels }
        let images = generator.forward(Tensor(shape: [2, configuration.latentDimension]), training: true)
        _ = discriminator.forward(images, training: true)
        return Dictionary(
            uniqueKeysWithValues: (generator.store.convolutionPlans + discriminator.store.convolutionPlans).map { ($0.layer, $0.plan) })
    }

    @Test(
        "every convolution layer is listed with its path; blocks run between convolutions, not into the direct loop",
        arguments: [GeneratorPreset.compact, .paper])
    func presets(preset: GeneratorPreset) {
        let plans = Self.plans(preset)
        let levels = preset.configuration().levels.count
        #expect(plans.count == 5 * levels + 1 + 4, "\(plans.keys.sorted())")
        #expect(plans["out"]?.hasSuffix(", direct loop") == true && plans["out"]?.contains("blocks") == false, "\(plans["out"] ?? "")")
        for index in 0..<4 { #expect(plans["blocks.\(index).conv"]?.contains("blocks, onednn") == true) }
        // Within the last level b1 feeds b2 in blocks; the level's output stays NCHW for the direct loop.
        let last = levels - 1
        #expect(plans["levels.\(last).b1"]?.contains("] blocks, onednn") == true, "\(plans["levels.\(last).b1"] ?? "")")
        #expect(plans["levels.\(last).a"]?.hasSuffix("], onednn") == true, "\(plans["levels.\(last).a"] ?? "")")
        #expect(plans["levels.0.a"]?.contains("] blocks, onednn") == true)
        let corner = preset == .paper ? "levels.0.c2" : nil
        if let corner { #expect(plans[corner]?.hasSuffix("onednn corner spread") == true, "\(plans[corner] ?? "")") }
    }

    @Test(
        "the residual preset: its blocks' convolutions are listed; inside a block they pass blocks, and give NCHW to its sum")
    func residualPreset() {
        let plans = Self.plans(.residual)
        let levels = GeneratorPreset.residual.configuration().levels.count
        #expect(plans.count == (5 + 3) * levels + 1 + (1 + 3) * 4, "\(plans.keys.sorted())")
        for block in (0..<levels).map({ "levels.\($0).residual" }) + (0..<4).map({ "blocks.\($0).residual" }) {
            #expect(plans["\(block).reduce"]?.contains("] blocks, onednn") == true, "\(plans["\(block).reduce"] ?? "")")
            #expect(plans["\(block).conv"]?.contains("] blocks, onednn") == true, "\(plans["\(block).conv"] ?? "")")
            #expect(plans["\(block).restore"]?.hasSuffix("], onednn") == true, "\(plans["\(block).restore"] ?? "")")
        }
        // A level's output goes to its block's sum, which reads NCHW.
        #expect(plans["levels.0.a"]?.hasSuffix("], onednn") == true, "\(plans["levels.0.a"] ?? "")")
    }

    @Test("noise inputs read NCHW: no level's output is in channel blocks; the engine's own kernels give none anywhere")
    func noBlocks() {
        let noise = Self.plans(.compact, noiseInputs: true)
        let levelOutputs = noise.filter { entry in
            entry.key.hasPrefix("levels.") && [".a", ".b2", ".c2"].contains { entry.key.hasSuffix($0) }
        }
        #expect(levelOutputs.count == 12 && levelOutputs.values.allSatisfy { !$0.contains("] blocks,") }, "\(levelOutputs)")
        let ownKernels = Self.plans(.compact, kernels: .im2col)
        #expect(ownKernels.values.allSatisfy { !$0.contains("] blocks") }, "\(ownKernels)")
        #expect(ownKernels["levels.0.a"]?.hasSuffix("im2col + gemm") == true && ownKernels["out"]?.hasSuffix("direct loop") == true)
    }
}
