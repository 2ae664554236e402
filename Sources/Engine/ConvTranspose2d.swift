/// 2-D transposed convolution, NCHW, weight [in, out, k, k] (PyTorch's
/// layout), with bias; output size (H-1)*stride - 2*padding + k + outputPadding.
///
/// On oneDNN by default (`ConvolutionPlan.choose`); on the engine's own
/// kernels one GEMM of the transposed weight with the channel-major input
/// gives [out*k*k, N*H*W] columns, which col2im scatters into the output.
public final class ConvTranspose2d: ChannelBlockProducer {
    public let weight: Parameter
    public let bias: Parameter
    let store: ParameterStore
    let shape: ConvolutionShape
    public var producesChannelBlocks = false
    public var layoutHandling: LayoutHandling { .convolution }
    private var plans: ConvolutionPlanCache
    /// The plan of the last forward call and the tensor its backward pass
    /// reads: the input (oneDNN) or the channel-major input (im2col).
    private var last: (plan: ConvolutionPlan, kept: Tensor)?
    private var channelMajorInput: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    /// With `.cornerSpread`: the product [N, O, H, W], then its gradient.
    private var corners: Tensor?
    /// The engine's own kernels read and write NCHW.
    private var inputConversion = LayoutConversion(), outputConversion = LayoutConversion()

    public init(
        _ name: String, store: ParameterStore, initializer: DefaultInitializer, inChannels: Int, outChannels: Int,
        kernel: Int, stride: Int, padding: Int, outputPadding: Int
    ) {
        self.store = store
        shape = ConvolutionShape(
            inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride, padding: padding,
            outputPadding: outputPadding, transposed: true)
        // PyTorch computes fan-in from dimension 1 of the weight: out * k * k.
        let fanIn = outChannels * kernel * kernel
        weight = store.make(
            "\(name).weight", shape: [inChannels, outChannels, kernel, kernel],
            initialize: initializer.uniform(fanIn: fanIn))
        bias = store.make("\(name).bias", shape: [outChannels], initialize: initializer.uniform(fanIn: fanIn))
        plans = ConvolutionPlanCache(layer: name)
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        Profiler.measure("ConvTranspose2d", .forward) {
            precondition(
                input.dimensions.c == shape.inChannels,
                "ConvTranspose2d \(weight.name): input has \(input.dimensions.c) channels, expected \(shape.inChannels)")
            let plan = plans.plan(
                for: input, shape: shape, store: store, channelBlockedOutput: producesChannelBlocks, hasBias: true)
            switch plan.path {
            case .oneDNN(let convolution):
                last = (plan, input)
                let y = reuseTensor(&output, plan.outputShape, layout: plan.outputLayout)
                convolution.forward(input, weight: weight, bias: bias, store: store, into: y)
                return y
            case .cornerSpread(let convolution):
                last = (plan, input)
                let y = reuseTensor(&output, plan.outputShape, layout: plan.outputLayout)
                let (n, _, h, w) = input.dimensions
                let product = reuseTensor(&corners, [n, shape.outChannels, h, w], layout: y.layout)
                convolution.forward(input, weight: weight, bias: bias, store: store, into: product)
                Self.spread(product, toCornersOf: y, stride: shape.stride, bias: store.value(bias))
                return y
            case .im2col(let geometry):
                let (n, c, h, w) = input.dimensions
                let x = reuseTensor(&channelMajorInput, [c, n * h * w])
                channelMajor(inputConversion.forward(input, to: .channelsFirst).data, batch: n, channels: c, plane: h * w, into: x.data)
                last = (plan, x)
                let cols = store.workspace.a(geometry.rows * n * h * w)
                gemm(
                    transposeA: true, transposeB: false, m: geometry.rows, n: n * h * w, k: shape.inChannels,
                    store.value(weight), x.data, beta: 0, cols)
                let y = reuseTensor(&output, plan.outputShape)
                col2im(cols, batch: n, geometry, into: y.data)
                addBias(y)
                return outputConversion.forward(y, to: plan.outputLayout)
            case .pointwise, .direct, .depthwiseLoops:
                preconditionFailure("ConvTranspose2d \(plans.layer): no pass for the path \(plan.path.name)")
            }
        }
    }

    private func addBias(_ y: Tensor) {
        let (n, c, h, w) = y.nchw
        let bias = store.value(self.bias)
        parallelChunks(n * c, minimumPerThread: 1) { range in
            for plane in range {
                let b = bias[plane % c]
                let start = y.data + plane * h * w
                for p in 0..<(h * w) { start[p] += b }
            }
        }
    }

    public func backward(_ outputGradient: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure("ConvTranspose2d", .backward) {
            guard let (plan, kept) = last else { preconditionFailure("ConvTranspose2d \(plans.layer): backward before forward") }
            switch plan.path {
            case .oneDNN(let convolution):
                let dx = reuseTensor(&inputGradient, plan.inputShape, layout: plan.inputLayout)
                convolution.backward(
                    outputGradient, input: kept, weight: weight, bias: bias, store: store, inputGradient: dx,
                    parameterGradients: parameterGradients)
                return dx
            case .cornerSpread(let convolution):
                let dx = reuseTensor(&inputGradient, plan.inputShape, layout: plan.inputLayout)
                // The bias reaches every output position: its gradient sums the whole output gradient.
                if parameterGradients { addChannelSums(outputGradient, into: store.gradient(bias)) }
                let (n, _, h, w) = dx.dimensions
                let productGradient = reuseTensor(&corners, [n, shape.outChannels, h, w], layout: outputGradient.layout)
                Self.gather(productGradient, fromCornersOf: outputGradient, stride: shape.stride)
                convolution.backward(
                    productGradient, input: kept, weight: weight, bias: nil, store: store, inputGradient: dx,
                    parameterGradients: parameterGradients)
                return dx
            case .im2col(let geometry):
                let dy = outputConversion.backward(outputGradient)
                return inputConversion.backward(
                    im2colBackward(dy, channelMajorInput: kept, geometry: geometry, plan: plan, parameterGradients: parameterGradients))
            case .pointwise, .direct, .depthwiseLoops:
                preconditionFailure("ConvTranspose2d \(plans.layer): no pass for the path \(plan.path.name)")
            }
        }
    }

    /// The backward pass of col2im: dy and the returned input gradient in NCHW.
    private func im2colBackward(
        _ dy: Tensor, channelMajorInput: Tensor, geometry: PatchGeometry, plan: ConvolutionPlan, parameterGradients: Bool
    ) -> Tensor {
        let n = plan.inputShape[0], positions = n * geometry.positions, inChannels = shape.inChannels
        let dcols = store.workspace.a(geometry.rows * positions)
        im2col(dy.data, batch: n, geometry, into: dcols)
        if parameterGradients {
            gemm(
                transposeA: false, transposeB: true, m: inChannels, n: geometry.rows, k: positions,
                channelMajorInput.data, dcols, beta: 1, store.gradient(weight))
            addChannelSums(dy, into: store.gradient(bias))
        }
        let dxMajor = store.workspace.b(inChannels * positions)
        gemm(
            transposeA: false, transposeB: false, m: inChannels, n: positions, k: geometry.rows,
            store.value(weight), dcols, beta: 0, dxMajor)
        let dx = reuseTensor(&inputGradient, plan.inputShape)
        batchMajor(dxMajor, batch: n, channels: inChannels, plane: geometry.positions, bias: nil, into: dx.data)
        return dx
    }
}
