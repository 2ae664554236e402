/// Depthwise convolution (one `kernel` x `kernel` filter per channel, depth
/// multiplier 1), the spatial half of the separable convolutions of Xception
/// and MobileNetV2 (Keras `DepthwiseConv2D`; weights here in PyTorch's
/// [channels, 1, k, k] layout). Symmetric `padding`; Keras' asymmetric
/// "same" padding at stride 2 is a `ZeroPad2d` in front.
/// Input [N, C, H, W], output [N, C, (H + 2p - k) / s + 1, (W + 2p - k) / s + 1].
///
/// On oneDNN (a grouped convolution with one group per channel) unless the
/// store asks for the engine's own kernels, which are the loops below.
public final class DepthwiseConv2d: Layer {
    public var layoutHandling: LayoutHandling { .channelsFirstOnly }
    public let weight: Parameter
    /// Nil for the bias-free convolutions of the Keras backbones.
    public let bias: Parameter?
    let store: ParameterStore
    let shape: ConvolutionShape
    private var plans: ConvolutionPlanCache
    /// The plan and input of the last forward call, for backward.
    private var last: (plan: ConvolutionPlan, input: Tensor)?
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init(
        _ name: String, store: ParameterStore, initializer: DefaultInitializer, channels: Int, kernel: Int, stride: Int = 1,
        padding: Int = 0, bias: Bool = true
    ) {
        self.store = store
        shape = ConvolutionShape(
            inChannels: channels, outChannels: channels, kernel: kernel, stride: stride, padding: padding, groups: channels)
        weight = store.make(
            "\(name).weight", shape: [channels, 1, kernel, kernel], initialize: initializer.uniform(fanIn: kernel * kernel))
        self.bias = bias ? store.make("\(name).bias", shape: [channels], initialize: initializer.uniform(fanIn: kernel * kernel)) : nil
        plans = ConvolutionPlanCache(layer: name)
    }

    /// The output rows and columns each kernel offset reaches inside the
    /// image (`PatchGeometry.validColumns`, applied to both axes), so that
    /// the inner loops run without bounds tests over contiguous (stride 1)
    /// or evenly strided memory.
    private func validRanges(height h: Int, width w: Int, outHeight oh: Int, outWidth ow: Int) -> (
        rows: [Range<Int>], columns: [Range<Int>]
    ) {
        let (kernel, stride, padding) = (shape.kernel, shape.stride, shape.padding)
        let columns = PatchGeometry(
            channels: 1, height: h, width: w, kernel: kernel, stride: stride, padding: padding,
            columnsHigh: oh, columnsWide: ow)
        let rows = PatchGeometry(
            channels: 1, height: w, width: h, kernel: kernel, stride: stride, padding: padding,
            columnsHigh: ow, columnsWide: oh)
        return ((0..<kernel).map { rows.validColumns(kj: $0) }, (0..<kernel).map { columns.validColumns(kj: $0) })
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        Profiler.measure("DepthwiseConv2d", .forward) {
            let (n, c, h, w) = x.nchw
            precondition(c == shape.inChannels, "DepthwiseConv2d \(weight.name): input has \(c) channels, expected \(shape.inChannels)")
            let plan = plans.plan(
                for: x, shape: shape, store: store, hasBias: bias != nil)
            last = (plan, x)
            let (oh, ow) = (plan.outputShape[2], plan.outputShape[3])
            let y = reuseTensor(&output, plan.outputShape)
            if case .oneDNN(let convolution) = plan.path {
                convolution.forward(x, weight: weight, bias: bias, store: store, into: y)
                return y
            }
            let weights = store.value(weight), biases = bias.map { store.value($0) }
            let (k, s, p) = (shape.kernel, shape.stride, shape.padding)
            let (validRows, validColumns) = validRanges(height: h, width: w, outHeight: oh, outWidth: ow)
            parallelChunks(n * c, minimumPerThread: 1) { range in
                for plane in range {
                    let channel = plane % c
                    let source = x.data + plane * h * w, target = y.data + plane * oh * ow, filter = weights + channel * k * k
                    target.update(repeating: biases?[channel] ?? 0, count: oh * ow)
                    for ki in 0..<k {
                        for kj in 0..<k {
                            let value = filter[ki * k + kj], columns = validColumns[kj]
                            guard !columns.isEmpty else { continue }
                            for oy in validRows[ki] {
                                let from = source + (oy * s - p + ki) * w + columns.lowerBound * s - p + kj
                                let to = target + oy * ow + columns.lowerBound
                                if s == 1 {
                                    for i in 0..<columns.count { to[i] += value * from[i] }
                                } else {
                                    for i in 0..<columns.count { to[i] += value * from[i * s] }
                                }
                            }
                        }
                    }
                }
            }
            return y
        }
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure("DepthwiseConv2d", .backward) {
            guard let (plan, x) = last else { preconditionFailure("DepthwiseConv2d \(weight.name): backward before forward") }
            let (_, _, h, w) = x.nchw
            let (_, _, oh, ow) = dy.nchw
            let dx = reuseTensor(&inputGradient, x.shape)
            if case .oneDNN(let convolution) = plan.path {
                convolution.backward(
                    dy, input: x, weight: weight, bias: bias, store: store, inputGradient: dx,
                    parameterGradients: parameterGradients)
                return dx
            }
            dx.fill(0)
            let valid = validRanges(height: h, width: w, outHeight: oh, outWidth: ow)
            backwardInput(dy, into: dx, valid: valid)
            if parameterGradients { accumulateParameterGradients(dy, input: x, valid: valid) }
            return dx
        }
    }

    /// dx from dy: each plane's filter taps scattered back. Planes are independent.
    private func backwardInput(_ dy: Tensor, into dx: Tensor, valid: (rows: [Range<Int>], columns: [Range<Int>])) {
        let (n, c, h, w) = dx.nchw
        let (_, _, oh, ow) = dy.nchw
        let weights = store.value(weight)
        let (k, s, p) = (shape.kernel, shape.stride, shape.padding)
        parallelChunks(n * c, minimumPerThread: 1) { range in
            for plane in range {
                let filter = weights + (plane % c) * k * k
                let gradient = dy.data + plane * oh * ow, target = dx.data + plane * h * w
                for ki in 0..<k {
                    for kj in 0..<k {
                        let value = filter[ki * k + kj], columns = valid.columns[kj]
                        guard !columns.isEmpty else { continue }
                        for oy in valid.rows[ki] {
                            let to = target + (oy * s - p + ki) * w + columns.lowerBound * s - p + kj
                            let from = gradient + oy * ow + columns.lowerBound
                            if s == 1 {
                                for i in 0..<columns.count { to[i] += value * from[i] }
                            } else {
                                for i in 0..<columns.count { to[i * s] += value * from[i] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Weight and bias gradients, added into the store. Channels are independent.
    private func accumulateParameterGradients(_ dy: Tensor, input x: Tensor, valid: (rows: [Range<Int>], columns: [Range<Int>])) {
        let (n, c, h, w) = x.nchw
        let (_, _, oh, ow) = dy.nchw
        let (k, s, p) = (shape.kernel, shape.stride, shape.padding)
        let weightGradients = store.gradient(weight), biasGradients = bias.map { store.gradient($0) }
        parallelChunks(c, minimumPerThread: 1) { range in
            for channel in range {
                for image in 0..<n {
                    let plane = image * c + channel
                    let gradient = dy.data + plane * oh * ow, source = x.data + plane * h * w
                    if let biasGradients {
                        var total: Float = 0
                        for i in 0..<(oh * ow) { total += gradient[i] }
                        biasGradients[channel] += total
                    }
                    for ki in 0..<k {
                        for kj in 0..<k {
                            let columns = valid.columns[kj]
                            guard !columns.isEmpty else { continue }
                            var total: Float = 0
                            for oy in valid.rows[ki] {
                                let from = source + (oy * s - p + ki) * w + columns.lowerBound * s - p + kj
                                let g = gradient + oy * ow + columns.lowerBound
                                for i in 0..<columns.count { total += from[i * s] * g[i] }
                            }
                            weightGradients[channel * k * k + ki * k + kj] += total
                        }
                    }
                }
            }
        }
    }
}
