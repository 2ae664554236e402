import Foundation

/// SSIM and MS-SSIM (Wang, Simoncelli and Bovik 2003) on square grayscale
/// frames with intensities in [0, 1]: an 11 x 11 Gaussian window (sigma 1.5)
/// over the valid region, K1 = 0.01, K2 = 0.03, dynamic range 1.
public enum StructuralSimilarity {
    static let window = GaussianFilter(sigma: 1.5)
    static let c1: Float = 0.01 * 0.01, c2: Float = 0.03 * 0.03
    /// MS-SSIM's scale weights (Wang et al. 2003), the first ones used when a
    /// frame allows fewer than five scales, renormalised to sum to 1.
    static let scaleWeights: [Float] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]

    /// Mean SSIM of two frames of `side` x `side` values in [0, 1].
    public static func ssim(_ a: [Float], _ b: [Float], side: Int) -> Float {
        components(a, b, side: side).ssim
    }

    /// MS-SSIM over as many scales (halving by 2 x 2 averages) as keep the
    /// window inside the frame, up to five: three at 64 x 64, five at 256 x 256.
    public static func msssim(_ a: [Float], _ b: [Float], side: Int) -> Float {
        var scales = 1
        while scales < 5, side >> scales >= window.taps.count + 5 { scales += 1 }
        let weights = Array(scaleWeights.prefix(scales))
        let total = weights.reduce(0, +)
        var (x, y, size) = (a, b, side)
        var result: Float = 1
        for (scale, weight) in weights.enumerated() {
            let parts = components(x, y, side: size)
            // Negative contrast-structure values (anti-correlated frames) count as 0, as in common implementations.
            let value = scale == weights.count - 1 ? max(parts.ssim, 0) : max(parts.contrastStructure, 0)
            result *= pow(value, weight / total)
            if scale < weights.count - 1 {
                x = halve(x, side: size)
                y = halve(y, side: size)
                size /= 2
            }
        }
        return result
    }

    /// Mean SSIM and mean contrast-structure term over the valid window positions.
    static func components(_ a: [Float], _ b: [Float], side: Int) -> (ssim: Float, contrastStructure: Float) {
        let meanA = window.applyValid(a, side: side), meanB = window.applyValid(b, side: side)
        let squaresA = window.applyValid(a.map { $0 * $0 }, side: side), squaresB = window.applyValid(b.map { $0 * $0 }, side: side)
        let products = window.applyValid(zip(a, b).map { $0 * $1 }, side: side)
        var ssimTotal: Float = 0, csTotal: Float = 0
        for index in meanA.indices {
            let mu1 = meanA[index], mu2 = meanB[index]
            let variance1 = squaresA[index] - mu1 * mu1, variance2 = squaresB[index] - mu2 * mu2
            let covariance = products[index] - mu1 * mu2
            let contrastStructure = (2 * covariance + c2) / (variance1 + variance2 + c2)
            csTotal += contrastStructure
            ssimTotal += (2 * mu1 * mu2 + c1) / (mu1 * mu1 + mu2 * mu2 + c1) * contrastStructure
        }
        let count = Float(meanA.count)
        return (ssimTotal / count, csTotal / count)
    }

    /// 2 x 2 averages: side / 2 square.
    static func halve(_ image: [Float], side: Int) -> [Float] {
        let half = side / 2
        var result = [Float](repeating: 0, count: half * half)
        for y in 0..<half {
            for x in 0..<half {
                let i = 2 * y * side + 2 * x
                result[y * half + x] = 0.25 * (image[i] + image[i + 1] + image[i + side] + image[i + side + 1])
            }
        }
        return result
    }
}
