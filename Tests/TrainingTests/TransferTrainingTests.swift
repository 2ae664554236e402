import Catalog
import Foundation
import GAN
import TestSupport
import Testing

@testable import Training

@Suite("Training with the transfer-learning discriminator", .serialized)
struct TransferTrainingTests {
    /// The MobileNetV2 (alpha 0.35) weights saved by Keras for the backbone tests.
    static let weights = ForeignCheckpoint.fixtures.appendingPathComponent("mobilenetv2_035_notop.h5").path

    func request(_ fixture: TrainingFixture, name: String) -> TrainingRequest {
        var request = fixture.request(name: name)
        request.discriminator = .transfer(.mobilenetv2, weights: Self.weights)
        return request
    }

    @Test("a transfer run trains only the head, records the backbone, and resumes to the same bytes as one run")
    func resumeEqualsOneRun() throws {
        let fixture = try TrainingFixture()
        defer { fixture.folder.remove() }
        do {  // the first trainer and its model lock end here
            let first = try ModelTrainer.create(request(fixture, name: "a"), catalog: fixture.catalog)
            #expect(first.model.discriminator == .transfer && first.model.backbone == .mobilenetv2)
            #expect(first.record.backbone?.trainableParameters == 1281 && first.record.backbone?.frozenParameters == 410_208)
            #expect(first.description.discriminator == .transfer)
            #expect(first.training.discriminator.store.count == 1281, "only the head is trained")
            #expect(try first.train(.steps(2)) == .finished)
        }
        let resumed = try ModelTrainer.resume("a", catalog: fixture.catalog)
        #expect(try resumed.train(.steps(2)) == .finished)
        let single = try ModelTrainer.create(request(fixture, name: "b"), catalog: fixture.catalog)
        #expect(try single.train(.steps(4)) == .finished)
        for file in ModelTrainerTests.checkpointFiles {
            #expect(try fixture.bytes(resumed, file) == fixture.bytes(single, file), "\(file) differs after resume")
        }
        let losses = try LossRecord.read(single.folder.appendingPathComponent(ModelFolderWriter.lossesFile))
        #expect(losses.count == 4 && losses.allSatisfy { $0.discriminatorLoss.isFinite && $0.generatorLoss.isFinite })
    }

    @Test(
        "a projected run trains only the heads, records its backbone (random from the seed, or a weight file), and resumes to the same bytes as one run",
        arguments: [false, true])
    func projectedResumeEqualsOneRun(weightFile: Bool) throws {
        let fixture = try TrainingFixture()
        defer { fixture.folder.remove() }
        func projected(_ name: String) -> TrainingRequest {
            var request = fixture.request(name: name)
            request.discriminator = .projected(weights: weightFile ? Self.weights : nil)
            request.adversarialLoss = .relativistic
            request.gradientPenalty = 0.1
            return request
        }
        do {
            let first = try ModelTrainer.create(projected("a"), catalog: fixture.catalog)
            #expect(first.model.discriminator == .projected && first.model.backbone == .mobilenetv2)
            // The backbone as Keras counts it (width 1, or the fixture's 0.35) and the three mixings.
            let frozen = weightFile ? 410_208 + 8 * 64 + 16 * 128 + 32 * 256 : 2_257_984 + 24 * 64 + 32 * 128 + 96 * 256
            #expect(first.record.backbone?.frozenParameters == frozen && first.record.backbone?.trainableParameters == 1_193_859)
            #expect((first.record.backbone?.weights != nil) == weightFile)
            #expect(try first.train(.steps(2)) == .finished)
        }
        do {  // the trainers and their model locks end here
            let resumed = try ModelTrainer.resume("a", catalog: fixture.catalog)
            #expect(try resumed.train(.steps(2)) == .finished)
            let single = try ModelTrainer.create(projected("b"), catalog: fixture.catalog)
            #expect(try single.train(.steps(4)) == .finished)
            for file in ModelTrainerTests.checkpointFiles {
                #expect(try fixture.bytes(resumed, file) == fixture.bytes(single, file), "\(file) differs after resume")
            }
        }
        if !weightFile {
            #expect {
                try ModelTrainer.resume("a", catalog: fixture.catalog, options: ResumeOptions(backboneWeights: Self.weights))
            } throws: { "\($0)".contains("this model's backbone is random, from its seed") }
        } else {
            // Another file in the recorded one's place is refused by its digest, before it is read as weights.
            let other = fixture.folder.file("other.h5")
            try Data("not the weights".utf8).write(to: URL(fileURLWithPath: other))
            #expect {
                try ModelTrainer.resume("a", catalog: fixture.catalog, options: ResumeOptions(backboneWeights: other))
            } throws: { "\($0)".contains("not the one the model was created with") && "\($0)".contains("other.h5") }
        }
    }

    @Test("a weight file that does not fit, or is missing, stops before anything is registered")
    func badWeights() throws {
        let fixture = try TrainingFixture()
        defer { fixture.folder.remove() }
        var wrongKind = request(fixture, name: "x")
        wrongKind.discriminator = .transfer(.xception, weights: Self.weights)
        #expect { try ModelTrainer.create(wrongKind, catalog: fixture.catalog) } throws: { "\($0)".contains("block1_conv1") }
        var missing = request(fixture, name: "y")
        missing.discriminator = .transfer(.mobilenetv2, weights: fixture.folder.file("nowhere.h5"))
        #expect { try ModelTrainer.create(missing, catalog: fixture.catalog) } throws: { "\($0)".contains("nowhere.h5") }
        #expect(try fixture.catalog.modelsTable().rows.isEmpty)
    }
}
