import Catalog
import DICOM
import Engine
import Foundation
import GAN
import Imaging
import Ingest
import ModelStore
import Synthesis
import TestSupport
import Testing
import Training

@testable import Evaluation

@Suite("A model that memorised", .serialized)
struct MemorisedModelTests {
    init() { EngineThreads.configure(2) }

    /// The data a copying model learns from: two sample cines and two single
    /// frames (a cine held out), or the simulated set's test files.
    enum DataSet: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case sampleUS, simulated
        var testDescription: String { rawValue }
        func paths() throws -> [String] {
            switch self {
            case .sampleUS:
                [
                    "deid-data/GREYSCALE_CINE.dcm", "deid-data/ultrasounds/ultrasound-multiframe.dcm", "pydicom-data/US1_UNCR.dcm",
                    "pydicom-data/OBXXXX1A.dcm",
                ].map(Samples.path)
            case .simulated: try SimulatedUltrasound.testFiles.get()
            }
        }
    }

    /// Registers a US model on `dataSet` (60 % of the frames held out), then
    /// trains its generator to reproduce one training frame whatever the
    /// latent (mean squared error, Adam): a model that copies a patient's image.
    static func copyingModel(_ dataSet: DataSet, in folder: TemporaryFolder) throws -> (
        catalog: Catalog, model: TrainedModel, copied: [Float]
    ) {
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        _ = try Importer(catalog: catalog).run(paths: dataSet.paths())
        var request = TrainingRequest(modality: "US")
        request.name = "copier"
        request.batchSize = 4
        request.threads = 2
        request.validationFraction = 0.6
        // The paper's generator without a weight average: the copy is trained into generator.safetensors by hand below.
        (request.upsampling, request.emaHalfLifeImages) = (.transposed, nil)
        request.gridEveryEpochs = 1000
        request.checkpointEverySteps = 1000
        let trainer = try ModelTrainer.create(request, catalog: catalog)
        _ = try trainer.train(.steps(1))
        let frames = try ModelFrames.load(trainer.model, description: trainer.description, catalog: catalog)
        let (dataset, split) = (frames.dataset, frames.split)
        let plane = dataset.resolution * dataset.resolution
        let copiedIndex = split.frames(of: dataset).training[0]
        let copied = Array(dataset.values[(copiedIndex * plane)..<((copiedIndex + 1) * plane)])

        let generator = try CheckpointFolder.loadGenerator(from: trainer.folder)
        let optimizer = Adam(store: generator.store, learningRate: 2e-3)
        var random = EngineRandom(seed: 17)
        let batch = 4
        let gradient = Tensor(shape: [batch, 1, dataset.resolution, dataset.resolution])
        // Speckle takes longer to memorise than the sample frames' smooth anatomy.
        for _ in 0..<(dataSet == .simulated ? 240 : 60) {
            let latents = Tensor(shape: [batch, 128], values: (0..<(batch * 128)).map { _ in random.normal() })
            let output = generator.forward(latents, training: true)
            for index in 0..<gradient.count {
                gradient.data[index] = 2 * (output.data[index] - copied[index % plane]) / Float(gradient.count)
            }
            generator.store.zeroGradients()
            generator.backward(gradient)
            optimizer.update()
        }
        try CheckpointFolder.write(trainer.description, generator: generator, to: trainer.folder)
        var record = trainer.model
        record.checkpointDigest = try FileDigest.sha256(path: trainer.folder.appendingPathComponent(CheckpointFolder.generatorFile).path)
        try catalog.updateModel(record)
        return (catalog, try TrainedModel.open("copier", catalog: catalog), copied)
    }

    @Test("(d) it is flagged by evaluate, and synthesize withholds its copies unless the filter is off", arguments: DataSet.allCases)
    func flaggedAndFiltered(_ dataSet: DataSet) throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (catalog, model, copied) = try Self.copyingModel(dataSet, in: folder)
        let probe = model.generate(latentRows: Latents.seeded(99, count: 1, dimension: 128).values)
        let copyDistance = FrameDistance.between(probe[...], copied[...])
        print("copying model: distance of a generated frame to the copied training frame \(copyDistance)")

        let result = try Evaluator.evaluate(model: model, catalog: catalog, count: 24, seed: 1)
        let figures = result.figures
        print(
            "copying model, \(dataSet.rawValue): data-copying Z \(figures.dataCopyingZ ?? .nan), copies \(figures.copies) of 24, "
                + "copy distance mean \(figures.copyDistanceMean), held-out frames flagged \(figures.heldOutCopies ?? -1)")
        #expect(result.validationFrames >= 20)
        #expect(figures.dataCopyingFlagged == true)
        #expect(figures.copies == 24 && figures.copyRateInterval[0] > 0.85)
        #expect(try catalog.evaluations(modelId: model.record!.id!).count == 1)

        // Every frame is a copy: the run draws up to its limit, writes nothing and says it is short.
        var request = SynthesisRequest(latentSource: .seed(5, count: 8), output: folder.url.appendingPathComponent("filtered"))
        request.drawLimit = 40
        let filtered = try Synthesizer.run(model: model, request: request, catalog: catalog)
        #expect(filtered.framesWritten == 0 && filtered.withheldLatentIndices == Array(0..<40) && filtered.files.isEmpty)
        #expect(filtered.isShort && filtered.framesGenerated == 40)
        // The command line says so with its own status, naming the count and the cause.
        let short = try Medsynth.run([
            "synthesize", "--catalog", folder.url.appendingPathComponent("catalog").path, "--model", "copier",
            "--count", "4", "--max-draws", "12", "--seed", "5", "--out", folder.file("short"),
        ])
        #expect(short.status == 62, "\(short.standardError)")
        #expect(short.standardError.contains("wrote only 0 of 4 frames") && short.standardError.contains("12 generated"))
        #expect(try catalog.query(.instances, filter: QueryFilter(synthetic: .yes)).rows.isEmpty)
        request.output = folder.url.appendingPathComponent("unfiltered")
        request.privacy = .disabled
        let unfiltered = try Synthesizer.run(model: model, request: request, catalog: catalog)
        #expect(unfiltered.framesWritten == 8 && unfiltered.warnings.contains { $0.contains("privacy filter is off") })
    }
}
