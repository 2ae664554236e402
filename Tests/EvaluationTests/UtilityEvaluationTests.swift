import Catalog
import Foundation
import GRDB
import Imaging
import Ingest
import ModelStore
import TaskModel
import TestSupport
import Testing
import Training

@testable import Evaluation

/// `evaluate --utility` on a model of the simulated aortography set: the
/// labelled series of its lineage are the real frames, its held-out ones the test.
@Suite("Utility evaluation of a model")
struct UtilityEvaluationTests {
    static func model(
        in folder: TemporaryFolder, labelled: Bool = true, segmentations: Bool = false, drawing labels: LabelChannels.Kind? = nil
    ) throws -> (Catalog, TrainedModel) {
        try SimulatedAngiography.generate(cines: 12, frames: 3, size: 64, seed: 4, segmentations: segmentations, into: folder.path)
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        if !labelled { try FileManager.default.removeItem(atPath: folder.file("xa/annotations.json")) }
        _ = try Importer(catalog: catalog).run(paths: [folder.file("xa")])
        var request = TrainingRequest(modality: "XA")
        (request.name, request.batchSize, request.validationFraction) = ("xa", 4, 0.4)
        (request.region, request.annotations) = (.none, .keep)
        (request.gridEveryEpochs, request.checkpointEverySteps) = (1000, 1000)
        request.labels = labels.map { LabelRequest(kind: $0) }
        let trainer = try ModelTrainer.create(request, catalog: catalog)
        _ = try trainer.train(.steps(1))
        return (catalog, try TrainedModel.open("xa", catalog: catalog))
    }

    static let options = UtilityOptions(
        trainSeries: 3, count: 8, seed: 2, taskSeeds: 1, plan: TaskTrainingPlan(steps: 8, batch: 4, width: 4, levels: 2))

    @Test("every arm against the held-out labelled series, pseudo-labels, the series drawn, stored with the model, its report")
    func runsAndStores() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (catalog, model) = try Self.model(in: folder)
        let report = folder.url.appendingPathComponent("report")
        let result = try UtilityEvaluation.evaluate(model: model, catalog: catalog, options: Self.options, reportFolder: report)
        for file in ["index.html", "errors.png", "sheet.png"] {
            #expect(FileManager.default.fileExists(atPath: report.appendingPathComponent(file).path), "\(file)")
        }
        #expect(result.reportFolder == report.path)
        let lineage = try catalog.lineage(modelId: result.modelId)
        let heldOutSeries = Set(lineage.filter { $0.role == .validation }.map(\.candidate.seriesInstanceUid)).count
        #expect(result.labelSet == "tavi-stent" && result.keypoints.count == 4)
        #expect(result.trainingSeries == 3 && result.availableTrainingSeries == 12 - heldOutSeries)
        #expect(result.utility.testSeries == heldOutSeries && result.utility.testFrames == 3 * heldOutSeries)
        #expect(result.utility.pseudoLabels && result.utility.arms.map(\.arm) == UtilityArm.arms(ownLabels: false))
        #expect(result.utility.arms.first { $0.arm == .real }?.trainingFrames == 9)
        #expect(result.utility.arms.first { $0.arm == .realSynthetic }?.trainingFrames == 17)
        let stored = try catalog.evaluations(modelId: result.modelId)
        let json = try #require(stored.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.figures.utf8)) as? [String: Any] })
        #expect((json["utility"] as? [String: Any])?["arms"] != nil && json["training_series"] as? Int == 3)
        #expect(throws: UtilityError.self) {
            var tooMany = Self.options
            tooMany.trainSeries = 50
            _ = try UtilityEvaluation.evaluate(model: model, catalog: catalog, options: tooMany)
        }
    }

    @Test("a keypoint model's frames serve with their own labels, and pseudo-labelled in arms of their own")
    func ownLabels() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (catalog, model) = try Self.model(in: folder, drawing: .keypoints)
        var options = Self.options
        // A model of one step draws faint heatmaps: a floor of 0 takes them; heatmaps peaking on the edge still go.
        options.minimumLabelConfidence = 0
        let result = try UtilityEvaluation.evaluate(model: model, catalog: catalog, options: options)
        #expect(!result.utility.pseudoLabels && result.utility.arms.map(\.arm) == UtilityArm.allCases)
        let frames = Dictionary(uniqueKeysWithValues: result.utility.arms.map { ($0.arm, $0.trainingFrames) })
        #expect(frames[.synthetic] == 8 && frames[.pseudoLabelled] == 8 && frames[.realPseudoLabelled] == frames[.realSynthetic])
        #expect(result.generatedFrames == 8)
        #expect(result.utility.differences.contains { $0.arm == .realSynthetic && $0.against == .realPseudoLabelled })
        #expect(result.utility.labelSource.hasPrefix("with the labels the model drew"))
    }

    @Test("a model whose frames carry no keypoints is refused with the reason")
    func unlabelledModel() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (catalog, model) = try Self.model(in: folder, labelled: false)
        #expect {
            _ = try UtilityEvaluation.evaluate(model: model, catalog: catalog, options: Self.options)
        } throws: { error in
            "\(error)" == "none of these frames has keypoint or mask annotations (import COCO keypoints or masks, or DICOM Segmentations: "
                + "docs/catalog.md)"
        }
    }

    @Test("the masks of a Segmentation's label set: Dice per arm, named with --label-set among two label sets")
    func masksOfSegmentations() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (catalog, model) = try Self.model(in: folder, segmentations: true)
        #expect {
            _ = try UtilityEvaluation.evaluate(model: model, catalog: catalog, options: Self.options)
        } throws: { error in
            "\(error)" == "the frames carry labels of several label sets (Stent, tavi-stent): name one with --label-set"
        }
        var options = Self.options
        options.labelSet = "Stent"
        let report = folder.url.appendingPathComponent("report")
        let result = try UtilityEvaluation.evaluate(model: model, catalog: catalog, options: options, reportFolder: report)
        #expect(result.labelSet == "Stent" && result.keypoints.isEmpty && result.utility.task == .masks)
        #expect(result.utility.arms.allSatisfy { ($0.dice.map { (0...1).contains($0) } ?? false) && $0.meanError == nil })
        #expect(result.utility.differences.allSatisfy { $0.diceDifference != nil && $0.meanErrorDifference == nil })
        let page = try String(contentsOf: report.appendingPathComponent("index.html"), encoding: .utf8)
        #expect(page.contains("help a segmentation model learn") && page.contains("the masks of Stent"))
    }
}
