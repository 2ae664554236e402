import ArgumentParser
import CPlatform
import Catalog
import Foundation
import GAN
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a GAN on the real frames of one modality, or resume a model.",
        discussion: """
            Every decodable frame of the matching real instances becomes an 8-bit grayscale image, \
            centre-cropped to a square, area-averaged to the preset's resolution (64 for compact, \
            256 for paper) and scaled to [-1, 1]; the frames are cached in the catalog, so the next \
            run starts at once. Whole series (or patients) are held out for validation. Synthetic \
            instances never train a model unless --include-synthetic is given.

            The model is registered in the catalog ('medsynth models') and its files are in \
            <catalog>/models/<id>/: model.json, generator/discriminator/optimizer .safetensors, \
            losses.csv and losses.png, and samples/step-N.png grids from a fixed latent batch.

            Ctrl-C (SIGINT) or SIGTERM saves a checkpoint and exits with status 3; a second one \
            ends at once. --resume continues exactly where the model stopped: the same seed, \
            machine and thread count give the same bytes as one uninterrupted run.

            Examples:
              medsynth train --modality US --epochs 100
              medsynth train --modality US --steps 2000 --batch 16 --name us-small --seed 7
              medsynth train --resume us-small --steps 1000
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: "Modality to train on (US, XA, RF, CR, DX, ...). Required unless --resume.")
    var modality: String?

    @Option(help: ArgumentHelp("Continue training this model (id or name from 'medsynth models').", valueName: "model"))
    var resume: String?

    @Option(help: "Generator preset: compact (64x64) or paper (256x256).")
    var preset: GeneratorPreset = .compact

    @Option(help: """
        Discriminator: dcgan (trained from scratch), or transfer (the paper's: a frozen ImageNet backbone, \
        --backbone, with a trainable Linear head on its pooled features).
        """)
    var discriminator: DiscriminatorKind = .dcgan

    @Option(help: "The transfer discriminator's backbone: xception (the paper's) or mobilenetv2.")
    var backbone: BackboneKind?

    @Option(help: ArgumentHelp("Keras weights of the backbone: the *_notop.h5 file of Keras Applications (docs/transfer.md).",
                               valueName: "file"))
    var backboneWeights: String?

    @Option(help: "Epochs to train (passes over the training frames; default 100). With --resume: additional epochs.")
    var epochs: Int?

    @Option(help: "Steps to train instead of epochs. With --resume: additional steps.")
    var steps: Int?

    @Option(help: "Images per batch (at least 2, for BatchNorm).")
    var batch = 32

    @Option(help: "Adam learning rate of both networks.")
    var lr = 2e-4

    @Option(help: "Seed of every random draw: initialisation, split, batch order, latents, augmentation.")
    var seed: UInt64 = 1

    @Option(help: "diffaugment (translation, cutout, brightness, contrast on every batch D sees) or none.")
    var augment: AugmentationKind = .diffaugment

    @Option(help: "Train only on this patient (Patient ID).")
    var patient: String?

    @Option(help: "Train only on this study (Study Instance UID).")
    var study: String?

    @Option(help: "Train only on this series (Series Instance UID).")
    var series: String?

    @Flag(help: "Also train on synthetic instances (excluded by default).")
    var includeSynthetic = false

    @Option(help: "Name of the new model (default <modality>-<preset>-<id>).")
    var name: String?

    @Option(help: "Share of the frames held out for validation, by whole series or patient.")
    var validationFraction = 0.1

    @Option(help: "Hold out whole series or whole patients.")
    var splitBy: SplitGrouping = .series

    @Option(help: "Write a sample grid every this many epochs (and always at the end of a run).")
    var gridEvery = 10

    @Option(help: "Write a checkpoint every this many steps (and always at the end of a run).")
    var checkpointEvery = 250

    @Option(help: "Engine threads (default: one per core). The same count is needed for identical results.")
    var threads: Int?

    enum DiscriminatorKind: String, ExpressibleByArgument, CaseIterable { case dcgan, transfer }
    enum AugmentationKind: String, ExpressibleByArgument, CaseIterable { case diffaugment, none }

    func validate() throws {
        if epochs != nil && steps != nil { throw ValidationError("Give --epochs or --steps, not both.") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1.") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1.") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
        if resume != nil {
            if modality != nil || name != nil || patient != nil || study != nil || series != nil || includeSynthetic {
                throw ValidationError("--resume continues a model on its own training set; drop --modality, --name and the filters.")
            }
            return
        }
        guard let modality, !modality.isEmpty else { throw ValidationError("Give --modality (for example US), or --resume MODEL.") }
        if batch < 2 { throw ValidationError("--batch must be at least 2 (BatchNorm needs two images).") }
        if !(lr > 0 && lr < 1) { throw ValidationError("--lr must be between 0 and 1.") }
        if !(0..<0.9).contains(validationFraction) { throw ValidationError("--validation-fraction must be in [0, 0.9).") }
        if gridEvery < 1 || checkpointEvery < 1 { throw ValidationError("--grid-every and --checkpoint-every must be at least 1.") }
        if discriminator == .transfer, backbone == nil || backboneWeights == nil {
            throw ValidationError("--discriminator transfer needs --backbone xception|mobilenetv2 and --backbone-weights FILE.")
        }
        if discriminator == .dcgan, backbone != nil || backboneWeights != nil {
            throw ValidationError("--backbone and --backbone-weights go with --discriminator transfer.")
        }
        if let name, name.isEmpty || Int(name) != nil {
            throw ValidationError("--name must be non-empty and not a number (numbers are model ids).")
        }
    }

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.write(create: false))
        ms_install_stop_handlers()
        let trainer = try failingWithStatus { try openTrainer(catalog: catalog) }
        for warning in trainer.warnings { printError("warning: \(warning)") }
        let summary = trainer.description.trainingSet!
        // Unbuffered, so that it comes before the progress lines on stderr.
        FileHandle.standardOutput.write(Data("""
            model \(trainer.model.id!) "\(trainer.model.name)": \(trainer.model.modality), \(trainer.model.preset) \
            \(trainer.model.resolution)x\(trainer.model.resolution), \(summary.trainingFrames) training frames from \
            \(summary.trainingInstances) instances, \(summary.validationFrames) validation frames \
            (\(summary.validationGroups) \(summary.validationGroupedBy) held out), \
            \(trainer.description.hyperparameters!.stepsPerEpoch) steps per epoch, from step \(trainer.step)

            """.utf8))
        if let backbone = trainer.description.backbone {
            FileHandle.standardOutput.write(Data("""
                discriminator: transfer, \(backbone.kind.rawValue) frozen (\(backbone.frozenParameters) parameters) + Linear head, \
                \(backbone.trainableParameters) trainable parameters

                """.utf8))
        }
        let progress = ProgressLine(label: "train", unit: "steps")
        let started = Date()
        let outcome = try failingWithStatus {
            try trainer.train(length, shouldStop: { ms_stop_requested() != 0 }) { report in
                progress.update(done: report.runStep, total: report.runSteps, elapsed: Date().timeIntervalSince(started),
                                detail: String(format: "epoch %d, step %d, D %.3f, G %.3f, %.1f img/s", report.epoch, report.step,
                                               report.discriminatorLoss, report.generatorLoss, report.imagesPerSecond))
            }
        }
        progress.finish()
        let folder = trainer.folder.path
        print("""
            step \(trainer.step), epoch \(trainer.epoch): checkpoint in \(folder)
              samples:     \(folder)/\(ModelTrainer.samplesFolder)/
              loss plot:   \(folder)/\(ModelTrainer.lossPlotFile)
            """)
        if outcome == .stopped {
            printError("stopped at step \(trainer.step) with a checkpoint; continue with: "
                       + "medsynth train --catalog '\(catalogOptions.catalogDirectory.path)' --resume '\(trainer.model.name)' --steps N")
            throw ExitCode(ExitStatus.interrupted.rawValue)
        }
    }

    private var length: TrainingLength {
        if let steps { return .steps(steps) }
        return .epochs(epochs ?? 100)
    }

    private func openTrainer(catalog: Catalog) throws -> ModelTrainer {
        let decoding = ProgressLine(label: "frames", unit: "frames")
        let started = Date()
        defer { decoding.finish() }
        let report: @Sendable (Int, Int) -> Void = { done, total in
            decoding.update(done: done, total: total, elapsed: Date().timeIntervalSince(started))
        }
        if let resume {
            return try ModelTrainer.resume(resume, catalog: catalog, threads: threads, decodeProgress: report)
        }
        var request = TrainingRequest(modality: modality!)
        request.filter = QueryFilter(patient: patient, study: study, series: series)
        request.includeSynthetic = includeSynthetic
        request.name = name ?? ""
        request.preset = preset
        request.discriminator = discriminator.rawValue
        request.backbone = backbone
        request.backboneWeights = backboneWeights
        request.batchSize = batch
        request.learningRate = lr
        request.seed = seed
        request.augment = augment == .diffaugment
        request.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        request.gridEveryEpochs = gridEvery
        request.checkpointEverySteps = checkpointEvery
        request.validationFraction = validationFraction
        request.splitBy = splitBy
        return try ModelTrainer.create(request, catalog: catalog, shouldStop: { ms_stop_requested() != 0 }, decodeProgress: report)
    }
}

extension GeneratorPreset: ExpressibleByArgument {}
extension BackboneKind: ExpressibleByArgument {}
extension SplitGrouping: ExpressibleByArgument {}
