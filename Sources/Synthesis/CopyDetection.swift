import Engine
import Foundation

/// Frames as the copy measure sees them (docs/evaluation.md, "The copy
/// measure"): box-averaged to 64 x 64, intensities 0 to 1, then band-passed
/// (Gaussian sigma 1.5 minus Gaussian sigma 4, zero outside the frame). The
/// band keeps the structure that makes an image that image (edges, speckle,
/// anatomy) and drops what every frame of a modality shares: brightness, the
/// dark background and the smooth shape of the scan sector. Single-pixel
/// noise is mostly outside the band too.
public struct StructureMaps: Sendable {
    public static let side = 64
    /// Border left out of a reference frame's window, so that a shifted copy's window stays inside the frame.
    public static let margin = 8
    /// The largest shift, in pixels of the 64 x 64 frame, a copy may be moved by and still be caught.
    public static let maximumShift = 4
    static let fineSigma: Float = 1.5, coarseSigma: Float = 4
    static let windowSide = side - 2 * margin
    static let windowPixels = windowSide * windowSide
    /// Cells of the coarse energy map that picks candidates (4 x 4 pixels each).
    static let cellSide = 4
    static let cells = (side / cellSide) * (side / cellSide)

    public let count: Int
    /// Band-passed frames [count, 64 * 64].
    let maps: [Float]
    /// Each frame's central window (64 - 2 margin square), mean removed [count, windowPixels].
    let windows: [Float]
    /// The squared norm of each centred window: how much structure a frame has.
    let windowEnergy: [Float]
    /// Coarse local-energy maps, centred and unit length, and the same of the
    /// mirrored frame [count, cells]: candidates for the exact search.
    let energy: [Float], mirroredEnergy: [Float]

    /// `frames` in [-1, 1], `side` a multiple of 64.
    public init(_ frames: FrameMatrix) {
        let small = frames.downsampled(to: Self.side)
        count = small.count
        let plane = Self.side * Self.side
        var maps = [Float](repeating: 0, count: count * plane)
        var windows = [Float](repeating: 0, count: count * Self.windowPixels)
        var windowEnergy = [Float](repeating: 0, count: count)
        var energy = [Float](repeating: 0, count: count * Self.cells), mirrored = energy
        let fine = GaussianFilter(sigma: Self.fineSigma), coarse = GaussianFilter(sigma: Self.coarseSigma)
        for frame in 0..<count {
            let unit = small.row(frame).map { ($0 + 1) / 2 }
            var band = fine.apply(unit, side: Self.side)
            let background = coarse.apply(unit, side: Self.side)
            for index in band.indices { band[index] -= background[index] }
            maps.replaceSubrange((frame * plane)..<((frame + 1) * plane), with: band)
            var window = [Float](repeating: 0, count: Self.windowPixels)
            band.withUnsafeBufferPointer { map in
                window.withUnsafeMutableBufferPointer { Self.copyWindow(of: map.baseAddress!, dy: 0, dx: 0, to: $0.baseAddress!) }
            }
            let mean = window.reduce(0, +) / Float(Self.windowPixels)
            for index in window.indices { window[index] -= mean }
            windows.replaceSubrange((frame * Self.windowPixels)..<((frame + 1) * Self.windowPixels), with: window)
            windowEnergy[frame] = window.reduce(0) { $0 + $1 * $1 }
            let cellEnergy = Self.cellEnergy(band)
            energy.replaceSubrange((frame * Self.cells)..<((frame + 1) * Self.cells), with: cellEnergy.plain)
            mirrored.replaceSubrange((frame * Self.cells)..<((frame + 1) * Self.cells), with: cellEnergy.mirrored)
        }
        (self.maps, self.windows, self.windowEnergy, self.energy, mirroredEnergy) = (maps, windows, windowEnergy, energy, mirrored)
    }

    /// Band-passed frame `index`, 64 x 64.
    public func map(_ index: Int) -> [Float] { Array(maps[(index * Self.side * Self.side)..<((index + 1) * Self.side * Self.side)]) }

    /// The window of a 64 x 64 map moved by (dy, dx) (rows margin + dy ..<
    /// side - margin + dy, the same for columns), copied to `target`.
    static func copyWindow(of map: UnsafePointer<Float>, dy: Int, dx: Int, to target: UnsafeMutablePointer<Float>) {
        for y in 0..<windowSide {
            (target + y * windowSide).update(from: map + (margin + dy + y) * side + margin + dx, count: windowSide)
        }
    }

    /// RMS of the band in 4 x 4 cells, smoothed over neighbouring cells,
    /// centred and unit length; and the same for the mirrored frame.
    static func cellEnergy(_ band: [Float]) -> (plain: [Float], mirrored: [Float]) {
        let grid = side / cellSide
        var raw = [Float](repeating: 0, count: cells)
        for y in 0..<side {
            for x in 0..<side { raw[(y / cellSide) * grid + x / cellSide] += band[y * side + x] * band[y * side + x] }
        }
        raw = raw.map { $0.squareRoot() }
        func smoothed(_ cellsIn: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: cells)
            for y in 0..<grid {
                for x in 0..<grid {
                    var total: Float = 0
                    for dy in -1...1 {
                        for dx in -1...1 {
                            let (yy, xx) = (y + dy, x + dx)
                            guard yy >= 0, yy < grid, xx >= 0, xx < grid else { continue }
                            total += cellsIn[yy * grid + xx] * (dy == 0 ? 2 : 1) * (dx == 0 ? 2 : 1)
                        }
                    }
                    out[y * grid + x] = total
                }
            }
            let mean = out.reduce(0, +) / Float(cells)
            out = out.map { $0 - mean }
            let norm = out.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? out.map { $0 / norm } : out
        }
        let mirroredCells = (0..<cells).map { raw[($0 / grid) * grid + grid - 1 - $0 % grid] }
        return (smoothed(raw), smoothed(mirroredCells))
    }
}

/// A separable Gaussian filter over a square frame, zero outside it.
struct GaussianFilter {
    let taps: [Float]

    init(sigma: Float) {
        let radius = Int((3 * sigma).rounded(.up))
        let weights = (-radius...radius).map { exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = weights.reduce(0, +)
        taps = weights.map { $0 / total }
    }

    /// (Raw pointers: these loops are most of the measure's time in a debug build.)
    func apply(_ image: [Float], side: Int) -> [Float] {
        let radius = taps.count / 2
        var rows = [Float](repeating: 0, count: side * side), result = rows
        taps.withUnsafeBufferPointer { w in
            image.withUnsafeBufferPointer { source in
                rows.withUnsafeMutableBufferPointer { horizontal in
                    for y in 0..<side {
                        for x in 0..<side {
                            var total: Float = 0
                            for k in max(0, radius - x)..<min(w.count, side + radius - x) { total += w[k] * source[y * side + x + k - radius] }
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
}

/// The copy measure (docs/evaluation.md): how much of a reference frame's
/// structure a query frame fails to reproduce, after the disguises a copy
/// could wear. For reference r and query q (both `StructureMaps`):
///
///     copyDistance(q, r) = min over mirror, shift |dy|, |dx| <= 4, gain a in [0.8, 1.25]
///                          of |window(q moved) - a window(r)| / |window(r)|   (windows centred)
///
/// 0: q holds r's structure exactly (up to a shift, a mirror, brightness and
/// contrast); 0.8: q has none of it (a blank or dark frame); near 1 or more:
/// unrelated frames. A reference with no structure (a uniform frame) cannot
/// be copied in any way that identifies it: its distances are infinite.
public enum CopyDistance {
    /// The gains a copy may have been scaled by (contrast and brightness changes of about 10 % each).
    public static let gains: ClosedRange<Float> = 0.8...1.25
    /// Candidates per query, picked by coarse energy maps, then measured exactly.
    public static let candidates = 32
    /// Below this window energy a reference has no structure.
    static let minimumEnergy: Float = 1e-8

    /// For every query frame, the `candidates` reference frames most alike by
    /// their coarse energy maps (either orientation) that `excluded` does not
    /// rule out, each with its exact copy distance, nearest first.
    public static func nearest(_ queries: StructureMaps, in references: StructureMaps,
                               excluding excluded: ((Int, Int) -> Bool)? = nil) -> [[(index: Int, distance: Float)]] {
        let n = queries.count, m = references.count, cells = StructureMaps.cells
        guard n > 0, m > 0 else { return Array(repeating: [], count: n) }
        // Coarse similarity of every pair, both orientations of the query.
        func coarseSimilarity(_ energy: [Float]) -> [Float] {
            var products = [Float](repeating: 0, count: n * m)
            energy.withUnsafeBufferPointer { q in
                references.energy.withUnsafeBufferPointer { r in
                    products.withUnsafeMutableBufferPointer {
                        gemm(transposeA: false, transposeB: true, m: n, n: m, k: cells, q.baseAddress!, r.baseAddress!, beta: 0, $0.baseAddress!)
                    }
                }
            }
            return products
        }
        let plain = coarseSimilarity(queries.energy), mirrored = coarseSimilarity(queries.mirroredEnergy)
        var result: [[(index: Int, distance: Float)]] = []
        result.reserveCapacity(n)
        let shifts = shiftedWindows()
        var moved = [Float](repeating: 0, count: shifts.count * StructureMaps.windowPixels)
        var candidateWindows = [Float](repeating: 0, count: candidates * StructureMaps.windowPixels)
        var products = [Float](repeating: 0, count: shifts.count * candidates)
        for query in 0..<n {
            let ranked = (0..<m).filter { excluded?(query, $0) != true }
                .map { ($0, max(plain[query * m + $0], mirrored[query * m + $0])) }
                .sorted { $0.1 > $1.1 }.prefix(candidates).map(\.0)
            guard !ranked.isEmpty else {
                result.append([])
                continue
            }
            let movedEnergy = fillShiftedWindows(of: queries, frame: query, shifts: shifts, into: &moved)
            references.windows.withUnsafeBufferPointer { source in
                candidateWindows.withUnsafeMutableBufferPointer { target in
                    for (slot, reference) in ranked.enumerated() {
                        (target.baseAddress! + slot * StructureMaps.windowPixels)
                            .update(from: source.baseAddress! + reference * StructureMaps.windowPixels, count: StructureMaps.windowPixels)
                    }
                }
            }
            moved.withUnsafeBufferPointer { a in
                candidateWindows.withUnsafeBufferPointer { b in
                    products.withUnsafeMutableBufferPointer { c in
                        gemm(transposeA: false, transposeB: true, m: shifts.count, n: ranked.count, k: StructureMaps.windowPixels,
                             a.baseAddress!, b.baseAddress!, beta: 0, c.baseAddress!)
                    }
                }
            }
            var measured: [(index: Int, distance: Float)] = []
            for (slot, reference) in ranked.enumerated() {
                let referenceEnergy = references.windowEnergy[reference]
                guard referenceEnergy > minimumEnergy else {
                    measured.append((reference, .infinity))
                    continue
                }
                var best = Float.infinity
                for shift in 0..<shifts.count {
                    best = min(best, residual(product: products[shift * ranked.count + slot], queryEnergy: movedEnergy[shift],
                                              referenceEnergy: referenceEnergy))
                }
                measured.append((reference, best))
            }
            result.append(measured.sorted { $0.distance < $1.distance })
        }
        return result
    }

    /// |q - a r| / |r| at the best gain a in `gains`, from q.r, |q|^2 and |r|^2.
    static func residual(product: Float, queryEnergy: Float, referenceEnergy: Float) -> Float {
        let gain = min(max(product / referenceEnergy, gains.lowerBound), gains.upperBound)
        let squared = queryEnergy - 2 * gain * product + gain * gain * referenceEnergy
        return (max(squared, 0) / referenceEnergy).squareRoot()
    }

    /// Every (mirrored, dy, dx) a copy may be moved by.
    static func shiftedWindows() -> [(mirrored: Bool, dy: Int, dx: Int)] {
        let range = -StructureMaps.maximumShift...StructureMaps.maximumShift
        return [false, true].flatMap { mirrored in range.flatMap { dy in range.map { dx in (mirrored, dy, dx) } } }
    }

    /// The query's windows at every shift, as rows of `matrix`; returns each
    /// row's centred energy, from prefix sums of the map and its squares.
    /// (Products with centred reference windows need no centring of the query.)
    static func fillShiftedWindows(of maps: StructureMaps, frame: Int, shifts: [(mirrored: Bool, dy: Int, dx: Int)],
                                   into matrix: inout [Float]) -> [Float] {
        let side = StructureMaps.side, plane = side * side, pixels = StructureMaps.windowPixels, windowSide = StructureMaps.windowSide
        let map = maps.map(frame)
        let mirroredMap = (0..<plane).map { map[($0 / side) * side + side - 1 - $0 % side] }
        let plainSums = PrefixSums(map, side: side), mirroredSums = PrefixSums(mirroredMap, side: side)
        var energies = [Float](repeating: 0, count: shifts.count)
        map.withUnsafeBufferPointer { plainPointer in
            mirroredMap.withUnsafeBufferPointer { mirroredPointer in
                matrix.withUnsafeMutableBufferPointer { rows in
                    for (row, shift) in shifts.enumerated() {
                        StructureMaps.copyWindow(of: (shift.mirrored ? mirroredPointer : plainPointer).baseAddress!, dy: shift.dy,
                                                 dx: shift.dx, to: rows.baseAddress! + row * pixels)
                        let top = StructureMaps.margin + shift.dy, left = StructureMaps.margin + shift.dx
                        let (sum, squares) = (shift.mirrored ? mirroredSums : plainSums).window(top: top, left: left, side: windowSide)
                        energies[row] = Float(squares - sum * sum / Double(pixels))
                    }
                }
            }
        }
        return energies
    }
}

/// Sums of a square map and of its squares over any window, each in four
/// look-ups (summed-area tables, in double so that differences stay exact enough).
struct PrefixSums {
    let stride: Int
    let sums: [Double], squares: [Double]

    init(_ map: [Float], side: Int) {
        stride = side + 1
        var sums = [Double](repeating: 0, count: stride * stride), squares = sums
        for y in 0..<side {
            var rowSum = 0.0, rowSquares = 0.0
            for x in 0..<side {
                let value = Double(map[y * side + x])
                rowSum += value
                rowSquares += value * value
                sums[(y + 1) * stride + x + 1] = sums[y * stride + x + 1] + rowSum
                squares[(y + 1) * stride + x + 1] = squares[y * stride + x + 1] + rowSquares
            }
        }
        (self.sums, self.squares) = (sums, squares)
    }

    /// The sum and the sum of squares over rows top ..< top + side, columns left ..< left + side.
    func window(top: Int, left: Int, side: Int) -> (sum: Double, squares: Double) {
        func total(_ table: [Double]) -> Double {
            table[(top + side) * stride + left + side] - table[top * stride + left + side] - table[(top + side) * stride + left]
                + table[top * stride + left]
        }
        return (total(sums), total(squares))
    }
}

/// Which generated frames copy a training frame (docs/evaluation.md): a
/// frame copies training frame r when its copy distance to r is at most r's
/// radius, the smaller of `radius` (how far the cheap disguises move a copy)
/// and how close the nearest real frame of another series (and, when both
/// name one, another patient) comes to r: where the real frames are dense,
/// being that close reveals no more than another patient's frame does
/// (authenticity, Alaa et al., ICML 2022).
public struct CopyDetector: Sendable {
    /// The default radius: disguised copies (shift up to 4 px, mirror,
    /// brightness and contrast 10 %, noise sigma 0.02) of the sample and
    /// simulated frames measure at most about 0.3; blurred, averaged and blank
    /// frames 0.45 or more (docs/evaluation.md).
    public static let defaultRadius: Float = 0.4

    public let training: StructureMaps
    /// Per training frame: the copy distance within which a frame copies it.
    public let radii: [Float]
    public let radius: Float

    /// `training` are the frames a copy could come from, with the series and
    /// the patient (nil when unknown) of each, which set the density radii.
    public init(training frames: FrameMatrix, series: [Int], patients: [String?], radius: Float = defaultRadius) {
        training = StructureMaps(frames)
        self.radius = radius
        var radii = [Float](repeating: radius, count: frames.count)
        // The nearest training frame of another series and patient to each training frame.
        let others = CopyDistance.nearest(training, in: training) { query, reference in
            if series[query] == series[reference] { return true }
            if let a = patients[query], let b = patients[reference], a == b { return true }
            return false
        }
        for candidates in others {
            for (reference, distance) in candidates where distance < radii[reference] { radii[reference] = distance }
        }
        self.radii = radii
    }

    /// For each frame of `generated`: its nearest training frame by copy
    /// distance, that distance, and whether it copies a training frame.
    public func check(_ generated: FrameMatrix) -> [CopyCheck] {
        let maps = StructureMaps(generated)
        return CopyDistance.nearest(maps, in: training).map { candidates in
            let nearest = candidates.first ?? (index: -1, distance: .infinity)
            let copied = candidates.first { $0.distance <= radii[$0.index] }
            return CopyCheck(nearestTraining: nearest.index, distance: nearest.distance, copiedTraining: copied?.index)
        }
    }
}

/// One frame's result from `CopyDetector.check`.
public struct CopyCheck: Sendable, Equatable {
    /// The training frame nearest by copy distance (-1 when there is none).
    public let nearestTraining: Int
    public let distance: Float
    /// The training frame it copies, nil when it copies none.
    public let copiedTraining: Int?
    public var isCopy: Bool { copiedTraining != nil }
}
