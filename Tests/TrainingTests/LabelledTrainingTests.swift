import Catalog
import Foundation
import GAN
import Imaging
import Ingest
import ModelStore
import TestSupport
import Testing

@testable import Training

/// Models that draw each frame with its labels (`train --labels`), on the
/// simulated aortography set: its cines carry the keypoints and the outline of a stent.
@Suite("Training with labels", .serialized)
struct LabelledTrainingTests {
    static func catalog(in folder: TemporaryFolder) throws -> Catalog {
        try SimulatedAngiography.generate(cines: 4, frames: 3, size: 96, seed: 21, into: folder.path)
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        #expect(try Importer(catalog: catalog).run(paths: [folder.file("xa")]).rejections.isEmpty)
        return catalog
    }

    static func request(_ name: String, kind: LabelChannels.Kind) -> TrainingRequest {
        var request = TrainingRequest(modality: "XA")
        request.name = name
        request.seed = 3
        request.batchSize = 4
        // The engine's thread count is global: the other suites' trainings, running beside, use 2 as well.
        request.threads = 2
        request.region = .none
        request.annotations = .keep
        request.validationFraction = 0.25
        request.checkpointEverySteps = 2
        request.gridEveryEpochs = 1
        request.labels = LabelRequest(kind: kind)
        // A check every 2 steps (each followed by a checkpoint), whatever it counts.
        request.copyCheck = CopyCheckSettings(everySteps: 2, limitPercent: 100, frames: 16)
        return request
    }

    /// A model of `kind` trained `steps` steps, then reopened with `resume` (the first
    /// trainer is gone by then: it holds the model's lock while it lives).
    static func trainedAndResumed(_ name: String, kind: LabelChannels.Kind, steps: Int, catalog: Catalog) throws -> ModelTrainer {
        do {
            let first = try ModelTrainer.create(request(name, kind: kind), catalog: catalog)
            #expect(try first.train(.steps(steps)) == .finished)
        }
        let resumed = try ModelTrainer.resume(name, catalog: catalog)
        #expect(resumed.step == steps)
        return resumed
    }

    @Test("a keypoint model draws the frame and a heatmap per keypoint, records its label set, and resumes byte for byte")
    func keypointModelResumes() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = try Self.catalog(in: folder)
        let resumed = try Self.trainedAndResumed("a", kind: .keypoints, steps: 3, catalog: catalog)
        #expect(try resumed.train(.steps(3)) == .finished)
        let single = try ModelTrainer.create(Self.request("b", kind: .keypoints), catalog: catalog)
        #expect(try single.train(.steps(6)) == .finished)
        for file in [CheckpointFolder.generatorFile, CheckpointFolder.discriminatorFile, CheckpointFolder.optimizerFile] {
            let one = try Data(contentsOf: resumed.folder.appendingPathComponent(file))
            #expect(one == (try Data(contentsOf: single.folder.appendingPathComponent(file))), "\(file) differs after resuming")
        }
        let description = try CheckpointFolder.readDescription(folder: single.folder)
        let labels = try #require(description.labels)
        #expect(labels.kind == .keypoints && labels.labelSet == "tavi-stent" && labels.keypoints.count == 4 && labels.sigma == 1.5)
        #expect(description.channels == 5 && single.training.generator.configuration.channels == 5)
        #expect(single.training.augmentation?.imageChannels == 1)
        // Only labelled frames train: every frame of this set has labels; 3 of the 4 cines train.
        #expect(description.training?.trainingSet.trainingFrames == 9)
        #expect(single.copyChecks.count == 3 && single.copyChecks.allSatisfy { $0.frames == 16 })
        // The grids show the frame channel: 8 x 8 frames of 64 x 64.
        let grid = single.folder.appendingPathComponent("samples/step-000006.png").path
        #expect(FileManager.default.fileExists(atPath: grid))
    }

    @Test("a mask model draws one mask channel; without labels of the kind asked, train says why")
    func maskModelAndRefusals() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = try Self.catalog(in: folder)
        let masks = try Self.trainedAndResumed("m", kind: .masks, steps: 2, catalog: catalog)
        #expect(try masks.train(.steps(1)) == .finished)
        let description = try CheckpointFolder.readDescription(folder: masks.folder)
        #expect(description.channels == 2 && description.labels?.kind == .masks && description.labels?.sigma == nil)
        #expect(description.training?.trainingSet.labelsDigest?.count == 64)
        // What evaluate and synthesize's privacy gate load: the frames, without the annotations.
        let record = try #require(try catalog.model("m"))
        #expect(try ModelFrames.load(record, description: description, catalog: catalog).labels == nil)
        var unknown = Self.request("u", kind: .keypoints)
        unknown.labels?.labelSet = "femur"
        let refused = #expect(throws: TrainingError.self) { _ = try ModelTrainer.create(unknown, catalog: catalog) }
        #expect(refused?.description.contains("no keypoints or masks of label set femur") == true)
    }
}
