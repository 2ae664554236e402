import Catalog
import Training

/// The export's privacy gate: a generated frame at or below `threshold` from
/// some training frame is a near-copy of a patient's image and is not
/// written (docs/evaluation.md).
public struct PrivacyFilter: Sendable {
    /// Distance (RMS on 0-to-1 intensities) below which a frame is withheld.
    public let threshold: Float
    public let trainingFrames: FrameMatrix

    public init(threshold: Float, trainingFrames: FrameMatrix) {
        self.threshold = threshold
        self.trainingFrames = trainingFrames
    }

    /// The smallest threshold derived: about 2.5 grey levels, so that one
    /// image stored in two series (distance 0) does not switch the filter off.
    public static let minimumThreshold: Float = 0.01

    /// The default threshold: how close the closest two real frames of
    /// different series come (`FrameDistance.closestPairOfDistinctGroups`,
    /// over at most `sampleLimit` evenly spaced frames), at least
    /// `minimumThreshold`; nil when the real frames hold one series only.
    public static func derivedThreshold(realFrames: FrameMatrix, series: [Int], sampleLimit: Int = 2000) -> Float? {
        let closest: Float?
        if realFrames.count > sampleLimit {
            let picked = (0..<sampleLimit).map { $0 * realFrames.count / sampleLimit }
            closest = FrameDistance.closestPairOfDistinctGroups(realFrames.rows(picked), groups: picked.map { series[$0] })
        } else {
            closest = FrameDistance.closestPairOfDistinctGroups(realFrames, groups: series)
        }
        return closest.map { max($0, minimumThreshold) }
    }

    /// For each frame of `generated`: its distance to the nearest training frame.
    public func nearestTrainingDistances(_ generated: FrameMatrix) -> [Float] {
        FrameDistance.nearest(generated, in: trainingFrames).map(\.distance)
    }

    /// Whether a frame at `distance` from the nearest training frame is withheld.
    public func withholds(distance: Float) -> Bool { distance <= threshold }
}

/// The real frames of a registered model, in data set order, as the
/// evaluation and the privacy filter compare generated frames with them.
public struct ModelFrameSets: Sendable {
    public let side: Int
    public let all: FrameMatrix
    /// The series of each frame of `all`, numbered from 0.
    public let series: [Int]
    public let trainingIndices: [Int]
    public let validationIndices: [Int]
    public let training: FrameMatrix
    public let validation: FrameMatrix

    /// Loads (from the frame cache when present) the frames the model's
    /// lineage names, checked against its training-set digest.
    public static func load(_ model: SynthesisModel, record: ModelRecord, catalog: Catalog) throws -> ModelFrameSets {
        let (dataset, split) = try ModelTrainer.frames(of: record, description: model.description, catalog: catalog)
        let all = FrameMatrix(pixels: dataset.resolution * dataset.resolution, values: dataset.values)
        let (training, validation) = split.frames(of: dataset)
        return ModelFrameSets(side: dataset.resolution, all: all, series: dataset.frameSeriesNumbers, trainingIndices: training,
                              validationIndices: validation, training: all.rows(training), validation: all.rows(validation))
    }

    /// The default near-copy threshold of these frames (`PrivacyFilter.derivedThreshold`).
    public var nearCopyThreshold: Float? { PrivacyFilter.derivedThreshold(realFrames: all, series: series) }
}
