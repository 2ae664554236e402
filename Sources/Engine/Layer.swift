/// One op of the engine, llm.c style: `forward` computes the output and keeps
/// in the layer what `backward` needs (its cache); `backward` takes the
/// gradient of the loss with respect to the output, adds the gradients of the
/// layer's parameters into the store's gradient buffer, and returns the
/// gradient with respect to the input.
///
/// The returned tensors belong to the layer and are overwritten by its next
/// call: use them before calling the layer again.
public protocol Layer: AnyObject, LayoutDeclaring {
    func forward(_ input: Tensor, training: Bool) -> Tensor
    /// With `parameterGradients` false only the input gradient is computed
    /// (the generator step passes gradients through a discriminator whose
    /// parameter gradients it discards).
    func backward(_ outputGradient: Tensor, parameterGradients: Bool) -> Tensor
}

/// Layers applied one after another.
public final class Sequential: Layer {
    public let layers: [Layer]

    public init(_ layers: [Layer]) { self.layers = layers }

    /// Its first layer that does more than pass the layout on decides.
    public var layoutHandling: LayoutHandling {
        layers.lazy.map(\.layoutHandling).first { $0 != .preserves } ?? .preserves
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        layers.reduce(input) { $1.forward($0, training: training) }
    }

    public func backward(_ outputGradient: Tensor, parameterGradients: Bool) -> Tensor {
        layers.reversed().reduce(outputGradient) { $1.backward($0, parameterGradients: parameterGradients) }
    }
}
