import Engine

/// The `dcgan` discriminator of the architecture page: four blocks of Conv
/// 4x4 stride 2 pad 1 (widths 64, 128, 256, 512), BatchNorm on all but the
/// first, LeakyReLU(0.2) after each; flatten channel-major; Linear -> 1 logit.
/// With `minibatchStandardDeviation`, the batch's standard deviation is
/// appended as a 513th feature map before the Linear layer (Karras et al.
/// 2018; `MinibatchStandardDeviation`). Input [N, channels, R, R], output [N, 1].
///
/// With `reconstruction`, FastGAN's self-supervision (Liu, Zhu, Song and
/// Elgammal, "Towards Faster and Stabilized GAN Training for High-fidelity
/// Few-shot Image Synthesis", ICLR 2021): a small decoder rebuilds each real
/// image D sees from the third block's features [N, 256, R/8, R/8], and D's
/// loss gets the weighted mean squared error, so that those features must
/// describe the whole image rather than the one detail that tells real from
/// generated. The decoder: three times nearest upsampling x2 then Conv 3x3
/// (widths 64, 32, 16) and LeakyReLU, then Conv 3x3 to the image's channels:
/// [N, 256, R/8, R/8] -> [N, channels, R, R]. FastGAN compares with a
/// perceptual distance; medsynth has no pretrained network for one.
///
/// With `residual` (the `residual` preset), each block is Conv 4x4 stride 2,
/// LeakyReLU(0.2) and a residual bottleneck block (`ResidualBottleneck`,
/// width -> width/2 -> width/2 -> width), without BatchNorm: R3GAN's
/// normalisation-free discriminator, which its penalties need (BatchNorm
/// makes each image's logit depend on the rest of its batch).
public final class Discriminator {
    public let resolution: Int
    public let store = ParameterStore()
    /// The first three blocks, whose output the decoder reads, and the rest before fc.
    let front: Sequential, back: Sequential
    let fc: Linear
    /// The first layer of `front`, which the discriminator's own step does not
    /// take back to the images.
    let firstConvolution: Conv2d
    /// The weight of the reconstruction's mean squared error; nil: no decoder.
    public let reconstructionWeight: Float?
    /// Residual blocks in place of BatchNorm (the `residual` preset).
    public let residual: Bool
    let decoder: Sequential?
    private var reconstructionGradient: Tensor?
    /// The front's output of the last forward pass, which the decoder reads.
    private var features: Tensor?

    public static let widths = [64, 128, 256, 512]
    public static let decoderWidths = [64, 32, 16]

    /// `negativeSlope` is the LeakyReLUs' slope for negative inputs (0.2 on the architecture page).
    public init(
        resolution: Int, channels: Int = 1, negativeSlope: Float = 0.2, minibatchStandardDeviation: Bool = false,
        reconstructionWeight: Float? = nil, residual: Bool = false, seed: UInt64
    ) {
        precondition(
            resolution % 16 == 0 && resolution >= 16, "the dcgan discriminator needs a resolution divisible by 16, got \(resolution)")
        self.resolution = resolution
        self.reconstructionWeight = reconstructionWeight
        self.residual = residual
        let initializer = DefaultInitializer(random: EngineRandom(seed: seed))
        var layers: [Layer] = []
        var inChannels = channels
        var frontCount = 0
        for (index, width) in Self.widths.enumerated() {
            layers.append(
                Conv2d(
                    "blocks.\(index).conv", store: store, initializer: initializer, inChannels: inChannels,
                    outChannels: width, kernel: 4, stride: 2, padding: 1))
            if residual {
                layers.append(LeakyReLU(slope: negativeSlope))
                layers.append(
                    ResidualBottleneck(
                        "blocks.\(index).residual", store: store, initializer: initializer, channels: width, bottleneck: width / 2,
                        negativeSlope: negativeSlope))
            } else {
                // The blocks' BatchNorm has the LeakyReLU fused in.
                layers.append(
                    index > 0
                        ? BatchNorm2d(
                            "blocks.\(index).bn", store: store, channels: width, activationSlope: negativeSlope, inPlace: true)
                        : LeakyReLU(slope: negativeSlope))
            }
            inChannels = width
            if index == 2 { frontCount = layers.count }
        }
        layers.append(ChannelsFirst())
        if minibatchStandardDeviation { layers.append(MinibatchStandardDeviation()) }
        front = Sequential(Array(layers[..<frontCount]))
        back = Sequential(Array(layers[frontCount...]))
        firstConvolution = layers[0] as! Conv2d
        let side = resolution / 16, maps = 512 + (minibatchStandardDeviation ? 1 : 0)
        fc = Linear("fc", store: store, initializer: initializer, inFeatures: maps * side * side, outFeatures: 1)
        // The blocks pass oneDNN's channel blocks to each other, up to the ChannelsFirst before fc.
        ChannelBlockPlan.plan(layers + [fc], thenAccepted: false)
        // Made after fc, so that the decoder leaves the other layers' initial weights as they are without it.
        decoder =
            reconstructionWeight == nil
            ? nil
            : Self.decoder(store: store, initializer: initializer, channels: channels, negativeSlope: negativeSlope)
        store.seal()
    }

    /// The reconstruction's decoder: [N, 256, R/8, R/8] -> [N, channels, R, R].
    private static func decoder(store: ParameterStore, initializer: DefaultInitializer, channels: Int, negativeSlope: Float)
        -> Sequential
    {
        var layers: [Layer] = []
        var inChannels = widths[2]
        for (index, width) in decoderWidths.enumerated() {
            layers += [
                Upsample2x(),
                Conv2d(
                    "decoder.\(index).conv", store: store, initializer: initializer, inChannels: inChannels, outChannels: width,
                    kernel: 3, padding: 1),
                LeakyReLU(slope: negativeSlope),
            ]
            inChannels = width
        }
        layers.append(
            Conv2d(
                "decoder.out", store: store, initializer: initializer, inChannels: inChannels, outChannels: channels, kernel: 3,
                padding: 1))
        ChannelBlockPlan.plan(layers, thenAccepted: false)
        return Sequential(layers)
    }

    /// images [N, channels, R, R] -> logits [N, 1].
    public func forward(_ images: Tensor, training: Bool) -> Tensor {
        features = front.forward(images, training: training)
        return fc.forward(back.forward(features!, training: training), training: training)
    }

    /// Returns the gradient with respect to the images; adds parameter
    /// gradients into the store only when `parameterGradients`.
    public func backward(_ logitGradient: Tensor, parameterGradients: Bool) -> Tensor {
        let features = fc.backward(logitGradient, parameterGradients: parameterGradients)
        return front.backward(back.backward(features, parameterGradients: parameterGradients), parameterGradients: parameterGradients)
    }

    /// The discriminator's own step: the same parameter gradients as
    /// `backward(_:parameterGradients: true)`, without the gradient with
    /// respect to the images, which that step discards.
    public func accumulateParameterGradients(_ logitGradient: Tensor) {
        accumulateFront(accumulateBack(logitGradient))
    }

    /// With a decoder, the step on the real batch of the last forward pass
    /// (`images`, as D saw them): the parameter gradients of the logits'
    /// loss and of the reconstruction's, whose loss it returns; without
    /// one, `accumulateParameterGradients` and 0.
    public func accumulateRealParameterGradients(_ logitGradient: Tensor, images: Tensor) -> Float {
        guard let decoder, let reconstructionWeight else {
            accumulateParameterGradients(logitGradient)
            return 0
        }
        let fromLogits = accumulateBack(logitGradient)
        // The front's output is still the real batch's: the decoder reads it now.
        guard let features else { preconditionFailure("the discriminator's real step before any forward pass") }
        let rebuilt = decoder.forward(features, training: true)
        precondition(rebuilt.shape == images.shape && rebuilt.layout == .channelsFirst, "the decoder rebuilds D's input")
        let gradient = reuseTensor(&reconstructionGradient, images.shape)
        let count = images.count, slope = 2 * reconstructionWeight / Float(count)
        var total: Double = 0
        for index in 0..<count {
            let difference = rebuilt.data[index] - images.data[index]
            total += Double(difference) * Double(difference)
            gradient.data[index] = slope * difference
        }
        let fromDecoder = decoder.backward(gradient, parameterGradients: true)
        for index in 0..<fromDecoder.count { fromDecoder.data[index] += fromLogits.data[index] }
        accumulateFront(fromDecoder)
        return reconstructionWeight * Float(total / Double(count))
    }

    /// fc's and the back's parameter gradients; returns the gradient of the front's output.
    private func accumulateBack(_ logitGradient: Tensor) -> Tensor {
        back.backward(fc.backward(logitGradient, parameterGradients: true), parameterGradients: true)
    }

    /// The front's parameter gradients from the gradient of its output.
    private func accumulateFront(_ outputGradient: Tensor) {
        let firstOutputGradient = front.layers.dropFirst().reversed().reduce(outputGradient) {
            $1.backward($0, parameterGradients: true)
        }
        firstConvolution.accumulateParameterGradients(firstOutputGradient)
    }
}
