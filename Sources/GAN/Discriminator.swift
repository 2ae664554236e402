import Engine

/// The `dcgan` discriminator of the architecture page: four blocks of Conv
/// 4x4 stride 2 pad 1 (widths 64, 128, 256, 512), BatchNorm on all but the
/// first, LeakyReLU(0.2) after each; flatten channel-major; Linear -> 1 logit.
/// With `minibatchStandardDeviation`, the batch's standard deviation is
/// appended as a 513th feature map before the Linear layer (Karras et al.
/// 2018; `MinibatchStandardDeviation`). Input [N, channels, R, R], output [N, 1].
public final class Discriminator {
    public let resolution: Int
    public let store = ParameterStore()
    let body: Sequential
    let fc: Linear
    /// The first layer of `body`, which the discriminator's own step does not
    /// take back to the images.
    let firstConvolution: Conv2d

    public static let widths = [64, 128, 256, 512]

    /// `negativeSlope` is the LeakyReLUs' slope for negative inputs (0.2 on the architecture page).
    public init(
        resolution: Int, channels: Int = 1, negativeSlope: Float = 0.2, minibatchStandardDeviation: Bool = false, seed: UInt64
    ) {
        precondition(
            resolution % 16 == 0 && resolution >= 16, "the dcgan discriminator needs a resolution divisible by 16, got \(resolution)")
        self.resolution = resolution
        let initializer = DefaultInitializer(random: EngineRandom(seed: seed))
        var layers: [Layer] = []
        var inChannels = channels
        for (index, width) in Self.widths.enumerated() {
            layers.append(
                Conv2d(
                    "blocks.\(index).conv", store: store, initializer: initializer, inChannels: inChannels,
                    outChannels: width, kernel: 4, stride: 2, padding: 1))
            // The blocks' BatchNorm has the LeakyReLU fused in.
            layers.append(
                index > 0
                    ? BatchNorm2d(
                        "blocks.\(index).bn", store: store, channels: width, activationSlope: negativeSlope, inPlace: true)
                    : LeakyReLU(slope: negativeSlope))
            inChannels = width
        }
        layers.append(ChannelsFirst())
        if minibatchStandardDeviation { layers.append(MinibatchStandardDeviation()) }
        body = Sequential(layers)
        firstConvolution = layers[0] as! Conv2d
        let side = resolution / 16, maps = 512 + (minibatchStandardDeviation ? 1 : 0)
        fc = Linear("fc", store: store, initializer: initializer, inFeatures: maps * side * side, outFeatures: 1)
        // The blocks pass oneDNN's channel blocks to each other, up to the ChannelsFirst before fc.
        ChannelBlockPlan.plan(layers + [fc], thenAccepted: false)
        store.seal()
    }

    /// images [N, channels, R, R] -> logits [N, 1].
    public func forward(_ images: Tensor, training: Bool) -> Tensor {
        fc.forward(body.forward(images, training: training), training: training)
    }

    /// Returns the gradient with respect to the images; adds parameter
    /// gradients into the store only when `parameterGradients`.
    public func backward(_ logitGradient: Tensor, parameterGradients: Bool) -> Tensor {
        let features = fc.backward(logitGradient, parameterGradients: parameterGradients)
        return body.backward(features, parameterGradients: parameterGradients)
    }

    /// The discriminator's own step: the same parameter gradients as
    /// `backward(_:parameterGradients: true)`, without the gradient with
    /// respect to the images, which that step discards.
    public func accumulateParameterGradients(_ logitGradient: Tensor) {
        let features = fc.backward(logitGradient, parameterGradients: true)
        let firstOutputGradient = body.layers.dropFirst().reversed().reduce(features) {
            $1.backward($0, parameterGradients: true)
        }
        firstConvolution.accumulateParameterGradients(firstOutputGradient)
    }
}
