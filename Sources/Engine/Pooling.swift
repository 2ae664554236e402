/// Pooling and the global average of the Keras backbones.

/// Max pooling over `kernel` x `kernel` windows moved by `stride`, with
/// padding that never wins (Keras `MaxPooling2D`; "same" padding is
/// `padTop`/`padLeft` 0 or more and `padBottom`/`padRight` the rest).
/// The gradient goes to the first maximum of each window.
public final class MaxPool2d: Layer {
    public var layoutHandling: LayoutHandling { .channelsFirstOnly }
    let kernel, stride, padTop, padLeft, padBottom, padRight: Int
    private var inputShape: [Int] = []
    private var winners: [Int] = []
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// With "same" padding (Keras `padding="same"`), computed from each input's size.
    let same: Bool

    public init(kernel: Int, stride: Int, padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0) {
        (self.kernel, self.stride) = (kernel, stride)
        (self.padTop, self.padLeft, self.padBottom, self.padRight) = (padTop, padLeft, padBottom, padRight)
        same = false
    }

    public init(sameWithKernel kernel: Int, stride: Int) {
        (self.kernel, self.stride) = (kernel, stride)
        (padTop, padLeft, padBottom, padRight) = (0, 0, 0, 0)
        same = true
    }

    /// TensorFlow's "same" padding for this kernel and stride on a side of `size`: (before, after).
    public static func samePadding(size: Int, kernel: Int, stride: Int) -> (Int, Int) {
        let total = max((size + stride - 1) / stride * stride - stride + kernel - size, 0)
        return (total / 2, total - total / 2)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let (n, c, h, w) = x.nchw
        inputShape = x.shape
        let vertical = same ? Self.samePadding(size: h, kernel: kernel, stride: stride) : (padTop, padBottom)
        let horizontal = same ? Self.samePadding(size: w, kernel: kernel, stride: stride) : (padLeft, padRight)
        let oh = (h + vertical.0 + vertical.1 - kernel) / stride + 1, ow = (w + horizontal.0 + horizontal.1 - kernel) / stride + 1
        let y = reuseTensor(&output, [n, c, oh, ow])
        if winners.count != y.count { winners = Array(repeating: 0, count: y.count) }
        let (k, s) = (kernel, stride)
        let (top, left) = (vertical.0, horizontal.0)
        winners.withStorage { winners in
            parallelChunks(n * c, minimumPerThread: 1) { range in
                for plane in range {
                    let source = x.data + plane * h * w
                    for oy in 0..<oh {
                        for ox in 0..<ow {
                            var best = -Float.infinity, bestIndex = -1
                            for ki in 0..<k {
                                let iy = oy * s - top + ki
                                guard iy >= 0 && iy < h else { continue }
                                for kj in 0..<k {
                                    let ix = ox * s - left + kj
                                    // The first in-bounds value starts the window, so every window has an
                                    // in-bounds winner even if all are -inf; a NaN wins and stays (passed on).
                                    guard ix >= 0 && ix < w else { continue }
                                    let value = source[iy * w + ix]
                                    if bestIndex < 0 || value > best || value.isNaN {
                                        (best, bestIndex) = (value, iy * w + ix)
                                    }
                                }
                            }
                            let slot = plane * oh * ow + oy * ow + ox
                            y.data[slot] = best
                            winners[slot] = plane * h * w + bestIndex
                        }
                    }
                }
            }
        }
        return y
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        let dx = reuseTensor(&inputGradient, inputShape)
        dx.fill(0)
        for slot in 0..<dy.count { dx.data[winners[slot]] += dy.data[slot] }
        return dx
    }
}

/// The mean over H and W (Keras `GlobalAveragePooling2D`): [N, C, H, W] -> [N, C].
public final class GlobalAveragePool: Layer {
    public var layoutHandling: LayoutHandling { .channelsFirstOnly }
    private var inputShape: [Int] = []
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init() {}

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let (n, c, h, w) = x.nchw
        inputShape = x.shape
        let plane = h * w
        let y = reuseTensor(&output, [n, c])
        for index in 0..<(n * c) {
            var total: Float = 0
            for p in 0..<plane { total += x.data[index * plane + p] }
            y.data[index] = total / Float(plane)
        }
        return y
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        let dx = reuseTensor(&inputGradient, inputShape)
        let plane = inputShape[2] * inputShape[3]
        for index in 0..<dy.count {
            let share = dy.data[index] / Float(plane)
            for p in 0..<plane { dx.data[index * plane + p] = share }
        }
        return dx
    }
}
