import Engine
import Foundation

/// The cheap disguises a copied frame may wear, and frames that copy nothing,
/// for the copy detector's known-answer tests (docs/evaluation.md). Frames
/// are square, row-major, intensities 0 to 1; draws come from `EngineRandom`.
public enum Disguise: String, CaseIterable, Sendable {
    /// Moved by up to 4 pixels in each direction (of a 64 x 64 frame), the border filled with black.
    case shift
    /// Mirrored left to right.
    case mirror
    /// Every intensity scaled by 0.9 to 1.1.
    case brightness
    /// Deviations from the frame's mean scaled by 0.9 to 1.1.
    case contrast
    /// Gaussian noise of sigma 0.02 added.
    case noise
    /// All of them at once (mirror on half of the frames).
    case combined

    public func apply(_ frame: [Float], side: Int, random: inout EngineRandom) -> [Float] {
        switch self {
        case .shift:
            let scale = side / 64
            return Self.shifted(frame, side: side, dy: random.integer(-4...4) * scale, dx: random.integer(-4...4) * scale)
        case .mirror:
            return (0..<frame.count).map { frame[($0 / side) * side + side - 1 - $0 % side] }
        case .brightness:
            let gain = random.uniform(0.9, 1.1)
            return frame.map { min(1, $0 * gain) }
        case .contrast:
            let gain = random.uniform(0.9, 1.1), mean = frame.reduce(0, +) / Float(frame.count)
            return frame.map { min(1, max(0, mean + ($0 - mean) * gain)) }
        case .noise:
            return frame.map { min(1, max(0, $0 + 0.02 * random.normal())) }
        case .combined:
            var result = Self.shift.apply(frame, side: side, random: &random)
            if random.uniform() < 0.5 { result = Self.mirror.apply(result, side: side, random: &random) }
            result = Self.brightness.apply(result, side: side, random: &random)
            result = Self.contrast.apply(result, side: side, random: &random)
            return Self.noise.apply(result, side: side, random: &random)
        }
    }

    static func shifted(_ frame: [Float], side: Int, dy: Int, dx: Int) -> [Float] {
        var result = [Float](repeating: 0, count: frame.count)
        for y in 0..<side where (0..<side).contains(y - dy) {
            for x in 0..<side where (0..<side).contains(x - dx) { result[y * side + x] = frame[(y - dy) * side + x - dx] }
        }
        return result
    }
}

/// Frames that copy nothing: averages, heavy blur, uniform dark frames.
public enum CopyFreeFrames {
    /// The pixel-wise mean of `frames`.
    public static func mean(of frames: [[Float]]) -> [Float] {
        var total = [Float](repeating: 0, count: frames[0].count)
        for frame in frames { for index in total.indices { total[index] += frame[index] } }
        return total.map { $0 / Float(frames.count) }
    }

    /// A Gaussian blur of `sigma` pixels (edges clamped): at sigma 4 of a 64 x 64 frame, beyond recognition.
    public static func blurred(_ frame: [Float], side: Int, sigma: Float) -> [Float] {
        let radius = Int((3 * sigma).rounded(.up))
        let taps = (-radius...radius).map { exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = taps.reduce(0, +)
        func pass(_ image: [Float], horizontal: Bool) -> [Float] {
            var out = [Float](repeating: 0, count: image.count)
            for y in 0..<side {
                for x in 0..<side {
                    var sum: Float = 0
                    for (k, weight) in taps.enumerated() {
                        let offset = k - radius
                        let (yy, xx) = horizontal ? (y, min(side - 1, max(0, x + offset))) : (min(side - 1, max(0, y + offset)), x)
                        sum += weight * image[yy * side + xx]
                    }
                    out[y * side + x] = sum / total
                }
            }
            return out
        }
        return pass(pass(frame, horizontal: true), horizontal: false)
    }
}

extension EngineRandom {
    /// A uniform draw from `range`.
    public mutating func integer(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(nextUInt64() % UInt64(range.count))
    }
}
