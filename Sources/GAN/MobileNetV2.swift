import Engine

/// MobileNetV2 as Keras Applications builds it (`include_top=False`,
/// `pooling="avg"`), with Keras' layer names so that its weight files load:
/// Conv1 (3x3 stride 2, "same") + bn_Conv1 + ReLU6, 17 inverted residual
/// blocks (expand 1x1, depthwise 3x3, project 1x1; `expanded_conv_*` and
/// `block_{1...16}_*`), Conv_1 (1x1 to 1280) + Conv_1_bn + ReLU6, global
/// average. Input [N, 3, H, W] (H, W >= 32), output [N, 1280] for alpha <= 1.
/// Parameters: 2,257,984 at alpha 1 (as Keras).
public final class MobileNetV2: Backbone {
    public let store = ParameterStore()
    public let featureCount: Int
    public let minimumInputSize = 32
    /// The output channels of blocks 0 ... 16.
    public let blockWidths: [Int]
    let stages: BackboneStages

    /// Keras' `_make_divisible`: the nearest multiple of 8, not below 8 nor 10% below `value`.
    static func divisible(_ value: Float) -> Int {
        var rounded = max(8, Int(value + 4) / 8 * 8)
        if Float(rounded) < 0.9 * value { rounded += 8 }
        return rounded
    }

    /// (filters, stride, expansion) of blocks 0 ... 16.
    static let blockSettings: [(Int, Int, Int)] = [
        (16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6), (64, 1, 6), (64, 1, 6),
        (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6),
    ]

    public init(alpha: Float = 1, seed: UInt64 = 0) {
        let initializer = DefaultInitializer(random: EngineRandom(seed: seed))
        let first = Self.divisible(32 * alpha)
        let stem = Sequential([
            ZeroPad2d(sameFor: 3, stride: 2),
            Conv2d("Conv1", store: store, initializer: initializer, inChannels: 3, outChannels: first, kernel: 3, stride: 2, bias: false),
            BatchNorm2d("bn_Conv1", store: store, channels: first, epsilon: 1e-3), ReLU6(),
        ])
        var inChannels = first
        var blocks: [ResidualBlock] = []
        blockWidths = Self.blockSettings.map { Self.divisible(Float($0.0) * alpha) }
        for (index, (_, stride, expansion)) in Self.blockSettings.enumerated() {
            let outChannels = blockWidths[index]
            blocks.append(
                .invertedResidual(
                    index: index, store: store, initializer: initializer, inChannels: inChannels,
                    outChannels: outChannels, stride: stride, expansion: expansion))
            inChannels = outChannels
        }
        featureCount = alpha > 1 ? Self.divisible(1280 * alpha) : 1280
        let head = Sequential([
            Conv2d(
                "Conv_1", store: store, initializer: initializer, inChannels: inChannels, outChannels: featureCount, kernel: 1, bias: false),
            BatchNorm2d("Conv_1_bn", store: store, channels: featureCount, epsilon: 1e-3), ReLU6(),
        ])
        stages = BackboneStages(front: stem, blocks: blocks, back: head)
        store.seal()
    }

    public func forward(_ images: Tensor) -> Tensor { stages.forward(images) }

    public func backward(_ featureGradient: Tensor) -> Tensor { stages.backward(featureGradient) }
}

/// One inverted residual block: [expand 1x1 + BN + ReLU6 unless block 0],
/// ["same" zero padding when stride 2], depthwise 3x3 + BN + ReLU6,
/// project 1x1 + BN, plus the input when shapes allow (stride 1, same width).
extension ResidualBlock {
    static func invertedResidual(
        index: Int, store: ParameterStore, initializer: DefaultInitializer, inChannels: Int, outChannels: Int,
        stride: Int, expansion: Int
    ) -> ResidualBlock {
        let prefix = index == 0 ? "expanded_conv_" : "block_\(index)_"
        let expanded = inChannels * expansion
        var layers: [Layer] = []
        if index > 0 {
            layers += [
                Conv2d(
                    "\(prefix)expand", store: store, initializer: initializer, inChannels: inChannels, outChannels: expanded,
                    kernel: 1, bias: false),
                BatchNorm2d("\(prefix)expand_BN", store: store, channels: expanded, epsilon: 1e-3), ReLU6(),
            ]
        }
        if stride == 2 { layers.append(ZeroPad2d(sameFor: 3, stride: 2)) }
        layers += [
            DepthwiseConv2d(
                "\(prefix)depthwise", store: store, initializer: initializer, channels: expanded, kernel: 3,
                stride: stride, padding: stride == 1 ? 1 : 0, bias: false),
            BatchNorm2d("\(prefix)depthwise_BN", store: store, channels: expanded, epsilon: 1e-3), ReLU6(),
            Conv2d(
                "\(prefix)project", store: store, initializer: initializer, inChannels: expanded, outChannels: outChannels,
                kernel: 1, bias: false),
            BatchNorm2d("\(prefix)project_BN", store: store, channels: outChannels, epsilon: 1e-3),
        ]
        return ResidualBlock(main: Sequential(layers), shortcut: stride == 1 && inChannels == outChannels ? .identity : .none)
    }
}
