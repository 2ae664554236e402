import Foundation
import ModelStore

/// `synthesis.json`: the run's provenance beside its files, so that a
/// folder copied out of the workbench still says what made it.
struct Manifest: Encodable {
    struct Model: Encodable {
        var name: String
        var registryId: Int64?
        var folder: String
        var preset: String
        var modality: String
        var step: Int?
        var checkpointSha256: String
    }
    /// A labelled model's labels: where they went and which frames were withheld for them.
    struct Labels: Encodable {
        var kind: String
        var labelSet: String
        /// `labels.json`; absent when no frame was written.
        var file: String?
        /// The DICOM objects holding the labels of the DICOM frames (`synthetic-NNNNNN-seg.dcm` or `-sr.dcm`).
        var dicomObjects: [String]
        /// The lowest keypoint peak written; absent for masks.
        var minimumConfidence: Double?
        /// Frames withheld because their labels were doubtful, by latent index.
        var withheldLatentIndices: [Int]
        /// How many for each reason (`faint_keypoint`, `keypoint_off_frame`, `empty_mask`).
        var withheldFor: [String: Int]
    }
    struct File: Encodable {
        var file: String
        var sopInstanceUid: String?
        var latentIndices: [Int]
    }
    var software = "medsynth \(SoftwareVersion.current)"
    var createdAt: String
    var model: Model
    /// Decimal text: seeds reach 2^64, beyond what JSON readers keep exactly.
    var seed: String?
    var latentsFrom: String?
    var latentsFromSha256: String?
    var latentsFile = Synthesizer.latentsFile
    var format: String
    var framesRequested: Int
    var framesGenerated: Int
    var framesWritten: Int
    var stopped: Bool
    /// The copy radius of the privacy filter; absent when no filter ran.
    var privacyRadius: Float?
    var drawLimit: Int
    var withheldLatentIndices: [Int]
    var labels: Labels?
    var studyInstanceUid: String?
    var seriesInstanceUid: String?
    var catalogSynthesisId: Int64?
    var files: [File]

    init(model: TrainedModel, series: SyntheticSeries, request: SynthesisRequest, result: SynthesisResult) {
        createdAt = series.createdAt.formatted(.iso8601)
        self.model = Model(
            name: model.name, registryId: model.record?.id, folder: model.folder.path, preset: model.description.preset,
            modality: model.modality, step: model.description.step, checkpointSha256: model.checkpointDigest)
        switch series.latentSource {
        case .seed(let value): seed = String(value)
        case .file(let path, let sha256): (latentsFrom, latentsFromSha256) = (path, sha256)
        }
        format = request.format.rawValue
        framesRequested = result.framesRequested
        framesGenerated = result.framesGenerated
        framesWritten = result.framesWritten
        privacyRadius = result.privacyRadius
        drawLimit = result.drawLimit
        withheldLatentIndices = result.withheldLatentIndices
        labels = model.description.labels.map { record in
            Labels(
                kind: record.kind.rawValue, labelSet: record.labelSet, file: result.labelsFile, dicomObjects: result.labelObjects,
                minimumConfidence: result.keypointConfidenceFloor,
                withheldLatentIndices: result.doubtfulLabels.map(\.latentIndex),
                withheldFor: Dictionary(result.doubtfulLabels.map { ($0.doubt.rawValue, 1) }, uniquingKeysWith: +))
        }
        stopped = result.stopped
        let dicom = request.format == .dicom
        studyInstanceUid = dicom ? series.studyInstanceUID : nil
        seriesInstanceUid = dicom ? series.seriesInstanceUID : nil
        catalogSynthesisId = result.synthesis?.id
        switch request.format {
        case .dicom:
            files = result.instances.enumerated().map {
                File(
                    file: result.files[$0.offset], sopInstanceUid: $0.element.sopInstanceUid,
                    latentIndices: $0.element.latentIndices)
            }
        case .png:
            files = zip(result.files, result.writtenLatentIndices).map { File(file: $0, latentIndices: [$1]) }
        case .npy:
            files = result.files.map { File(file: $0, latentIndices: result.writtenLatentIndices) }
        }
    }

    /// Writes `synthesis.json` into `folder`.
    func write(to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = try encoder.encode(self)
        try OutputFolder.publish(folder.appendingPathComponent(Synthesizer.manifestFile).path) {
            try data.write(to: URL(fileURLWithPath: $0))
        }
    }
}
