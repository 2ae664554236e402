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
    static let plane = side * side

    public let count: Int
    /// Band-passed frames [count, 64 * 64].
    let maps: [Float]

    /// `frames` in [-1, 1], `side` a multiple of 64.
    public init(_ frames: FrameMatrix) {
        let small = frames.downsampled(to: Self.side)
        count = small.count
        var maps = [Float](repeating: 0, count: count * Self.plane)
        let fine = GaussianFilter(sigma: Self.fineSigma), coarse = GaussianFilter(sigma: Self.coarseSigma)
        for frame in 0..<count {
            let unit = small.row(frame).map { ($0 + 1) / 2 }
            var band = fine.applyZeroOutside(unit, side: Self.side)
            let background = coarse.applyZeroOutside(unit, side: Self.side)
            for index in band.indices { band[index] -= background[index] }
            maps.replaceSubrange((frame * Self.plane)..<((frame + 1) * Self.plane), with: band)
        }
        self.maps = maps
    }

    /// Band-passed frame `index`, 64 x 64.
    public func map(_ index: Int) -> [Float] { Array(maps[(index * Self.plane)..<((index + 1) * Self.plane)]) }

    /// The window of a 64 x 64 map moved by (dy, dx) (rows margin + dy ..<
    /// side - margin + dy, the same for columns), copied to `target`.
    static func copyWindow(of map: UnsafePointer<Float>, dy: Int, dx: Int, to target: UnsafeMutablePointer<Float>) {
        for y in 0..<windowSide {
            (target + y * windowSide).update(from: map + (margin + dy + y) * side + margin + dx, count: windowSide)
        }
    }
}

/// Which pixels a comparison counts, and how much (0 to 1, over the 64 x 64
/// frame): structure that every series of the training set shares at the
/// same place (the edge of the scan sector, a scale, a vendor's screen
/// layout) identifies no patient, so it is weighed down by how consistent it
/// is across series: w = 1 - m^2 / v, where m and v are the mean band value
/// and the mean squared band value at the pixel, each series weighing the
/// same (so a static cine does not mask its own anatomy). Pixels no series
/// has structure at weigh 0.
public struct StructureMask: Sendable {
    public let weights: [Float]
    /// Below this many series the mask counts every pixel: too few to tell shared structure from anatomy.
    public static let minimumSeries = 3

    public static let uniform = StructureMask(weights: [Float](repeating: 1, count: StructureMaps.plane))

    init(weights: [Float]) { self.weights = weights }

    public init(training maps: StructureMaps, series: [Int]) {
        let groups = Dictionary(grouping: 0..<maps.count, by: { series[$0] })
        guard groups.count >= Self.minimumSeries else {
            self = .uniform
            return
        }
        let plane = StructureMaps.plane
        var mean = [Double](repeating: 0, count: plane), square = mean
        // In series order, so that the sums (and the weights) are the same in every run.
        for (_, members) in groups.sorted(by: { $0.key < $1.key }) {
            let share = 1 / (Double(groups.count) * Double(members.count))
            for frame in members {
                for pixel in 0..<plane {
                    let value = Double(maps.maps[frame * plane + pixel])
                    mean[pixel] += share * value
                    square[pixel] += share * value * value
                }
            }
        }
        weights = (0..<plane).map { square[$0] > 1e-12 ? Float(max(0, 1 - mean[$0] * mean[$0] / square[$0])) : 0 }
    }

    /// The squared weights of the central window, in window order.
    var windowSquares: [Float] {
        var window = [Float](repeating: 0, count: StructureMaps.windowPixels)
        weights.withUnsafeBufferPointer { map in
            window.withUnsafeMutableBufferPointer { StructureMaps.copyWindow(of: map.baseAddress!, dy: 0, dx: 0, to: $0.baseAddress!) }
        }
        return window.map { $0 * $0 }
    }
}

/// Reference frames prepared for the copy distance under a mask: their
/// central windows times the squared weights, the weighted energy of each,
/// and coarse energy maps that pick candidates.
public struct CopyReferences: Sendable {
    public let mask: StructureMask
    let windowSquares: [Float]
    /// [count, windowPixels]: window(r) * w^2.
    let weightedWindows: [Float]
    /// Sum of w^2 window(r)^2: how much structure a frame has where it counts.
    let energy: [Float]
    /// Coarse energy maps [count, cells].
    let coarse: [Float]
    public var count: Int { energy.count }

    public init(_ maps: StructureMaps, mask: StructureMask) {
        self.mask = mask
        let squares = mask.windowSquares
        windowSquares = squares
        let pixels = StructureMaps.windowPixels, frames = maps.count
        var weighted = [Float](repeating: 0, count: frames * pixels), energy = [Float](repeating: 0, count: frames)
        maps.maps.withUnsafeBufferPointer { source in
            weighted.withUnsafeMutableBufferPointer { target in
                for frame in 0..<frames {
                    let window = target.baseAddress! + frame * pixels
                    StructureMaps.copyWindow(of: source.baseAddress! + frame * StructureMaps.plane, dy: 0, dx: 0, to: window)
                    var total: Float = 0
                    for index in 0..<pixels {
                        total += squares[index] * window[index] * window[index]
                        window[index] *= squares[index]
                    }
                    energy[frame] = total
                }
            }
        }
        (weightedWindows, self.energy) = (weighted, energy)
        coarse = CoarseEnergy.plain(maps, mask: mask)
    }
}

/// Coarse maps of local band energy (4 x 4 pixel cells, smoothed over
/// neighbouring cells, centred, unit length) under a mask: which reference
/// frames are worth the exact search. A query is compared in every variant a
/// copy could be in: mirrored or not, moved by -4, 0 or 4 pixels each way
/// (before the mask, which stays where the references are).
enum CoarseEnergy {
    static let cellSide = 4
    static let grid = StructureMaps.side / cellSide
    static let cells = grid * grid
    /// (mirrored, dy, dx) of each query variant, in pixels.
    static let variants: [(mirrored: Bool, dy: Int, dx: Int)] = [false, true].flatMap { mirrored in
        (-1...1).flatMap { dy in (-1...1).map { dx in (mirrored, dy * cellSide, dx * cellSide) } }
    }

    /// Each frame's map as it is [count, cells]: the references' side.
    static func plain(_ maps: StructureMaps, mask: StructureMask) -> [Float] {
        (0..<maps.count).flatMap { normalised(cellEnergy(maps.map($0), mask: mask, variant: (false, 0, 0))) }
    }

    /// Each frame's maps in every variant [count * variants, cells], frame-major: the queries' side.
    static func allVariants(_ maps: StructureMaps, mask: StructureMask) -> [Float] {
        (0..<maps.count).flatMap { frame -> [Float] in
            let map = maps.map(frame)
            return variants.flatMap { normalised(cellEnergy(map, mask: mask, variant: $0)) }
        }
    }

    /// RMS of the masked band in each cell, of the map moved (and mirrored) as `variant` says.
    static func cellEnergy(_ map: [Float], mask: StructureMask, variant: (mirrored: Bool, dy: Int, dx: Int)) -> [Float] {
        let side = StructureMaps.side
        var energy = [Float](repeating: 0, count: cells)
        for y in 0..<side where (0..<side).contains(y - variant.dy) {
            for x in 0..<side where (0..<side).contains(x - variant.dx) {
                let sourceX = variant.mirrored ? side - 1 - (x - variant.dx) : x - variant.dx
                let value = mask.weights[y * side + x] * map[(y - variant.dy) * side + sourceX]
                energy[(y / cellSide) * grid + x / cellSide] += value * value
            }
        }
        return energy.map { $0.squareRoot() }
    }

    static func normalised(_ cellValues: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: cells)
        for y in 0..<grid {
            for x in 0..<grid {
                var total: Float = 0
                for dy in -1...1 {
                    for dx in -1...1 {
                        let (yy, xx) = (y + dy, x + dx)
                        guard yy >= 0, yy < grid, xx >= 0, xx < grid else { continue }
                        total += cellValues[yy * grid + xx] * (dy == 0 ? 2 : 1) * (dx == 0 ? 2 : 1)
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
}

/// The copy measure (docs/evaluation.md): how much of a reference frame's
/// structure a query frame fails to reproduce, after the disguises a copy
/// could wear. For reference r and query q (`StructureMaps`), with the mask's
/// weights w over r's central window W:
///
///     copyDistance(q, r) = min over mirror, shift |dy|, |dx| <= 4, gain a in [0.8, 1.25]
///                          of |w (q moved - a r)| / |w r|   (over W)
///
/// 0: q holds r's structure exactly (up to a shift, a mirror, brightness and
/// contrast); 0.8: q has none of it (a blank or dark frame); near 1 or more:
/// unrelated frames. A reference with no structure where the mask counts (a
/// uniform frame) cannot be copied in any way that identifies it: its
/// distances are infinite.
public enum CopyDistance {
    /// The gains a copy may have been scaled by (contrast and brightness changes of about 10 % each).
    public static let gains: ClosedRange<Float> = 0.8...1.25
    /// Candidates per query, picked by coarse energy maps, then measured exactly.
    public static let candidates = 32
    /// Below this weighted window energy a reference has no structure.
    static let minimumEnergy: Float = 1e-8

    /// For every query frame, the `candidates` reference frames most alike by
    /// their coarse energy maps (either orientation) that `excluded` does not
    /// rule out, each with its exact copy distance, nearest first.
    public static func nearest(
        _ queries: StructureMaps, in references: CopyReferences,
        excluding excluded: ((Int, Int) -> Bool)? = nil
    ) -> [[(index: Int, distance: Float)]] {
        let n = queries.count, m = references.count
        guard n > 0, m > 0 else { return Array(repeating: [], count: n) }
        let similarity = coarseSimilarity(queries, references)
        var exact = ExactDistances(references: references)
        return (0..<n).map { query in
            let ranked = (0..<m).filter { excluded?(query, $0) != true }
                .map { ($0, similarity[query * m + $0]) }
                .sorted { $0.1 > $1.1 }.prefix(candidates).map(\.0)
            guard !ranked.isEmpty else { return [] }
            return exact.measure(queries, frame: query, against: ranked).sorted { $0.distance < $1.distance }
        }
    }

    /// The coarse similarity of every (query, reference) pair, row-major
    /// [queries, references]: the best of the query's variants, by one GEMM.
    static func coarseSimilarity(_ queries: StructureMaps, _ references: CopyReferences) -> [Float] {
        let n = queries.count, m = references.count, cells = CoarseEnergy.cells
        let variants = CoarseEnergy.variants.count
        let queryCoarse = CoarseEnergy.allVariants(queries, mask: references.mask)
        var coarseProducts = [Float](repeating: 0, count: n * variants * m)
        queryCoarse.withUnsafeBufferPointer { q in
            references.coarse.withUnsafeBufferPointer { r in
                coarseProducts.withUnsafeMutableBufferPointer {
                    gemm(
                        transposeA: false, transposeB: true, m: n * variants, n: m, k: cells, q.baseAddress!, r.baseAddress!, beta: 0,
                        $0.baseAddress!)
                }
            }
        }
        var similarity = [Float](repeating: -.infinity, count: n * m)
        for query in 0..<n {
            for variant in 0..<variants {
                let row = (query * variants + variant) * m
                for reference in 0..<m {
                    similarity[query * m + reference] = max(similarity[query * m + reference], coarseProducts[row + reference])
                }
            }
        }
        return similarity
    }

    /// The exact copy distances of one query frame to its candidates: every
    /// shift of its windows against every candidate by one GEMM, in buffers
    /// reused from query to query.
    struct ExactDistances {
        let references: CopyReferences
        let shifts: [(mirrored: Bool, dy: Int, dx: Int)]
        private var moved: [Float]
        private var candidateWindows: [Float]
        private var products: [Float]

        init(references: CopyReferences) {
            self.references = references
            let pixels = StructureMaps.windowPixels, shifts = shiftedWindows()
            self.shifts = shifts
            moved = [Float](repeating: 0, count: shifts.count * pixels)
            candidateWindows = [Float](repeating: 0, count: candidates * pixels)
            products = [Float](repeating: 0, count: shifts.count * candidates)
        }

        /// The distance of frame `frame` of `queries` to each reference of `ranked`, in that order.
        mutating func measure(_ queries: StructureMaps, frame: Int, against ranked: [Int]) -> [(index: Int, distance: Float)] {
            let pixels = StructureMaps.windowPixels, shiftCount = shifts.count
            let movedEnergy = fillShiftedWindows(
                of: queries, frame: frame, shifts: shifts, windowSquares: references.windowSquares,
                into: &moved)
            references.weightedWindows.withUnsafeBufferPointer { source in
                candidateWindows.withUnsafeMutableBufferPointer { target in
                    for (slot, reference) in ranked.enumerated() {
                        (target.baseAddress! + slot * pixels).update(from: source.baseAddress! + reference * pixels, count: pixels)
                    }
                }
            }
            moved.withUnsafeBufferPointer { a in
                candidateWindows.withUnsafeBufferPointer { b in
                    products.withUnsafeMutableBufferPointer { c in
                        gemm(
                            transposeA: false, transposeB: true, m: shiftCount, n: ranked.count, k: pixels,
                            a.baseAddress!, b.baseAddress!, beta: 0, c.baseAddress!)
                    }
                }
            }
            return ranked.enumerated().map { slot, reference in
                let referenceEnergy = references.energy[reference]
                guard referenceEnergy > minimumEnergy else { return (reference, .infinity) }
                var best = Float.infinity
                for shift in 0..<shiftCount {
                    best = min(
                        best,
                        residual(
                            product: products[shift * ranked.count + slot], queryEnergy: movedEnergy[shift],
                            referenceEnergy: referenceEnergy))
                }
                return (reference, best)
            }
        }
    }

    /// |q - a r| / |r| (weighted) at the best gain a in `gains`, from q.r, |q|^2 and |r|^2.
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
    /// row's weighted energy (sum of w^2 q^2).
    static func fillShiftedWindows(
        of maps: StructureMaps, frame: Int, shifts: [(mirrored: Bool, dy: Int, dx: Int)],
        windowSquares: [Float], into matrix: inout [Float]
    ) -> [Float] {
        let side = StructureMaps.side, pixels = StructureMaps.windowPixels
        let map = maps.map(frame)
        let mirroredMap = (0..<StructureMaps.plane).map { map[($0 / side) * side + side - 1 - $0 % side] }
        var energies = [Float](repeating: 0, count: shifts.count)
        map.withUnsafeBufferPointer { plainPointer in
            mirroredMap.withUnsafeBufferPointer { mirroredPointer in
                windowSquares.withUnsafeBufferPointer { squares in
                    matrix.withUnsafeMutableBufferPointer { rows in
                        for (row, shift) in shifts.enumerated() {
                            let target = rows.baseAddress! + row * pixels
                            StructureMaps.copyWindow(
                                of: (shift.mirrored ? mirroredPointer : plainPointer).baseAddress!, dy: shift.dy,
                                dx: shift.dx, to: target)
                            var total: Float = 0
                            for index in 0..<pixels { total += squares[index] * target[index] * target[index] }
                            energies[row] = total
                        }
                    }
                }
            }
        }
        return energies
    }
}

/// Which generated frames copy a training frame (docs/evaluation.md): a
/// frame copies training frame r when its copy distance to r is at most r's
/// radius, the smaller of `radius` (how far the cheap disguises move a copy)
/// and how close the nearest training frame of another series (and, when
/// both name one, another patient) comes to r: where the real frames are
/// dense, being that close reveals no more than another patient's frame
/// does (authenticity, Alaa et al., ICML 2022).
public struct CopyDetector: Sendable {
    /// The default radius: disguised copies (shift up to 4 px, mirror,
    /// brightness and contrast 10 %, noise sigma 0.02) of the sample and
    /// simulated frames measure at most about 0.4; blurred, averaged and blank
    /// frames about 0.5 or more (docs/evaluation.md).
    public static let defaultRadius: Float = 0.4

    public let references: CopyReferences
    /// Per training frame: the copy distance within which a frame copies it.
    public let radii: [Float]
    public let radius: Float

    /// `training` are the frames a copy could come from, with the series and
    /// the patient (nil when unknown) of each, which set the mask and the
    /// density radii.
    public init(training frames: FrameMatrix, series: [Int], patients: [String?], radius: Float = defaultRadius) {
        let maps = StructureMaps(frames)
        references = CopyReferences(maps, mask: StructureMask(training: maps, series: series))
        self.radius = radius
        var radii = [Float](repeating: radius, count: frames.count)
        // The nearest training frame of another series and patient to each training frame.
        let others = CopyDistance.nearest(maps, in: references) { query, reference in
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
        CopyDistance.nearest(StructureMaps(generated), in: references).map { candidates in
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
