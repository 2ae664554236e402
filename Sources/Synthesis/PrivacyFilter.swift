/// The export's privacy gate: a generated frame closer to some training
/// frame than `threshold` is a near-copy of a patient's image and is not
/// written (docs/evaluation.md).
public struct PrivacyFilter: Sendable {
    /// Distance (RMS on 0-to-1 intensities) below which a frame is withheld.
    public let threshold: Float
    public let trainingFrames: FrameMatrix

    public init(threshold: Float, trainingFrames: FrameMatrix) {
        self.threshold = threshold
        self.trainingFrames = trainingFrames
    }

    /// The default threshold: the closest two real frames of different series
    /// come (`FrameDistance.closestPairOfDistinctGroups`), over at most
    /// `sampleLimit` frames; nil when the real frames hold one series only.
    public static func derivedThreshold(realFrames: FrameMatrix, series: [Int], sampleLimit: Int = 2000) -> Float? {
        guard realFrames.count > sampleLimit else {
            return FrameDistance.closestPairOfDistinctGroups(realFrames, groups: series)
        }
        // Evenly spaced frames keep every series represented.
        let picked = (0..<sampleLimit).map { $0 * realFrames.count / sampleLimit }
        return FrameDistance.closestPairOfDistinctGroups(realFrames.rows(picked), groups: picked.map { series[$0] })
    }

    /// For each frame of `generated`: its distance to the nearest training frame.
    public func nearestTrainingDistances(_ generated: FrameMatrix) -> [Float] {
        FrameDistance.nearest(generated, in: trainingFrames).map(\.distance)
    }
}
