import Catalog
import Engine
import Foundation
import Frames
import ModelStore
import TaskModel

/// How `evaluate --utility` runs (docs/evaluation.md, "Utility").
public struct UtilityOptions: Sendable {
    /// Labelled training series the arms draw (nil: every one).
    public var trainSeries: Int?
    /// The label set whose keypoints or masks the task model learns (nil: the only one).
    public var labelSet: String?
    /// The model's frames generated for the synthetic arms.
    public var count: Int
    /// Seeds the generated latents and the draw of training series.
    public var seed: UInt64
    /// Task models per arm (seeds 1...taskSeeds).
    public var taskSeeds: Int
    public var plan: TaskTrainingPlan
    /// A keypoint model's lowest heatmap peak for its frame to serve with
    /// its own labels; nil: `LabelReading.defaultMinimumConfidence`, as `synthesize`.
    public var minimumLabelConfidence: Double?

    public init(
        trainSeries: Int? = nil, labelSet: String? = nil, count: Int = 256, seed: UInt64 = 1, taskSeeds: Int = 3,
        plan: TaskTrainingPlan = TaskTrainingPlan()
    ) {
        self.trainSeries = trainSeries
        self.labelSet = labelSet
        self.count = count
        self.seed = seed
        self.taskSeeds = taskSeeds
        self.plan = plan
    }
}

/// What `evaluate --utility` measured, as `--json` prints it.
public struct UtilityResult: Codable, Sendable {
    public var model: String
    public var modelId: Int64
    public var checkpointSha256: String
    public var generatedFrames: Int
    public var seed: UInt64
    public var labelSet: String
    /// The label set's keypoint names; none when the task is its masks.
    public var keypoints: [String]
    /// Labelled series the arms trained on, of how many the model's training instances hold.
    public var trainingSeries: Int
    public var availableTrainingSeries: Int
    public var utility: UtilityFigures
    public var warnings: [String]
    public var seconds: Double
    public var createdAt: String
    public var evaluationId: Int64?
    /// The folder of `index.html`, `errors.png` and `sheet.png`, when a report was written.
    public var reportFolder: String?
}

/// Why the utility measure cannot run on a model.
public enum UtilityError: Error, CustomStringConvertible, Sendable {
    case noLabelledSeries(role: LineageRole, model: String, labelSet: String)
    case tooFewSeries(requested: Int, available: Int)

    public var description: String {
        switch self {
        case .noLabelledSeries(let role, let model, let labelSet):
            "none of the \(role == .validation ? "held-out" : role.rawValue) series of model \(model) has annotations of label set \(labelSet): "
                + "the utility measure trains on labelled training series and tests on labelled held-out ones (import labels for them: docs/catalog.md)"
        case .tooFewSeries(let requested, let available):
            "--train-series \(requested): the model's training instances hold \(available) labelled series"
        }
    }
}

/// `evaluate --utility`: the utility measure on a registered model.
public enum UtilityEvaluation {
    /// Runs the utility measure on `model`: its labelled held-out series are
    /// the test set, `--train-series` of its labelled training series (drawn
    /// with `seed`) the real frames, `count` generated frames the synthetic
    /// ones. Stores the figures with the model unless the catalog is read-only.
    public static func evaluate(
        model: TrainedModel, catalog: Catalog, options: UtilityOptions, reportFolder: URL? = nil, progress: (String) -> Void = { _ in }
    ) throws -> UtilityResult {
        guard let record = model.record, let modelID = record.id else { throw EvaluationError.notRegistered(model.folder.path) }
        guard model.makesGrayscaleFrames else {
            throw EvaluationError.notGrayscale(model.generator.configuration.channels)
        }
        if let reportFolder { try EvaluationReport.prepare(folder: reportFolder) }
        let started = Date()
        progress("loading the model's labelled frames")
        let (training, test, available, labelSet) = try realFrames(model, record: record, catalog: catalog, options: options)
        progress("generating \(options.count) frames")
        var warnings: [String] = []
        let reading = ownLabelReading(model, for: training, minimumConfidence: options.minimumLabelConfidence)
        let extra = try generatedFrames(
            model, count: options.count, seed: options.seed, head: training.set.head, reading: reading, warnings: &warnings)
        let request = UtilityRequest(
            training: training.set, test: test.set, extra: extra, extraLabelled: reading != nil, plan: options.plan,
            seeds: (1...UInt64(max(1, options.taskSeeds))).map { $0 })
        let (figures, predictions) = UtilityMeasure.runKeepingPredictions(request) { arm, seed in
            progress("task model trained: \(arm.rawValue), seed \(seed)")
        }
        if options.minimumLabelConfidence != nil, reading?.record.kind != .keypoints {
            warnings.append("--label-confidence applies to a keypoint model's own labels; these frames have none, so it was not used")
        }
        if let labels = model.description.labels, reading == nil {
            warnings.append(
                "the model draws \(labels.kind.rawValue) of \(labels.labelSet), not what the task learns (\(training.set.head == .mask ? "masks" : "keypoints") of \(labelSet.name)): its frames are pseudo-labelled"
            )
        }
        if figures.testSeries < 10 {
            warnings.append(
                "only \(figures.testSeries) labelled held-out series: the intervals are wide and verdicts rare; "
                    + "hold out more labelled series with train --validation-fraction")
        }
        var result = UtilityResult(
            model: record.name, modelId: modelID, checkpointSha256: model.checkpointDigest, generatedFrames: extra.count,
            seed: options.seed, labelSet: labelSet.name, keypoints: labelSet.keypoints, trainingSeries: training.seriesUIDs.count,
            availableTrainingSeries: available, utility: figures, warnings: warnings, seconds: Date().timeIntervalSince(started),
            createdAt: Date().formatted(.iso8601))
        if let reportFolder {
            progress("writing the report")
            try UtilityReport.write(result, test: test.set, predictions: predictions, to: reportFolder)
            result.reportFolder = reportFolder.path
        }
        guard !catalog.isReadOnly else {
            result.warnings.append("the catalog is read-only: these figures are printed, not stored in the registry")
            return result
        }
        let stored = try catalog.recordEvaluation(
            EvaluationRecord(
                modelId: modelID, checkpointDigest: model.checkpointDigest, generatedFrames: extra.count, seed: options.seed,
                figures: String(decoding: try result.json(), as: UTF8.self), reportFolder: reportFolder?.path,
                createdAt: result.createdAt))
        result.evaluationId = stored.id
        return result
    }

    /// The labelled frames of the model's training series (`trainSeries` of
    /// them drawn) and of its held-out series, with the number of labelled
    /// training series and the label set.
    private static func realFrames(
        _ model: TrainedModel, record: ModelRecord, catalog: Catalog, options: UtilityOptions
    ) throws -> (training: LabelledFrames, test: LabelledFrames, available: Int, labelSet: LabelSetRecord) {
        guard let trainingRecord = model.description.training, let modelID = record.id else {
            throw ModelError.modelFiles("model.json lacks the training record medsynth writes", path: model.folder.path)
        }
        let preprocessing = FramePreprocessing(
            resolution: model.description.resolution, recorded: trainingRecord.trainingSet.preparation)
        let lineage = try catalog.lineage(modelId: modelID)
        let trainingCandidates = lineage.filter { $0.role == .training }.map(\.candidate)
        let heldOut = lineage.filter { $0.role == .validation }.map(\.candidate)
        let annotations = try LabelledFrames.Annotations(of: trainingCandidates + heldOut, catalog: catalog)
        let labelSet = try annotations.chooseLabelSet(requested: options.labelSet)
        let test = try LabelledFrames.load(
            heldOut, annotations: annotations, labelSet: labelSet, preprocessing: preprocessing, catalog: catalog, firstSeries: 1_000_000)
        guard test.set.count > 0 else {
            throw UtilityError.noLabelledSeries(role: .validation, model: record.name, labelSet: labelSet.name)
        }
        // The labelled training series, in lineage order; only the drawn ones are decoded.
        let labelledSeries = annotations.labelledSeries(trainingCandidates, labelSet: labelSet)
        guard !labelledSeries.isEmpty else {
            throw UtilityError.noLabelledSeries(role: .training, model: record.name, labelSet: labelSet.name)
        }
        if let requested = options.trainSeries, requested > labelledSeries.count {
            throw UtilityError.tooFewSeries(requested: requested, available: labelledSeries.count)
        }
        var random = EngineRandom(seed: options.seed)
        let chosen = Set(options.trainSeries.map { random.shuffled(labelledSeries).prefix($0) } ?? labelledSeries[...])
        let training = try LabelledFrames.load(
            trainingCandidates.filter { chosen.contains($0.seriesInstanceUid) }, annotations: annotations, labelSet: labelSet,
            preprocessing: preprocessing, catalog: catalog)
        return (training, test, labelledSeries.count, labelSet)
    }

    /// How to read the model's own labels as the task's targets, when it
    /// draws labels of the task's label set and kind (its keypoints in the
    /// same order, or masks for a mask task); nil otherwise.
    private static func ownLabelReading(_ model: TrainedModel, for real: LabelledFrames, minimumConfidence: Double?) -> LabelReading? {
        guard let labels = model.description.labels, labels.labelSet == real.labelSet else { return nil }
        let fits = real.set.head == .mask ? labels.kind == .masks : labels.kind == .keypoints && labels.keypoints == real.keypointNames
        return fits
            ? LabelReading(record: labels, side: model.generator.configuration.resolution, minimumConfidence: minimumConfidence) : nil
    }

    /// `count` frames of the model from seeded latents (rows 0, 1, ...), in
    /// 0...255, each its own series. With `reading` (a model whose labels are
    /// the task's), each frame comes with the labels it drew as targets, and
    /// frames whose labels are doubtful are left out and further latents
    /// drawn, as `synthesize` does, up to its draw limit; fewer frames than
    /// `count` come with a warning. Without, the frames go unlabelled until
    /// the real-only task model gives them labels.
    private static func generatedFrames(
        _ model: TrainedModel, count: Int, seed: UInt64, head: TaskNetwork.Head, reading: LabelReading?, warnings: inout [String]
    ) throws -> TaskFrames {
        let configuration = model.generator.configuration
        let side = configuration.resolution, plane = side * side, values = configuration.channels * plane
        var set = TaskFrames(side: side, head: head)
        let limit = reading == nil ? count : Latents.defaultDrawLimit(target: count)
        var drawn = 0
        while set.count < count, drawn < limit {
            let rows = drawn..<min(drawn + 32, limit)
            let frames = model.generate(latentRows: Latents.seededRows(seed, rows, dimension: configuration.latentDimension))
            for offset in 0..<rows.count where set.count < count {
                let frame = frames[(offset * values)..<((offset + 1) * values)]
                // What is used must be finite: the frame, and its labels when they are read.
                if (reading == nil ? frame.prefix(plane) : frame).contains(where: { !$0.isFinite }) {
                    throw EvaluationError.diverged(frame: drawn + offset)
                }
                var target = [Float](repeating: 0, count: set.targetCount)
                var labelled = [Bool](repeating: false, count: set.keypointCount)
                if let reading {
                    guard case .confident(let decoded) = reading.read(frame) else { continue }
                    target =
                        decoded.annotation.mask.map { $0.pixels.map(Float.init) }
                        ?? decoded.annotation.keypoints.flatMap { [Float($0.x), Float($0.y)] }
                    labelled = [Bool](repeating: true, count: set.keypointCount)
                }
                set.append(image: frame.prefix(plane).map { ($0 + 1) * 127.5 }, target: target, labelled: labelled, series: set.count)
            }
            drawn = rows.upperBound
        }
        if set.count < count {
            warnings.append(
                "only \(set.count) of \(count) generated frames had confident labels in \(drawn) drawn: the synthetic arms have fewer frames"
            )
        }
        return set
    }
}

extension UtilityResult {
    /// What the task model learned, in words: "the keypoints of stent (inflow-left, ...)", "the masks of vessel".
    public var taskDescription: String {
        utility.task == .masks ? "the masks of \(labelSet)" : "the keypoints of \(labelSet) (\(keypoints.joined(separator: ", ")))"
    }

    /// `evaluate --utility --json`: one object with snake_case keys; the figures under `utility`.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }
}
