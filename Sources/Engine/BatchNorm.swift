/// Batch normalisation over N, H and W of an NCHW tensor (PyTorch's
/// BatchNorm2d): in training, normalise with the batch mean and biased
/// variance and move the running estimates by `momentum` toward the batch
/// mean and unbiased variance; in inference, normalise with the running
/// estimates. eps 1e-5, momentum 0.1 (architecture page).
///
/// With `activationSlope`, the layer is BatchNorm followed by LeakyReLU with
/// that slope, fused (the generator's and the discriminator's blocks): one pass
/// less over the activations each way, and no tensors for the BatchNorm output
/// and the activation's input gradient. The backward pass takes the
/// activation's derivative from the sign of its input, gamma * xhat + beta,
/// computed again from the normalised values as the forward pass computed it:
/// reading the output instead would be a third activation-sized stream.
///
/// `inPlace` writes the normalised values the backward pass needs over the
/// input, and the input gradient over the output gradient, instead of into
/// tensors of the layer's own: for an input that nothing reads after this
/// layer's forward pass (a convolution's or a concatenation's output) and an
/// output gradient that nothing reads after its backward pass (the next
/// layer's input gradient). It saves two activation-sized tensors.
public final class BatchNorm2d: Layer {
    public var layoutHandling: LayoutHandling { .preserves }
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Tensor
    public let runningVariance: Tensor
    let store: ParameterStore
    let channels: Int
    let epsilon: Float
    let activationSlope: Float?
    let inPlace: Bool
    /// The architecture page's 0.1. `Generator.recalibrateBatchNorm` sets
    /// 1/k for its k-th batch, which makes the estimates the batches' mean.
    public var momentum = defaultMomentum
    public static let defaultMomentum: Float = 0.1
    private var normalized: Tensor?
    private var inverseDeviation: [Float]
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var trainedLast = true

    /// `epsilon` 1e-5 as PyTorch; Keras' BatchNormalization uses 1e-3.
    public init(
        _ name: String, store: ParameterStore, channels: Int, epsilon: Float = 1e-5, activationSlope: Float? = nil,
        inPlace: Bool = false
    ) {
        precondition((activationSlope ?? 0) >= 0, "BatchNorm2d \(name): a fused activation needs a slope of at least 0")
        self.epsilon = epsilon
        self.activationSlope = activationSlope
        self.inPlace = inPlace
        self.store = store
        self.channels = channels
        weight = store.make("\(name).weight", shape: [channels], initialize: DefaultInitializer.constant(1))
        bias = store.make("\(name).bias", shape: [channels], initialize: DefaultInitializer.constant(0))
        runningMean = Tensor(shape: [channels])
        runningVariance = Tensor(shape: [channels])
        runningVariance.fill(1)
        store.buffer("\(name).running_mean", runningMean)
        store.buffer("\(name).running_var", runningVariance)
        inverseDeviation = Array(repeating: 0, count: channels)
    }

    /// The profiler's label.
    private var profileName: String { activationSlope == nil ? "BatchNorm2d" : "BatchNorm2d+LeakyReLU" }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        Profiler.measure(profileName, .forward) {
            let c = x.dimensions.c
            precondition(c == channels, "BatchNorm2d \(weight.name): input has \(c) channels, expected \(channels)")
            let y = reuseTensor(&output, x.shape, layout: x.layout)
            let xhat: Tensor
            if inPlace {
                xhat = x
                normalized = x
            } else {
                xhat = reuseTensor(&normalized, x.shape, layout: x.layout)
            }
            trainedLast = training
            if x.layout == .channelBlocks {
                blockedForward(x, normalizedInto: xhat, output: y, training: training)
            } else {
                channelsFirstForward(x, normalizedInto: xhat, output: y, training: training)
            }
            return y
        }
    }

    private func channelsFirstForward(_ x: Tensor, normalizedInto xhat: Tensor, output y: Tensor, training: Bool) {
        let (n, c, h, w) = x.nchw
        let plane = h * w
        let gamma = store.value(weight), beta = store.value(bias)
        // A slope of 1 is no activation: z > 0 ? z : z * 1 is z exactly.
        let slope = activationSlope ?? 1
        inverseDeviation.withStorage { inverse in
            parallelChunks(c, minimumPerThread: 1) { range in
                for channel in range {
                    var mean: Float, variance: Float
                    if training {
                        (mean, variance) = Self.batchStatistics(x, channel: channel)
                        updateRunningEstimates(channel: channel, mean: mean, variance: variance, count: n * plane)
                    } else {
                        mean = runningMean.data[channel]
                        variance = runningVariance.data[channel]
                    }
                    let inv = 1 / (variance + epsilon).squareRoot()
                    inverse[channel] = inv
                    let g = gamma[channel], b = beta[channel]
                    for image in 0..<n {
                        let offset = (image * c + channel) * plane
                        let source = x.data + offset, normal = xhat.data + offset, target = y.data + offset
                        for p in 0..<plane {
                            let v = (source[p] - mean) * inv
                            normal[p] = v
                            let z = v * g + b
                            target[p] = z > 0 ? z : z * slope
                        }
                    }
                }
            }
        }
    }

    /// `channelsFirstForward` on channel blocks: the 16 channels of a block at
    /// once, one per vector lane.
    private func blockedForward(_ x: Tensor, normalizedInto xhat: Tensor, output y: Tensor, training: Bool) {
        let (n, c, h, w) = x.dimensions
        let plane = h * w, lanes = TensorLayout.blockChannels
        let gamma = store.value(weight), beta = store.value(bias)
        let slope = activationSlope ?? 1
        inverseDeviation.withStorage { inverse in
            parallelChunks(c / lanes, minimumPerThread: 1) { range in
                for block in range {
                    let first = block * lanes
                    var mean: SIMD16<Float>, variance: SIMD16<Float>
                    if training {
                        (mean, variance) = Self.blockStatistics(x, block: block)
                        for lane in 0..<lanes {
                            updateRunningEstimates(channel: first + lane, mean: mean[lane], variance: variance[lane], count: n * plane)
                        }
                    } else {
                        mean = load16(runningMean.data + first)
                        variance = load16(runningVariance.data + first)
                    }
                    let inv = 1 / (variance + epsilon).squareRoot()
                    store16(inv, inverse + first)
                    let g = load16(gamma + first), b = load16(beta + first)
                    for image in 0..<n {
                        let offset = (image * c + first) * plane
                        for p in stride(from: offset, to: offset + plane * lanes, by: lanes) {
                            let v = (load16(x.data + p) - mean) * inv
                            store16(v, xhat.data + p)
                            let z = v * g + b
                            store16(z.replacing(with: z * slope, where: z .<= 0), y.data + p)
                        }
                    }
                }
            }
        }
    }

    /// Moves the running estimates of `channel` toward the batch's mean and
    /// unbiased variance over `count` values.
    private func updateRunningEstimates(channel: Int, mean: Float, variance: Float, count: Int) {
        let unbiased = count > 1 ? variance * Float(count) / Float(count - 1) : variance
        runningMean.data[channel] = (1 - momentum) * runningMean.data[channel] + momentum * mean
        runningVariance.data[channel] = (1 - momentum) * runningVariance.data[channel] + momentum * unbiased
    }

    /// Mean and biased variance of one channel over the batch, in two passes,
    /// each plane summed in eight float lanes and the planes in double: the
    /// squares are of deviations from the mean, so nothing cancels.
    static func batchStatistics(_ x: Tensor, channel: Int) -> (mean: Float, variance: Float) {
        let (n, c, h, w) = x.nchw
        let plane = h * w
        var total: Double = 0
        for image in 0..<n { total += Double(sum(x.data + (image * c + channel) * plane, plane)) }
        let mean = Float(total / Double(n * plane))
        var squares: Double = 0
        for image in 0..<n {
            let start = x.data + (image * c + channel) * plane
            squares += Double(
                laneSum(
                    plane,
                    lanes: {
                        let d = load8(start + $0) - mean
                        return d * d
                    },
                    term: { (start[$0] - mean) * (start[$0] - mean) }))
        }
        return (mean, Float(squares / Double(n * plane)))
    }

    /// `batchStatistics` of the 16 channels of one channel block, one per
    /// lane: float sums over at most 64 positions, then in double.
    static func blockStatistics(_ x: Tensor, block: Int) -> (mean: SIMD16<Float>, variance: SIMD16<Float>) {
        let (n, c, h, w) = x.dimensions
        let plane = h * w, lanes = TensorLayout.blockChannels
        func total(_ term: (SIMD16<Float>) -> SIMD16<Float>) -> SIMD16<Double> {
            var total = SIMD16<Double>(repeating: 0)
            for image in 0..<n {
                let start = x.data + (image * c + block * lanes) * plane
                var p = 0
                while p < plane {
                    let end = min(plane, p + 64)
                    var partial = SIMD16<Float>(repeating: 0)
                    for q in p..<end { partial += term(load16(start + q * lanes)) }
                    total += SIMD16<Double>(partial)
                    p = end
                }
            }
            return total
        }
        let count = Double(n * plane)
        let mean = SIMD16<Float>(total { $0 } / count)
        let variance = SIMD16<Float>(
            total {
                let d = $0 - mean
                return d * d
            } / count)
        return (mean, variance)
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure(profileName, .backward) {
            let xhat = kept(normalized, by: "BatchNorm2d \(weight.name)")
            precondition(
                dy.shape == xhat.shape && dy.layout == xhat.layout,
                "BatchNorm2d \(weight.name): gradient \(dy.shape) for an output of \(xhat.shape)")
            // In place, each channel's gradient is read whole (its sums) before it is overwritten.
            let dx = inPlace ? dy : reuseTensor(&inputGradient, xhat.shape, layout: xhat.layout)
            if xhat.layout == .channelBlocks {
                blockedBackward(dy, into: dx, parameterGradients: parameterGradients)
            } else {
                channelsFirstBackward(dy, into: dx, parameterGradients: parameterGradients)
            }
            return dx
        }
    }

    private func channelsFirstBackward(_ dy: Tensor, into dx: Tensor, parameterGradients: Bool) {
        let xhat = kept(normalized, by: "BatchNorm2d \(weight.name)")
        let slope = activationSlope ?? 1
        let (n, c, h, w) = xhat.nchw
        let plane = h * w, count = Float(n * plane)
        let gamma = store.value(weight), beta = store.value(bias)
        let gammaGradient = store.gradient(weight), betaGradient = store.gradient(bias)
        let training = trainedLast
        inverseDeviation.withStorage { inverse in
            parallelChunks(c, minimumPerThread: 1) { range in
                for channel in range {
                    let gain = gamma[channel], shift = beta[channel]
                    var sumDy: Float = 0, sumDyXhat: Float = 0
                    for image in 0..<n {
                        let offset = (image * c + channel) * plane
                        let g = dy.data + offset, v = xhat.data + offset
                        // The gradient before the activation, in eight lanes and one at a time; both sums in one pass.
                        func lanes(_ i: Int) -> SIMD8<Float> {
                            let gradient = load8(g + i)
                            return gradient.replacing(with: gradient * slope, where: load8(v + i) * gain + shift .<= 0)
                        }
                        func term(_ i: Int) -> Float { v[i] * gain + shift > 0 ? g[i] : g[i] * slope }
                        let sums = laneSums(
                            plane,
                            lanes: {
                                let gradient = lanes($0)
                                return (gradient, gradient * load8(v + $0))
                            },
                            term: {
                                let gradient = term($0)
                                return (gradient, gradient * v[$0])
                            })
                        sumDy += sums.first
                        sumDyXhat += sums.second
                    }
                    if parameterGradients {
                        gammaGradient[channel] += sumDyXhat
                        betaGradient[channel] += sumDy
                    }
                    let scale = gain * inverse[channel]
                    for image in 0..<n {
                        let offset = (image * c + channel) * plane
                        let g = dy.data + offset, v = xhat.data + offset
                        let target = dx.data + offset
                        if training {
                            // dx = gamma * inv / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
                            let meanDy = sumDy / count, meanDyXhat = sumDyXhat / count
                            for p in 0..<plane {
                                let gradient = v[p] * gain + shift > 0 ? g[p] : g[p] * slope
                                target[p] = scale * (gradient - meanDy - v[p] * meanDyXhat)
                            }
                        } else {
                            for p in 0..<plane { target[p] = scale * (v[p] * gain + shift > 0 ? g[p] : g[p] * slope) }
                        }
                    }
                }
            }
        }
    }

    /// `channelsFirstBackward` on channel blocks, 16 channels per vector.
    private func blockedBackward(_ dy: Tensor, into dx: Tensor, parameterGradients: Bool) {
        let xhat = kept(normalized, by: "BatchNorm2d \(weight.name)")
        let slope = activationSlope ?? 1
        let (n, c, h, w) = xhat.dimensions
        let plane = h * w, count = Float(n * plane), lanes = TensorLayout.blockChannels
        let gamma = store.value(weight), beta = store.value(bias)
        let gammaGradient = store.gradient(weight), betaGradient = store.gradient(bias)
        let training = trainedLast
        let g = dy.data, v = xhat.data, target = dx.data
        inverseDeviation.withStorage { inverse in
            parallelChunks(c / lanes, minimumPerThread: 1) { range in
                for block in range {
                    let first = block * lanes
                    let gain = load16(gamma + first), shift = load16(beta + first)
                    // The gradient before the activation at `offset`.
                    func activationGradient(_ offset: Int) -> SIMD16<Float> {
                        let gradient = load16(g + offset)
                        return gradient.replacing(with: gradient * slope, where: load16(v + offset) * gain + shift .<= 0)
                    }
                    var sumDy = SIMD16<Float>(repeating: 0), sumDyXhat = SIMD16<Float>(repeating: 0)
                    for image in 0..<n {
                        let offset = (image * c + first) * plane
                        var imageDy = SIMD16<Float>(repeating: 0), imageDyXhat = SIMD16<Float>(repeating: 0)
                        for p in stride(from: offset, to: offset + plane * lanes, by: lanes) {
                            let gradient = activationGradient(p)
                            imageDy += gradient
                            imageDyXhat += gradient * load16(v + p)
                        }
                        sumDy += imageDy
                        sumDyXhat += imageDyXhat
                    }
                    if parameterGradients {
                        store16(load16(gammaGradient + first) + sumDyXhat, gammaGradient + first)
                        store16(load16(betaGradient + first) + sumDy, betaGradient + first)
                    }
                    let scale = gain * load16(inverse + first)
                    let meanDy = training ? sumDy / count : SIMD16(repeating: 0)
                    let meanDyXhat = training ? sumDyXhat / count : SIMD16(repeating: 0)
                    for image in 0..<n {
                        let offset = (image * c + first) * plane
                        for p in stride(from: offset, to: offset + plane * lanes, by: lanes) {
                            // In inference the means are 0: dx = scale * (gradient - 0 - xhat * 0) = scale * gradient.
                            store16(scale * (activationGradient(p) - meanDy - load16(v + p) * meanDyXhat), target + p)
                        }
                    }
                }
            }
        }
    }
}
