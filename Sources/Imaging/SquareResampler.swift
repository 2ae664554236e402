/// Turns a frame of any size into the square training image of a model.
public enum SquareResampler {
    /// The centred square of side min(width, height) of a one-channel image,
    /// area-averaged to `side` x `side`: each output pixel is the mean of the
    /// source area it covers, source pixels cut by its border counting with
    /// the covered fraction (a box filter, which does not alias when
    /// shrinking). Output values stay in the input's 0...255 range, row-major.
    public static func centreCropAreaAverage(pixels: [UInt8], width: Int, height: Int, side: Int) -> [Float] {
        precondition(pixels.count == width * height && side > 0, "pixel count does not match the frame size")
        let square = min(width, height)
        let left = (width - square) / 2, top = (height - square) / 2
        let weights = coverage(source: square, target: side)
        // Horizontal pass over the cropped rows, then vertical.
        var horizontal = [Float](repeating: 0, count: square * side)
        for y in 0..<square {
            let rowStart = (top + y) * width + left
            for (column, taps) in weights.enumerated() {
                var sum: Float = 0
                for tap in taps { sum += tap.weight * Float(pixels[rowStart + tap.index]) }
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
