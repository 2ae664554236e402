import Engine

/// The size of a generator: latent size, channels of the first 4x4 map (C0)
/// and the level exponents l (F = 2^l * 8; each level doubles the resolution).
public struct GeneratorConfiguration: Equatable, Sendable {
    public var latentDimension: Int
    public var baseChannels: Int
    public var levels: [Int]
    public var channels: Int
    /// Slope of the LeakyReLUs for negative inputs: 0.2 on the architecture page.
    public var negativeSlope: Float
    /// How branches b and c of each level double the resolution.
    public var upsampling: Upsampling
    /// Each level adds per-pixel noise with a learned per-channel scale
    /// (`NoiseInjection`) between its BatchNorm and its LeakyReLU; the paper's
    /// generator has none.
    public var noiseInputs: Bool
    /// Each level ends with a residual bottleneck block (`ResidualBottleneck`,
    /// 3F -> F -> F -> 3F), and the discriminator trained with it has such
    /// blocks in place of its BatchNorms: the `residual` preset.
    public var residual: Bool

    public init(
        latentDimension: Int, baseChannels: Int, levels: [Int], channels: Int = 1, negativeSlope: Float = 0.2,
        upsampling: Upsampling = .transposed, noiseInputs: Bool = false, residual: Bool = false
    ) {
        self.latentDimension = latentDimension
        self.baseChannels = baseChannels
        self.levels = levels
        self.channels = channels
        self.negativeSlope = negativeSlope
        self.upsampling = upsampling
        self.noiseInputs = noiseInputs
        self.residual = residual
    }

    public var resolution: Int { 4 << levels.count }
}

/// How a generator level's branches b and c double the resolution.
public enum Upsampling: String, Codable, CaseIterable, Sendable {
    /// The paper's layer table: transposed convolutions of stride 2. A
    /// stride-2 transposed convolution whose kernel the stride does not
    /// divide (3x3) or that is smaller than the stride (1x1) writes some
    /// output pixels from fewer input taps than others, which draws a
    /// checkerboard (Odena, Dumoulin and Olah, "Deconvolution and
    /// Checkerboard Artifacts", Distill 2016).
    case transposed
    /// Odena et al.'s resize-convolution: nearest-neighbour upsampling, then
    /// an ordinary convolution of the same kernel, so every output pixel is
    /// made alike. Same parameters and shapes as `transposed`.
    case nearest
}

/// The generator presets of the architecture page.
public enum GeneratorPreset: String, CaseIterable, Sendable {
    /// 64 x 64, 1,812,961 parameters.
    case compact
    /// 256 x 256, 18,277,089 parameters (the paper reports 17,074,528).
    case paper
    /// `compact` with a residual bottleneck block after each level, trained
    /// against a discriminator with residual blocks and no BatchNorm (R3GAN's
    /// recipe beside the paper's levels; docs/training.md): 64 x 64, 2,140,561
    /// parameters.
    case residual

    public func configuration(channels: Int = 1) -> GeneratorConfiguration {
        switch self {
        case .compact: GeneratorConfiguration(latentDimension: 128, baseChannels: 256, levels: [4, 3, 2, 1], channels: channels)
        case .paper: GeneratorConfiguration(latentDimension: 128, baseChannels: 512, levels: [6, 5, 4, 3, 2, 1], channels: channels)
        case .residual:
            GeneratorConfiguration(latentDimension: 128, baseChannels: 256, levels: [4, 3, 2, 1], channels: channels, residual: true)
        }
    }
}

/// One upsampling level (our reading of the paper's Table 1): three parallel
/// branches over the same input, each doubling the resolution, concatenated,
/// then BatchNorm and LeakyReLU(0.2).
///
/// - a: Conv 3x3 (cin -> F, pad 1), nearest upsampling x2
/// - b: Conv 1x1 (cin -> 2F), ConvTranspose 3x3 (2F -> F, stride 2, pad 1, output padding 1)
/// - c: Conv 1x1 (cin -> 2F), ConvTranspose 1x1 (2F -> F, stride 2, output padding 1)
///
/// With `Upsampling.nearest`, b's second layer is nearest upsampling x2 then
/// Conv 3x3 (2F -> F, pad 1), and c's is Conv 1x1 (2F -> F) then nearest
/// upsampling x2 (a 1x1 convolution commutes with it, and costs a quarter before it).
///
/// With noise inputs, the BatchNorm's output gets a noise map [N, 1, 2H, 2W]
/// with a learned scale per channel before the LeakyReLU (`NoiseInjection`).
/// With `residual`, a residual bottleneck block (3F -> F -> F -> 3F) follows
/// the LeakyReLU.
///
/// Where what follows the level reads them (`planChannelBlocks`), the
/// convolutions give oneDNN's channel blocks (`TensorLayout.channelBlocks`),
/// which the upsampling, the concatenation and the BatchNorm keep: the next
/// level's convolutions read them without a reorder. Any level takes either
/// layout in.
///
/// Input [N, cin, H, W], output [N, 3F, 2H, 2W].
final class GeneratorLevel {
    let a: Conv2d, upsample = Upsample2x()
    let b1: Conv2d, b2: Layer
    let c1: Conv2d, c2: Layer
    /// BatchNorm with the LeakyReLU fused in, unless the noise goes between
    /// them: then `activation` follows the noise.
    let norm: BatchNorm2d, activation: LeakyReLU?
    let noise: NoiseInjection?
    /// With `GeneratorConfiguration.residual`: the block after the activation.
    let refinement: ResidualBottleneck?
    let filters: Int
    private var concatenated: Tensor?
    private var slices: [Tensor?] = [nil, nil, nil]

    init(
        _ name: String, store: ParameterStore, initializer: DefaultInitializer, inChannels: Int, filters f: Int, negativeSlope: Float,
        upsampling: Upsampling, noiseInputs: Bool, residual: Bool
    ) {
        filters = f
        activation = noiseInputs ? LeakyReLU(slope: negativeSlope) : nil
        a = Conv2d(
            "\(name).a", store: store, initializer: initializer, inChannels: inChannels, outChannels: f, kernel: 3, padding: 1)
        b1 = Conv2d(
            "\(name).b1", store: store, initializer: initializer, inChannels: inChannels, outChannels: 2 * f, kernel: 1)
        // Layers draw their initial weights and take their place in the store in creation order: a, b1, b2, c1, c2.
        b2 = Self.doubling(
            "\(name).b2", store: store, initializer: initializer, inChannels: 2 * f, outChannels: f, kernel: 3, upsampling: upsampling)
        c1 = Conv2d(
            "\(name).c1", store: store, initializer: initializer, inChannels: inChannels, outChannels: 2 * f, kernel: 1)
        c2 = Self.doubling(
            "\(name).c2", store: store, initializer: initializer, inChannels: 2 * f, outChannels: f, kernel: 1, upsampling: upsampling)
        norm = BatchNorm2d(
            "\(name).bn", store: store, channels: 3 * f, activationSlope: noiseInputs ? nil : negativeSlope, inPlace: true)
        noise = noiseInputs ? NoiseInjection("\(name).noise", store: store, channels: 3 * f) : nil
        refinement =
            residual
            ? ResidualBottleneck("\(name).residual", store: store, initializer: initializer, channels: 3 * f, bottleneck: f) : nil
    }

    /// The second layer of branch b (3x3) or c (1x1): cin -> cout at twice
    /// the resolution, padded to keep the size.
    private static func doubling(
        _ name: String, store: ParameterStore, initializer: DefaultInitializer, inChannels: Int, outChannels: Int, kernel: Int,
        upsampling: Upsampling
    ) -> Layer {
        switch upsampling {
        case .transposed:
            return ConvTranspose2d(
                name, store: store, initializer: initializer, inChannels: inChannels, outChannels: outChannels,
                kernel: kernel, stride: 2, padding: kernel / 2, outputPadding: 1)
        case .nearest:
            let convolution = Conv2d(
                name, store: store, initializer: initializer, inChannels: inChannels, outChannels: outChannels, kernel: kernel,
                padding: kernel / 2)
            return Sequential(kernel == 1 ? [convolution, Upsample2x()] : [Upsample2x(), convolution])
        }
    }

    /// The level's first ops, which read its input side by side.
    var inputs: [LayoutDeclaring] { [a, b1, c1] }

    /// Chooses the layouts of the level's convolutions from what their
    /// outputs reach (`ChannelBlockPlan`): the branch's other ops, the
    /// concatenation (whole blocks from every branch), the BatchNorm, the
    /// noise and activation when there are, and then the ops that read the
    /// level's output side by side.
    func planChannelBlocks(readers: [LayoutDeclaring]) {
        let readersAccept = (refinement.map { [$0] } ?? readers).allSatisfy { ChannelBlockPlan.accepts([$0], thenAccepted: false) }
        var tail: [LayoutDeclaring] = [norm]
        if let noise { tail.append(noise) }
        if let activation { tail.append(activation) }
        let joinedAccepted =
            ChannelConcat.acceptsChannelBlocks(partChannels: [filters, filters, filters])
            && ChannelBlockPlan.accepts(tail, thenAccepted: readersAccept)
        for branch: [LayoutDeclaring] in [[a, upsample], [b1, b2], [c1, c2]] {
            ChannelBlockPlan.plan(branch, thenAccepted: joinedAccepted)
        }
    }

    /// `noiseMap` [N, 1, 2H, 2W] when the level has noise inputs, else nil.
    func forward(_ x: Tensor, noiseMap: Tensor?, training: Bool) -> Tensor {
        let branchA = upsample.forward(a.forward(x, training: training), training: training)
        let branchB = b2.forward(b1.forward(x, training: training), training: training)
        let branchC = c2.forward(c1.forward(x, training: training), training: training)
        let joined = ChannelConcat.forward([branchA, branchB, branchC], into: &concatenated)
        var normalized = norm.forward(joined, training: training)
        if let noise, let noiseMap { normalized = noise.forward(normalized, noise: noiseMap) }
        let activated = activation?.forward(normalized, training: training) ?? normalized
        return refinement?.forward(activated, training: training) ?? activated
    }

    func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        let dActivated = refinement?.backward(dy, parameterGradients: parameterGradients) ?? dy
        var dNormalized = activation?.backward(dActivated, parameterGradients: parameterGradients) ?? dActivated
        if let noise { dNormalized = noise.backward(dNormalized, parameterGradients: parameterGradients) }
        let dJoined = norm.backward(dNormalized, parameterGradients: parameterGradients)
        let widths = [filters, filters, filters]
        let dA = ChannelConcat.backward(dJoined, channels: widths, index: 0, into: &slices[0])
        let dB = ChannelConcat.backward(dJoined, channels: widths, index: 1, into: &slices[1])
        let dC = ChannelConcat.backward(dJoined, channels: widths, index: 2, into: &slices[2])
        let fromA = a.backward(upsample.backward(dA, parameterGradients: parameterGradients), parameterGradients: parameterGradients)
        let fromB = b1.backward(b2.backward(dB, parameterGradients: parameterGradients), parameterGradients: parameterGradients)
        let fromC = c1.backward(c2.backward(dC, parameterGradients: parameterGradients), parameterGradients: parameterGradients)
        // The sum goes into branch A's input gradient, which nothing reads again
        // before a's next backward pass: the level keeps no tensor of its own for it.
        let count = fromA.count
        for i in 0..<count { fromA.data[i] += fromB.data[i] + fromC.data[i] }
        return fromA
    }
}

/// The paper's generator (architecture page): z [N, latent] -> Linear ->
/// view [N, C0, 4, 4] -> BatchNorm -> LeakyReLU(0.2) -> levels -> Conv 3x3
/// -> tanh, giving [N, channels, R, R] in [-1, 1].
public final class Generator {
    public let configuration: GeneratorConfiguration
    public let store = ParameterStore()
    let fc: Linear
    /// BatchNorm with the LeakyReLU fused in.
    let norm0: BatchNorm2d
    let levels: [GeneratorLevel]
    let out: Conv2d
    let tanh = Tanh()
    /// With noise inputs: the levels' noise maps of the latest batch, [N, 1, 8 << l, 8 << l] for level l.
    private var noiseMaps: [Tensor?]

    public convenience init(preset: GeneratorPreset, channels: Int = 1, seed: UInt64) {
        self.init(configuration: preset.configuration(channels: channels), seed: seed)
    }

    public init(configuration: GeneratorConfiguration, seed: UInt64) {
        self.configuration = configuration
        let initializer = DefaultInitializer(random: EngineRandom(seed: seed))
        let c0 = configuration.baseChannels
        fc = Linear("fc", store: store, initializer: initializer, inFeatures: configuration.latentDimension, outFeatures: 16 * c0)
        norm0 = BatchNorm2d("bn0", store: store, channels: c0, activationSlope: configuration.negativeSlope, inPlace: true)
        var inChannels = c0
        var made: [GeneratorLevel] = []
        for (index, exponent) in configuration.levels.enumerated() {
            let filters = (1 << exponent) * 8
            made.append(
                GeneratorLevel(
                    "levels.\(index)", store: store, initializer: initializer, inChannels: inChannels, filters: filters,
                    negativeSlope: configuration.negativeSlope, upsampling: configuration.upsampling,
                    noiseInputs: configuration.noiseInputs, residual: configuration.residual))
            inChannels = 3 * filters
        }
        levels = made
        noiseMaps = Array(repeating: nil, count: made.count)
        out = Conv2d(
            "out", store: store, initializer: initializer, inChannels: inChannels, outChannels: configuration.channels,
            kernel: 3, padding: 1)
        // The noise reads NCHW; the last level's output goes to the output
        // convolution's direct loop, which reads NCHW too.
        for (index, level) in made.enumerated() {
            level.planChannelBlocks(readers: index + 1 < made.count ? made[index + 1].inputs : [out])
        }
        store.seal()
    }

    /// The first channel of `images` ([N, channels, R, R], flattened), as
    /// [N, 1, R, R]: the frame of a model that draws labels after it, which is
    /// what is compared with real frames and shown.
    public func imageChannel(of images: [Float]) -> [Float] {
        let plane = configuration.resolution * configuration.resolution, channels = configuration.channels
        guard channels > 1 else { return images }
        return (0..<(images.count / (channels * plane))).flatMap { images[($0 * channels * plane)..<($0 * channels * plane + plane)] }
    }

    /// latents [N, latent_dim] -> images [N, channels, R, R].
    public func forward(_ latents: Tensor, training: Bool) -> Tensor {
        precondition(
            latents.shape.count == 2 && latents.shape[1] == configuration.latentDimension,
            "generator input must be [N, \(configuration.latentDimension)], got \(latents.shape)")
        let n = latents.shape[0]
        let projected = fc.forward(latents, training: training)
        projected.view(as: [n, configuration.baseChannels, 4, 4])
        var x = norm0.forward(projected, training: training)
        if configuration.noiseInputs { drawNoise(for: latents) }
        for (index, level) in levels.enumerated() { x = level.forward(x, noiseMap: noiseMaps[index], training: training) }
        return tanh.forward(out.forward(x, training: training), training: training)
    }

    /// Fills `noiseMaps` with standard normal draws. Image n's maps come from
    /// one stream seeded by the bits of its latent row, level after level:
    /// the output stays a function of the latent alone, so a synthetic frame
    /// is made again from its latent, a resumed training draws what a single
    /// run would, and different latents get unrelated noise.
    private func drawNoise(for latents: Tensor) {
        let (n, dimension) = (latents.shape[0], latents.shape[1])
        let maps = (0..<levels.count).map { index in
            let side = 8 << index
            return reuseTensor(&noiseMaps[index], [n, 1, side, side])
        }
        for image in 0..<n {
            var random = EngineRandom(seed: Self.noiseSeed(latents.data + image * dimension, count: dimension))
            for map in maps {
                let plane = map.count / n
                let target = map.data + image * plane
                for p in 0..<plane { target[p] = random.normal() }
            }
        }
    }

    /// A 64-bit hash of a latent row: SplitMix64 chained over the values' bits.
    static func noiseSeed(_ row: UnsafePointer<Float>, count: Int) -> UInt64 {
        var seed: UInt64 = 0
        for index in 0..<count {
            var mixer = EngineRandom(seed: seed ^ UInt64(row[index].bitPattern))
            seed = mixer.nextUInt64()
        }
        return seed
    }

    /// Sets every BatchNorm's running mean and variance to the mean of its
    /// batch statistics over `batches` (each [N, latent_dim]), forwarded in
    /// training mode. A weight average needs its own statistics: averaging
    /// weights that swing from step to step shrinks the activations they make,
    /// and the live generator's statistics would then normalise them too far
    /// (Izmailov et al., "Averaging Weights Leads to Wider Optima and Better
    /// Generalization", UAI 2018, recompute them after averaging).
    public func recalibrateBatchNorm(with batches: [Tensor]) {
        let norms = [norm0] + levels.map(\.norm)
        for (index, batch) in batches.enumerated() {
            for norm in norms { norm.momentum = 1 / Float(index + 1) }
            _ = forward(batch, training: true)
        }
        for norm in norms { norm.momentum = BatchNorm2d.defaultMomentum }
    }

    /// Adds the parameter gradients for `outputGradient` into the store.
    public func backward(_ outputGradient: Tensor) {
        var d = out.backward(tanh.backward(outputGradient, parameterGradients: true), parameterGradients: true)
        for level in levels.reversed() { d = level.backward(d, parameterGradients: true) }
        d = norm0.backward(d, parameterGradients: true)
        let n = d.shape[0]
        d.view(as: [n, 16 * configuration.baseChannels])
        _ = fc.backward(d, parameterGradients: true)
    }
}
