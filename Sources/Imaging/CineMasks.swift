/// Per-pixel statistics of the frames of a cine (one channel, all the same
/// size): what stays and what changes. Accumulated frame by frame, so a long
/// cine needs no more memory than a few frames.
public struct CineStatistics: Sendable {
    public let width: Int
    public let height: Int
    public private(set) var frames = 0
    private var minimum: [UInt8]
    private var maximum: [UInt8]
    private var sum: [Float]

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
        minimum = [UInt8](repeating: 255, count: width * height)
        maximum = [UInt8](repeating: 0, count: width * height)
        sum = [Float](repeating: 0, count: width * height)
    }

    public mutating func add(_ pixels: [UInt8]) {
        precondition(pixels.count == width * height, "frame size differs from the cine's")
        for index in pixels.indices {
            let value = pixels[index]
            minimum[index] = min(minimum[index], value)
            maximum[index] = max(maximum[index], value)
            sum[index] += Float(value)
        }
        frames += 1
    }

    /// How far pixel `index` moved over the frames (maximum minus minimum).
    public func range(_ index: Int) -> Int { Int(maximum[index]) - Int(minimum[index]) }

    /// The mean frame.
    public var mean: [Float] { sum.map { $0 / Float(max(frames, 1)) } }

    /// The statistics of the pixels inside `rectangle` only.
    public func cropped(to rectangle: PixelRectangle) -> CineStatistics {
        var cropped = CineStatistics(width: rectangle.width, height: rectangle.height)
        cropped.minimum = rectangle.crop(minimum, frameWidth: width)
        cropped.maximum = rectangle.crop(maximum, frameWidth: width)
        cropped.sum = rectangle.crop(sum, frameWidth: width)
        cropped.frames = frames
        return cropped
    }
}

/// The scan sector of an ultrasound image found from its pixels, closed into
/// one shape with its holes (anechoic areas) filled. In a cine, the pixels
/// that change over its frames (speckle moves; text, scale marks and the
/// black screen around the fan do not). In a single frame, the convex hull of
/// the largest shape of image content: the screen around the image is black,
/// the text, scale bar and trace drawn on it stand apart from the image by
/// black gaps, and a scan (fan or rectangle) is convex, so dark tissue at its
/// edge (a chamber's blood pool, the deep field) stays in.
public enum ScanSector {
    /// A pixel whose value moves by this many grey levels over the cine is
    /// imaging; static overlays move by 0 and lossy coding noise by a few.
    public static let changeThreshold = 12
    /// A sector of a cine smaller than this share of the frame is not believed.
    public static let smallestShare = 0.02
    /// A pixel of a single frame is image content where the mean of the 5 x 5
    /// square around it reaches this level: speckle does, a black screen and
    /// its coding noise do not.
    public static let contentLevel: Float = 8
    /// The shape found in a single frame must cover this share of it: a
    /// smaller one may be a block of text on a dark image, not the image.
    public static let smallestSingleFrameShare = 0.25
    /// Content narrower than 2 x this + 1 pixels is not part of a single frame's image.
    public static let openingRadius = 3

    /// The sector as a mask over the statistics' frame, or nil when the cine
    /// has fewer than 2 frames or no changing area large enough.
    public static func estimate(_ statistics: CineStatistics) -> [Bool]? {
        guard statistics.frames >= 2 else { return nil }
        let changing = (0..<(statistics.width * statistics.height)).map { statistics.range($0) >= changeThreshold }
        return largestShape(changing, width: statistics.width, height: statistics.height, smallestShare: smallestShare)
    }

    /// The image area of a single one-channel frame `width` x `height` as a
    /// mask over it, or nil when no shape of content is large enough.
    public static func estimate(singleFrame pixels: [UInt8], width: Int, height: Int) -> [Bool]? {
        let mean = PixelMask.boxMean(pixels.map(Float.init), width: width, height: height, radius: 2)
        // Opened first, so that thin lines touching the image (scale ticks, a caliper, a dotted guide) do not stretch its hull.
        let content = PixelMask.dilate(
            PixelMask.erode(mean.map { $0 >= contentLevel }, width: width, height: height, radius: openingRadius), width: width,
            height: height, radius: openingRadius)
        return largestShape(content, width: width, height: height, smallestShare: smallestSingleFrameShare)
            .map { PixelMask.convexHull($0, width: width, height: height) }
    }

    /// `mask` closed (radius 2), its largest component with holes filled,
    /// or nil when that covers less than `smallestShare` of the frame.
    private static func largestShape(_ mask: [Bool], width: Int, height: Int, smallestShare: Double) -> [Bool]? {
        let closed = PixelMask.erode(
            PixelMask.dilate(mask, width: width, height: height, radius: 2), width: width, height: height, radius: 2)
        guard let largest = PixelMask.largestComponent(closed, width: width, height: height),
            Double(largest.filter { $0 }.count) >= smallestShare * Double(width * height)
        else { return nil }
        return PixelMask.fillingHoles(largest, width: width, height: height)
    }
}

/// Burned-in annotations of a cine: pixels that stand out brighter than
/// their surroundings (text, calipers, scale marks, drawn in light colours on
/// ultrasound screens) and stay steady over the frames while the tissue
/// moves, with the steady pixels next to them (outlines, anti-aliased edges).
///
/// Steady is relative: a pixel may move by the static tolerance or by a
/// quarter of its contrast, whichever is more. Coding noise makes a bright
/// glyph on black flicker by ten levels or more, while speckle as bright
/// decorrelates by far more from frame to frame.
public enum BurnedInAnnotations {
    /// The static tolerance in grey levels: the first under which enough of
    /// the image moves (a still probe's tissue moves by little more than noise).
    public static let staticTolerances = [6, 2, 0]
    /// Brighter than the mean of its 15 x 15 surroundings by this much.
    public static let contrast: Float = 32
    /// Steady and at least this bright: a solid overlay.
    public static let bright: Float = 192
    /// Below this share of moving pixels, a cine shows no motion to tell
    /// overlays from tissue by.
    public static let smallestMovingShare = 0.05
    /// Overlays cover a few percent of an image; a mask over this share
    /// means still tissue was taken for them.
    public static let largestMaskShare = 0.2

    public enum Detection: Equatable, Sendable {
        /// The annotation pixels (possibly none).
        case found([Bool])
        /// Too few frames, or too much of the tissue static: nothing masked.
        case notDetectable(String)
    }

    public static func detect(_ statistics: CineStatistics) -> Detection {
        guard statistics.frames >= 2 else { return .notDetectable("a single frame shows no motion") }
        let width = statistics.width, height = statistics.height, count = width * height
        let mean = statistics.mean
        let ranges = (0..<count).map(statistics.range)
        guard
            let tolerance = staticTolerances.first(where: { tolerance in
                Double(ranges.filter { $0 > tolerance }.count) >= smallestMovingShare * Double(count)
            })
        else {
            return .notDetectable("only \(percent(ranges.filter { $0 > 0 }.count, of: count)) of the image changes over the frames")
        }
        let surroundings = PixelMask.boxMean(mean, width: width, height: height, radius: 7)
        let standingOut = (0..<count).map { mean[$0] - surroundings[$0] }
        let steady = (0..<count).map { ranges[$0] <= max(tolerance, Int(standingOut[$0] / 4)) }
        var annotation = (0..<count).map { steady[$0] && (standingOut[$0] >= contrast || mean[$0] >= bright) }
        for _ in 0..<2 {
            let grown = PixelMask.dilate(annotation, width: width, height: height, radius: 1)
            annotation = (0..<count).map { grown[$0] && steady[$0] }
        }
        let masked = annotation.filter { $0 }.count
        if Double(masked) > largestMaskShare * Double(count) {
            return .notDetectable("\(percent(masked, of: count)) of the image would be masked: too much still tissue")
        }
        return .found(annotation)
    }

    private static func percent(_ part: Int, of whole: Int) -> String { "\(part * 100 / max(whole, 1))%" }
}

/// Fills masked pixels from their surroundings, ring by ring from the edge
/// of the mask inwards: each takes the mean of its neighbours known before
/// its ring. The order is worked out once per mask and reused for every frame.
public struct MaskFill: Sendable {
    /// Pixels in fill order, and for each the range of `neighbours` to average.
    private let pixels: [Int]
    private let neighbourEnds: [Int]
    private let neighbours: [Int]
    /// Masked pixels no unmasked pixel reaches (the whole frame masked): set to 0.
    private let unreachable: [Int]
    public var count: Int { pixels.count + unreachable.count }
    /// Every pixel it fills, in its image's row-major numbering.
    public var filledPixels: [Int] { pixels + unreachable }

    /// The rings come from one breadth-first pass outwards from the unmasked
    /// pixels, so the work grows with the mask's area, not with its area
    /// times its depth.
    public init(mask: [Bool], width: Int, height: Int) {
        // 0 for an unmasked pixel, k for a pixel of ring k, -1 for one not reached yet.
        var ring = mask.map { $0 ? -1 : 0 }
        var order = mask.indices.filter { mask[$0] && PixelMask.neighbours(of: $0, width: width, height: height).contains { !mask[$0] } }
        for pixel in order { ring[pixel] = 1 }
        var next = 0
        while next < order.count {
            let pixel = order[next]
            next += 1
            for neighbour in PixelMask.neighbours(of: pixel, width: width, height: height) where ring[neighbour] < 0 {
                ring[neighbour] = ring[pixel] + 1
                order.append(neighbour)
            }
        }
        var ends: [Int] = [], sources: [Int] = []
        ends.reserveCapacity(order.count)
        for pixel in order {
            sources += PixelMask.neighbours(of: pixel, width: width, height: height).filter { ring[$0] < ring[pixel] }
            ends.append(sources.count)
        }
        pixels = order
        neighbourEnds = ends
        neighbours = sources
        unreachable = mask.indices.filter { ring[$0] < 0 }
    }

    public func apply(to frame: inout [UInt8]) {
        var start = 0
        for (slot, pixel) in pixels.enumerated() {
            let end = neighbourEnds[slot]
            var sum = 0
            for source in neighbours[start..<end] { sum += Int(frame[source]) }
            frame[pixel] = UInt8((sum + (end - start) / 2) / (end - start))
            start = end
        }
        for pixel in unreachable { frame[pixel] = 0 }
    }
}

/// Binary image operations on row-major masks.
enum PixelMask {
    /// The 8 neighbours of `pixel` that lie on the frame.
    static func neighbours(of pixel: Int, width: Int, height: Int) -> [Int] {
        let x = pixel % width, y = pixel / width
        var out: [Int] = []
        for dy in -1...1 {
            for dx in -1...1 where (dx != 0 || dy != 0) && (0..<width).contains(x + dx) && (0..<height).contains(y + dy) {
                out.append((y + dy) * width + x + dx)
            }
        }
        return out
    }

    /// True where any pixel of the (2 radius + 1)-square around is true.
    static func dilate(_ mask: [Bool], width: Int, height: Int, radius: Int) -> [Bool] {
        let counts = boxSum(mask.map { $0 ? 1 : 0 }, width: width, height: height, radius: radius)
        return counts.map { $0 > 0 }
    }

    /// True where every pixel of the square around is true (outside the frame counts as true).
    static func erode(_ mask: [Bool], width: Int, height: Int, radius: Int) -> [Bool] {
        dilate(mask.map { !$0 }, width: width, height: height, radius: radius).map { !$0 }
    }

    /// The mean over the (2 radius + 1)-square around each pixel, clipped to the frame.
    static func boxMean(_ values: [Float], width: Int, height: Int, radius: Int) -> [Float] {
        let sums = boxSum(values.map(Double.init), width: width, height: height, radius: radius)
        let ones = boxSum([Double](repeating: 1, count: values.count), width: width, height: height, radius: radius)
        return zip(sums, ones).map { Float($0 / $1) }
    }

    /// Sums over the (2 radius + 1)-square around each pixel, clipped to the frame, from a summed-area table.
    static func boxSum<Value: Numeric>(_ values: [Value], width: Int, height: Int, radius: Int) -> [Value] {
        let stride = width + 1
        var table = [Value](repeating: 0, count: stride * (height + 1))
        for y in 0..<height {
            var row: Value = 0
            for x in 0..<width {
                row += values[y * width + x]
                table[(y + 1) * stride + x + 1] = table[y * stride + x + 1] + row
            }
        }
        var out = [Value](repeating: 0, count: width * height)
        for y in 0..<height {
            let top = max(0, y - radius), bottom = min(height, y + radius + 1)
            for x in 0..<width {
                let left = max(0, x - radius), right = min(width, x + radius + 1)
                out[y * width + x] =
                    table[bottom * stride + right] - table[top * stride + right] - table[bottom * stride + left]
                    + table[top * stride + left]
            }
        }
        return out
    }

    /// The largest 4-connected set of true pixels, or nil when there is none.
    static func largestComponent(_ mask: [Bool], width: Int, height: Int) -> [Bool]? {
        // One visited map for every flood: a speckled mask has thousands of components.
        var visited = [Bool](repeating: false, count: mask.count)
        var best: [Int] = []
        for start in mask.indices where mask[start] && !visited[start] {
            let component = flood(from: [start], width: width, height: height, visited: &visited) { mask[$0] }
            if component.count > best.count { best = component }
        }
        guard !best.isEmpty else { return nil }
        var out = [Bool](repeating: false, count: mask.count)
        for pixel in best { out[pixel] = true }
        return out
    }

    /// The pixels whose centres lie in the convex hull of the centres of
    /// `mask`'s true pixels (all false when it has none).
    static func convexHull(_ mask: [Bool], width: Int, height: Int) -> [Bool] {
        // Each row's outermost pixels carry the hull; Andrew's monotone chain on them.
        var points: [(x: Int, y: Int)] = []
        for y in 0..<height {
            let row = mask[(y * width)..<((y + 1) * width)]
            guard let first = row.firstIndex(of: true), let last = row.lastIndex(of: true) else { continue }
            points.append((first - y * width, y))
            if last != first { points.append((last - y * width, y)) }
        }
        points.sort { ($0.x, $0.y) < ($1.x, $1.y) }
        func cross(_ o: (x: Int, y: Int), _ a: (x: Int, y: Int), _ b: (x: Int, y: Int)) -> Int {
            (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
        }
        var hull: [(x: Int, y: Int)] = []
        for pass in [points, points.reversed()] {
            let start = hull.count
            for point in pass {
                while hull.count >= start + 2, cross(hull[hull.count - 2], hull[hull.count - 1], point) <= 0 { hull.removeLast() }
                hull.append(point)
            }
            hull.removeLast()
        }
        var out = [Bool](repeating: false, count: mask.count)
        guard let top = hull.map(\.y).min(), let bottom = hull.map(\.y).max() else { return out }
        for y in top...bottom {
            // The hull's extent along row y: where its edges cross the row (a level edge counts with both ends).
            var left = Double.infinity, right = -Double.infinity
            for (index, a) in hull.enumerated() {
                let b = hull[(index + 1) % hull.count]
                guard min(a.y, b.y) <= y, y <= max(a.y, b.y) else { continue }
                let xs = a.y == b.y ? [Double(a.x), Double(b.x)] : [Double(a.x) + Double(y - a.y) * Double(b.x - a.x) / Double(b.y - a.y)]
                left = min(left, xs.min()!)
                right = max(right, xs.max()!)
            }
            // A sliver between two pixel centres covers none of them.
            let from = Int(left.rounded(.up)), to = Int(right.rounded(.down))
            if from <= to { for x in from...to { out[y * width + x] = true } }
        }
        return out
    }

    /// `mask` with every false area that does not touch the frame's border set to true.
    static func fillingHoles(_ mask: [Bool], width: Int, height: Int) -> [Bool] {
        let border = mask.indices.filter { index in
            let x = index % width, y = index / width
            return !mask[index] && (x == 0 || y == 0 || x == width - 1 || y == height - 1)
        }
        var visited = [Bool](repeating: false, count: mask.count)
        var filled = [Bool](repeating: true, count: mask.count)
        for pixel in flood(from: border, width: width, height: height, visited: &visited, where: { !mask[$0] }) { filled[pixel] = false }
        return filled
    }

    /// The pixels 4-connected to `seeds` through pixels that satisfy
    /// `passable` and are not `visited` yet; marks them visited.
    private static func flood(
        from seeds: [Int], width: Int, height: Int, visited: inout [Bool], where passable: (Int) -> Bool
    ) -> [Int] {
        var stack = seeds.filter { !visited[$0] && passable($0) }, reached: [Int] = []
        for seed in stack { visited[seed] = true }
        while let pixel = stack.popLast() {
            reached.append(pixel)
            let x = pixel % width, y = pixel / width
            for (dx, dy) in [(-1, 0), (1, 0), (0, -1), (0, 1)] where (0..<width).contains(x + dx) && (0..<height).contains(y + dy) {
                let next = (y + dy) * width + x + dx
                if !visited[next], passable(next) {
                    visited[next] = true
                    stack.append(next)
                }
            }
        }
        return reached
    }
}
