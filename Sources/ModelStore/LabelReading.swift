import Imaging

/// Reads the labels a labelled model (`train --labels`) draws after each
/// frame and says whether they can be trusted: keypoints by a soft-argmax
/// around their heatmaps' peaks, with the peak's height as confidence, a mask
/// as its plane above 0 (`LabelChannels.decode`). A frame whose labels are
/// doubtful is withheld and another latent drawn, as for a copy, so that
/// every frame written is a labelled training example.
public struct LabelReading: Sendable {
    /// The lowest peak a keypoint's heatmap may have (a rendered keypoint's
    /// peak is 1, a flat heatmap's 0): about the height of a Gaussian at
    /// 1.2 sigma, well below what a trained model draws on most frames
    /// (docs/training.md, "Labels out").
    public static let defaultMinimumConfidence = 0.5

    /// Why a frame's labels are not trusted.
    public enum Doubt: String, CaseIterable, Codable, Sendable {
        /// A keypoint's heatmap peaks below the minimum confidence.
        case faintKeypoint = "faint_keypoint"
        /// A keypoint's soft-argmax falls outside the frame.
        case keypointOffFrame = "keypoint_off_frame"
        /// The mask plane has no pixel above 0: every training frame had a mask.
        case emptyMask = "empty_mask"

        /// For a person: "a keypoint's peak below 0.50".
        public func describe(minimumConfidence: Double) -> String {
            switch self {
            case .faintKeypoint: "a keypoint's peak below \(String(format: "%.2f", minimumConfidence))"
            case .keypointOffFrame: "a keypoint off the frame"
            case .emptyMask: "an empty mask"
            }
        }
    }

    public enum Outcome: Sendable {
        case confident(LabelChannels.Decoded)
        case doubtful(Doubt)
    }

    public let record: LabelRecord
    public let side: Int
    public let minimumConfidence: Double

    /// `minimumConfidence` nil: `defaultMinimumConfidence`.
    public init(record: LabelRecord, side: Int, minimumConfidence: Double? = nil) {
        (self.record, self.side) = (record, side)
        self.minimumConfidence = minimumConfidence ?? Self.defaultMinimumConfidence
    }

    /// The labels of one generated frame: `frame` holds all its channels
    /// ([1 + label channels, side, side]), the image first.
    public func read(_ frame: ArraySlice<Float>) -> Outcome {
        let plane = side * side
        var decoded = record.channels.decode(frame.dropFirst(plane), side: side, label: record.labelSet)
        decoded.annotation.skeleton = record.skeleton
        switch record.kind {
        case .keypoints:
            if decoded.confidences.contains(where: { $0 < minimumConfidence }) { return .doubtful(.faintKeypoint) }
            if decoded.annotation.keypoints.contains(where: { !$0.isLabelled }) { return .doubtful(.keypointOffFrame) }
        case .masks:
            if decoded.annotation.mask?.area ?? 0 == 0 { return .doubtful(.emptyMask) }
        }
        return .confident(decoded)
    }
}
