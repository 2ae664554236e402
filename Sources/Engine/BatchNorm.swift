/// Batch normalisation over N, H and W of an NCHW tensor (PyTorch's
/// BatchNorm2d): in training, normalise with the batch mean and biased
/// variance and move the running estimates by `momentum` toward the batch
/// mean and unbiased variance; in inference, normalise with the running
/// estimates. eps 1e-5, momentum 0.1 (architecture page).
public final class BatchNorm2d: Layer {
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Tensor
    public let runningVariance: Tensor
    let store: ParameterStore
    let channels: Int
    let epsilon: Float
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
    public init(_ name: String, store: ParameterStore, channels: Int, epsilon: Float = 1e-5) {
        self.epsilon = epsilon
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

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        Profiler.measure("BatchNorm2d", .forward) {
            let (n, c, h, w) = x.nchw
            precondition(c == channels, "BatchNorm2d \(weight.name): input has \(c) channels, expected \(channels)")
            let plane = h * w, count = n * plane
            let y = reuseTensor(&output, x.shape)
            let xhat = reuseTensor(&normalized, x.shape)
            let gamma = store.value(weight), beta = store.value(bias)
            trainedLast = training
            inverseDeviation.withUnsafeMutableBufferPointer { inverse in
                let inverse = inverse.baseAddress!
                parallelChunks(c, minimumPerThread: 1) { range in
                    for channel in range {
                        var mean: Float, variance: Float
                        if training {
                            var sum: Double = 0, squares: Double = 0
                            for image in 0..<n {
                                let start = x.data + (image * c + channel) * plane
                                for p in 0..<plane {
                                    let v = Double(start[p])
                                    sum += v
                                    squares += v * v
                                }
                            }
                            let m = sum / Double(count)
                            let biased = max(squares / Double(count) - m * m, 0)
                            mean = Float(m)
                            variance = Float(biased)
                            let unbiased = count > 1 ? biased * Double(count) / Double(count - 1) : biased
                            runningMean.data[channel] = (1 - momentum) * runningMean.data[channel] + momentum * mean
                            runningVariance.data[channel] = (1 - momentum) * runningVariance.data[channel] + momentum * Float(unbiased)
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
                                target[p] = v * g + b
                            }
                        }
                    }
                }
            }
            return y
        }
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure("BatchNorm2d", .backward) {
            let xhat = normalized!
            let (n, c, h, w) = xhat.nchw
            let plane = h * w, count = Float(n * plane)
            let dx = reuseTensor(&inputGradient, xhat.shape)
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
                            let g = dy.data + offset, v = xhat.data + offset
                            for p in 0..<plane {
                                sumDy += g[p]
                                sumDyXhat += g[p] * v[p]
                            }
                        }
                        if parameterGradients {
                            gammaGradient[channel] += sumDyXhat
                            betaGradient[channel] += sumDy
                        }
                        let scale = gamma[channel] * inverse[channel]
                        for image in 0..<n {
                            let offset = (image * c + channel) * plane
                            let g = dy.data + offset, v = xhat.data + offset, target = dx.data + offset
                            if training {
                                // dx = gamma * inv / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
                                let meanDy = sumDy / count, meanDyXhat = sumDyXhat / count
                                for p in 0..<plane { target[p] = scale * (g[p] - meanDy - v[p] * meanDyXhat) }
                            } else {
                                for p in 0..<plane { target[p] = scale * g[p] }
                            }
                        }
                    }
                }
            }
            return dx
        }
    }
}
