/// A residual bottleneck block without normalisation (R3GAN's block: Huang,
/// Gokaslan, Kuleshov and Tompkin, "The GAN is dead; long live the GAN! A
/// Modern GAN Baseline", NeurIPS 2024, with an ordinary 3x3 convolution where
/// R3GAN groups it):
///
///     y = x + Conv1x1(LeakyReLU(Conv3x3(LeakyReLU(Conv1x1(x)))))
///
/// with C -> B -> B -> C channels (B the bottleneck width) and padding 1 on
/// the 3x3. The last convolution starts at zero (R3GAN's fix-up
/// initialisation), so that a network of such blocks starts as the network
/// without them and its blocks' residuals grow as they learn.
///
/// Input and output [N, C, H, W] channels-first (the sum reads both as such;
/// inside, the convolutions pass oneDNN's channel blocks to each other).
public final class ResidualBottleneck: Layer {
    public var layoutHandling: LayoutHandling { .channelsFirstOnly }
    let branch: Sequential
    private var output: Tensor?

    public init(
        _ name: String, store: ParameterStore, initializer: DefaultInitializer, channels: Int, bottleneck: Int,
        negativeSlope: Float = 0.2
    ) {
        let reduce = Conv2d(
            "\(name).reduce", store: store, initializer: initializer, inChannels: channels, outChannels: bottleneck, kernel: 1)
        let middle = Conv2d(
            "\(name).conv", store: store, initializer: initializer, inChannels: bottleneck, outChannels: bottleneck, kernel: 3,
            padding: 1)
        let last = Conv2d(
            "\(name).restore", store: store, initializer: initializer, inChannels: bottleneck, outChannels: channels, kernel: 1,
            zeroInitialized: true)
        let layers: [Layer] = [reduce, LeakyReLU(slope: negativeSlope), middle, LeakyReLU(slope: negativeSlope), last]
        ChannelBlockPlan.plan(layers, thenAccepted: false)
        branch = Sequential(layers)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        precondition(x.layout == .channelsFirst, "a residual block reads channels-first tensors")
        let residual = branch.forward(x, training: training)
        let y = reuseTensor(&output, x.shape)
        for index in 0..<x.count { y.data[index] = x.data[index] + residual.data[index] }
        return y
    }

    /// The input's gradient is `dy` itself plus the branch's; the branch's
    /// buffer, which nothing reads again before its next pass, holds the sum.
    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        let dx = branch.backward(dy, parameterGradients: parameterGradients)
        for index in 0..<dx.count { dx.data[index] += dy.data[index] }
        return dx
    }
}
