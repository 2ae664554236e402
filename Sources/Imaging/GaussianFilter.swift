import Foundation

/// A separable Gaussian filter over square frames (row-major `side` x `side`
/// floats), the one filter of the image measures: the copy measure's
/// difference of Gaussians (sigma 1.5 and 4, zero outside the frame) and
/// SSIM's 11 x 11 window (sigma 1.5, valid region). Taps reach 3 sigma
/// (rounded up) each side and sum to 1.
/// (Raw pointers in the loops: they are most of an evaluation's time, and of
/// the copy measure's in a debug build.)
public struct GaussianFilter: Sendable {
    /// 2 ceil(3 sigma) + 1 weights, centre in the middle.
    public let taps: [Float]

    public init(sigma: Float) {
        let radius = Int((3 * sigma).rounded(.up))
        let weights = (-radius...radius).map { exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = weights.reduce(0, +)
        taps = weights.map { $0 / total }
    }

    /// The filtered frame, `side` x `side`, the frame taken as zero outside itself.
    public func applyZeroOutside(_ image: [Float], side: Int) -> [Float] {
        let radius = taps.count / 2
        var rows = [Float](repeating: 0, count: side * side), result = rows
        taps.withUnsafeBufferPointer { w in
            image.withUnsafeBufferPointer { source in
                rows.withUnsafeMutableBufferPointer { horizontal in
                    for y in 0..<side {
                        for x in 0..<side {
                            var total: Float = 0
                            for k in max(0, radius - x)..<min(w.count, side + radius - x) {
                                total += w[k] * source[y * side + x + k - radius]
                            }
                            horizontal[y * side + x] = total
                        }
                    }
                }
            }
            rows.withUnsafeBufferPointer { horizontal in
                result.withUnsafeMutableBufferPointer { target in
                    for y in 0..<side {
                        let low = max(0, radius - y), high = min(w.count, side + radius - y)
                        for x in 0..<side {
                            var total: Float = 0
                            for k in low..<high { total += w[k] * horizontal[(y + k - radius) * side + x] }
                            target[y * side + x] = total
                        }
                    }
                }
            }
        }
        return result
    }

    /// The filtered frame over the valid region only, where the window lies
    /// inside the frame: (side - taps + 1)^2 values.
    public func applyValid(_ image: [Float], side: Int) -> [Float] {
        let count = taps.count, out = side - count + 1
        var rows = [Float](repeating: 0, count: side * out)
        var result = [Float](repeating: 0, count: out * out)
        taps.withUnsafeBufferPointer { w in
            image.withUnsafeBufferPointer { source in
                rows.withUnsafeMutableBufferPointer { horizontal in
                    for y in 0..<side {
                        for x in 0..<out {
                            var total: Float = 0
                            let start = y * side + x
                            for k in 0..<count { total += w[k] * source[start + k] }
                            horizontal[y * out + x] = total
                        }
                    }
                }
            }
            rows.withUnsafeBufferPointer { horizontal in
                result.withUnsafeMutableBufferPointer { target in
                    for y in 0..<out {
                        for x in 0..<out {
                            var total: Float = 0
                            for k in 0..<count { total += w[k] * horizontal[(y + k) * out + x] }
                            target[y * out + x] = total
                        }
                    }
                }
            }
        }
        return result
    }
}
