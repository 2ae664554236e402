/// Zero padding by different amounts on each side (Keras `ZeroPadding2D`),
/// or TensorFlow's "same" padding for a kernel and stride, computed from
/// each input's size (the odd pixel goes after: bottom and right).
/// Input [N, C, H, W], output [N, C, top + H + bottom, left + W + right].
public final class ZeroPad2d: Layer {
    public var layoutHandling: LayoutHandling { .channelsFirstOnly }
    enum Amounts { case fixed(top: Int, bottom: Int, left: Int, right: Int), same(kernel: Int, stride: Int) }
    let amounts: Amounts
    private var inputShape: [Int] = []
    private var pads = (top: 0, bottom: 0, left: 0, right: 0)
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        amounts = .fixed(top: top, bottom: bottom, left: left, right: right)
    }

    /// TensorFlow's "same" padding in front of a `kernel` x `kernel` window moved by `stride`.
    public init(sameFor kernel: Int, stride: Int) {
        amounts = .same(kernel: kernel, stride: stride)
    }

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        let (n, c, h, w) = x.nchw
        inputShape = x.shape
        switch amounts {
        case .fixed(let top, let bottom, let left, let right): pads = (top, bottom, left, right)
        case .same(let kernel, let stride):
            let vertical = MaxPool2d.samePadding(size: h, kernel: kernel, stride: stride)
            let horizontal = MaxPool2d.samePadding(size: w, kernel: kernel, stride: stride)
            pads = (vertical.0, vertical.1, horizontal.0, horizontal.1)
        }
        let oh = h + pads.top + pads.bottom, ow = w + pads.left + pads.right
        let y = reuseTensor(&output, [n, c, oh, ow])
        y.fill(0)
        for plane in 0..<(n * c) {
            for row in 0..<h {
                (y.data + plane * oh * ow + (row + pads.top) * ow + pads.left).update(from: x.data + plane * h * w + row * w, count: w)
            }
        }
        return y
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let oh = h + pads.top + pads.bottom, ow = w + pads.left + pads.right
        let dx = reuseTensor(&inputGradient, inputShape)
        for plane in 0..<(n * c) {
            for row in 0..<h {
                (dx.data + plane * h * w + row * w).update(from: dy.data + plane * oh * ow + (row + pads.top) * ow + pads.left, count: w)
            }
        }
        return dx
    }
}
