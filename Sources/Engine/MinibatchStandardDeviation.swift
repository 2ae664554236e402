/// The minibatch standard deviation layer (Karras et al., "Progressive
/// Growing of GANs", ICLR 2018, section 3): the standard deviation of every
/// feature at every position over the batch, averaged into one number,
/// appended as a constant feature map. A discriminator that sees how much
/// the images of a batch differ can tell a generator that makes one image
/// over and over from real data, which varies.
///
/// Input [N, C, H, W], output [N, C + 1, H, W]: the input, then the map
/// s = mean over (c, h, w) of sqrt(var over n of x[n, c, h, w] + epsilon).
/// No parameters. N must be at least 2.
public final class MinibatchStandardDeviation: Layer {
    public var layoutHandling: LayoutHandling { .channelsFirstOnly }
    public static let epsilon: Float = 1e-8
    private var input: Tensor?
    /// Per feature (c, h, w): the batch mean and the standard deviation.
    private var mean: [Float] = []
    private var deviation: [Float] = []
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init() {}

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let (n, c, h, w) = x.nchw
        precondition(n >= 2, "the minibatch standard deviation needs at least 2 images")
        input = x
        let features = c * h * w
        // Every entry is written below: the buffers are only reallocated when the feature count changes.
        if mean.count != features { (mean, deviation) = ([Float](repeating: 0, count: features), [Float](repeating: 0, count: features)) }
        for feature in 0..<features {
            var sum: Float = 0
            for image in 0..<n { sum += x.data[image * features + feature] }
            let average = sum / Float(n)
            var squares: Float = 0
            for image in 0..<n {
                let difference = x.data[image * features + feature] - average
                squares += difference * difference
            }
            mean[feature] = average
            deviation[feature] = (squares / Float(n) + Self.epsilon).squareRoot()
        }
        let statistic = deviation.reduce(0, +) / Float(features)
        let y = reuseTensor(&output, [n, c + 1, h, w])
        for image in 0..<n {
            (y.data + image * (features + h * w)).update(from: x.data + image * features, count: features)
            (y.data + image * (features + h * w) + features).update(repeating: statistic, count: h * w)
        }
        return y
    }

    /// The gradient reaching the appended map, summed, flows to every input
    /// through d s / d x[n, f] = (x[n, f] - mean_f) / (F N std_f).
    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        let x = kept(input, by: "MinibatchStandardDeviation")
        let (n, c, h, w) = x.nchw
        let features = c * h * w
        var statisticGradient: Float = 0
        for image in 0..<n {
            for position in 0..<(h * w) { statisticGradient += dy.data[image * (features + h * w) + features + position] }
        }
        let dx = reuseTensor(&inputGradient, x.shape)
        let scale = statisticGradient / Float(features * n)
        for image in 0..<n {
            for feature in 0..<features {
                let index = image * features + feature
                dx.data[index] =
                    dy.data[image * (features + h * w) + feature] + scale * (x.data[index] - mean[feature]) / deviation[feature]
            }
        }
        return dx
    }
}
