import Catalog
import DICOM
import Imaging

/// The label channels of a data set's frames, for a model that draws each
/// frame with its labels (`LabelChannels`): for every frame with an
/// annotation of the label set, that annotation carried to the training
/// image as the frame was (`FramePlan.trainingImageAnnotation`, with the
/// instance's recorded region and fit, so no frame is decoded again),
/// rendered when a batch needs it (so a data set's labels take the memory of
/// their points and masks, not of their planes). A frame with several
/// objects of the label set gives the keypoints of its first, or the union
/// of their masks (as `LabelledFrames`).
public struct FrameLabels: Sendable {
    public let channels: LabelChannels
    public let labelSet: LabelSetRecord
    public let side: Int
    /// Each frame's annotation on the training image, by the data set's
    /// frame index; nil for a frame without labels.
    public let prepared: [FrameAnnotation?]
    /// Instances whose labels could not be placed, each naming the file and the reason.
    public let failures: [String]

    /// The data set's frames with labels, in data set order.
    public var labelledFrames: [Int] { prepared.indices.filter { prepared[$0] != nil } }

    /// Frame `frame`'s channels ([channels.count, side, side]); nil for a frame without labels.
    public func planes(of frame: Int) -> [Float]? { prepared[frame].map { channels.render($0, side: side) } }

    /// The SHA-256 of what the labels are: the label set's name and keypoint
    /// names, the channels' kind and width, and every labelled frame's
    /// prepared points (their bits) or mask. Computed values of the
    /// rendering (exp) are left out, so the digest is the same on every machine.
    public var digest: String {
        var bytes = Array("medsynth labels\0\(channels.kind.rawValue)\0\(labelSet.name)\0".utf8)
        for name in channels.keypointNames { bytes += Array(name.utf8) + [0] }
        withUnsafeBytes(of: channels.sigma.bitPattern.littleEndian) { bytes += $0 }
        for (frame, annotation) in prepared.enumerated() {
            guard let annotation else { continue }
            withUnsafeBytes(of: UInt64(frame).littleEndian) { bytes += $0 }
            for point in annotation.keypoints {
                withUnsafeBytes(of: point.x.bitPattern.littleEndian) { bytes += $0 }
                withUnsafeBytes(of: point.y.bitPattern.littleEndian) { bytes += $0 }
                bytes.append(UInt8(clamping: point.visibility))
            }
            if let mask = annotation.mask { bytes += mask.pixels }
        }
        return FileDigest.sha256(bytes: bytes)
    }

    /// The labels of `labelSet` on `dataset`'s frames (`annotations` read for its instances).
    public static func load(
        _ dataset: FrameDataset, annotations: LabelledFrames.Annotations, labelSet: LabelSetRecord, channels: LabelChannels,
        catalog: Catalog
    ) -> FrameLabels {
        let side = dataset.resolution, framesPerInstance = dataset.framesPerInstance
        var prepared = [FrameAnnotation?](repeating: nil, count: dataset.count), failures: [String] = []
        var firstFrame = 0
        for (index, candidate) in dataset.instances.enumerated() {
            defer { firstFrame += framesPerInstance[index] }
            let labelled = annotations.of(candidate, labelSet: labelSet, carrying: channels.kind)
            guard !labelled.isEmpty, framesPerInstance[index] > 0 else { continue }
            let path = catalog.storage.absolutePath(relative: candidate.storedPath)
            // The data set keeps the decoded frames only: with one missing, frame numbers no longer say which is which.
            guard framesPerInstance[index] == candidate.frames else {
                failures.append("labels left out: \(candidate.frames - framesPerInstance[index]) frames did not decode: \(path)")
                continue
            }
            guard let record = dataset.preparations[index], let rectangle = PixelRectangle(record.rectangle) else {
                failures.append("labels left out: no recorded preparation: \(path)")
                continue
            }
            let plan = FramePlan(rectangle: rectangle, fit: dataset.preprocessing.fit)
            for (frameNumber, objects) in LabelledFrames.byFrame(labelled) where (1...candidate.frames).contains(frameNumber) {
                let annotation = FrameAnnotation(
                    label: labelSet.name,
                    keypoints: FrameAnnotation.keypoints(flat: objects[0].keypointValues ?? [], names: labelSet.keypoints), skeleton: [],
                    mask: channels.kind == .masks ? LabelledFrames.union(objects.compactMap(\.labelMask)) : nil)
                var onTrainingImage = plan.trainingImageAnnotation(annotation, side: side)
                if channels.kind == .keypoints { onTrainingImage.mask = nil } else { onTrainingImage.keypoints = [] }
                prepared[firstFrame + frameNumber - 1] = onTrainingImage
            }
        }
        return FrameLabels(channels: channels, labelSet: labelSet, side: side, prepared: prepared, failures: failures)
    }
}
