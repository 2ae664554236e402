import Foundation

/// Element-wise activations. Each keeps its output (or input) as its cache.
public final class LeakyReLU: Layer {
    let slope: Float
    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?

    /// The profiler's label: a slope of 0 is a plain ReLU.
    private var profileName: String { slope == 0 ? "ReLU" : "LeakyReLU" }

    public init(slope: Float = 0.2) { self.slope = slope }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        Profiler.measure(profileName, .forward) {
            input = x
            // Element-wise: any layout.
            let y = reuseTensor(&output, x.shape, layout: x.layout)
            let slope = self.slope
            parallelChunks(x.count) { range in
                for i in range {
                    let v = x.data[i]
                    y.data[i] = v > 0 ? v : v * slope
                }
            }
            return y
        }
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure(profileName, .backward) {
            let x = input!
            let dx = reuseTensor(&inputGradient, x.shape, layout: x.layout)
            let slope = self.slope
            parallelChunks(x.count) { range in
                for i in range { dx.data[i] = x.data[i] > 0 ? dy.data[i] : dy.data[i] * slope }
            }
            return dx
        }
    }
}

/// ReLU is LeakyReLU with slope 0. Named like the layer classes (as
/// PyTorch's `nn.ReLU()`), so that a network's layer list reads as one.
// swift-format-ignore: AlwaysUseLowerCamelCase
public func ReLU() -> LeakyReLU { LeakyReLU(slope: 0) }

/// min(max(x, 0), 6): MobileNetV2's ReLU6 (Keras `ReLU(6.)`).
public final class ReLU6: Layer {
    private var input: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init() {}

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        input = x
        let y = reuseTensor(&output, x.shape)
        parallelChunks(x.count) { range in
            for i in range { y.data[i] = min(max(x.data[i], 0), 6) }
        }
        return y
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        let x = input!
        let dx = reuseTensor(&inputGradient, x.shape)
        parallelChunks(x.count) { range in
            for i in range { dx.data[i] = x.data[i] > 0 && x.data[i] < 6 ? dy.data[i] : 0 }
        }
        return dx
    }
}

/// A squashing activation whose derivative is a function of its output,
/// which is therefore its cache: tanh (1 - y^2) or the logistic sigmoid
/// (y (1 - y)).
public final class SquashingActivation: Layer {
    public enum Function { case tanh, sigmoid }
    let function: Function
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init(_ function: Function) { self.function = function }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        Profiler.measure(String(describing: function), .forward) {
            let y = reuseTensor(&output, x.shape)
            let function = self.function
            parallelChunks(x.count) { range in
                switch function {
                case .tanh: for i in range { y.data[i] = tanhf(x.data[i]) }
                case .sigmoid: for i in range { y.data[i] = 1 / (1 + expf(-x.data[i])) }
                }
            }
            return y
        }
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure(String(describing: function), .backward) {
            let y = output!
            let dx = reuseTensor(&inputGradient, y.shape)
            let function = self.function
            parallelChunks(y.count) { range in
                switch function {
                case .tanh: for i in range { dx.data[i] = dy.data[i] * (1 - y.data[i] * y.data[i]) }
                case .sigmoid: for i in range { dx.data[i] = dy.data[i] * y.data[i] * (1 - y.data[i]) }
                }
            }
            return dx
        }
    }
}

/// tanh and the logistic sigmoid, named like the layer classes (as `ReLU()`).
// swift-format-ignore: AlwaysUseLowerCamelCase
public func Tanh() -> SquashingActivation { SquashingActivation(.tanh) }
// swift-format-ignore: AlwaysUseLowerCamelCase
public func Sigmoid() -> SquashingActivation { SquashingActivation(.sigmoid) }

/// Nearest-neighbour upsampling by 2: each pixel becomes a 2x2 block.
public final class Upsample2x: Layer {
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var inputShape: [Int] = []

    public init() {}

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        Profiler.measure("Upsample2x", .forward) {
            let (n, c, h, w) = x.nchw
            inputShape = x.shape
            let y = reuseTensor(&output, [n, c, 2 * h, 2 * w])
            parallelChunks(n * c, minimumPerThread: 1) { planes in
                for plane in planes {
                    let source = x.data + plane * h * w, target = y.data + plane * 4 * h * w
                    for i in 0..<h {
                        let top = target + 2 * i * 2 * w, bottom = top + 2 * w
                        for j in 0..<w {
                            let v = source[i * w + j]
                            top[2 * j] = v
                            top[2 * j + 1] = v
                            bottom[2 * j] = v
                            bottom[2 * j + 1] = v
                        }
                    }
                }
            }
            return y
        }
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure("Upsample2x", .backward) {
            let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
            let dx = reuseTensor(&inputGradient, inputShape)
            parallelChunks(n * c, minimumPerThread: 1) { planes in
                for plane in planes {
                    let source = dy.data + plane * 4 * h * w, target = dx.data + plane * h * w
                    for i in 0..<h {
                        let top = source + 2 * i * 2 * w, bottom = top + 2 * w
                        for j in 0..<w {
                            target[i * w + j] = top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1]
                        }
                    }
                }
            }
            return dx
        }
    }
}

/// Concatenation of NCHW tensors along channels, and its split for backward.
public enum ChannelConcat {
    /// Writes `parts` side by side along channels into `output`.
    public static func forward(_ parts: [Tensor], into output: inout Tensor?) -> Tensor {
        let (n, _, h, w) = parts[0].nchw
        let channels = parts.reduce(0) { $0 + $1.nchw.c }
        let y = reuseTensor(&output, [n, channels, h, w])
        let plane = h * w
        for image in 0..<n {
            var offset = image * channels * plane
            for part in parts {
                let c = part.nchw.c
                precondition(part.nchw.h == h && part.nchw.w == w && part.nchw.n == n, "concatenating \(part.shape) with \(parts[0].shape)")
                (y.data + offset).update(from: part.data + image * c * plane, count: c * plane)
                offset += c * plane
            }
        }
        return y
    }

    /// Copies the slice of `gradient` that belongs to part `index` (of the given channel counts) into `slice`.
    public static func backward(_ gradient: Tensor, channels: [Int], index: Int, into slice: inout Tensor?) -> Tensor {
        let (n, total, h, w) = gradient.nchw
        let plane = h * w
        let start = channels[..<index].reduce(0, +), c = channels[index]
        let part = reuseTensor(&slice, [n, c, h, w])
        for image in 0..<n {
            (part.data + image * c * plane).update(from: gradient.data + (image * total + start) * plane, count: c * plane)
        }
        return part
    }
}
