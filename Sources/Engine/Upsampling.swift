/// Nearest-neighbour upsampling by 2: each pixel becomes a 2x2 block. In
/// channel blocks a pixel is a vector of 16 channels, copied whole.
public final class Upsample2x: Layer {
    public var layoutHandling: LayoutHandling { .preserves }
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var inputShape: [Int] = []
    private var inputLayout = TensorLayout.channelsFirst

    public init() {}

    public func forward(_ x: Tensor, training: Bool) -> Tensor {
        Profiler.measure("Upsample2x", .forward) {
            let (n, c, h, w) = x.dimensions
            inputShape = x.shape
            inputLayout = x.layout
            let y = reuseTensor(&output, [n, c, 2 * h, 2 * w], layout: x.layout)
            Self.resample(small: x, large: y, upsampling: true)
            return y
        }
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure("Upsample2x", .backward) {
            precondition(dy.layout == inputLayout, "Upsample2x: gradient in another layout than the output")
            let dx = reuseTensor(&inputGradient, inputShape, layout: inputLayout)
            Self.resample(small: dx, large: dy, upsampling: false)
            return dx
        }
    }

    /// Upsampling copies each pixel of `small` into its 2x2 cell of `large`;
    /// its backward pass sets each pixel of `small` to the sum of its cell.
    /// A pixel is a float in NCHW and a block's 16 channels in channel blocks.
    private static func resample(small: Tensor, large: Tensor, upsampling: Bool) {
        if small.layout == .channelBlocks {
            resample(small: small, large: large, upsampling: upsampling, pixel: SIMD16<Float>.self)
        } else {
            resample(small: small, large: large, upsampling: upsampling, pixel: Float.self)
        }
    }

    private static func resample<Pixel: LayoutPixel>(small: Tensor, large: Tensor, upsampling: Bool, pixel: Pixel.Type) {
        let (n, c, h, w) = small.dimensions
        let floats = Pixel.floats, pixels = small.data, cells = large.data
        parallelChunks(n * c / floats, minimumPerThread: 1) { planes in
            for plane in planes {
                for i in 0..<h {
                    for j in 0..<w {
                        let pixel = pixels + (plane * h * w + i * w + j) * floats
                        let top = cells + (plane * 4 * h * w + 2 * i * 2 * w + 2 * j) * floats, bottom = top + 2 * w * floats
                        if upsampling {
                            let v = Pixel(loadingFrom: pixel)
                            v.store(to: top)
                            v.store(to: top + floats)
                            v.store(to: bottom)
                            v.store(to: bottom + floats)
                        } else {
                            let sum =
                                Pixel(loadingFrom: top) + Pixel(loadingFrom: top + floats) + Pixel(loadingFrom: bottom)
                                + Pixel(loadingFrom: bottom + floats)
                            sum.store(to: pixel)
                        }
                    }
                }
            }
        }
    }
}
