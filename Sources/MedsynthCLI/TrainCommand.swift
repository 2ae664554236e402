import ArgumentParser
import CPlatform
import Catalog
import Evaluation
import Foundation
import Frames
import GAN
import Imaging
import ModelStore
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a GAN on the real frames of one modality, or resume a model.",
        discussion: """
            Every decodable frame of the matching real instances becomes an 8-bit grayscale image, \
            cut to its imaging region (--region: by default the largest 2D tissue region of the \
            file's Sequence of Ultrasound Regions, else the scan sector found from a cine, else \
            the whole frame, with a warning), with burned-in text and calipers of cines filled from \
            their surroundings (--annotations), centred on a black square, area-averaged to the \
            preset's resolution (64 for compact, 256 for paper) and scaled to [-1, 1]. 'medsynth \
            show --prepared' shows a frame so. The frames are cached in the catalog, so the next \
            run starts at once. Whole series (or patients) are held out for validation. Synthetic \
            instances never train a model unless --include-synthetic is given.

            The model is registered in the catalog ('medsynth models') and its files are in \
            <catalog>/models/<id>/: model.json, generator/discriminator/optimizer .safetensors, \
            losses.csv, losses.png and augmentation.png, and samples/step-N.png grids from a fixed \
            latent batch. A run that finishes ends with the figures of 'medsynth evaluate' (--no-evaluate \
            skips them), stored with the model.

            Every 50 steps (--copy-check-every) 256 generated frames are tested for copies of training \
            frames, as 'synthesize' tests what it writes. A generator that learns a few acquisitions \
            gives them back: when more than --copy-limit (1 %) copy, training ends and the model stays \
            at the last step within the limit.

            Ctrl-C (SIGINT) or SIGTERM saves a checkpoint and exits with status 3; a second one \
            ends at once. --resume continues exactly where the model stopped: the same seed, \
            machine and thread count give the same bytes as one uninterrupted run. Without \
            --epochs or --steps it finishes the plan of the run that stopped. The options that \
            define the model (preset, upsampling, noise inputs, discriminator, batch, rate, seed, augmentation and ADA's settings, weight average, \
            LeCam, minibatch std, split, region, annotations) are its own and cannot change on --resume; --threads, --grid-every, \
            --checkpoint-every, --copy-check-every, --copy-limit and --backbone-weights (the same file, moved) can.

            Examples:
              medsynth train --modality US --epochs 100
              medsynth train --modality US --steps 2000 --batch 16 \\
                  --name us-small --seed 7
              medsynth train --resume us-small
              medsynth train --resume us-small --steps 1000 --json
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: "Modality to train on (US, XA, RF, CR, DX, ...). Required unless --resume.")
    var modality: String?

    @Option(help: ArgumentHelp("Continue training this model (id or name from 'medsynth models').", valueName: "model"))
    var resume: String?

    @Option(help: "Generator preset: compact (64x64, the default) or paper (256x256).")
    var preset: GeneratorPreset?

    @Option(
        help: """
            How the generator's levels double the resolution: nearest (nearest-neighbour upsampling then a convolution, \
            Odena et al. 2016: no checkerboard texture; the default with --preset compact) or transposed (the paper's \
            layer table; the default with --preset paper; docs/training.md).
            """)
    var upsampling: Upsampling?

    @Flag(
        help: ArgumentHelp(
            "Give each generator level StyleGAN's noise inputs: a map of fresh per-pixel noise, drawn from the image's "
                + "latent, added to every channel with a learned scale, for fine random texture such as speckle "
                + "(docs/training.md)."))
    var noiseInputs = false

    @Option(
        help: """
            Discriminator: dcgan (trained from scratch, the default), or transfer (the paper's: a frozen ImageNet \
            backbone, --backbone, with a trainable Linear head on its pooled features).
            """)
    var discriminator: DiscriminatorKind?

    @Option(help: "The transfer discriminator's backbone: xception (the paper's) or mobilenetv2.")
    var backbone: BackboneKind?

    @Option(
        help: ArgumentHelp(
            "Keras weights of the backbone: the *_notop.h5 file of Keras Applications, or a .weights.h5 or "
                + "whole-model .h5 file Keras 3 wrote (docs/transfer.md).",
            valueName: "file"))
    var backboneWeights: String?

    @Option(
        parsing: .unconditional, help: "Epochs to train (passes over the training frames; default 100). With --resume: additional epochs.")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Steps to train instead of epochs. With --resume: additional steps.")
    var steps: Int?

    @Option(parsing: .unconditional, help: "Images per batch (at least 2, for BatchNorm; default 32).")
    var batch: Int?

    @Option(parsing: .unconditional, help: "Adam learning rate of both networks (default 0.0002).")
    var lr: Double?

    @Option(help: "Seed of every random draw: initialisation, split (unless --split-seed), batch order, latents, augmentation (default 1).")
    var seed: UInt64?

    @Option(
        help: ArgumentHelp(
            "Seed of the validation split alone (default: --seed), so that models trained at different seeds hold out "
                + "the same frames and their evaluations compare.",
            valueName: "seed"))
    var splitSeed: UInt64?

    @Option(
        help: """
            ada (translation, cutout, brightness and contrast, each with a probability p that rises while D calls too \
            many real images real: adaptive discriminator augmentation, docs/training.md; the default), diffaugment \
            (the same transforms on every image D sees), or none.
            """)
    var augment: Augmentation?

    @Option(
        help: ArgumentHelp(
            "With --augment ada: the share of real images D may call real, as the mean sign of its outputs "
                + "(r_t; default 0.2, the paper's is 0.6). Lower augments more.",
            valueName: "r"))
    var adaTarget: Double?

    @Option(
        help: ArgumentHelp(
            "With --augment ada: the images over which p can go from 0 to 1 (default 5000; the paper's 500000 "
                + "suits runs of millions of images).",
            valueName: "images"))
    var adaRamp: Int?

    @Option(
        help: ArgumentHelp(
            "Keep a moving average of the generator's weights with this half-life in images (10000 in ADA at batch 32; "
                + "at most 5% of the images seen so far); the grids, synthesize and evaluate then use the average "
                + "(docs/training.md). Default 10000; 0 turns the average off.",
            valueName: "images"))
    var emaHalfLife: Int?

    @Option(
        help: ArgumentHelp(
            "Add LeCam's regularisation to the discriminator's loss with this weight (0.01 to 0.3 in the paper): "
                + "its logits on real images are held near the running mean of those on generated ones "
                + "(docs/training.md). Default 0.01; 0 turns it off.",
            valueName: "weight"))
    var lecam: Double?

    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "Give the dcgan discriminator a minibatch standard deviation layer: the batch's spread as an extra feature "
                + "map before its last layer, so that it sees a generator that makes the same image again "
                + "(docs/training.md). On by default with dcgan; --no-minibatch-std leaves it out."))
    var minibatchStd: Bool?

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

    @Option(parsing: .unconditional, help: "Share of the frames held out for validation, by whole series or patient (default 0.1).")
    var validationFraction: Double?

    @Option(help: "Hold out whole series (the default) or whole patients.")
    var splitBy: SplitGrouping?

    @Option(parsing: .unconditional, help: "Write a sample grid every this many epochs (default 10; always at the end of a run).")
    var gridEvery: Int?

    @Option(parsing: .unconditional, help: "Write a checkpoint every this many steps (default 250; always at the end of a run).")
    var checkpointEvery: Int?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Check every this many steps whether the generator copies training frames (default 50; 0: never): "
                + "it makes 256 frames from fixed latents and counts those that 'synthesize' would withhold as copies. "
                + "A check within --copy-limit is followed by a checkpoint; a check beyond it ends training, and the model "
                + "stays at the last step within it (docs/training.md). Can change on --resume.",
            valueName: "steps"))
    var copyCheckEvery: Int?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "The share of a check's frames, in percent, that may copy a training frame (default 1). "
                + "Can change on --resume, to train past a stop.",
            valueName: "percent"))
    var copyLimit: Double?

    @Option(parsing: .unconditional, help: "Engine threads (default: one per core). The same count is needed for identical results.")
    var threads: Int?

    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "At the end of a finished run, evaluate the model as 'medsynth evaluate' does (seed 1), print the figures and "
                + "store them with the model (the default); --no-evaluate skips it."))
    var evaluate = true

    @Option(parsing: .unconditional, help: "Frames the evaluation at the end generates (default 256).")
    var evaluateCount: Int?

    @OptionGroup var preparation: PreparationOptions

    @OptionGroup var output: JSONOption

    func validate() throws {
        if epochs != nil && steps != nil { throw ValidationError("Give --epochs or --steps, not both.") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1.") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1.") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
        if let gridEvery, gridEvery < 1 { throw ValidationError("--grid-every must be at least 1.") }
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be at least 1.") }
        if let copyCheckEvery, copyCheckEvery < 0 { throw ValidationError("--copy-check-every must be 0 (never) or more steps.") }
        if let copyLimit, !(0...100).contains(copyLimit) { throw ValidationError("--copy-limit must be between 0 and 100 (percent).") }
        if copyLimit != nil, copyCheckEvery == 0 { throw ValidationError("--copy-limit goes without --copy-check-every 0.") }
        if let evaluateCount, !(8...20_000).contains(evaluateCount) {
            throw ValidationError("--evaluate-count must be between 8 and 20000.")
        }
        if evaluateCount != nil, !evaluate { throw ValidationError("--evaluate-count goes without --no-evaluate.") }
        if resume != nil { return try validateResume() }
        guard let modality, !modality.isEmpty else { throw ValidationError("Give --modality (for example US), or --resume MODEL.") }
        if let batch, batch < 2 { throw ValidationError("--batch must be at least 2 (BatchNorm needs two images).") }
        if let lr, !(lr > 0 && lr < 1) { throw ValidationError("--lr must be between 0 and 1.") }
        if (augment ?? TrainingRequest.defaultAugmentation) != .adaptive, adaTarget != nil || adaRamp != nil {
            throw ValidationError("--ada-target and --ada-ramp go with --augment ada.")
        }
        if let adaTarget, !(adaTarget > -1 && adaTarget < 1) { throw ValidationError("--ada-target must be between -1 and 1.") }
        if let adaRamp, adaRamp < 1 { throw ValidationError("--ada-ramp must be at least 1 image.") }
        if let emaHalfLife, emaHalfLife < 0 { throw ValidationError("--ema-half-life must be 0 (no average) or more images.") }
        if let lecam, !(0...10).contains(lecam) { throw ValidationError("--lecam must be between 0 (none) and 10.") }
        if let validationFraction, !(0..<0.9).contains(validationFraction) {
            throw ValidationError("--validation-fraction must be in [0, 0.9).")
        }
        if discriminator == .transfer, backbone == nil || backboneWeights == nil {
            throw ValidationError("--discriminator transfer needs --backbone xception|mobilenetv2 and --backbone-weights FILE.")
        }
        if discriminator == .transfer, minibatchStd == true {
            throw ValidationError("--minibatch-std goes with the dcgan discriminator, not transfer.")
        }
        if discriminator != .transfer, backbone != nil || backboneWeights != nil {
            throw ValidationError("--backbone and --backbone-weights go with --discriminator transfer.")
        }
        if let name, name.isEmpty || Int(name) != nil {
            throw ValidationError("--name must be non-empty and not a number (numbers are model ids).")
        }
    }

    /// --resume keeps what defines the model: those options are refused, not dropped.
    private func validateResume() throws {
        let fixed: [(String, Bool)] = [
            ("--modality", modality != nil), ("--name", name != nil), ("--patient", patient != nil), ("--study", study != nil),
            ("--series", series != nil), ("--include-synthetic", includeSynthetic), ("--preset", preset != nil),
            ("--upsampling", upsampling != nil), ("--noise-inputs", noiseInputs),
            ("--discriminator", discriminator != nil), ("--backbone", backbone != nil), ("--batch", batch != nil),
            ("--lr", lr != nil), ("--seed", seed != nil), ("--augment", augment != nil), ("--ada-target", adaTarget != nil),
            ("--ada-ramp", adaRamp != nil), ("--ema-half-life", emaHalfLife != nil),
            ("--lecam", lecam != nil), ("--[no-]minibatch-std", minibatchStd != nil),
            ("--validation-fraction", validationFraction != nil), ("--split-by", splitBy != nil),
            ("--split-seed", splitSeed != nil),
        ]
        let given = fixed.filter(\.1).map(\.0) + preparation.given
        if !given.isEmpty {
            throw ValidationError(
                "--resume continues a model as it was created; drop \(given.joined(separator: ", ")) "
                    + "(train a new model to change them).")
        }
    }

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.write(create: false))
        ms_install_stop_handlers()
        let trainer = try failingWithStatus { try openTrainer(catalog: catalog) }
        for warning in trainer.warnings { printError("warning: \(warning)") }
        printResult(Self.describe(trainer), json: output.json)
        let progress = ProgressLine(label: "train", unit: "steps")
        let started = Date()
        let outcome = try failingWithStatus {
            try trainer.train(length, shouldStop: { ms_stop_requested() != 0 }) { report in
                let adaptive = trainer.record.hyperparameters.augment == .adaptive
                progress.update(
                    done: report.runStep, total: report.runSteps, elapsed: Date().timeIntervalSince(started),
                    detail: String(
                        format: "epoch %d, step %d, D %.3f, G %.3f, ", report.epoch, report.step, report.discriminatorLoss,
                        report.generatorLoss)
                        + (adaptive ? String(format: "p %.3f, ", report.augmentationProbability) : "")
                        + (report.copyCheck.map { "copies \($0.copies)/\($0.frames) at \($0.step), " } ?? "")
                        + String(format: "%.1f img/s", report.imagesPerSecond))
            }
        }
        progress.finish()
        if outcome == .copyLimit { printError(Self.copyLimitMessage(trainer, catalog: catalogOptions.catalogDirectory.path)) }
        let evaluation = outcome != .stopped && evaluate ? finalEvaluation(trainer, catalog: catalog) : nil
        if output.json {
            try printJSON(TrainOutput(trainer, outcome: outcome, evaluation: evaluation))
        } else {
            let folder = trainer.folder.path
            printResult(
                """
                step \(trainer.keptStep), epoch \(trainer.keptEpoch): checkpoint in \(folder)
                  samples:     \(folder)/\(ModelFolderWriter.samplesFolder)/
                  loss plot:   \(folder)/\(ModelFolderWriter.lossPlotFile)
                """, json: false)
            if let evaluation { printResult(EvaluationText.describe(evaluation), json: false) }
        }
        if outcome == .stopped {
            printError(
                "stopped at step \(trainer.step) with a checkpoint; continue with: "
                    + "medsynth train --catalog '\(catalogOptions.catalogDirectory.path)' --resume '\(trainer.model.name)'")
            throw ExitCode(ExitStatus.interrupted.rawValue)
        }
    }

    /// The figures of `evaluate` on the model just trained (its weight
    /// average when it keeps one), stored in the registry; a failure is a
    /// warning, since the model itself is saved.
    private func finalEvaluation(_ trainer: ModelTrainer, catalog: Catalog) -> EvaluationResult? {
        do {
            let model = try TrainedModel.open(String(trainer.model.id!), catalog: catalog)
            let result = try Evaluator.evaluate(model: model, catalog: catalog, count: evaluateCount ?? 256, seed: 1) { step in
                printError("evaluate: \(step)")
            }
            for warning in result.warnings { printError("warning: \(warning)") }
            return result
        } catch {
            printError(
                "warning: the model is saved, but its evaluation failed (\(error)); "
                    + "run: medsynth evaluate --catalog '\(catalogOptions.catalogDirectory.path)' --model '\(trainer.model.name)'")
            return nil
        }
    }

    /// Why a run ended at a copy check, where the model stays, and how to go on.
    private static func copyLimitMessage(_ trainer: ModelTrainer, catalog: String) -> String {
        let failed = trainer.copyChecks.last!, settings = trainer.record.hyperparameters.copyCheck!
        let kept = trainer.copyChecks.last { $0.step == trainer.keptStep }
        return """
            warning: stopped at step \(failed.step): \(failed.copies) of \(failed.frames) generated frames copy a training frame, \
            more than --copy-limit \(settings.limitPercent.formatted()) %. The model stays at step \(trainer.keptStep)\
            \(kept.map { " (\($0.copies) of \($0.frames) copied)" } ?? ""), the last step within the limit. \
            A generator that learns a few acquisitions gives them back (docs/training.md, "Stopping before the generator copies"); \
            to train past this anyway: medsynth train --catalog '\(catalog)' --resume '\(trainer.model.name)' --copy-limit PERCENT
            """
    }

    /// What is trained, on what, from which step: on stderr before the progress lines.
    private static func describe(_ trainer: ModelTrainer) -> String {
        let model = trainer.model, summary = trainer.record.trainingSet
        var text = """
            model \(model.id!) "\(model.name)": \(model.modality), \(model.preset) \(model.resolution)x\(model.resolution), \
            \(summary.trainingFrames) training frames from \(summary.trainingInstances) instances, \(summary.validationFrames) \
            validation frames (\(summary.validationGroups) \(summary.validationGroupedBy.rawValue) held out), \
            \(trainer.record.hyperparameters.stepsPerEpoch) steps per epoch, from step \(trainer.step)
            """
        if let backbone = trainer.record.backbone {
            text +=
                "\ndiscriminator: transfer, \(backbone.kind.rawValue) frozen (\(backbone.frozenParameters) parameters) "
                + "+ Linear head, \(backbone.trainableParameters) trainable parameters"
        }
        return text
    }

    private var length: TrainingLength {
        if let steps { return .steps(steps) }
        if let epochs { return .epochs(epochs) }
        return resume != nil ? .plannedRemainder : .epochs(100)
    }

    private func openTrainer(catalog: Catalog) throws -> ModelTrainer {
        let decoding = ProgressLine(label: "frames", unit: "frames")
        let started = Date()
        defer { decoding.finish() }
        let report: @Sendable (Int, Int) -> Void = { done, total in
            decoding.update(done: done, total: total, elapsed: Date().timeIntervalSince(started))
        }
        if let resume {
            let options = ResumeOptions(
                threads: threads, backboneWeights: backboneWeights.map { absolutePath($0).path },
                gridEveryEpochs: gridEvery, checkpointEverySteps: checkpointEvery, copyCheckEverySteps: copyCheckEvery,
                copyLimitPercent: copyLimit)
            try ModelTrainer.checkResumable(resume, length: length, options: options, catalog: catalog)
            return try ModelTrainer.resume(resume, catalog: catalog, options: options, decodeProgress: report)
        }
        return try ModelTrainer.create(request, catalog: catalog, shouldStop: { ms_stop_requested() != 0 }, decodeProgress: report)
    }

    /// The new model the options describe, with the defaults the help names.
    private var request: TrainingRequest {
        var request = TrainingRequest(modality: modality!)
        request.filter = QueryFilter(patient: patient, study: study, series: series)
        request.includeSynthetic = includeSynthetic
        request.name = name ?? ""
        request.preset = preset ?? request.preset
        request.upsampling = upsampling
        request.noiseInputs = noiseInputs
        if discriminator == .transfer, let backbone, let backboneWeights {
            request.discriminator = .transfer(backbone, weights: absolutePath(backboneWeights).path)
        }
        request.batchSize = batch ?? request.batchSize
        request.learningRate = lr ?? request.learningRate
        request.seed = seed ?? request.seed
        request.splitSeed = splitSeed
        request.augmentation = augment ?? request.augmentation
        request.adaptiveAugmentation.target = adaTarget ?? request.adaptiveAugmentation.target
        request.adaptiveAugmentation.rampImages = adaRamp ?? request.adaptiveAugmentation.rampImages
        // 0 is how the options say "none".
        request.emaHalfLifeImages = emaHalfLife.map { $0 == 0 ? nil : $0 } ?? request.emaHalfLifeImages
        request.lecamWeight = lecam.map { $0 == 0 ? nil : $0 } ?? request.lecamWeight
        request.minibatchStandardDeviation = minibatchStd ?? request.minibatchStandardDeviation
        request.threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        request.gridEveryEpochs = gridEvery ?? request.gridEveryEpochs
        request.checkpointEverySteps = checkpointEvery ?? request.checkpointEverySteps
        request.copyCheck = CopyCheckSettings.adjusted(request.copyCheck, everySteps: copyCheckEvery, limitPercent: copyLimit)
        request.validationFraction = validationFraction ?? request.validationFraction
        request.splitBy = splitBy ?? request.splitBy
        request.region = preparation.region ?? request.region
        request.annotations = preparation.annotations ?? request.annotations
        return request
    }
}

/// `train --json`: the model and the files of its folder, absolute.
struct TrainOutput: Encodable {
    var modelId: Int64
    var name: String
    var status: ModelStatus
    /// Stopped: resume with --resume.
    var outcome: TrainingOutcome
    var step: Int
    var epoch: Int
    var plannedStep: Int?
    var checkpointSha256: String?
    /// This run's copy checks (`--copy-check-every`).
    var copyChecks: [CopyCheckResult]
    var folder: String
    var modelJson: String
    var generator: String
    var losses: String
    var lossPlot: String
    var samples: String
    /// The figures of the evaluation at the end of a finished run (as `evaluate --json` gives them); nil when skipped or failed.
    var evaluation: EvaluationResult?

    init(_ trainer: ModelTrainer, outcome: TrainingOutcome, evaluation: EvaluationResult?) {
        let folder = trainer.folder
        let path = { (name: String) in folder.appendingPathComponent(name).path }
        modelId = trainer.model.id!
        name = trainer.model.name
        status = trainer.model.status
        self.outcome = outcome
        step = trainer.keptStep
        epoch = trainer.keptEpoch
        copyChecks = trainer.copyChecks
        plannedStep = trainer.record.plannedStep
        checkpointSha256 = trainer.model.checkpointDigest
        self.folder = folder.path
        modelJson = path(CheckpointFolder.modelFile)
        generator = path(CheckpointFolder.generatorFile)
        losses = path(ModelFolderWriter.lossesFile)
        lossPlot = path(ModelFolderWriter.lossPlotFile)
        samples = path(ModelFolderWriter.samplesFolder)
        self.evaluation = evaluation
    }
}

extension GeneratorPreset: ExpressibleByArgument {}
extension Upsampling: ExpressibleByArgument {}
extension BackboneKind: ExpressibleByArgument {}
extension SplitGrouping: ExpressibleByArgument {}
extension DiscriminatorKind: ExpressibleByArgument {}
extension Augmentation: ExpressibleByArgument {}
