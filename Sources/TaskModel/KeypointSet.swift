/// Square frames with their keypoints, as the task model learns and is
/// tested on them: each frame `side` x `side` values in 0...255 (row-major),
/// its K keypoints as (x, y) in pixels with (0, 0) the centre of the top-left
/// pixel, whether each is labelled, and the series it comes from (frames of
/// one series are drawn together by the bootstrap).
public struct KeypointSet: Sendable {
    public let side: Int
    public let keypointCount: Int
    public private(set) var images: [[Float]] = []
    public private(set) var keypoints: [[Float]] = []
    public private(set) var labelled: [[Bool]] = []
    public private(set) var series: [Int] = []

    public init(side: Int, keypointCount: Int) {
        self.side = side
        self.keypointCount = keypointCount
    }

    public var count: Int { images.count }

    /// Adds a frame: `image` side * side values, `keypoints` K * 2, `labelled` K.
    public mutating func append(image: [Float], keypoints: [Float], labelled: [Bool], series: Int) {
        precondition(
            image.count == side * side && keypoints.count == 2 * keypointCount && labelled.count == keypointCount,
            "a frame of the wrong size for this keypoint set")
        images.append(image)
        self.keypoints.append(keypoints)
        self.labelled.append(labelled)
        self.series.append(series)
    }

    /// The frames of both sets (same side and keypoints).
    public func adding(_ other: KeypointSet) -> KeypointSet {
        precondition(other.side == side && other.keypointCount == keypointCount, "joining keypoint sets of other shapes")
        var joined = self
        joined.images += other.images
        joined.keypoints += other.keypoints
        joined.labelled += other.labelled
        joined.series += other.series
        return joined
    }

    /// The same frames with other keypoints (pseudo-labels), all labelled.
    public func relabelled(_ keypoints: [[Float]]) -> KeypointSet {
        precondition(keypoints.count == count, "one set of keypoints per frame")
        var copy = self
        copy.keypoints = keypoints
        copy.labelled = Array(repeating: Array(repeating: true, count: keypointCount), count: count)
        return copy
    }
}
