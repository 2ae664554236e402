/// Square frames with their labels, as the task model learns and is tested
/// on them: each frame `side` x `side` values in 0...255 (row-major), its
/// target, and the series it comes from (frames of one series are drawn
/// together by the bootstrap). A keypoint target is K (x, y) pairs in pixels,
/// (0, 0) the centre of the top-left pixel, with whether each keypoint is
/// labelled; a mask target is `side` x `side` values, 1 inside the object
/// and 0 outside, every pixel labelled.
public struct TaskFrames: Sendable {
    public let side: Int
    /// What the targets are, as the task network's head predicts them.
    public let head: TaskNetwork.Head
    public private(set) var images: [[Float]] = []
    public private(set) var targets: [[Float]] = []
    /// Per frame, whether each keypoint is labelled; empty for masks.
    public private(set) var labelled: [[Bool]] = []
    public private(set) var series: [Int] = []

    public init(side: Int, head: TaskNetwork.Head) {
        self.side = side
        self.head = head
    }

    public var count: Int { images.count }

    /// K for keypoints, 0 for a mask.
    public var keypointCount: Int {
        if case .keypoints(let count) = head { return count }
        return 0
    }

    /// Values in one frame's target: 2K for keypoints, side * side for a mask.
    public var targetCount: Int { head == .mask ? side * side : 2 * keypointCount }

    /// Adds a frame: `image` side * side values, `target` `targetCount`, `labelled` K (none for a mask).
    public mutating func append(image: [Float], target: [Float], labelled: [Bool], series: Int) {
        precondition(
            image.count == side * side && target.count == targetCount && labelled.count == keypointCount,
            "a frame of the wrong size for these task frames")
        images.append(image)
        targets.append(target)
        self.labelled.append(labelled)
        self.series.append(series)
    }

    /// The frames of both sets (same side and head).
    public func adding(_ other: TaskFrames) -> TaskFrames {
        precondition(other.side == side && other.head == head, "joining task frames of other shapes")
        var joined = self
        joined.images += other.images
        joined.targets += other.targets
        joined.labelled += other.labelled
        joined.series += other.series
        return joined
    }

    /// The same frames with other targets (pseudo-labels), every keypoint labelled.
    public func relabelled(_ targets: [[Float]]) -> TaskFrames {
        precondition(targets.count == count, "one target per frame")
        var copy = self
        copy.targets = targets
        copy.labelled = Array(repeating: Array(repeating: true, count: keypointCount), count: count)
        return copy
    }
}
