import Engine

/// Xception as Keras Applications builds it (`include_top=False`,
/// `pooling="avg"`; Chollet, CVPR 2017), the paper's discriminator backbone,
/// with Keras' layer names: entry flow (block1 convolutions, blocks 2-4 of
/// separable convolutions with max pooling and 1x1 stride-2 residual
/// convolutions), middle flow (blocks 5-12, three separable convolutions
/// each, identity residuals), exit flow (block 13 with a residual
/// convolution, block 14), global average. Input [N, 3, H, W] (H, W >= 71),
/// output [N, 2048]. Parameters: 20,861,480 (as Keras).
///
/// Keras names the four residual convolutions and their BatchNorms by
/// session (`conv2d`, `conv2d_1`, ... or `conv2d_1` ... in older files);
/// here they are `residual_{0...3}` and `residual_{0...3}_bn`, and
/// `kerasRename` maps a file's names onto them by order.
public final class Xception: Backbone {
    public let store: ParameterStore
    public let featureCount = 2048
    public let minimumInputSize = 71
    let stages: BackboneStages

    public init(seed: UInt64 = 0) {
        let initializer = DefaultInitializer(random: EngineRandom(seed: seed))
        let store = ParameterStore()
        self.store = store
        func convolution(_ name: String, _ input: Int, _ output: Int, stride: Int = 1) -> [Layer] {
            [
                Conv2d(
                    name, store: store, initializer: initializer, inChannels: input, outChannels: output, kernel: 3, stride: stride,
                    bias: false),
                BatchNorm2d("\(name)_bn", store: store, channels: output, epsilon: 1e-3), ReLU(),
            ]
        }
        func separable(_ name: String, _ input: Int, _ output: Int) -> [Layer] {
            [
                DepthwiseConv2d(
                    "\(name).depthwise", store: store, initializer: initializer, channels: input, kernel: 3, padding: 1, bias: false),
                Conv2d(
                    "\(name).pointwise", store: store, initializer: initializer, inChannels: input, outChannels: output, kernel: 1,
                    bias: false),
                BatchNorm2d("\(name)_bn", store: store, channels: output, epsilon: 1e-3),
            ]
        }
        func residual(_ index: Int, _ input: Int, _ output: Int) -> ResidualBlock.Shortcut {
            .projection(
                Sequential([
                    Conv2d(
                        "residual_\(index)", store: store, initializer: initializer, inChannels: input, outChannels: output, kernel: 1,
                        stride: 2,
                        bias: false),
                    BatchNorm2d("residual_\(index)_bn", store: store, channels: output, epsilon: 1e-3),
                ]))
        }
        let entry = Sequential(convolution("block1_conv1", 3, 32, stride: 2) + convolution("block1_conv2", 32, 64))
        var blocks: [ResidualBlock] = []
        // Entry flow: (block, in, out); block 2 starts without a ReLU (block1 ends with one).
        for (index, (block, input, output)) in [(2, 64, 128), (3, 128, 256), (4, 256, 728)].enumerated() {
            let main =
                (block == 2 ? [] : [ReLU()]) + separable("block\(block)_sepconv1", input, output) + [ReLU()]
                + separable("block\(block)_sepconv2", output, output) + [MaxPool2d(sameWithKernel: 3, stride: 2)]
            blocks.append(ResidualBlock(main: Sequential(main), shortcut: residual(index, input, output)))
        }
        for block in 5...12 {
            let main = (1...3).flatMap { [ReLU()] + separable("block\(block)_sepconv\($0)", 728, 728) }
            blocks.append(ResidualBlock(main: Sequential(main), shortcut: .identity))
        }
        blocks.append(
            ResidualBlock(
                main: Sequential(
                    [ReLU()] + separable("block13_sepconv1", 728, 728) + [ReLU()]
                        + separable("block13_sepconv2", 728, 1024) + [MaxPool2d(sameWithKernel: 3, stride: 2)]),
                shortcut: residual(3, 728, 1024)))
        let exit = Sequential(separable("block14_sepconv1", 1024, 1536) + [ReLU()] + separable("block14_sepconv2", 1536, 2048) + [ReLU()])
        stages = BackboneStages(front: entry, blocks: blocks, back: exit)
        store.seal()
    }

    /// Maps a Keras file's layer names onto this network's: the unnamed 1x1
    /// convolutions and their BatchNorms, in file order, become `residual_i`
    /// and `residual_i_bn`; every other name is kept.
    public static func kerasRename(layerNames: [String]) -> (String) -> String {
        let convolutions = layerNames.filter { $0.wholeMatch(of: /conv2d(_\d+)?/) != nil }
        let norms = layerNames.filter { $0.wholeMatch(of: /batch_normalization(_\d+)?/) != nil }
        var names: [String: String] = [:]
        for (index, name) in convolutions.enumerated() { names[name] = "residual_\(index)" }
        for (index, name) in norms.enumerated() { names[name] = "residual_\(index)_bn" }
        return { names[$0] ?? $0 }
    }

    public func forward(_ images: Tensor) -> Tensor { stages.forward(images) }

    public func backward(_ featureGradient: Tensor) -> Tensor { stages.backward(featureGradient) }
}
