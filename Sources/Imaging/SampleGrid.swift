/// Square images side by side in rows, as the paper's table 4 shows samples.
public enum SampleGrid {
    /// Tiles `count` images of `side` x `side` values in [-1, 1] (row-major,
    /// one after the other in `images`) into rows of `columns`, with a
    /// `gap`-pixel mid-grey border, and writes an 8-bit grayscale PNG.
    public static func write(images: [Float], count: Int, side: Int, columns: Int, gap: Int = 2, path: String) throws {
        precondition(images.count == count * side * side && columns > 0, "image values do not match count x side x side")
        let rows = (count + columns - 1) / columns
        let width = columns * side + (columns + 1) * gap
        let height = rows * side + (rows + 1) * gap
        var pixels = [UInt8](repeating: 128, count: width * height)
        for image in 0..<count {
            let originX = gap + (image % columns) * (side + gap)
            let originY = gap + (image / columns) * (side + gap)
            for y in 0..<side {
                for x in 0..<side {
                    let value = images[(image * side + y) * side + x]
                    pixels[(originY + y) * width + originX + x] = byte(fromSigned: value)
                }
            }
        }
        try PNGWriter.write(path: path, pixels: pixels, width: width, height: height, channels: 1)
    }

    /// [-1, 1] to 0...255, clamped (the inverse of the training scaling).
    public static func byte(fromSigned value: Float) -> UInt8 {
        UInt8(max(0, min(255, ((value + 1) * 127.5).rounded())))
    }
}
