import Foundation

/// Distances between the intensity statistics of two sets of frames in [0, 1].
public enum ImageStatistics {
    public static let histogramBins = 256

    /// The share of `values` in each of 256 bins over [0, 1]. Frames of
    /// one size pool as the mean of their histograms.
    public static func intensityHistogram(_ values: some Collection<Float>) -> [Double] {
        var counts = [Double](repeating: 0, count: histogramBins)
        for value in values { counts[min(histogramBins - 1, max(0, Int(value * Float(histogramBins))))] += 1 }
        return counts.map { $0 / Double(values.count) }
    }

    /// Wasserstein-1 (earth mover's) distance of two histograms over [0, 1]
    /// (shares per bin): the mean shift of intensity mass, in intensity units
    /// (0 same histogram, 1 all black against all white).
    public static func wassersteinDistance(_ a: [Double], _ b: [Double]) -> Float {
        var runningA = 0.0, runningB = 0.0, total = 0.0
        for bin in a.indices {
            runningA += a[bin]
            runningB += b[bin]
            total += abs(runningA - runningB)
        }
        return Float(total / Double(a.count))
    }

    /// One frame's radially averaged power spectrum (power at integer radii
    /// 1 ..< side / 2 of the centred 2-D spectrum) as log10, indexed by radius
    /// (index 0 unused, 0). GAN upsampling leaves periodic artefacts at high radii.
    public static func logSpectrum(_ frame: [Float], side: Int) -> [Double] {
        let power = FourierTransform.power2D(frame, side: side)
        var sums = [Double](repeating: 0, count: side / 2), counts = [Double](repeating: 0, count: side / 2)
        for v in 0..<side {
            for u in 0..<side {
                let fu = u <= side / 2 ? u : u - side, fv = v <= side / 2 ? v : v - side
                let radius = Int((Double(fu * fu + fv * fv)).squareRoot().rounded())
                guard radius >= 1, radius < side / 2 else { continue }
                sums[radius] += power[v * side + u]
                counts[radius] += 1
            }
        }
        var spectrum = [Double](repeating: 0, count: side / 2)
        for radius in 1..<(side / 2) { spectrum[radius] = log10(sums[radius] / counts[radius] + 1e-12) }
        return spectrum
    }

    /// The mean absolute difference of two mean log spectra (decades of power), radii 1 ..< side / 2.
    public static func spectrumDistance(_ a: [Double], _ b: [Double]) -> Float {
        Float((1..<a.count).reduce(0) { $0 + abs(a[$1] - b[$1]) } / Double(a.count - 1))
    }

    /// The element-wise mean of equally long rows.
    static func meanRow(_ rows: [[Double]]) -> [Double] {
        var total = [Double](repeating: 0, count: rows.first?.count ?? 0)
        for row in rows { for index in row.indices { total[index] += row[index] } }
        return total.map { $0 / Double(rows.count) }
    }
}

/// A radix-2 fast Fourier transform, enough for the power spectra of frames
/// whose side is a power of two (64, 256).
enum FourierTransform {
    /// |F(u, v)|^2 of a side x side real image, row-major.
    static func power2D(_ image: [Float], side: Int) -> [Double] {
        precondition(side > 0 && side & (side - 1) == 0, "the frame side must be a power of two")
        let twiddles = (0..<(side / 2)).map { k in
            (cos(-2 * Double.pi * Double(k) / Double(side)), sin(-2 * Double.pi * Double(k) / Double(side)))
        }
        var real = image.map(Double.init), imaginary = [Double](repeating: 0, count: side * side)
        var rowReal = [Double](repeating: 0, count: side), rowImaginary = rowReal
        for row in 0..<side {
            for i in 0..<side {
                rowReal[i] = real[row * side + i]
                rowImaginary[i] = imaginary[row * side + i]
            }
            transform(&rowReal, &rowImaginary, twiddles: twiddles)
            for i in 0..<side {
                real[row * side + i] = rowReal[i]
                imaginary[row * side + i] = rowImaginary[i]
            }
        }
        for column in 0..<side {
            for i in 0..<side {
                rowReal[i] = real[i * side + column]
                rowImaginary[i] = imaginary[i * side + column]
            }
            transform(&rowReal, &rowImaginary, twiddles: twiddles)
            for i in 0..<side {
                real[i * side + column] = rowReal[i]
                imaginary[i * side + column] = rowImaginary[i]
            }
        }
        return zip(real, imaginary).map { $0 * $0 + $1 * $1 }
    }

    /// In-place iterative Cooley-Tukey; `twiddles[k]` = exp(-2 pi i k / n) for k < n / 2.
    static func transform(_ real: inout [Double], _ imaginary: inout [Double], twiddles: [(Double, Double)]) {
        let n = real.count
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 {
                j ^= bit
                bit >>= 1
            }
            j |= bit
            if i < j {
                real.swapAt(i, j)
                imaginary.swapAt(i, j)
            }
        }
        var length = 2
        while length <= n {
            let step = n / length
            for start in stride(from: 0, to: n, by: length) {
                for k in 0..<(length / 2) {
                    let (wr, wi) = twiddles[k * step]
                    let a = start + k, b = a + length / 2
                    let tr = real[b] * wr - imaginary[b] * wi, ti = real[b] * wi + imaginary[b] * wr
                    real[b] = real[a] - tr
                    imaginary[b] = imaginary[a] - ti
                    real[a] += tr
                    imaginary[a] += ti
                }
            }
            length <<= 1
        }
    }
}
