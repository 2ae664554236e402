import Engine
import Foundation

/// The classic augmentation of the utility measure's arms (docs/evaluation.md):
/// a random shift (up to a tenth of the side), rotation (up to 15 degrees)
/// and scale (0.9 to 1.1) about the frame's centre, then brightness (up to
/// 20 levels), contrast (0.8 to 1.2) and Gaussian noise (sigma up to 6
/// levels). Keypoints and masks move with the pixels; a keypoint that leaves
/// the frame is no longer labelled, a mask is empty where the warp reaches
/// past the frame. The frame is sampled bilinearly, its edge repeated
/// where the warp reaches past it.
public struct ClassicAugmentation: Sendable {
    public var maximumShift: Float = 0.1
    public var maximumRotation: Float = 15 * .pi / 180
    public var scales: ClosedRange<Float> = 0.9...1.1
    public var maximumBrightness: Float = 20
    public var contrasts: ClosedRange<Float> = 0.8...1.2
    public var maximumNoise: Float = 6

    public init() {}

    /// `image` (side x side, 0...255) and its target (`TaskFrames`),
    /// augmented with draws from `random`.
    public func apply(
        image: [Float], target: [Float], labelled: [Bool], head: TaskNetwork.Head, side: Int, random: inout EngineRandom
    ) -> (image: [Float], target: [Float], labelled: [Bool]) {
        let angle = random.uniform(-maximumRotation, maximumRotation)
        let scale = random.uniform(scales.lowerBound, scales.upperBound)
        let shift = (random.uniform(-maximumShift, maximumShift) * Float(side), random.uniform(-maximumShift, maximumShift) * Float(side))
        let brightness = random.uniform(-maximumBrightness, maximumBrightness)
        let contrast = random.uniform(contrasts.lowerBound, contrasts.upperBound)
        let noise = random.uniform(0, maximumNoise)
        let centre = Float(side - 1) / 2
        let (cosine, sine) = (cos(angle), sin(angle))
        // Output pixel p' comes from p = R(-angle) (p' - centre - shift) / scale + centre.
        func source(row: Int, column: Int) -> (x: Float, y: Float) {
            let u = (Float(column) - centre - shift.0) / scale, v = (Float(row) - centre - shift.1) / scale
            return (cosine * u + sine * v + centre, -sine * u + cosine * v + centre)
        }
        var output = [Float](repeating: 0, count: side * side)
        for row in 0..<side {
            for column in 0..<side {
                let (x, y) = source(row: row, column: column)
                let value = Self.bilinear(image, side: side, x: x, y: y)
                let adjusted = (value - 127.5) * contrast + 127.5 + brightness + noise * random.normal()
                output[row * side + column] = min(255, max(0, adjusted))
            }
        }
        guard head != .mask else {
            // The nearest mask pixel; beyond the frame's edge nothing is labelled.
            let mask = (0..<(side * side)).map { index -> Float in
                let (x, y) = source(row: index / side, column: index % side)
                let (column, row) = (Int(x.rounded()), Int(y.rounded()))
                return (0..<side).contains(column) && (0..<side).contains(row) ? target[row * side + column] : 0
            }
            return (output, mask, labelled)
        }
        var moved = target, stillLabelled = labelled
        for point in 0..<labelled.count where labelled[point] {
            let u = target[2 * point] - centre, v = target[2 * point + 1] - centre
            let x = scale * (cosine * u - sine * v) + centre + shift.0, y = scale * (sine * u + cosine * v) + centre + shift.1
            moved[2 * point] = x
            moved[2 * point + 1] = y
            stillLabelled[point] = x >= -0.5 && y >= -0.5 && x <= Float(side) - 0.5 && y <= Float(side) - 0.5
        }
        return (output, moved, stillLabelled)
    }

    /// `image` at (x, y), between pixel centres, the edge repeated beyond it.
    static func bilinear(_ image: [Float], side: Int, x: Float, y: Float) -> Float {
        let last = Float(side - 1)
        let cx = min(max(x, 0), last), cy = min(max(y, 0), last)
        let x0 = Int(cx), y0 = Int(cy)
        let x1 = min(x0 + 1, side - 1), y1 = min(y0 + 1, side - 1)
        let fx = cx - Float(x0), fy = cy - Float(y0)
        let top = image[y0 * side + x0] * (1 - fx) + image[y0 * side + x1] * fx
        let bottom = image[y1 * side + x0] * (1 - fx) + image[y1 * side + x1] * fx
        return top * (1 - fy) + bottom * fy
    }
}
