import CPNG

/// A PNG could not be written.
public struct PNGError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public let path: String
    public var description: String { "PNG failed (\(reason)): \(path)" }
}

/// Reads and writes 8-bit images as PNG through libpng.
public enum PNGWriter {
    /// Reads `path` as `channels` (1 gray, 3 RGB) 8-bit interleaved samples.
    public static func read(path: String, channels: Int) throws -> (pixels: [UInt8], width: Int, height: Int) {
        var width: UInt32 = 0, height: UInt32 = 0
        var error = [CChar](repeating: 0, count: 512)
        func failure() -> PNGError {
            PNGError(reason: error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, path: path)
        }
        guard ms_png_read(path, Int32(channels), nil, 0, &width, &height, &error, error.count) == 0 else { throw failure() }
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        guard ms_png_read(path, Int32(channels), &pixels, pixels.count, &width, &height, &error, error.count) == 0 else {
            throw failure()
        }
        return (pixels, Int(width), Int(height))
    }

    /// Writes `pixels` (`height` rows of `width` pixels of `channels`
    /// interleaved samples: 1 gray, 3 RGB, 4 RGBA) to `path`.
    public static func write(path: String, pixels: [UInt8], width: Int, height: Int, channels: Int) throws {
        precondition(pixels.count == width * height * channels, "pixel count does not match the image size")
        var error = [CChar](repeating: 0, count: 512)
        let status = ms_png_write(path, pixels, UInt32(width), UInt32(height), Int32(channels), &error, error.count)
        guard status == 0 else {
            throw PNGError(reason: error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, path: path)
        }
    }
}
