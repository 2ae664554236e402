/// Batch normalisation over N, H and W of an NCHW tensor (PyTorch's
/// BatchNorm2d): in training, normalise with the batch mean and biased
/// variance and move the running estimates by `momentum` toward the batch
/// mean and unbiased variance; in inference, normalise with the running
/// estimates. eps 1e-5, momentum 0.1 (architecture page).
///
/// With `activationSlope`, the layer is BatchNorm followed by LeakyReLU with
/// that slope, fused (the generator's and the discriminator's blocks): one pass
/// less over the activations each way, and no tensors for the BatchNorm output
/// and the activation's input gradient. The activation's derivative is read
/// from the sign of the output, which is the sign of its input for a slope >= 0.
///
/// `inPlace` writes the normalised values the backward pass needs over the
/// input, and the input gradient over the output gradient, instead of into
/// tensors of the layer's own: for an input that nothing reads after this
/// layer's forward pass (a convolution's or a concatenation's output) and an
/// output gradient that nothing reads after its backward pass (the next
/// layer's input gradient). It saves two activation-sized tensors.
public final class BatchNorm2d: Layer {
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
            let (n, c, h, w) = x.nchw
            precondition(c == channels, "BatchNorm2d \(weight.name): input has \(c) channels, expected \(channels)")
            let plane = h * w
            let y = reuseTensor(&output, x.shape)
            let xhat: Tensor
            if inPlace {
                xhat = x
                normalized = x
            } else {
                xhat = reuseTensor(&normalized, x.shape)
            }
            let gamma = store.value(weight), beta = store.value(bias)
            // A slope of 1 is no activation: z > 0 ? z : z * 1 is z exactly.
            let slope = activationSlope ?? 1
            trainedLast = training
            inverseDeviation.withUnsafeMutableBufferPointer { inverse in
                let inverse = inverse.baseAddress!
                parallelChunks(c, minimumPerThread: 1) { range in
                    for channel in range {
                        var mean: Float, variance: Float
                        if training {
                            (mean, variance) = Self.batchStatistics(x, channel: channel)
                            let count = Float(n * plane)
                            let unbiased = count > 1 ? variance * count / (count - 1) : variance
                            runningMean.data[channel] = (1 - momentum) * runningMean.data[channel] + momentum * mean
                            runningVariance.data[channel] = (1 - momentum) * runningVariance.data[channel] + momentum * unbiased
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
            return y
        }
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

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure(profileName, .backward) {
            let xhat = normalized!, y = output!
            let slope = activationSlope ?? 1
            let (n, c, h, w) = xhat.nchw
            let plane = h * w, count = Float(n * plane)
            precondition(dy.shape == xhat.shape, "BatchNorm2d \(weight.name): gradient \(dy.shape) for an output of \(xhat.shape)")
            // In place, each channel's gradient is read whole (its sums) before it is overwritten.
            let dx = inPlace ? dy : reuseTensor(&inputGradient, xhat.shape)
            let gamma = store.value(weight)
            let gammaGradient = store.gradient(weight), betaGradient = store.gradient(bias)
            let training = trainedLast
            inverseDeviation.withUnsafeBufferPointer { inverse in
                let inverse = inverse.baseAddress!
                parallelChunks(c, minimumPerThread: 1) { range in
                    for channel in range {
                        var sumDy: Float = 0, sumDyXhat: Float = 0
                        for image in 0..<n {
                            let offset = (image * c + channel) * plane
                            let g = dy.data + offset, out = y.data + offset, v = xhat.data + offset
                            // The gradient before the activation, in eight lanes.
                            func lanes(_ i: Int) -> SIMD8<Float> {
                                let gradient = load8(g + i)
                                return gradient.replacing(with: gradient * slope, where: load8(out + i) .<= 0)
                            }
                            func term(_ i: Int) -> Float { out[i] > 0 ? g[i] : g[i] * slope }
                            sumDy += laneSum(plane, lanes: lanes, term: term)
                            sumDyXhat += laneSum(plane, lanes: { lanes($0) * load8(v + $0) }, term: { term($0) * v[$0] })
                        }
                        if parameterGradients {
                            gammaGradient[channel] += sumDyXhat
                            betaGradient[channel] += sumDy
                        }
                        let scale = gamma[channel] * inverse[channel]
                        for image in 0..<n {
                            let offset = (image * c + channel) * plane
                            let g = dy.data + offset, out = y.data + offset, v = xhat.data + offset
                            let target = dx.data + offset
                            if training {
                                // dx = gamma * inv / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
                                let meanDy = sumDy / count, meanDyXhat = sumDyXhat / count
                                for p in 0..<plane {
                                    let gradient = out[p] > 0 ? g[p] : g[p] * slope
                                    target[p] = scale * (gradient - meanDy - v[p] * meanDyXhat)
                                }
                            } else {
                                for p in 0..<plane { target[p] = scale * (out[p] > 0 ? g[p] : g[p] * slope) }
                            }
                        }
                    }
                }
            }
            return dx
        }
    }
}
