import Engine

/// A frozen ImageNet backbone for the transfer-learning discriminator
/// (the paper's: a pretrained network, frozen, with a trainable head on its
/// pooled features). Inference only: BatchNorm uses its moving statistics,
/// and backward gives the gradient with respect to the input images
/// without touching any weight gradient.
public protocol Backbone: AnyObject {
    var store: ParameterStore { get }
    /// Channels of the pooled features (2048 for Xception, 1280 for MobileNetV2 with alpha <= 1).
    var featureCount: Int { get }
    /// The smallest input side Keras Applications accepts (71 for Xception, 32 for MobileNetV2).
    var minimumInputSize: Int { get }
    /// images [N, 3, H, W] in [-1, 1] (Keras' "tf" preprocessing) -> features [N, featureCount].
    func forward(_ images: Tensor) -> Tensor
    /// features gradient [N, featureCount] -> images gradient [N, 3, H, W].
    func backward(_ featureGradient: Tensor) -> Tensor
}

extension Backbone {
    /// The parameter count as Keras reports it (`count_params()`): weights,
    /// biases and BatchNorm's gamma, beta, moving mean and moving variance.
    public var kerasParameterCount: Int {
        store.count + store.buffers.reduce(0) { $0 + $1.tensor.count }
    }

    /// Loads the weights of a Keras weights-only HDF5 file (either layout),
    /// or the backbone's layers of a whole model saved as `.h5` (a
    /// transfer-learning model with the backbone inside and a head of its
    /// own, whose layers are left unread); an error names every weight
    /// that is missing or of the wrong shape, and every weight the backbone
    /// lacks (in a whole model, on the backbone's own layers).
    public func loadKerasWeights(_ file: KerasWeightFile, rename: (String) -> String = { $0 }) throws {
        let engineLayers = Set((store.parameters.map(\.name) + store.buffers.map(\.name)).map { String($0.prefix { $0 != "." }) })
        try loadEngineArrays(
            file.engineArrays(
                rename: rename, expectedShape: { [store] in store.parameter(named: $0)?.shape },
                readsLayer: { !file.isWholeModel || engineLayers.contains($0) }),
            source: file.path)
    }

    /// Loads weights under the engine's names; one the backbone lacks is an error too.
    func loadEngineArrays(_ arrays: [String: NamedArray], source: String) throws {
        let extra = try store.load(arrays, source: source)
        if !extra.isEmpty {
            throw TensorFileError("weights this backbone does not have: \(extra.sorted().prefix(5).joined(separator: ", "))", path: source)
        }
    }
}

/// Element-wise sum of two tensors of one shape into `output` (residual additions).
func add(_ a: Tensor, _ b: Tensor, into output: inout Tensor?) -> Tensor {
    let y = reuseTensor(&output, a.shape)
    for i in 0..<a.count { y.data[i] = a.data[i] + b.data[i] }
    return y
}

/// Both backbones' layout, run in inference mode without weight gradients:
/// a front `Sequential`, residual blocks, a back `Sequential`, and global
/// average pooling. [N, 3, H, W] -> [N, channels of the back's output].
struct BackboneStages {
    let front: Sequential
    let blocks: [ResidualBlock]
    let back: Sequential
    let pool = GlobalAveragePool()

    func forward(_ images: Tensor) -> Tensor {
        let fromBlocks = blocks.reduce(front.forward(images, training: false)) { $1.forward($0) }
        return pool.forward(back.forward(fromBlocks, training: false), training: false)
    }

    func backward(_ featureGradient: Tensor) -> Tensor {
        let fromBack = back.backward(pool.backward(featureGradient, parameterGradients: false), parameterGradients: false)
        return front.backward(blocks.reversed().reduce(fromBack) { $1.backward($0) }, parameterGradients: false)
    }
}

/// A backbone block: main(x), plus what its shortcut adds. MobileNetV2's
/// inverted residuals add the input itself when the shapes allow, or
/// nothing; Xception's blocks add the input, or a 1x1 stride-2
/// convolution + BN of it.
final class ResidualBlock {
    enum Shortcut {
        case none, identity
        case projection(Sequential)
    }

    let main: Sequential
    let shortcut: Shortcut
    private var sum: Tensor?
    /// Separate from `sum`, which is the next block's cached input.
    private var inputGradient: Tensor?

    init(main: Sequential, shortcut: Shortcut) {
        self.main = main
        self.shortcut = shortcut
    }

    /// In inference mode unless `training` (which only calibrates
    /// BatchNorm's statistics: `ProjectedDiscriminator`).
    func forward(_ x: Tensor, training: Bool = false) -> Tensor {
        let y = main.forward(x, training: training)
        switch shortcut {
        case .none: return y
        case .identity: return add(y, x, into: &sum)
        case .projection(let projection): return add(y, projection.forward(x, training: training), into: &sum)
        }
    }

    /// The BatchNorm layers of the block.
    var batchNorms: [BatchNorm2d] {
        var layers = main.layers
        if case .projection(let projection) = shortcut { layers += projection.layers }
        return layers.compactMap { $0 as? BatchNorm2d }
    }

    func backward(_ dy: Tensor) -> Tensor {
        let dx = main.backward(dy, parameterGradients: false)
        switch shortcut {
        case .none: return dx
        case .identity: return add(dx, dy, into: &inputGradient)
        case .projection(let projection): return add(dx, projection.backward(dy, parameterGradients: false), into: &inputGradient)
        }
    }
}
