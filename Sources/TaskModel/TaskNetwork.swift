import Engine

/// The task model of the utility measure (docs/evaluation.md, "Utility"): a
/// compact U-Net (Ronneberger et al. 2015) on the engine over a prepared
/// frame [N, 1, S, S], with one of two heads: one heatmap per keypoint,
/// decoded to keypoints [N, K, 2] by soft-argmax (`SoftArgmax2d`), or one map
/// of mask logits [N, 1, S, S]. Small and fixed, so that what changes between
/// the arms of the measure is the training data only.
///
/// Level l (from 0, at S / 2^l) has `width` * 2^l channels: two 3x3
/// convolutions with BatchNorm and LeakyReLU(0.1) on the way down, max
/// pooling to the level below, and on the way up the level below's output
/// upsampled (nearest), joined to this level's with a concatenation, and two
/// more convolutions. A 1x1 convolution makes the head's maps.
public final class TaskNetwork {
    /// What the network predicts.
    public enum Head: Codable, Sendable, Equatable {
        /// This many keypoints: [N, K, 2] coordinates.
        case keypoints(Int)
        /// A binary mask: [N, 1, S, S] logits (`MaskLoss`).
        case mask
    }

    public struct Configuration: Codable, Sendable, Equatable {
        /// The side of the (square) input frames; a multiple of 2^(levels - 1).
        public var side: Int
        public var head: Head
        /// Channels of the first level.
        public var width: Int
        /// Resolution levels, the deepest at side / 2^(levels - 1).
        public var levels: Int
        /// The LeakyReLU's slope for negative inputs (1: no activation, for the gradient check).
        public var activationSlope: Float

        public init(side: Int, head: Head, width: Int = 16, levels: Int = 3, activationSlope: Float = 0.1) {
            self.side = side
            self.head = head
            self.width = width
            self.levels = levels
            self.activationSlope = activationSlope
        }
    }

    public let configuration: Configuration
    public let store = ParameterStore()
    private let body: UNetLevel
    private let head: Conv2d
    /// Decodes keypoint heatmaps; nil for the mask head, whose logits are the output.
    private let softArgmax: SoftArgmax2d?

    public init(_ configuration: Configuration, seed: UInt64) {
        precondition(
            configuration.levels >= 1 && configuration.side % (1 << (configuration.levels - 1)) == 0,
            "TaskNetwork: side \(configuration.side) does not halve \(configuration.levels - 1) times")
        self.configuration = configuration
        let initializer = DefaultInitializer(random: EngineRandom(seed: seed))
        body = UNetLevel(
            "unet", level: 0, levels: configuration.levels, inChannels: 1, width: configuration.width,
            slope: configuration.activationSlope, store: store, initializer: initializer)
        let maps: Int
        switch configuration.head {
        case .keypoints(let count): (maps, softArgmax) = (count, SoftArgmax2d())
        case .mask: (maps, softArgmax) = (1, nil)
        }
        head = Conv2d("head", store: store, initializer: initializer, inChannels: configuration.width, outChannels: maps, kernel: 1)
        store.seal()
    }

    /// The prediction for `images` [N, 1, S, S] (values in [-1, 1]): keypoints
    /// [N, K, 2] in pixels with (0, 0) the centre of the top-left pixel, or
    /// mask logits [N, 1, S, S].
    public func forward(_ images: Tensor, training: Bool) -> Tensor {
        let maps = head.forward(body.forward(images, training: training), training: training)
        return softArgmax?.forward(maps, training: training) ?? maps
    }

    /// Adds the parameter gradients of the loss whose gradient with respect
    /// to the last `forward`'s output is `outputGradient`; returns its
    /// gradient with respect to the images.
    @discardableResult
    public func backward(_ outputGradient: Tensor) -> Tensor {
        let mapGradient = softArgmax?.backward(outputGradient, parameterGradients: true) ?? outputGradient
        return body.backward(head.backward(mapGradient, parameterGradients: true), parameterGradients: true)
    }
}

/// One level of the U-Net and, recursively, the levels below it.
final class UNetLevel {
    let encoder: Sequential
    let below: (pool: MaxPool2d, level: UNetLevel, upsample: Upsample2x, decoder: Sequential)?
    let channels: Int
    private var joined: Tensor?
    private var slices: [Tensor?] = [nil, nil]

    init(
        _ name: String, level: Int, levels: Int, inChannels: Int, width: Int, slope: Float, store: ParameterStore,
        initializer: DefaultInitializer
    ) {
        channels = width << level
        encoder = Self.block(
            "\(name).down\(level)", inChannels: inChannels, outChannels: channels, slope: slope, store: store, initializer: initializer)
        if level + 1 < levels {
            let inner = UNetLevel(
                name, level: level + 1, levels: levels, inChannels: channels, width: width, slope: slope, store: store,
                initializer: initializer)
            let decoder = Self.block(
                "\(name).up\(level)", inChannels: inner.channels + channels, outChannels: channels, slope: slope, store: store,
                initializer: initializer)
            below = (MaxPool2d(kernel: 2, stride: 2), inner, Upsample2x(), decoder)
        } else {
            below = nil
        }
    }

    /// Two 3x3 convolutions, each with BatchNorm and LeakyReLU(`slope`).
    private static func block(
        _ name: String, inChannels: Int, outChannels: Int, slope: Float, store: ParameterStore, initializer: DefaultInitializer
    ) -> Sequential {
        Sequential([
            Conv2d(
                "\(name).conv1", store: store, initializer: initializer, inChannels: inChannels, outChannels: outChannels, kernel: 3,
                padding: 1, bias: false),
            BatchNorm2d("\(name).bn1", store: store, channels: outChannels, activationSlope: slope),
            Conv2d(
                "\(name).conv2", store: store, initializer: initializer, inChannels: outChannels, outChannels: outChannels, kernel: 3,
                padding: 1, bias: false),
            BatchNorm2d("\(name).bn2", store: store, channels: outChannels, activationSlope: slope),
        ])
    }

    func forward(_ x: Tensor, training: Bool) -> Tensor {
        let encoded = encoder.forward(x, training: training)
        guard let below else { return encoded }
        let inner = below.level.forward(below.pool.forward(encoded, training: training), training: training)
        let upsampled = below.upsample.forward(inner, training: training)
        return below.decoder.forward(ChannelConcat.forward([upsampled, encoded], into: &joined), training: training)
    }

    func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        guard let below else { return encoder.backward(dy, parameterGradients: parameterGradients) }
        let dJoined = below.decoder.backward(dy, parameterGradients: parameterGradients)
        let widths = [below.level.channels, channels]
        let dUpsampled = ChannelConcat.backward(dJoined, channels: widths, index: 0, into: &slices[0])
        let dSkip = ChannelConcat.backward(dJoined, channels: widths, index: 1, into: &slices[1])
        let dInner = below.level.backward(
            below.upsample.backward(dUpsampled, parameterGradients: parameterGradients), parameterGradients: parameterGradients)
        // The pooled path's gradient and the skip's meet at the encoder's output.
        let dEncoded = below.pool.backward(dInner, parameterGradients: parameterGradients)
        for index in 0..<dEncoded.count { dEncoded.data[index] += dSkip.data[index] }
        return encoder.backward(dEncoded, parameterGradients: parameterGradients)
    }
}
