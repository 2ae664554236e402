import Engine

/// Projected GAN's discriminator (Sauer, Chitta, Müller and Geiger,
/// "Projected GANs Converge Faster", NeurIPS 2021) on a frozen MobileNetV2:
/// D judges the images through fixed features at several scales, each mixed
/// across channels by a fixed random 1x1 convolution (the paper's CCM), with
/// a small trainable discriminator per scale. On 100-image sets the paper
/// reaches FIDs a quarter of DiffAugment's: the fixed features keep D from
/// memorising the few images, the random mixing keeps it from leaning on a
/// few channels. The paper's cross-scale mixing (CSM) is left out.
///
/// Features are taken after MobileNetV2's blocks 2, 5 and 12 (Keras'
/// `block_2_add`, `block_5_add`, `block_12_add`: [N, 24a, R/4, R/4],
/// [N, 32a, R/8, R/8], [N, 96a, R/16, R/16] for width multiplier a; the
/// blocks after 12 are not run), mixed to 64, 128 and 256 channels. Each
/// scale's discriminator halves the side with Conv 4x4 stride 2 pad 1,
/// BatchNorm and LeakyReLU(0.2) (doubling the width, at most 512) down to
/// 4 x 4, then a Linear layer gives one logit; D's logit is the sum of the
/// scales'. Grayscale frames are repeated to three channels (in [-1, 1],
/// Keras' "tf" preprocessing). Input [N, 1, R, R] (R >= 64, divisible by
/// 16), output [N, 1]. At R = 64 and a = 1: 1,193,859 trainable parameters.
///
/// The backbone is frozen: pretrained (a Keras or engine weight file), or,
/// where none is at hand, random from the seed with each BatchNorm's
/// statistics set from real frames (`calibrate(on:)`), so that its features
/// neither vanish nor blow up through forty layers.
public final class ProjectedDiscriminator: DiscriminatorNetwork {
    public let backbone: MobileNetV2
    /// The per-scale discriminators' parameters, which D's optimiser trains.
    public let store: ParameterStore
    /// The fixed channel mixings' weights.
    let mixingStore: ParameterStore
    let mixings: [Conv2d]
    let heads: [Sequential]
    private let grayscale = GrayscaleToRGB()
    private var logits: Tensor?
    private var tapGradientSums: [Tensor?]

    /// The MobileNetV2 blocks whose outputs D sees, and their mixed widths.
    public static let taps = [2, 5, 12]
    public static let mixedWidths = [64, 128, 256]
    static let negativeSlope: Float = 0.2

    public init(backbone: MobileNetV2, resolution: Int, seed: UInt64) {
        precondition(
            resolution >= 64 && resolution % 16 == 0,
            "the projected discriminator needs a resolution of 64 or more, divisible by 16, got \(resolution)")
        self.backbone = backbone
        let initializer = DefaultInitializer(random: EngineRandom(seed: seed))
        let mixingStore = ParameterStore(), store = ParameterStore()
        mixings = Self.taps.indices.map { scale in
            Conv2d(
                "mixing.\(scale)", store: mixingStore, initializer: initializer, inChannels: backbone.blockWidths[Self.taps[scale]],
                outChannels: Self.mixedWidths[scale], kernel: 1, bias: false)
        }
        mixingStore.seal()
        heads = Self.taps.indices.map { scale in
            var layers: [Layer] = []
            var side = resolution >> (scale + 2), width = Self.mixedWidths[scale], block = 0
            while side > 4 {
                let next = min(2 * width, 512)
                layers += [
                    Conv2d(
                        "heads.\(scale).\(block).conv", store: store, initializer: initializer, inChannels: width, outChannels: next,
                        kernel: 4, stride: 2, padding: 1),
                    BatchNorm2d(
                        "heads.\(scale).\(block).bn", store: store, channels: next, activationSlope: Self.negativeSlope, inPlace: true),
                ]
                (side, width, block) = (side / 2, next, block + 1)
            }
            layers += [
                ChannelsFirst(),
                Linear("heads.\(scale).fc", store: store, initializer: initializer, inFeatures: width * 16, outFeatures: 1),
            ]
            return Sequential(layers)
        }
        store.seal()
        (self.store, self.mixingStore) = (store, mixingStore)
        tapGradientSums = Array(repeating: nil, count: Self.taps.count)
    }

    /// The blocks up to the last tap.
    private var blocks: ArraySlice<ResidualBlock> { backbone.stages.blocks[...Self.taps.last!] }

    /// The backbone's outputs at the taps, in inference mode unless `calibrating`.
    private func tappedFeatures(_ images: Tensor, calibrating: Bool) -> [Tensor] {
        var features: [Tensor] = []
        var x = backbone.stages.front.forward(grayscale.forward(images), training: calibrating)
        for (index, block) in blocks.enumerated() {
            x = block.forward(x, training: calibrating)
            if Self.taps.contains(index) { features.append(x) }
        }
        return features
    }

    /// Sets every BatchNorm of the backbone (up to the last tap) to the mean
    /// and variance of its input over `images` [N, 1, R, R], in one pass
    /// that normalises each layer's input before the next is measured: for a
    /// random backbone, whose statistics mean nothing.
    public func calibrate(on images: Tensor) {
        let norms = backbone.stages.front.layers.compactMap { $0 as? BatchNorm2d } + blocks.flatMap(\.batchNorms)
        for norm in norms { norm.momentum = 1 }
        _ = tappedFeatures(images, calibrating: true)
        for norm in norms { norm.momentum = BatchNorm2d.defaultMomentum }
    }

    public func forward(_ images: Tensor, training: Bool) -> Tensor {
        let features = tappedFeatures(images, calibrating: false)
        let sum = reuseTensor(&logits, [images.shape[0], 1])
        sum.fill(0)
        for scale in heads.indices {
            let scaleLogits = heads[scale].forward(mixings[scale].forward(features[scale], training: false), training: training)
            for index in 0..<sum.count { sum.data[index] += scaleLogits.data[index] }
        }
        return sum
    }

    /// Only the heads: the backbone and the mixings have nothing to train.
    public func accumulateParameterGradients(_ logitGradient: Tensor) {
        for head in heads { _ = head.backward(logitGradient, parameterGradients: true) }
    }

    public func backward(_ logitGradient: Tensor, parameterGradients: Bool) -> Tensor {
        let tapGradients = heads.indices.map { scale in
            mixings[scale].backward(heads[scale].backward(logitGradient, parameterGradients: parameterGradients), parameterGradients: false)
        }
        var gradient = tapGradients.last!
        for (index, block) in blocks.enumerated().reversed() {
            if let scale = Self.taps.firstIndex(of: index), scale < Self.taps.count - 1 {
                gradient = add(gradient, tapGradients[scale], into: &tapGradientSums[scale])
            }
            gradient = block.backward(gradient)
        }
        return grayscale.backward(backbone.stages.front.backward(gradient, parameterGradients: false))
    }

    /// Parameters of the fixed mixings.
    public var mixingParameterCount: Int { mixingStore.count }
}

/// Grayscale frames [N, 1, H, W] repeated to three channels [N, 3, H, W]
/// for an ImageNet backbone; backward sums the three channels' gradients.
final class GrayscaleToRGB {
    private var rgb: Tensor?
    private var inputGradient: Tensor?

    func forward(_ images: Tensor) -> Tensor {
        let (n, c, h, w) = images.nchw
        precondition(c == 1, "an ImageNet backbone's discriminator takes grayscale frames")
        let output = reuseTensor(&rgb, [n, 3, h, w])
        let plane = h * w
        for image in 0..<n {
            for channel in 0..<3 { (output.data + (image * 3 + channel) * plane).update(from: images.data + image * plane, count: plane) }
        }
        return output
    }

    func backward(_ gradient: Tensor) -> Tensor {
        let (n, _, h, w) = gradient.nchw
        let dx = reuseTensor(&inputGradient, [n, 1, h, w])
        let plane = h * w
        for image in 0..<n {
            for p in 0..<plane {
                dx.data[image * plane + p] =
                    gradient.data[(image * 3) * plane + p] + gradient.data[(image * 3 + 1) * plane + p]
                    + gradient.data[(image * 3 + 2) * plane + p]
            }
        }
        return dx
    }
}
