import Foundation
import Imaging
import ModelStore

/// `labels.json`: the labels of the frames a labelled model wrote, as a COCO
/// annotation file in the form `import` reads (docs/catalog.md): one image
/// per frame, naming a DICOM frame by `sop_instance_uid` and `frame_number`
/// (from 1), one category (the model's label set, with its keypoints and
/// skeleton), one annotation per frame with keypoints `[x, y, 2, ...]` in the
/// frame's pixels ((0, 0) the centre of the top-left pixel) or a mask as
/// uncompressed RLE. Importing the folder stores the frames and these labels
/// together. PNG and NumPy frames are named by `file_name` (and for
/// `frames.npy`, its frame number) instead.
struct LabelsFile: Encodable {
    struct Info: Encodable {
        var description: String
        var software = "medsynth \(SoftwareVersion.current)"
        var model: String
        var checkpointSha256: String
        var labelKind: String
        /// The lowest keypoint peak written (`LabelReading.minimumConfidence`); nil for masks.
        var minimumConfidence: Double?
    }
    struct Image: Encodable {
        var id: Int
        var fileName: String
        var width: Int
        var height: Int
        var sopInstanceUid: String?
        var frameNumber: Int
        /// The row of latents.npy that made the frame.
        var latentIndex: Int
    }
    struct Category: Encodable {
        var id = 1
        var name: String
        var supercategory = "medsynth"
        var keypoints: [String]
        var skeleton: [[Int]]
    }
    struct RunLengths: Encodable {
        /// [rows, columns], COCO's order.
        var size: [Int]
        var counts: [Int]
    }
    struct Annotation: Encodable {
        var id: Int
        var imageId: Int
        var categoryId = 1
        var iscrowd = 0
        var keypoints: [Double]?
        var numKeypoints: Int?
        /// Each keypoint's heatmap peak in [0, 1], in the keypoints' order.
        var keypointConfidences: [Double]?
        var segmentation: RunLengths?
        var area: Int?
    }

    var info: Info
    var images: [Image] = []
    var categories: [Category]
    var annotations: [Annotation] = []

    static let fileName = "labels.json"

    /// Where one written frame is: its file, its SOP Instance UID when DICOM, and its frame number there.
    typealias Location = (file: String, sopInstanceUid: String?, frameNumber: Int)

    /// The labels of every frame `result` wrote (`result.writtenLabels`, in
    /// the order of `writtenLatentIndices`), located by `format`'s files.
    init(model: TrainedModel, labels: LabelReading, format: OutputFormat, result: SynthesisResult) {
        let record = labels.record
        info = Info(
            description: "Labels drawn with their frames by the medsynth model \(model.name) (label set \(record.labelSet))",
            model: model.name, checkpointSha256: model.checkpointDigest, labelKind: record.kind.rawValue,
            minimumConfidence: record.kind == .keypoints ? labels.minimumConfidence : nil)
        categories = [Category(name: record.labelSet, keypoints: record.keypoints, skeleton: record.skeleton)]
        let locations = Self.locations(format: format, result: result)
        for (offset, (latentIndex, decoded)) in zip(result.writtenLatentIndices, result.writtenLabels).enumerated() {
            let location = locations[latentIndex]!
            images.append(
                Image(
                    id: offset + 1, fileName: location.file, width: labels.side, height: labels.side,
                    sopInstanceUid: location.sopInstanceUid, frameNumber: location.frameNumber, latentIndex: latentIndex))
            var annotation = Annotation(id: offset + 1, imageId: offset + 1)
            if let mask = decoded.annotation.mask {
                annotation.segmentation = RunLengths(size: [mask.rows, mask.columns], counts: mask.cocoCounts)
                annotation.area = mask.area
            } else {
                annotation.keypoints = decoded.annotation.keypoints.flatMap { [$0.x, $0.y, Double($0.visibility)] }
                annotation.numKeypoints = decoded.annotation.keypoints.count(where: \.isLabelled)
                annotation.keypointConfidences = decoded.confidences
            }
            annotations.append(annotation)
        }
    }

    /// Latent index -> where its frame was written.
    static func locations(format: OutputFormat, result: SynthesisResult) -> [Int: Location] {
        var locations: [Int: Location] = [:]
        switch format {
        case .dicom:
            for (file, instance) in zip(result.files, result.instances) {
                for (frame, latentIndex) in instance.latentIndices.enumerated() {
                    locations[latentIndex] = (file, instance.sopInstanceUid, frame + 1)
                }
            }
        case .png:
            for (file, latentIndex) in zip(result.files, result.writtenLatentIndices) { locations[latentIndex] = (file, nil, 1) }
        case .npy:
            for (frame, latentIndex) in result.writtenLatentIndices.enumerated() {
                locations[latentIndex] = (Synthesizer.framesFile, nil, frame + 1)
            }
        }
        return locations
    }

    /// Writes `labels.json` into `folder`.
    func write(to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = try encoder.encode(self)
        try OutputFolder.publish(folder.appendingPathComponent(Self.fileName).path) {
            try data.write(to: URL(fileURLWithPath: $0))
        }
    }
}
