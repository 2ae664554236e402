import Catalog
import DICOM
import Engine
import Foundation
import Frames
import Imaging

/// A registered model's real frames: the data set its lineage names, in
/// data set order, and its training/validation split, checked against the
/// training-set digest of its `model.json`.
public struct ModelFrames: Sendable {
    public let dataset: FrameDataset
    public let split: ValidationSplit
    /// The label channels of the frames, for a model that draws its frames with labels.
    public let labels: FrameLabels?

    public init(dataset: FrameDataset, split: ValidationSplit, labels: FrameLabels? = nil) {
        self.dataset = dataset
        self.split = split
        self.labels = labels
    }

    /// The frames a model trains on: the training side of the split, and of
    /// a labelled model's only those with labels.
    public var trainingFrames: [Int] {
        let training = split.frames(of: dataset).training
        guard let labels else { return training }
        return training.filter { labels.prepared[$0] != nil }
    }

    /// The frames at `indices` as a batch [indices.count, 1 + label channels, R, R], into `batch`.
    public func batch(_ indices: [Int], into batch: inout Tensor?) -> Tensor {
        guard let labels else { return dataset.batch(indices, into: &batch) }
        let plane = dataset.resolution * dataset.resolution, channels = 1 + labels.channels.count
        let tensor = reuseTensor(&batch, [indices.count, channels, dataset.resolution, dataset.resolution])
        for (slot, frame) in indices.enumerated() {
            let target = tensor.data + slot * channels * plane
            dataset.values.withUnsafeBufferPointer { target.update(from: $0.baseAddress! + frame * plane, count: plane) }
            guard let planes = labels.planes(of: frame) else { preconditionFailure("frame \(frame) has no labels to train with") }
            planes.withUnsafeBufferPointer { (target + plane).update(from: $0.baseAddress!, count: planes.count) }
        }
        return tensor
    }

    /// Loads (from the frame cache when present) the frames of `model`'s
    /// lineage; `withLabels`, a labelled model's labels too (checked against
    /// its labels digest), as training needs them. Without, nothing depends on
    /// the catalog's annotations.
    public static func load(
        _ model: ModelRecord, description: ModelDescription, catalog: Catalog, withLabels: Bool = false,
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws -> ModelFrames {
        let modelFile = catalog.folder(of: model).appendingPathComponent(CheckpointFolder.modelFile).path
        guard let training = description.training else {
            throw ModelError.modelFiles("model.json lacks the training record medsynth writes", path: modelFile)
        }
        let lineage = try catalog.lineage(modelId: model.id!)
        let dataset = try FrameDataset.load(
            lineage.map(\.candidate),
            preprocessing: FramePreprocessing(resolution: description.resolution, recorded: training.trainingSet.preparation),
            catalog: catalog, progress: progress)
        let split = ValidationSplit(grouping: training.trainingSet.validationGroupedBy, heldOut: lineage.map { $0.role == .validation })
        guard TrainingSetSummary(dataset: dataset, split: split).digest == training.trainingSet.digest else {
            throw ModelError.modelFiles(
                "the model's training frames no longer match its training-set digest", path: catalog.folder(of: model).path)
        }
        guard withLabels, let record = description.labels else { return ModelFrames(dataset: dataset, split: split) }
        let annotations = try LabelledFrames.Annotations(of: dataset.instances, catalog: catalog)
        let labelSet: LabelSetRecord
        do {
            labelSet = try annotations.chooseLabelSet(requested: record.labelSet, carrying: record.kind)
        } catch {
            throw ModelError.modelFiles("the model's label set \(record.labelSet) is gone from its frames (\(error))", path: modelFile)
        }
        let labels = FrameLabels.load(dataset, annotations: annotations, labelSet: labelSet, channels: record.channels, catalog: catalog)
        guard labels.digest == training.trainingSet.labelsDigest else {
            throw ModelError.modelFiles(
                "the labels of label set \(record.labelSet) on the model's frames changed in the catalog since it trained "
                    + "(its labels digest no longer matches)", path: modelFile)
        }
        return ModelFrames(dataset: dataset, split: split, labels: labels)
    }
}

extension TrainingSetSummary {
    /// The digest and counts `model.json` records of a data set and its split
    /// (no identifiers). From version 2 of the preparation the digest covers
    /// each instance's region and annotation count too, from version 3 its
    /// blanked screen. With `labels`, the frames that train are the labelled
    /// ones, and `labelsDigest` is theirs.
    public init(dataset: FrameDataset, split: ValidationSplit, labels: FrameLabels? = nil) {
        var text = dataset.preprocessing.summary + "\n"
        let framesPerInstance = dataset.framesPerInstance
        for (index, instance) in dataset.instances.enumerated() where framesPerInstance[index] > 0 {
            let role: LineageRole = split.heldOut[index] ? .validation : .training
            text += "\(instance.sopInstanceUid) \(instance.sha256) \(role.rawValue)"
            // What the preparation did, so that frames prepared differently never pass for the same set.
            if !dataset.preprocessing.isVersion1, let record = dataset.preparations[index] {
                text += " \(record.source.rawValue) \(record.rectangle) \(record.annotationPixels.map(String.init) ?? "-")"
                if dataset.preprocessing.version >= 3 { text += " \(record.screenPixels.map(String.init) ?? "-")" }
            }
            text += "\n"
        }
        let sides = split.frames(of: dataset)
        let used = dataset.instances.indices.filter { framesPerInstance[$0] > 0 }
        self.init(
            digest: FileDigest.sha256(bytes: Array(text.utf8)), preprocessing: dataset.preprocessing.summary,
            trainingFrames: ModelFrames(dataset: dataset, split: split, labels: labels).trainingFrames.count,
            trainingInstances: used.filter { !split.heldOut[$0] }.count,
            validationGroupedBy: split.grouping, validationGroups: split.groups(of: dataset, heldOut: true),
            validationFrames: sides.validation.count, validationInstances: used.filter { split.heldOut[$0] }.count,
            preparation: PreparationSummary(dataset: dataset))
        labelsDigest = labels?.digest
    }
}

/// A registered model's real frames as matrices, as the evaluation and the
/// export's privacy gate compare generated frames with them.
public struct ModelFrameSets: Sendable {
    public let side: Int
    public let all: FrameMatrix
    /// The series of each frame of `all`, numbered from 0.
    public let series: [Int]
    /// The Patient ID of each frame of `all`, nil when the instance names none.
    public let patients: [String?]
    public let trainingIndices: [Int]
    public let validationIndices: [Int]
    public let training: FrameMatrix
    public let validation: FrameMatrix

    /// The frames of `model`'s lineage (`ModelFrames`).
    public static func load(_ model: TrainedModel, record: ModelRecord, catalog: Catalog) throws -> ModelFrameSets {
        ModelFrameSets(try ModelFrames.load(record, description: model.description, catalog: catalog))
    }

    public init(_ frames: ModelFrames) {
        let dataset = frames.dataset
        let all = FrameMatrix(pixels: dataset.resolution * dataset.resolution, values: dataset.values)
        (trainingIndices, validationIndices) = frames.split.frames(of: dataset)
        side = dataset.resolution
        self.all = all
        series = dataset.frameSeriesNumbers
        patients = dataset.frameInstance.map { dataset.instances[$0].patientId.isEmpty ? nil : dataset.instances[$0].patientId }
        training = all.rows(trainingIndices)
        validation = all.rows(validationIndices)
    }

    /// The copy detector over the training frames. The validation frames
    /// stay out of it, so that how often it flags them is an honest false
    /// positive rate.
    public func copyDetector(radius: Float = CopyDetector.defaultRadius) -> CopyDetector {
        CopyDetector(
            training: training, series: trainingIndices.map { series[$0] }, patients: trainingIndices.map { patients[$0] },
            radius: radius)
    }
}
