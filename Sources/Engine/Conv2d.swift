/// 2-D convolution, NCHW, weight [out, in, k, k] (PyTorch's layout), with
/// bias unless `bias: false` (the Keras backbones' convolutions have none).
///
/// Its path at each input shape is chosen once (`ConvolutionPlan.choose`):
/// oneDNN by default; on the engine's own kernels im2col of the whole batch
/// into [in*k*k, N*Ho*Wo], one GEMM with the weight, then back to NCHW with
/// the bias; a pointwise GEMM per image for 1x1 convolutions over large
/// planes; the direct loop for a few output channels.
public final class Conv2d: ChannelBlockProducer {
    public let weight: Parameter
    public let bias: Parameter?
    let store: ParameterStore
    let shape: ConvolutionShape
    public var producesChannelBlocks = false
    /// A direct convolution reads NCHW; the others read channel blocks on oneDNN.
    public var layoutHandling: LayoutHandling { shape.runsDirectly ? .channelsFirstOnly : .convolution }
    private var plans: ConvolutionPlanCache
    /// The plan of the last forward call and the tensor its backward pass
    /// reads: the input (oneDNN, pointwise and direct) or im2col's columns.
    private var last: (plan: ConvolutionPlan, kept: Tensor)?
    private var columns: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    /// The engine's own kernels read and write NCHW.
    private var inputConversion = LayoutConversion(), outputConversion = LayoutConversion()

    public init(
        _ name: String, store: ParameterStore, initializer: DefaultInitializer, inChannels: Int, outChannels: Int,
        kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true, zeroInitialized: Bool = false
    ) {
        self.store = store
        shape = ConvolutionShape(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride, padding: padding)
        let fanIn = inChannels * kernel * kernel
        // Zero weights draw nothing from the initializer: the layers made after keep their initial weights.
        let initialize = zeroInitialized ? DefaultInitializer.constant(0) : initializer.uniform(fanIn: fanIn)
        weight = store.make("\(name).weight", shape: [outChannels, inChannels, kernel, kernel], initialize: initialize)
        self.bias = bias ? store.make("\(name).bias", shape: [outChannels], initialize: initialize) : nil
        plans = ConvolutionPlanCache(layer: name)
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        Profiler.measure("Conv2d", .forward) {
            precondition(
                input.dimensions.c == shape.inChannels,
                "Conv2d \(weight.name): input has \(input.dimensions.c) channels, expected \(shape.inChannels)")
            let plan = plans.plan(
                for: input, shape: shape, store: store, channelBlockedOutput: producesChannelBlocks, hasBias: bias != nil)
            if case .oneDNN(let convolution) = plan.path {
                last = (plan, input)
                let y = reuseTensor(&output, plan.outputShape, layout: plan.outputLayout)
                convolution.forward(input, weight: weight, bias: bias, store: store, into: y)
                return y
            }
            let x = inputConversion.forward(input, to: .channelsFirst)
            let y = reuseTensor(&output, plan.outputShape)
            last = (plan, ownKernelsForward(x, plan: plan, into: y))
            return outputConversion.forward(y, to: plan.outputLayout)
        }
    }

    /// The forward pass on the engine's own kernels, x and y in NCHW; returns
    /// the tensor the backward pass reads.
    private func ownKernelsForward(_ x: Tensor, plan: ConvolutionPlan, into y: Tensor) -> Tensor {
        switch plan.path {
        case .pointwise:
            pointwiseForward(x, into: y)
            return x
        case .direct(let geometry):
            directForward(x, geometry: geometry, into: y)
            return x
        case .im2col(let geometry):
            let n = x.shape[0]
            let cols = reuseTensor(&columns, [geometry.rows, n * geometry.positions])
            im2col(x.data, batch: n, geometry, into: cols.data)
            let product = store.workspace.a(shape.outChannels * n * geometry.positions)
            gemm(
                transposeA: false, transposeB: false, m: shape.outChannels, n: n * geometry.positions, k: geometry.rows,
                store.value(weight), cols.data, beta: 0, product)
            batchMajor(
                product, batch: n, channels: shape.outChannels, plane: geometry.positions, bias: bias.map { store.value($0) },
                into: y.data)
            return cols
        case .oneDNN, .cornerSpread, .depthwiseLoops:
            preconditionFailure("Conv2d \(plans.layer): no own-kernel pass for the path \(plan.path.name)")
        }
    }

    public func backward(_ outputGradient: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure("Conv2d", .backward) {
            guard let (plan, kept) = last else { preconditionFailure("Conv2d \(plans.layer): backward before forward") }
            if case .oneDNN(let convolution) = plan.path {
                let dx = reuseTensor(&inputGradient, plan.inputShape, layout: plan.inputLayout)
                convolution.backward(
                    outputGradient, input: kept, weight: weight, bias: bias, store: store, inputGradient: dx,
                    parameterGradients: parameterGradients)
                return dx
            }
            let dy = outputConversion.backward(outputGradient)
            let dx = reuseTensor(&inputGradient, plan.inputShape)
            switch plan.path {
            case .pointwise: pointwiseBackward(dy, input: kept, into: dx, parameterGradients: parameterGradients)
            case .direct(let geometry):
                directBackward(dy, input: kept, geometry: geometry, into: dx, parameterGradients: parameterGradients)
            case .im2col(let geometry):
                im2colBackward(dy, columns: kept, geometry: geometry, into: dx, parameterGradients: parameterGradients)
            case .oneDNN, .cornerSpread, .depthwiseLoops:
                preconditionFailure("Conv2d \(plans.layer): no own-kernel pass for the path \(plan.path.name)")
            }
            return inputConversion.backward(dx)
        }
    }

    /// The backward pass of im2col: dy and dx in NCHW.
    private func im2colBackward(
        _ outputGradient: Tensor, columns: Tensor, geometry: PatchGeometry, into dx: Tensor, parameterGradients: Bool
    ) {
        let n = dx.shape[0], positions = n * geometry.positions, outChannels = shape.outChannels
        let dy = store.workspace.a(outChannels * positions)
        channelMajor(outputGradient.data, batch: n, channels: outChannels, plane: geometry.positions, into: dy)
        if parameterGradients {
            gemm(
                transposeA: false, transposeB: true, m: outChannels, n: geometry.rows, k: positions,
                dy, columns.data, beta: 1, store.gradient(weight))
            if let bias { addChannelSums(outputGradient, into: store.gradient(bias)) }
        }
        let dcols = store.workspace.b(geometry.rows * positions)
        gemm(
            transposeA: true, transposeB: false, m: geometry.rows, n: positions, k: outChannels,
            store.value(weight), dy, beta: 0, dcols)
        col2im(dcols, batch: n, geometry, into: dx.data)
    }
}

extension Conv2d {
    /// Adds the weight and bias gradients of the last forward call, without
    /// the input gradient: for a network's first layer in a step that needs no
    /// gradient with respect to its images (the discriminator's own step).
    public func accumulateParameterGradients(_ outputGradient: Tensor) {
        guard let (plan, input) = last, case .oneDNN(let convolution) = plan.path else {
            _ = backward(outputGradient, parameterGradients: true)
            return
        }
        Profiler.measure("Conv2d", .backward) {
            convolution.backward(
                outputGradient, input: input, weight: weight, bias: bias, store: store, inputGradient: nil, parameterGradients: true)
        }
    }

    /// Y_n [O, HW] = W [O, C] x X_n [C, HW] + bias, per image.
    fileprivate func pointwiseForward(_ x: Tensor, into y: Tensor) {
        let (n, c, h, w) = x.nchw
        let plane = h * w
        let biases = bias.map { store.value($0) }, outChannels = shape.outChannels
        for image in 0..<n {
            let target = y.data + image * outChannels * plane
            for o in 0..<outChannels { (target + o * plane).update(repeating: biases?[o] ?? 0, count: plane) }
            gemm(
                transposeA: false, transposeB: false, m: outChannels, n: plane, k: c, store.value(weight),
                x.data + image * c * plane, beta: 1, target)
        }
    }

    /// dW += dY_n x X_nᵀ and dX_n = Wᵀ x dY_n, per image.
    fileprivate func pointwiseBackward(_ dy: Tensor, input x: Tensor, into dx: Tensor, parameterGradients: Bool) {
        let (n, c, h, w) = x.nchw
        let plane = h * w, outChannels = shape.outChannels
        for image in 0..<n {
            let gradient = dy.data + image * outChannels * plane
            if parameterGradients {
                gemm(
                    transposeA: false, transposeB: true, m: outChannels, n: c, k: plane, gradient,
                    x.data + image * c * plane, beta: 1, store.gradient(weight))
            }
            gemm(
                transposeA: true, transposeB: false, m: c, n: plane, k: outChannels, store.value(weight), gradient,
                beta: 0, dx.data + image * c * plane)
        }
        if parameterGradients, let bias { addChannelSums(dy, into: store.gradient(bias)) }
    }

    /// Calls `body(ki, kj, valid output columns, first input column)` for
    /// every kernel offset, and within it the caller walks the valid rows.
    @inline(__always)
    private func forEachOffset(_ geometry: PatchGeometry, _ body: (Int, Int, Range<Int>, Int) -> Void) {
        for ki in 0..<geometry.kernel {
            for kj in 0..<geometry.kernel {
                let valid = geometry.validColumns(kj: kj)
                if !valid.isEmpty { body(ki, kj, valid, valid.lowerBound - geometry.padding + kj) }
            }
        }
    }

    fileprivate func directForward(_ x: Tensor, geometry: PatchGeometry, into y: Tensor) {
        let (n, c, h, w) = x.nchw
        let (kernel, padding, outChannels) = (shape.kernel, shape.padding, shape.outChannels)
        let (outHeight, outWidth) = (geometry.columnsHigh, geometry.columnsWide)
        let weights = store.value(weight), biases = bias.map { store.value($0) }
        parallelChunks(n * outChannels, minimumPerThread: 1) { planes in
            for plane in planes {
                let image = plane / outChannels, o = plane % outChannels
                let target = y.data + plane * outHeight * outWidth
                target.update(repeating: biases?[o] ?? 0, count: outHeight * outWidth)
                for channel in 0..<c {
                    let source = x.data + (image * c + channel) * h * w
                    forEachOffset(geometry) { ki, kj, valid, firstInput in
                        let value = weights[((o * c + channel) * kernel + ki) * kernel + kj]
                        for oy in geometry.validRows(ki: ki) {
                            let out = target + oy * outWidth + valid.lowerBound
                            let inp = source + (oy - padding + ki) * w + firstInput
                            for t in 0..<valid.count { out[t] += value * inp[t] }
                        }
                    }
                }
            }
        }
    }

    fileprivate func directBackward(_ dy: Tensor, input x: Tensor, geometry: PatchGeometry, into dx: Tensor, parameterGradients: Bool) {
        let (n, c, h, w) = x.nchw
        let (kernel, padding, outChannels) = (shape.kernel, shape.padding, shape.outChannels)
        let (outHeight, outWidth) = (geometry.columnsHigh, geometry.columnsWide)
        let weights = store.value(weight)
        if parameterGradients {
            let weightGradient = store.gradient(weight)
            parallelChunks(c, minimumPerThread: 1) { channels in
                for channel in channels {
                    for o in 0..<outChannels {
                        forEachOffset(geometry) { ki, kj, valid, firstInput in
                            var total: Float = 0
                            for image in 0..<n {
                                let gradient = dy.data + (image * outChannels + o) * outHeight * outWidth
                                let source = x.data + (image * c + channel) * h * w
                                for oy in geometry.validRows(ki: ki) {
                                    let g = gradient + oy * outWidth + valid.lowerBound
                                    let inp = source + (oy - padding + ki) * w + firstInput
                                    total += dotProduct(g, inp, valid.count)
                                }
                            }
                            weightGradient[((o * c + channel) * kernel + ki) * kernel + kj] += total
                        }
                    }
                }
            }
            if let bias { addChannelSums(dy, into: store.gradient(bias)) }
        }
        parallelChunks(n * c, minimumPerThread: 1) { planes in
            for plane in planes {
                let image = plane / c, channel = plane % c
                let target = dx.data + plane * h * w
                target.update(repeating: 0, count: h * w)
                for o in 0..<outChannels {
                    let gradient = dy.data + (image * outChannels + o) * outHeight * outWidth
                    forEachOffset(geometry) { ki, kj, valid, firstInput in
                        let value = weights[((o * c + channel) * kernel + ki) * kernel + kj]
                        for oy in geometry.validRows(ki: ki) {
                            let g = gradient + oy * outWidth + valid.lowerBound
                            let out = target + (oy - padding + ki) * w + firstInput
                            for t in 0..<valid.count { out[t] += value * g[t] }
                        }
                    }
                }
            }
        }
    }
}
