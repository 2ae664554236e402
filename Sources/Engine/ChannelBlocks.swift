/// How a 4-D tensor [N, C, H, W] orders its elements.
public enum TensorLayout: Sendable {
    /// NCHW: each image's channels one after another, each a row-major plane.
    case channelsFirst
    /// oneDNN's nChw16c: each image's channels in blocks of 16, each block a
    /// plane of 16-float vectors, one float per channel. Element (n, c, h, w)
    /// is at ((n * C/16 + c/16) * H * W + h * W + w) * 16 + c % 16. The
    /// layout oneDNN's convolutions run on: a network whose convolutions pass
    /// it to each other saves two reorders per convolution and pass. Needs C
    /// divisible by 16.
    case channelBlocks

    /// Channels per block of `channelBlocks`.
    public static let blockChannels = 16
}

/// Copies `source` into `destination` in `destination`'s layout (both
/// [N, C, H, W], the same shape).
public func convertLayout(_ source: Tensor, into destination: Tensor) {
    precondition(source.shape == destination.shape, "layout conversion between shapes \(source.shape) and \(destination.shape)")
    if source.layout == destination.layout {
        destination.data.update(from: source.data, count: source.count)
        return
    }
    let (n, c, h, w) = source.dimensions
    let lanes = TensorLayout.blockChannels, plane = h * w
    precondition(c % lanes == 0, "channel blocks need channels divisible by \(lanes), got \(c)")
    let toBlocks = destination.layout == .channelBlocks
    // A block (16 channels of one image) starts at block * 16 * plane in both
    // layouts; within it NCHW's index is lane * plane + p and nChw16c's
    // p * 16 + lane.
    parallelChunks(n * c / lanes, minimumPerThread: 1) { range in
        for block in range {
            let from = source.data + block * lanes * plane, to = destination.data + block * lanes * plane
            for lane in 0..<lanes {
                for p in 0..<plane {
                    if toBlocks {
                        to[p * lanes + lane] = from[lane * plane + p]
                    } else {
                        to[lane * plane + p] = from[p * lanes + lane]
                    }
                }
            }
        }
    }
}

/// A tensor in a given layout whatever layout it arrives in, and its
/// gradient back in the layout it arrived in: around the layers whose own
/// kernels read and write only NCHW.
public struct LayoutConversion {
    private var converted: Tensor?
    private var convertedGradient: Tensor?
    private var inputLayout = TensorLayout.channelsFirst
    private var outputLayout = TensorLayout.channelsFirst

    public init() {}

    /// `x` itself when it is in `layout`, else a copy in `layout`.
    public mutating func forward(_ x: Tensor, to layout: TensorLayout) -> Tensor {
        inputLayout = x.layout
        outputLayout = layout
        if x.layout == layout { return x }
        let y = reuseTensor(&converted, x.shape, layout: layout)
        convertLayout(x, into: y)
        return y
    }

    /// `dy`, in the layout the latest `forward` gave, in the layout of its input.
    public mutating func backward(_ dy: Tensor) -> Tensor {
        precondition(dy.layout == outputLayout, "a gradient in another layout than the output")
        if inputLayout == outputLayout { return dy }
        let dx = reuseTensor(&convertedGradient, dy.shape, layout: inputLayout)
        convertLayout(dy, into: dx)
        return dx
    }
}

/// The end of a run of layers that pass channel blocks
/// (`TensorLayout.channelBlocks`), before layers that read NCHW (a flatten
/// into `Linear`): `LayoutConversion` to NCHW as a layer.
public final class ChannelsFirst: Layer {
    public var layoutHandling: LayoutHandling { .convertsToChannelsFirst }
    private var conversion = LayoutConversion()

    public init() {}

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        Profiler.measure("ChannelsFirst", .forward) { conversion.forward(x, to: .channelsFirst) }
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure("ChannelsFirst", .backward) { conversion.backward(dy) }
    }
}

/// One pixel of a plane: a float in NCHW, a channel block's 16 floats in
/// `TensorLayout.channelBlocks`, for the loops that move whole pixels.
protocol LayoutPixel {
    static var floats: Int { get }
    static func + (lhs: Self, rhs: Self) -> Self
    init(loadingFrom pointer: UnsafePointer<Float>)
    func store(to pointer: UnsafeMutablePointer<Float>)
}

extension Float: LayoutPixel {
    static var floats: Int { 1 }
    init(loadingFrom pointer: UnsafePointer<Float>) { self = pointer.pointee }
    func store(to pointer: UnsafeMutablePointer<Float>) { pointer.pointee = self }
}

extension SIMD16<Float>: LayoutPixel {
    static var floats: Int { TensorLayout.blockChannels }
    init(loadingFrom pointer: UnsafePointer<Float>) { self = load16(pointer) }
    func store(to pointer: UnsafeMutablePointer<Float>) { store16(self, pointer) }
}
