import Foundation

/// Element-wise activations. Each keeps its output (or input) as its cache.
public final class LeakyReLU: Layer {
    public var layoutHandling: LayoutHandling { .preserves }
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
            let x = kept(input, by: profileName)
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
    public var layoutHandling: LayoutHandling { .channelsFirstOnly }
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
        let x = kept(input, by: "ReLU6")
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
    public var layoutHandling: LayoutHandling { .channelsFirstOnly }
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
            let y = kept(output, by: String(describing: function))
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
