import Catalog
import DICOM
import Foundation
import GAN
import Imaging
import Ingest
import ModelStore
import TestSupport
import Testing

@testable import Training

/// A catalog with one US cine (27 frames), two single-frame US images of
/// other patients, and an MR image; small settings so a step is quick.
struct TrainingFixture {
    let folder: TemporaryFolder
    let catalog: Catalog

    init(
        _ samples: [String] = [
            "deid-data/GREYSCALE_CINE.dcm", "pydicom-data/US1_UNCR.dcm", "pydicom-data/OBXXXX1A.dcm",
            "pydicom-data/emri_small.dcm",
        ]
    ) throws {
        folder = try TemporaryFolder()
        catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        _ = try Importer(catalog: catalog).run(paths: samples.map(Samples.path))
    }

    func request(name: String, seed: UInt64 = 5) -> TrainingRequest {
        var request = TrainingRequest(modality: "us")
        request.name = name
        request.seed = seed
        request.batchSize = 4
        request.threads = 2
        request.gridEveryEpochs = 1000
        request.checkpointEverySteps = 1000
        return request
    }

    func bytes(_ trainer: ModelTrainer, _ file: String) throws -> Data {
        try Data(contentsOf: trainer.folder.appendingPathComponent(file))
    }
}

@Suite("Training models from the catalog", .serialized)
struct ModelTrainerTests {
    static let checkpointFiles = [
        CheckpointFolder.generatorFile, CheckpointFolder.discriminatorFile,
        CheckpointFolder.optimizerFile, ModelFolderWriter.lossesFile,
    ]

    @Test("N steps, then N more after --resume, equal 2N steps in one go byte for byte; another seed differs")
    func resumeEqualsOneRun() throws {
        let fixture = try TrainingFixture()
        defer { fixture.folder.remove() }
        // 8 steps cross an epoch end (7 steps per epoch), periodic checkpoints and grids.
        func request(_ name: String, seed: UInt64 = 5) -> TrainingRequest {
            var request = fixture.request(name: name, seed: seed)
            request.checkpointEverySteps = 3
            request.gridEveryEpochs = 1
            return request
        }
        do {
            // The first trainer holds the model's lock until it is gone.
            let first = try ModelTrainer.create(request("a"), catalog: fixture.catalog)
            #expect(first.record.hyperparameters.stepsPerEpoch < 8)
            #expect(try first.train(.steps(4)) == .finished)
            let second = #expect(throws: TrainingError.self) { _ = try ModelTrainer.resume("a", catalog: fixture.catalog) }
            #expect(second?.description == "another medsynth is training this model (wait for it, or stop it first): a")
        }
        let resumed = try ModelTrainer.resume("a", catalog: fixture.catalog)
        #expect(resumed.step == 4)
        #expect(try resumed.train(.steps(4)) == .finished)
        let single = try ModelTrainer.create(request("b"), catalog: fixture.catalog)
        #expect(try single.train(.steps(8)) == .finished)
        for file in Self.checkpointFiles {
            #expect(try fixture.bytes(resumed, file) == fixture.bytes(single, file), "\(file) differs after resuming")
        }
        let lossLines = String(decoding: try fixture.bytes(single, ModelFolderWriter.lossesFile), as: UTF8.self).split(separator: "\n")
        #expect(lossLines.count == 9)
        let description = try CheckpointFolder.readDescription(folder: resumed.folder)
        #expect(description.step == 8 && description.training?.seed == 5 && description.modality == "US")
        #expect(description.training?.trainingSet.digest == resumed.model.trainingSetDigest)
        #expect(description.training?.plannedStep == 8)
        // The defaults: ADA (target 0.6, ramp 5,000 images), a weight average, LeCam, minibatch std, resize-convolutions,
        // the relativistic loss and the gradient penalty at 0.1.
        let defaults = try #require(description.training?.hyperparameters)
        #expect(
            defaults.augment == .adaptive && defaults.adaptiveAugmentation == AdaptiveAugmentationSettings(target: 0.6, rampImages: 5_000))
        #expect(defaults.emaHalfLifeImages == 10_000 && defaults.lecamWeight == 0.01 && defaults.minibatchStandardDeviation == true)
        #expect(defaults.adversarialLoss == .relativistic && resumed.training.loss == .relativistic)
        #expect(defaults.gradientPenalty == 0.1 && resumed.training.penalty?.weight == 0.1)
        #expect(defaults.reconstructionWeight == nil)
        #expect(description.upsampling == .nearest && description.noiseInputs == nil)
        // The default preparation held across the resume: the cine's tissue region, its annotations masked.
        let preparation = try #require(description.training?.trainingSet.preparation)
        #expect(preparation.region == .auto && preparation.annotations == .mask)
        #expect(preparation.ultrasoundRegionFrames >= 27 && preparation.annotationMaskedFrames >= 27)

        let otherSeed = try ModelTrainer.create(request("c", seed: 6), catalog: fixture.catalog)
        #expect(try otherSeed.train(.steps(2)) == .finished)
        #expect(try fixture.bytes(otherSeed, CheckpointFolder.generatorFile) != fixture.bytes(single, CheckpointFolder.generatorFile))
        // A model of the defaults before issue 38 records neither loss nor penalty, as the models made then,
        // and resumes with the non-saturating loss without a penalty, whatever today's defaults are.
        var earlier = request("d")
        earlier.adversarialLoss = .nonSaturating
        earlier.gradientPenalty = nil
        earlier.adaptiveAugmentation = AdaptiveAugmentationSettings(target: 0.2, rampImages: 5_000)
        #expect(try ModelTrainer.create(earlier, catalog: fixture.catalog).train(.steps(1)) == .finished)
        let earlierResumed = try ModelTrainer.resume("d", catalog: fixture.catalog)
        let earlierSettings = try #require(try CheckpointFolder.readDescription(folder: earlierResumed.folder).training?.hyperparameters)
        #expect(earlierSettings.adversarialLoss == nil && earlierSettings.gradientPenalty == nil)
        #expect(earlierResumed.training.loss == .nonSaturating && earlierResumed.training.penalty == nil)
        #expect(earlierResumed.training.adaptive?.target == 0.2)
        let registry = try #require(try fixture.catalog.model("b"))
        #expect(registry.status == .finished && registry.steps == 8)
        #expect(
            registry.checkpointDigest
                == (try FileDigest.sha256(path: single.folder.appendingPathComponent(CheckpointFolder.generatorFile).path)))
    }

    @Test(
        "with ADA, nearest upsampling, noise inputs, a weight average, LeCam, minibatch std, the relativistic loss, the gradient penalty, D's reconstruction and the residual preset, N steps and N more after --resume equal 2N in one go byte for byte; samples are the average's"
    )
    func limitedDataOptionsResumeExactly() throws {
        let fixture = try TrainingFixture()
        defer { fixture.folder.remove() }
        func request(_ name: String) -> TrainingRequest {
            var request = fixture.request(name: name)
            request.checkpointEverySteps = 3
            request.emaHalfLifeImages = 100
            request.lecamWeight = 0.3
            request.minibatchStandardDeviation = true
            // A ramp so short that p moves within the run; 5 steps stop mid-interval, with signs pending.
            request.augmentation = .adaptive
            request.adaptiveAugmentation = AdaptiveAugmentationSettings(target: 0, rampImages: 32)
            request.augmentationTransforms = [.translation, .cutout]
            request.upsampling = .nearest
            request.noiseInputs = true
            request.adversarialLoss = .relativistic
            request.gradientPenalty = 0.2
            request.reconstructionWeight = 0.5
            request.preset = .residual
            // A copy check that never stops, with its checkpoint after every check.
            request.copyCheck = CopyCheckSettings(everySteps: 2, limitPercent: 100, frames: 16)
            return request
        }
        do {
            let first = try ModelTrainer.create(request("a"), catalog: fixture.catalog)
            #expect(try first.train(.steps(5)) == .finished)
            #expect(first.training.adaptive?.signCount == 4)
            #expect(first.copyChecks.map(\.step) == [2, 3, 4, 5] && first.keptStep == 5, "every 2 steps, at checkpoints and at the end")
        }
        let resumed = try ModelTrainer.resume("a", catalog: fixture.catalog)
        #expect(resumed.training.average?.halfLifeImages == 100 && resumed.training.lecam?.anchors != nil)
        #expect(resumed.training.loss == .relativistic && resumed.training.penalty?.weight == 0.2)
        let resumedDiscriminator = try #require(resumed.training.discriminator as? Discriminator)
        #expect(resumedDiscriminator.reconstructionWeight == 0.5 && resumedDiscriminator.residual)
        #expect(resumed.training.generator.configuration.residual)
        #expect(try resumed.train(.steps(5)) == .finished)
        let single = try ModelTrainer.create(request("b"), catalog: fixture.catalog)
        #expect(try single.train(.steps(10)) == .finished)
        for file in Self.checkpointFiles + [CheckpointFolder.trainingGeneratorFile, "samples/step-000010.png"] {
            #expect(try fixture.bytes(resumed, file) == fixture.bytes(single, file), "\(file) differs after resuming")
        }
        // generator.safetensors (what synthesize and evaluate load) is the average, not the generator that trains.
        #expect(
            try fixture.bytes(single, CheckpointFolder.generatorFile) != fixture.bytes(single, CheckpointFolder.trainingGeneratorFile))
        let served = try CheckpointFolder.loadGenerator(from: single.folder)
        let average = try #require(single.training.average).generator
        #expect((0..<served.store.count).allSatisfy { served.store.values[$0] == average.store.values[$0] })
        let description = try CheckpointFolder.readDescription(folder: single.folder)
        #expect(description.training?.hyperparameters.emaHalfLifeImages == 100)
        #expect(description.training?.hyperparameters.lecamWeight == 0.3)
        #expect(description.training?.hyperparameters.adversarialLoss == .relativistic)
        #expect(description.training?.hyperparameters.gradientPenalty == 0.2)
        #expect(description.training?.hyperparameters.reconstructionWeight == 0.5)
        #expect(description.training?.hyperparameters.minibatchStandardDeviation == true)
        #expect(description.training?.hyperparameters.adaptiveAugmentation?.rampImages == 32)
        #expect(description.training?.hyperparameters.augmentTransforms == [.translation, .cutout])
        #expect(description.upsampling == .nearest && served.configuration.upsampling == .nearest)
        #expect(description.noiseInputs == true && served.configuration.noiseInputs)
        // The noise scales start at 0: training moved them, so the noise reaches the frames.
        let scales = served.store.parameters.filter { $0.name.hasSuffix(".noise.scale") }
        #expect(scales.count == 4 && scales.contains { scale in (0..<scale.count).contains { served.store.value(scale)[$0] != 0 } })
        // losses.csv logs p and r_t per step; p is 0 until the first adjustment after step 4.
        let losses = try LossRecord.read(single.folder.appendingPathComponent(ModelFolderWriter.lossesFile))
        print("ADA p by step: \(losses.map { $0.augmentationProbability! }), r_t: \(losses.map { $0.realSign! })")
        #expect(losses.prefix(4).allSatisfy { $0.augmentationProbability == 0 })
        #expect(losses.allSatisfy { $0.realSign.map { (-1...1).contains($0) } == true })
        #expect(Set(losses.map(\.augmentationProbability)).count > 1, "p never moved")
        #expect(FileManager.default.fileExists(atPath: single.folder.appendingPathComponent(ModelFolderWriter.augmentationPlotFile).path))
    }

    @Test(
        "a copy check beyond its limit ends the run; the files and the registry stay at the last step within it, and --resume continues from there"
    )
    func copyLimitKeepsTheLastStepWithin() throws {
        let fixture = try TrainingFixture()
        defer { fixture.folder.remove() }
        let settings = CopyCheckSettings(everySteps: 2, limitPercent: 50, frames: 16)
        func request(_ name: String) -> TrainingRequest {
            var request = fixture.request(name: name)
            request.copyCheck = settings
            // The live generator at a high rate: its frames change much from one check to the next.
            request.emaHalfLifeImages = nil
            request.learningRate = 0.05
            return request
        }
        // The frames model "a" makes at step 4 from the check's latents become the
        // detector's training frames for model "b", which trains the same steps:
        // at step 4 every frame of its check is an exact copy.
        let source = try ModelTrainer.create(request("a"), catalog: fixture.catalog)
        #expect(try source.train(.steps(4)) == .finished)
        let watch = try #require(source.copyWatch)
        let step4 = source.training.servedGenerator.inferenceImages(latents: watch.latents)
        let frames = FrameMatrix(pixels: step4.count / settings.frames, values: step4)
        let copied = CopyWatch(
            settings: settings,
            detector: CopyDetector(
                training: frames, series: Array(0..<settings.frames), patients: Array(repeating: nil, count: settings.frames)),
            latents: watch.latents)
        var trainer: ModelTrainer! = try ModelTrainer.create(request("b"), catalog: fixture.catalog)
        trainer.copyWatch = copied
        #expect(try trainer.train(.steps(8)) == .copyLimit)
        print("copy checks: \(trainer.copyChecks)")
        #expect(trainer.copyChecks.map(\.step) == [2, 4] && trainer.copyChecks[1].copies == settings.frames)
        #expect(trainer.copyChecks[0].copies <= 8 && trainer.keptStep == 2 && trainer.step == 4)
        let description = try CheckpointFolder.readDescription(folder: trainer.folder)
        #expect(description.step == 2 && description.training?.hyperparameters.copyCheck == settings)
        let registry = try #require(try fixture.catalog.model("b"))
        #expect(registry.status == .finished && registry.steps == 2)
        #expect(try LossRecord.read(trainer.folder.appendingPathComponent(ModelFolderWriter.lossesFile)).count == 2)
        // The files are those of a run of 2 steps.
        let twoSteps = try ModelTrainer.create(request("c"), catalog: fixture.catalog)
        #expect(try twoSteps.train(.steps(2)) == .finished)
        for file in Self.checkpointFiles {
            #expect(try fixture.bytes(trainer, file) == fixture.bytes(twoSteps, file), "\(file) is not step 2's")
        }
        trainer = nil
        // --resume with the check off continues from step 2.
        let resumed = try ModelTrainer.resume("b", catalog: fixture.catalog, options: ResumeOptions(copyCheckEverySteps: 0))
        #expect(resumed.step == 2 && resumed.record.hyperparameters.copyCheck == nil)
        #expect(try resumed.train(.steps(2)) == .finished && resumed.copyChecks.isEmpty)
        #expect(try fixture.bytes(resumed, CheckpointFolder.generatorFile) == fixture.bytes(source, CheckpointFolder.generatorFile))
    }

    @Test("a stop request writes a checkpoint, a grid and the loss log, and marks the model stopped; resuming finishes the plan")
    func stopWritesCheckpoint() throws {
        let fixture = try TrainingFixture()
        defer { fixture.folder.remove() }
        var trainer: ModelTrainer! = try ModelTrainer.create(fixture.request(name: "stopped"), catalog: fixture.catalog)
        var asked = 0
        let outcome = try trainer.train(
            .steps(3),
            shouldStop: {
                asked += 1
                return asked == 1
            })
        #expect(outcome == .stopped)
        let description = try CheckpointFolder.readDescription(folder: trainer.folder)
        #expect(description.step == 1 && description.training?.plannedStep == 3)
        #expect(FileManager.default.fileExists(atPath: trainer.folder.appendingPathComponent("samples/step-000001.png").path))
        #expect(FileManager.default.fileExists(atPath: trainer.folder.appendingPathComponent("samples/training-frames.png").path))
        #expect(
            FileManager.default.fileExists(atPath: trainer.folder.appendingPathComponent(ModelFolderWriter.lossPlotFile).path) == false,
            "one step is not a plot")
        #expect(try LossRecord.read(trainer.folder.appendingPathComponent(ModelFolderWriter.lossesFile)).count == 1)
        #expect(try fixture.catalog.model("stopped")?.status == .stopped)
        trainer = nil  // its process would have exited: the lock goes with it
        var resumed: ModelTrainer! = try ModelTrainer.resume("stopped", catalog: fixture.catalog)
        #expect(resumed.step == 1)
        #expect(try resumed.train(.plannedRemainder) == .finished)
        let status = try fixture.catalog.model("stopped")?.status
        #expect(resumed.step == 3 && status == .finished)
        resumed = nil
        let finished = try ModelTrainer.resume("stopped", catalog: fixture.catalog)
        #expect(throws: TrainingError.self) { try finished.train(.plannedRemainder) }
        #expect(try finished.train(.steps(1)) == .finished && finished.step == 4)
    }

    @Test(
        "the frame cache, the lineage rows, the split by series and by --split-seed, the few-series warning, and the exclusion of synthetic instances"
    )
    func cacheLineageAndSynthetic() throws {
        let fixture = try TrainingFixture()
        defer { fixture.folder.remove() }
        let first = try ModelTrainer.create(fixture.request(name: "first"), catalog: fixture.catalog)
        #expect(!first.dataset.fromCache)
        #expect(first.dataset.count == 29)
        #expect(first.dataset.values.allSatisfy { $0 >= -1 && $0 <= 1 })
        let second = try ModelTrainer.create(fixture.request(name: "second"), catalog: fixture.catalog)
        #expect(second.dataset.fromCache)
        #expect(second.dataset.values == first.dataset.values)

        let lineage = try fixture.catalog.lineage(modelId: first.model.id!)
        #expect(lineage.count == 3, "the three US instances, not the MR")
        let held = lineage.filter { $0.role == .validation }
        #expect(held.count >= 1 && held.allSatisfy { $0.candidate.frames == 1 }, "the 27-frame cine is over 10% and stays in training")
        #expect(first.model.frameCount + first.model.validationFrameCount == 29)
        #expect(
            first.warnings.contains(
                "the training frames come from only 1 series; a generator that learns them reproduces them, so expect copies "
                    + "of training frames (evaluate counts them, synthesize withholds them)"), "\(first.warnings)")
        let heldSeries = Set(held.map(\.candidate.seriesInstanceUid))
        #expect(lineage.filter { $0.role == .training }.allSatisfy { !heldSeries.contains($0.candidate.seriesInstanceUid) })

        // --split-seed: with room for one of the two single frames, another seed holds out the other one,
        // unless the split keeps its seed.
        func split(_ name: String, seed: UInt64, splitSeed: UInt64? = nil) throws -> (held: Set<String>, recorded: UInt64?) {
            var request = fixture.request(name: name, seed: seed)
            (request.validationFraction, request.splitSeed) = (0.05, splitSeed)
            let trainer = try ModelTrainer.create(request, catalog: fixture.catalog)
            let held = try fixture.catalog.lineage(modelId: trainer.model.id!).filter { $0.role == .validation }
            return (Set(held.map(\.candidate.sopInstanceUid)), trainer.description.training?.trainingSet.splitSeed)
        }
        let (seedSplit, otherSeedSplit, sameSplit) = (
            try split("seed", seed: 5), try split("other", seed: 9), try split("same", seed: 9, splitSeed: 5)
        )
        #expect(seedSplit.held.count == 1 && otherSeedSplit.held != seedSplit.held)
        #expect(sameSplit.held == seedSplit.held && sameSplit.recorded == 5 && seedSplit.recorded == nil)

        let cine = lineage.first { $0.candidate.frames == 27 }!.candidate.sopInstanceUid
        try fixture.catalog.write {
            try $0.execute(sql: "UPDATE instances SET synthetic = 1 WHERE sop_instance_uid = ?", arguments: [cine])
        }
        let realOnly = try ModelTrainer.create(fixture.request(name: "real-only"), catalog: fixture.catalog)
        #expect(realOnly.dataset.count == 2)
        #expect(try fixture.catalog.lineage(modelId: realOnly.model.id!).allSatisfy { $0.candidate.sopInstanceUid != cine })
        #expect(realOnly.warnings.contains { $0.contains("only") && $0.contains("training frames") })
        var withSynthetic = fixture.request(name: "with-synthetic")
        withSynthetic.includeSynthetic = true
        let both = try ModelTrainer.create(withSynthetic, catalog: fixture.catalog)
        #expect(try fixture.catalog.lineage(modelId: both.model.id!).contains { $0.candidate.sopInstanceUid == cine })
    }

    @Test("clear errors: unknown modality, nothing matching, no decodable frames, unknown model, taken name, ADA without its settings")
    func errors() throws {
        let fixture = try TrainingFixture()
        defer { fixture.folder.remove() }
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        var request = fixture.request(name: "x")
        request.modality = "XA"
        #expect(
            message { _ = try ModelTrainer.create(request, catalog: fixture.catalog) }
                == "no instances of modality XA in the catalog (it has: MR, US)")
        request.modality = "SEG"
        #expect(
            message { _ = try ModelTrainer.create(request, catalog: fixture.catalog) }
                == "SEG instances are DICOM Segmentations, labels of other frames, not images to train on (the catalog has images of: MR, US)"
        )
        request = fixture.request(name: "x")
        request.filter.patient = "nobody"
        #expect(message { _ = try ModelTrainer.create(request, catalog: fixture.catalog) } == "no real US instances match the filters")
        #expect(message { _ = try ModelTrainer.resume("nothing", catalog: fixture.catalog) }.hasPrefix("no model with this id or name"))
        var tiny = fixture.request(name: "taken")
        tiny.validationFraction = 0.01
        let held = try ModelTrainer.create(tiny, catalog: fixture.catalog)
        #expect(
            held.warnings.contains(
                "1 of 29 frames (3%) are held out for validation, more than --validation-fraction 0.01, "
                    + "because no smaller series fits"), "\(held.warnings)")
        #expect(
            message { _ = try ModelTrainer.create(fixture.request(name: "taken"), catalog: fixture.catalog) }.contains("exists already"))

        var adaptive = fixture.request(name: "ada")
        adaptive.augmentation = .adaptive
        let modelFile = try {
            let trainer = try ModelTrainer.create(adaptive, catalog: fixture.catalog)
            #expect(try trainer.train(.steps(1)) == .finished)
            return trainer.folder.appendingPathComponent(CheckpointFolder.modelFile)
        }()
        var description = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: modelFile)) as? [String: Any])
        var hyperparameters = try #require(description["hyperparameters"] as? [String: Any])
        #expect(hyperparameters.removeValue(forKey: "ada") != nil)
        description["hyperparameters"] = hyperparameters
        try JSONSerialization.data(withJSONObject: description).write(to: modelFile)
        #expect(
            message { _ = try ModelTrainer.resume("ada", catalog: fixture.catalog) }
                == "model.json trains with augment 'ada' but lacks its 'ada' settings: \(modelFile.path)")

        // A segmented palette colour lookup table, which DCMTK does not render.
        let undecodable = try TrainingFixture(["pydicom-data/gdcm-US-ALOKA-16.dcm"])
        defer { undecodable.folder.remove() }
        #expect(
            message { _ = try ModelTrainer.create(undecodable.request(name: "x"), catalog: undecodable.catalog) }
                .hasPrefix("none of the 1 US instances has frames DCMTK can decode"))
    }
}
