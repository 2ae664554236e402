import Engine
import Foundation

/// What a discriminator is to the training step: logits for a batch of
/// images, and the gradient back to the images.
public protocol DiscriminatorNetwork: AnyObject {
    /// The trainable parameters (all of `dcgan`; only the head of `transfer`).
    var store: ParameterStore { get }
    /// images [N, channels, R, R] in [-1, 1] -> logits [N, 1].
    func forward(_ images: Tensor, training: Bool) -> Tensor
    /// Returns the gradient with respect to the images; adds parameter
    /// gradients into `store` only when `parameterGradients`.
    func backward(_ logitGradient: Tensor, parameterGradients: Bool) -> Tensor
    /// Adds the parameter gradients of the last forward into `store`, for the
    /// discriminator's own step, which needs no gradient with respect to the images.
    func accumulateParameterGradients(_ logitGradient: Tensor)
    /// `accumulateParameterGradients` for the real batch of the last forward
    /// (`images`, as D saw them), with D's own terms on real images added
    /// (`Discriminator`'s reconstruction); returns their loss.
    func accumulateRealParameterGradients(_ logitGradient: Tensor, images: Tensor) -> Float
}

extension DiscriminatorNetwork {
    public func accumulateParameterGradients(_ logitGradient: Tensor) {
        _ = backward(logitGradient, parameterGradients: true)
    }

    public func accumulateRealParameterGradients(_ logitGradient: Tensor, images: Tensor) -> Float {
        accumulateParameterGradients(logitGradient)
        return 0
    }
}

extension Discriminator: DiscriminatorNetwork {}

/// The frozen ImageNet backbones a transfer discriminator can use.
public enum BackboneKind: String, CaseIterable, Sendable, Codable {
    case xception, mobilenetv2

    /// The backbone with the weights of a Keras weight file, or of a
    /// `.safetensors` file with the engine's names and layouts (as
    /// `store.namedArrays()` writes them). MobileNetV2's width multiplier is
    /// read from the file.
    public func load(weights path: String) throws -> Backbone {
        if path.hasSuffix(".safetensors") {
            let tensors = try SafeTensors.read(path: path).tensors
            let backbone: Backbone
            switch self {
            case .xception: backbone = Xception()
            case .mobilenetv2:
                guard let project = tensors["block_16_project.weight"], let alpha = MobileNetV2.alpha(lastProjectionWidth: project.shape[0])
                else {
                    throw TensorFileError("no block_16_project.weight of a known MobileNetV2 width", path: path)
                }
                backbone = MobileNetV2(alpha: alpha)
            }
            try backbone.loadEngineArrays(tensors, source: path)
            return backbone
        }
        let file = try KerasWeightFile(path: path)
        let names = file.layerNames
        let backbone: Backbone
        switch self {
        case .xception:
            backbone = Xception()
            try backbone.loadKerasWeights(file, rename: Xception.kerasRename(layerNames: names))
        case .mobilenetv2:
            backbone = MobileNetV2(alpha: try MobileNetV2.alpha(of: file))
            try backbone.loadKerasWeights(file)
        }
        return backbone
    }
}

/// The paper's discriminator: a frozen pretrained backbone and a trainable
/// Linear head on its pooled features (2048 -> 1 for Xception, 1280 -> 1 for
/// MobileNetV2: 2,049 or 1,281 parameters). Grayscale frames are repeated
/// to three channels (Keras' "tf" preprocessing maps [0, 255] to [-1, 1],
/// the range the frames already have) and enlarged by nearest-neighbour
/// doubling until at least the backbone's minimum input size (64 -> 128 for
/// Xception). Input [N, 1, R, R], output [N, 1].
public final class TransferDiscriminator: DiscriminatorNetwork {
    public let backbone: Backbone
    public let store = ParameterStore()
    let head: Linear
    let enlargements: [Upsample2x]
    private let grayscale = GrayscaleToRGB()

    public init(backbone: Backbone, resolution: Int, seed: UInt64) {
        self.backbone = backbone
        var side = resolution, doublings: [Upsample2x] = []
        while side < backbone.minimumInputSize {
            doublings.append(Upsample2x())
            side *= 2
        }
        enlargements = doublings
        head = Linear(
            "head", store: store, initializer: DefaultInitializer(random: EngineRandom(seed: seed)),
            inFeatures: backbone.featureCount, outFeatures: 1)
        store.seal()
    }

    public func forward(_ images: Tensor, training: Bool) -> Tensor {
        let enlarged = enlargements.reduce(grayscale.forward(images)) { $1.forward($0, training: false) }
        return head.forward(backbone.forward(enlarged), training: training)
    }

    /// Only the head: the frozen backbone has nothing to train, so the
    /// discriminator's step skips the pass back through it (a quarter of an
    /// Xception training step).
    public func accumulateParameterGradients(_ logitGradient: Tensor) {
        _ = head.backward(logitGradient, parameterGradients: true)
    }

    public func backward(_ logitGradient: Tensor, parameterGradients: Bool) -> Tensor {
        let features = head.backward(logitGradient, parameterGradients: parameterGradients)
        let enlarged = backbone.backward(features)
        return grayscale.backward(enlargements.reversed().reduce(enlarged) { $1.backward($0, parameterGradients: false) })
    }
}

extension MobileNetV2 {
    /// The width multiplier of a MobileNetV2 weight file, from the width of
    /// its last projection (112, 160, 240, 320, 416, 448 for alpha 0.35 ... 1.4).
    public static func alpha(of file: KerasWeightFile) throws -> Float {
        let kernel = try file.array(layer: "block_16_project", kind: "kernel")
        guard kernel.shape.count == 4, let alpha = alpha(lastProjectionWidth: kernel.shape[3]) else {
            throw TensorFileError(
                "block_16_project has \(kernel.shape.last ?? 0) filters, which no Keras MobileNetV2 width multiplier gives",
                path: file.path)
        }
        return alpha
    }
}

extension MobileNetV2 {
    /// The width multiplier whose last projection has `width` filters.
    static func alpha(lastProjectionWidth width: Int) -> Float? {
        [112: 0.35, 160: 0.5, 240: 0.75, 320: 1.0, 416: 1.3, 448: 1.4][width]
    }
}
