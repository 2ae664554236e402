/// A named parameter: a slice of its store's flat value and gradient buffers.
public struct Parameter: Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// All trainable parameters of a model in one flat buffer, and their
/// gradients in a matching one, so the optimiser is a single loop (llm.c's
/// layout). Layers register their parameters while the model is built; the
/// buffers are allocated once, by `seal()`.
public final class ParameterStore {
    public private(set) var parameters: [Parameter] = []
    public private(set) var count = 0
    /// Values, then gradients: allocated by `seal()`.
    public private(set) var values: UnsafeMutablePointer<Float>!
    public private(set) var gradients: UnsafeMutablePointer<Float>!
    private var initializers: [(Parameter, (UnsafeMutableBufferPointer<Float>) -> Void)] = []

    /// Scratch matrices for the layers of this model.
    public let workspace = Workspace()

    /// The kernels of this model's convolutions. oneDNN by default; the bench
    /// and the tests also run the engine's own (im2col and OpenBLAS).
    public var convolutionKernels = ConvolutionKernels.oneDNN

    /// Each convolution layer's latest plan (`ConvolutionPlan.describe`), by
    /// layer name in the order the layers first ran: which path every layer
    /// takes, for `bench --profile`.
    public private(set) var convolutionPlans: [(layer: String, plan: String)] = []

    func record(convolutionPlan plan: String, layer: String) {
        if let index = convolutionPlans.firstIndex(where: { $0.layer == layer }) {
            convolutionPlans[index].plan = plan
        } else {
            convolutionPlans.append((layer, plan))
        }
    }

    /// Non-trainable state saved with the model (BatchNorm running statistics).
    public private(set) var buffers: [(name: String, tensor: Tensor)] = []

    public init() {}

    /// Registers a parameter; `initialize` fills its values when the store is sealed.
    public func make(_ name: String, shape: [Int], initialize: @escaping (UnsafeMutableBufferPointer<Float>) -> Void) -> Parameter {
        precondition(values == nil, "parameter \(name) registered after the store was sealed")
        let parameter = Parameter(name: name, shape: shape, offset: count)
        count += parameter.count
        parameters.append(parameter)
        initializers.append((parameter, initialize))
        return parameter
    }

    /// Registers a non-trainable buffer.
    public func buffer(_ name: String, _ tensor: Tensor) {
        buffers.append((name, tensor))
    }

    /// Allocates the flat buffers and runs the initialisers in registration order.
    public func seal() {
        precondition(values == nil, "parameter store sealed twice")
        values = .allocate(capacity: max(count, 1))
        gradients = .allocate(capacity: max(count, 1))
        gradients.initialize(repeating: 0, count: max(count, 1))
        for (parameter, initialize) in initializers {
            initialize(UnsafeMutableBufferPointer(start: values + parameter.offset, count: parameter.count))
        }
        initializers = []
    }

    deinit {
        values?.deallocate()
        gradients?.deallocate()
    }

    @inline(__always) public func value(_ parameter: Parameter) -> UnsafeMutablePointer<Float> { values + parameter.offset }
    @inline(__always) public func gradient(_ parameter: Parameter) -> UnsafeMutablePointer<Float> { gradients + parameter.offset }

    public func zeroGradients() { gradients.update(repeating: 0, count: count) }

    public func parameter(named name: String) -> Parameter? { parameters.first { $0.name == name } }
}
