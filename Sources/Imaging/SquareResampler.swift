/// Turns a frame of any size into the square training image of a model.
public enum SquareResampler {
    /// The centred square of side min(width, height) of a one-channel image,
    /// area-averaged to `side` x `side`: each output pixel is the mean of the
    /// source area it covers, source pixels cut by its border counting with
    /// the covered fraction (a box filter, which does not alias when
    /// shrinking). Output values stay in the input's 0...255 range, row-major.
    public static func centreCropAreaAverage(pixels: [UInt8], width: Int, height: Int, side: Int) -> [Float] {
        let cell = Square(centreCropOf: width, height: height)
        return squareAreaAverage(
            pixels: pixels, width: width, height: height, square: cell.side, originX: cell.originX, originY: cell.originY, side: side)
    }

    /// The square a `width` x `height` image is made into before it is
    /// area-averaged: its side and where its top-left corner lies in the image.
    public struct Square: Equatable, Sendable {
        public let side: Int
        public let originX: Int
        public let originY: Int

        /// The centred square of side min(width, height).
        public init(centreCropOf width: Int, height: Int) {
            side = min(width, height)
            originX = (width - side) / 2
            originY = (height - side) / 2
        }

        /// The square of side max(width, height) the image is centred on.
        public init(letterboxOf width: Int, height: Int) {
            side = max(width, height)
            originX = -((side - width) / 2)
            originY = -((side - height) / 2)
        }
    }

    /// The whole image centred on a black square of side max(width, height)
    /// (a letterbox: nothing is cut), area-averaged to `side` x `side` as
    /// `centreCropAreaAverage` does. An ultrasound sector is wider than it
    /// is tall; a centred square crop would cut its edges.
    public static func letterboxAreaAverage(pixels: [UInt8], width: Int, height: Int, side: Int) -> [Float] {
        let cell = Square(letterboxOf: width, height: height)
        return squareAreaAverage(
            pixels: pixels, width: width, height: height, square: cell.side, originX: cell.originX, originY: cell.originY, side: side)
    }

    /// The square of side `square` whose top left corner is source pixel
    /// (`originX`, `originY`), area-averaged to `side` x `side`; square
    /// cells outside the source count as 0.
    private static func squareAreaAverage(
        pixels: [UInt8], width: Int, height: Int, square: Int, originX: Int, originY: Int, side: Int
    ) -> [Float] {
        precondition(pixels.count == width * height && side > 0 && square > 0, "pixel count does not match the frame size")
        let weights = coverage(source: square, target: side)
        // Horizontal pass over the square's rows that lie on the source, then vertical.
        var horizontal = [Float](repeating: 0, count: square * side)
        for y in 0..<square where (0..<height).contains(originY + y) {
            let rowStart = (originY + y) * width + originX
            for (column, taps) in weights.enumerated() {
                var sum: Float = 0
                for tap in taps where (0..<width).contains(originX + tap.index) {
                    sum += tap.weight * Float(pixels[rowStart + tap.index])
                }
                horizontal[y * side + column] = sum
            }
        }
        var output = [Float](repeating: 0, count: side * side)
        for (row, taps) in weights.enumerated() {
            for column in 0..<side {
                var sum: Float = 0
                for tap in taps { sum += tap.weight * horizontal[tap.index * side + column] }
                output[row * side + column] = sum
            }
        }
        return output
    }

    /// For each of `target` output cells over `source` input cells, the input
    /// cells it overlaps and the fraction of the output cell each covers.
    static func coverage(source: Int, target: Int) -> [[(index: Int, weight: Float)]] {
        let scale = Double(source) / Double(target)
        return (0..<target).map { cell in
            let start = Double(cell) * scale, end = Double(cell + 1) * scale
            var taps: [(index: Int, weight: Float)] = []
            var index = Int(start.rounded(.down))
            while Double(index) < end, index < source {
                let overlap = min(end, Double(index + 1)) - max(start, Double(index))
                if overlap > 1e-12 { taps.append((index, Float(overlap / scale))) }
                index += 1
            }
            return taps
        }
    }
}
