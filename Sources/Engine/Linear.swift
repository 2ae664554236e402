/// Fully connected layer: input [N, in], weight [out, in] (PyTorch's layout),
/// bias [out], output [N, out] = input x weight^T + bias.
public final class Linear: Layer {
    public var layoutHandling: LayoutHandling { .channelsFirstOnly }
    public let weight: Parameter
    public let bias: Parameter
    let store: ParameterStore
    let inFeatures, outFeatures: Int
    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init(_ name: String, store: ParameterStore, initializer: DefaultInitializer, inFeatures: Int, outFeatures: Int) {
        self.store = store
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = store.make("\(name).weight", shape: [outFeatures, inFeatures], initialize: initializer.uniform(fanIn: inFeatures))
        bias = store.make("\(name).bias", shape: [outFeatures], initialize: initializer.uniform(fanIn: inFeatures))
    }

    /// Accepts any input whose trailing dimensions hold `inFeatures` values per
    /// sample (an NCHW tensor is flattened channel-major, as PyTorch's flatten).
    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        Profiler.measure("Linear", .forward) {
            let n = x.shape[0]
            precondition(
                x.count == n * inFeatures, "Linear \(weight.name): input \(x.shape) does not hold \(inFeatures) features per sample")
            input = x
            let y = reuseTensor(&output, [n, outFeatures])
            let bias = store.value(self.bias)
            for row in 0..<n { (y.data + row * outFeatures).update(from: bias, count: outFeatures) }
            gemm(transposeA: false, transposeB: true, m: n, n: outFeatures, k: inFeatures, x.data, store.value(weight), beta: 1, y.data)
            return y
        }
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure("Linear", .backward) {
            let x = kept(input, by: weight.name)
            let n = x.shape[0]
            if parameterGradients {
                gemm(
                    transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: n, dy.data, x.data, beta: 1,
                    store.gradient(weight))
                let biasGradient = store.gradient(bias)
                for row in 0..<n {
                    for j in 0..<outFeatures { biasGradient[j] += dy.data[row * outFeatures + j] }
                }
            }
            let dx = reuseTensor(&inputGradient, x.shape)
            gemm(transposeA: false, transposeB: false, m: n, n: inFeatures, k: outFeatures, dy.data, store.value(weight), beta: 0, dx.data)
            return dx
        }
    }
}
