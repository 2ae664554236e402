/// `ConvolutionShape.spreadsToCorners`: moving the 1 x 1 product between the
/// top-left corners of the output's s x s cells and a tensor of its own.
extension ConvTranspose2d {
    /// y's cells get `product` [N, O, H, W] at their top-left corner and the
    /// bias at their other positions. Both in one layout.
    static func spread(_ product: Tensor, toCornersOf y: Tensor, stride: Int, bias: UnsafePointer<Float>) {
        if product.layout == .channelBlocks {
            moveCorners(of: y, product, stride: stride, spreadingBias: bias, pixel: SIMD16<Float>.self)
        } else {
            moveCorners(of: y, product, stride: stride, spreadingBias: bias, pixel: Float.self)
        }
    }

    /// `productGradient` [N, O, H, W] = dy at the top-left corners of its cells.
    static func gather(_ productGradient: Tensor, fromCornersOf dy: Tensor, stride: Int) {
        if dy.layout == .channelBlocks {
            moveCorners(of: dy, productGradient, stride: stride, spreadingBias: nil, pixel: SIMD16<Float>.self)
        } else {
            moveCorners(of: dy, productGradient, stride: stride, spreadingBias: nil, pixel: Float.self)
        }
    }

    /// With `spreadingBias`, writes `small` into the corners of `cells` and
    /// the bias elsewhere; without, copies the corners of `cells` into `small`.
    private static func moveCorners<Pixel: LayoutPixel>(
        of cells: Tensor, _ small: Tensor, stride s: Int, spreadingBias bias: UnsafePointer<Float>?, pixel: Pixel.Type
    ) {
        let (n, c, h, w) = small.dimensions
        let floats = Pixel.floats, corners = small.data, large = cells.data
        precondition(cells.layout == small.layout && cells.shape == [n, c, s * h, s * w], "corners of \(cells.shape) and \(small.shape)")
        parallelChunks(n * c / floats, minimumPerThread: 1) { planes in
            for plane in planes {
                // A channel-blocked plane holds one block of channels: its bias is that block's.
                let fill = bias.map { Pixel(loadingFrom: $0 + plane % (c / floats) * floats) }
                for i in 0..<h {
                    for j in 0..<w {
                        let corner = corners + (plane * h * w + i * w + j) * floats
                        let cell = large + (plane * s * s * h * w + s * i * s * w + s * j) * floats
                        guard let fill else {
                            Pixel(loadingFrom: cell).store(to: corner)
                            continue
                        }
                        for di in 0..<s {
                            for dj in 0..<s { fill.store(to: cell + (di * s * w + dj) * floats) }
                        }
                        Pixel(loadingFrom: corner).store(to: cell)
                    }
                }
            }
        }
    }
}
