import ArgumentParser
import CPlatform
import Catalog
import DICOM
import Engine
import Foundation
import Imaging
import ModelStore
import Synthesis

struct SynthesizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synthesize",
        abstract: "Generate frames with a trained model and export them as synthetic DICOM, PNG or NumPy.",
        discussion: """
            DICOM files are Multi-frame Grayscale Byte Secondary Capture, marked as generated in every \
            way the standard offers (Synthetic Data YES, Conversion Type SYN, Image Type \
            DERIVED\\SECONDARY, a Contributing Equipment item "Synthesizing Equipment" naming the model, \
            its checkpoint digest, the seed and the latent index), with a synthetic patient and fresh \
            2.25 UIDs: one new study per run, one series for the model. Nothing of any training instance \
            is copied into them; which instances trained the model stays in the catalog \
            (docs/provenance.md).

            Unless --no-catalog is given, the DICOM files are also imported into the catalog, as \
            synthetic instances with the model, seed and latent index of every frame \
            ('medsynth query instances --synthetic yes'); they never train a model unless \
            'train --include-synthetic' is given.

            Frames that copy a training frame (a patient's image, even shifted, mirrored, brightened or \
            noisier) are withheld and counted, and further latents are drawn until --count frames are \
            written (at most --max-draws); when the limit is reached first, the frames that passed are \
            written and the command exits with status 62 (docs/evaluation.md). The output folder gets latents.npy \
            (the generator inputs of the frames written, float32 [N, latent_dim]: a row given back \
            with --latents makes its frame again) and synthesis.json (the run's provenance). MODEL is an id or name from 'medsynth models', or a checkpoint folder \
            (model.json + generator.safetensors) from any tool.

            A model trained with 'train --labels' draws each frame with its labels: they are read back \
            (keypoints around their heatmaps' peaks, a mask where its plane is above 0) and written to \
            labels.json (COCO, keyed by SOP Instance UID and frame number, the form 'medsynth import' \
            reads) and, with the DICOM files, into the catalog as annotations of the synthetic instances. \
            A frame whose labels are doubtful (a keypoint's peak below --label-confidence or off the \
            frame, an empty mask) is withheld and another latent drawn, as for a copy; the counts are \
            reported (docs/training.md, "Labels out").

            Examples:
              medsynth synthesize --model us-compact-1 --count 100 --seed 7
              medsynth synthesize --model 1 --count 64 --frames-per-file 16 \\
                  --out exports/us --json
              medsynth synthesize --model path/to/checkpoint --latents z.npy \\
                  --format npy --no-catalog
            """
    )

    /// Frames written when neither --count nor --latents says.
    static let defaultCount = 16

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: ArgumentHelp("The model: id or name from 'medsynth models', or a checkpoint folder.", valueName: "model"))
    var model: String

    @Option(parsing: .unconditional, help: "Frames to write (default 16; with --latents: the file's rows).")
    var count: Int?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            """
            The most latents to draw so that --count frames pass the privacy filter (default 10 x --count, at least 100).
            """, valueName: "n"))
    var maxDraws: Int?

    @Option(help: "Seed of the latents (default: a random one, printed and recorded in every file).")
    var seed: UInt64?

    @Option(help: ArgumentHelp("Latents to use instead of random ones: float32 .npy of shape [N, latent_dim].", valueName: "file.npy"))
    var latents: String?

    @Option(
        help: ArgumentHelp(
            "Output folder: new, empty, or left by an interrupted run (default ./synthetic/<model>-<UTC date-time>).", valueName: "dir"))
    var out: String?

    @Option(help: "dicom, png (8-bit grayscale, one per frame) or npy (raw float32 [N, channels, H, W]).")
    var format: OutputFormat = .dicom

    @Option(parsing: .unconditional, help: "Frames per DICOM file: one multi-frame instance per K frames.")
    var framesPerFile = 1

    @Flag(help: "Write files only; do not register the DICOM files in the catalog.")
    var noCatalog = false

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            """
            Copy radius: withhold frames within this copy distance of a training frame (the share of its structure \
            not reproduced: 0 an exact copy, 0.8 a blank frame; default \(CopyDetector.defaultRadius)). Near training \
            frames that another series comes closer to, the radius shrinks to that distance.
            """, valueName: "distance"))
    var privacyThreshold: Float?

    @Flag(help: "Export near-copies of training frames too (not recommended; a warning is printed).")
    var noPrivacyFilter = false

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            """
            Keypoint models: the lowest heatmap peak a keypoint may have for its frame to be written (0 to 1; 1 is the \
            peak of a keypoint drawn perfectly; default \(LabelReading.defaultMinimumConfidence)).
            """, valueName: "peak"))
    var labelConfidence: Double?

    @Option(parsing: .unconditional, help: "Engine threads (default: one per core).")
    var threads: Int?

    @OptionGroup var output: JSONOption

    func validate() throws {
        if let count, !(1...Synthesizer.maximumFrames).contains(count) {
            throw ValidationError("--count must be between 1 and \(Synthesizer.maximumFrames).")
        }
        if latents != nil && seed != nil { throw ValidationError("Give --seed or --latents, not both.") }
        if !(1...1000).contains(framesPerFile) { throw ValidationError("--frames-per-file must be between 1 and 1000.") }
        if framesPerFile != 1 && format != .dicom { throw ValidationError("--frames-per-file applies to --format dicom only.") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
        if noPrivacyFilter && privacyThreshold != nil {
            throw ValidationError("Give --privacy-threshold or --no-privacy-filter, not both.")
        }
        if let privacyThreshold, !(privacyThreshold >= 0 && privacyThreshold <= 1) {
            throw ValidationError("--privacy-threshold is a copy distance between 0 and 1.")
        }
        if let maxDraws, maxDraws < count ?? Self.defaultCount { throw ValidationError("--max-draws must be at least --count.") }
        if let labelConfidence, !(labelConfidence >= 0 && labelConfidence <= 1) {
            throw ValidationError("--label-confidence is a heatmap peak between 0 and 1.")
        }
        if maxDraws != nil && latents != nil {
            throw ValidationError("--max-draws applies to seeded latents; a --latents file is drawn once.")
        }
    }

    func run() throws {
        let catalog = try openCatalog()
        EngineThreads.configure(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        ms_install_stop_handlers()
        let trainedModel = try failingWithStatus { try TrainedModel.open(model, catalog: catalog) }
        let chosenSeed = seed ?? UInt64.random(in: 0...UInt64(Int64.max))
        let progress = ProgressLine(label: "synthesize", unit: "frames")
        let started = Date()
        let result = try failingWithStatus {
            try Synthesizer.run(
                model: trainedModel, request: request(seed: chosenSeed, modelName: trainedModel.name), catalog: catalog,
                shouldStop: { ms_stop_requested() != 0 }
            ) { done, total in
                progress.update(done: done, total: total, elapsed: Date().timeIntervalSince(started))
            }
        }
        progress.finish()
        for warning in result.warnings { printError("warning: \(warning)") }
        report(result, model: trainedModel, seed: chosenSeed)
        if output.json { try printJSON(SynthesizeOutput(result, model: trainedModel, seed: latents == nil ? chosenSeed : nil)) }
        try endWithStatus(of: result)
    }

    /// Exits 3 when the run was stopped, 62 when the privacy filter left it short of --count.
    private func endWithStatus(of result: SynthesisResult) throws {
        if result.stopped {
            printError(
                "stopped after \(result.framesWritten) of \(result.framesRequested) frames; the files written are complete and recorded")
            throw ExitCode(ExitStatus.interrupted.rawValue)
        }
        guard result.isShort else { return }
        let why =
            latents != nil
            ? "the latents file has \(result.drawLimit) rows"
            : "the limit of \(result.drawLimit) latents drawn (--max-draws) was reached"
        let doubtful = result.doubtfulLabels.count
        let labelsToo = doubtful > 0 ? ", \(doubtful) had doubtful labels," : ""
        let cause =
            doubtful > result.withheldLatentIndices.count
            ? "the model's labels are often doubtful (see labels in synthesis.json; a lower --label-confidence writes fainter keypoints)"
            : "the model copies its training frames (see 'medsynth evaluate')"
        printError(
            """
            wrote only \(result.framesWritten) of \(result.framesRequested) frames: \(result.withheldLatentIndices.count) of the \
            \(result.framesGenerated) generated copy a training frame\(labelsToo) and \(why); \(cause): \(result.folder.path)
            """)
        throw ExitCode(ExitStatus.fewerFramesThanRequested.rawValue)
    }

    /// The run the options ask for.
    private func request(seed chosenSeed: UInt64, modelName: String) -> SynthesisRequest {
        let latentRequest: SynthesisRequest.LatentRequest =
            latents.map { .file(path: absolutePath($0).path, count: count) }
            ?? .seed(chosenSeed, count: count ?? Self.defaultCount)
        let folder =
            out.map { absolutePath($0, isDirectory: true) }
            ?? OutputFolder.defaultLocation(modelName: modelName, in: absolutePath(".", isDirectory: true))
        var request = SynthesisRequest(latentSource: latentRequest, output: folder)
        request.format = format
        request.framesPerFile = framesPerFile
        request.register = !noCatalog
        request.privacy = noPrivacyFilter ? .disabled : privacyThreshold.map { .radius($0) } ?? .standard
        request.drawLimit = maxDraws
        request.minimumLabelConfidence = labelConfidence
        return request
    }

    /// What was written, for a person (stderr under --json).
    private func report(_ result: SynthesisResult, model: TrainedModel, seed chosenSeed: UInt64) {
        if let radius = result.privacyRadius {
            printResult(
                String(
                    format: "privacy filter: withheld %d of %d frames drawn as copies of training frames (copy radius %.2f)",
                    result.withheldLatentIndices.count, result.framesGenerated, radius)
                    + (result.withheldLatentIndices.isEmpty
                        ? ""
                        : " (latent indices \(result.withheldLatentIndices.map(String.init).joined(separator: " ")))"),
                json: output.json)
        }
        if let labels = model.description.labels {
            printResult(labelsReport(result, labels: labels), json: output.json)
        }
        let origin = latents.map { "latents \($0)" } ?? "seed \(chosenSeed)"
        printResult(
            """
            wrote \(result.framesWritten) synthetic \(model.modality) frames in \(result.files.count) \
            \(format.rawValue) file\(result.files.count == 1 ? "" : "s") from model "\(model.name)" (\(origin)) to \(result.folder.path)
            """, json: output.json)
        if let synthesis = result.synthesis {
            printResult(
                "catalog: synthesis \(synthesis.id!), \(result.instances.count) instances registered as synthetic in study "
                    + synthesis.studyInstanceUid
                    + (result.labelsFile == nil ? "" : ", with \(result.annotationsRegistered) annotations"), json: output.json)
        }
    }

    /// "labels: withheld 3 of 40 frames drawn for doubtful labels (2 with a keypoint's peak below 0.50, 1 with ...); labels.json".
    private func labelsReport(_ result: SynthesisResult, labels: LabelRecord) -> String {
        let counts = LabelReading.Doubt.allCases.compactMap { doubt -> String? in
            let count = result.doubtfulLabels.count(where: { $0.doubt == doubt })
            return count == 0
                ? nil : "\(count) with \(doubt.describe(minimumConfidence: result.keypointConfidenceFloor ?? 0))"
        }
        let withheld =
            "labels (\(labels.kind.rawValue) of \(labels.labelSet)): withheld \(result.doubtfulLabels.count) of "
            + "\(result.framesGenerated) frames drawn for doubtful labels"
            + (counts.isEmpty ? "" : " (\(counts.joined(separator: ", ")))")
        let kind = labels.kind == .masks ? "Segmentation" : "Structured Report"
        let objects =
            result.labelObjects.isEmpty ? "" : " and \(result.labelObjects.count) DICOM \(kind)\(result.labelObjects.count == 1 ? "" : "s")"
        return withheld + (result.labelsFile.map { "; written to \(result.folder.appendingPathComponent($0).path)\(objects)" } ?? "")
    }

    /// The catalog, or nil when the files need none: --no-catalog with a
    /// checkpoint folder.
    private func openCatalog() throws -> Catalog? {
        if noCatalog && TrainedModel.isCheckpointFolder(model) {
            ConsoleLogHandler.bootstrap(verbose: catalogOptions.verbose)
            return nil
        }
        return try catalogOptions.openCatalog(.write(create: false))
    }
}

/// `synthesize --json`: what the run wrote, with absolute paths.
struct SynthesizeOutput: Encodable {
    var model: String
    var modelId: Int64?
    var checkpointSha256: String
    /// Decimal text, as synthesis.json writes it: seeds reach 2^64.
    var seed: String?
    var folder: String
    var files: [String]
    var manifest: String
    var latents: String
    var framesRequested: Int
    var framesWritten: Int
    var framesGenerated: Int
    var withheldLatentIndices: [Int]
    /// A labelled model's `labels.json`, and the frames withheld for doubtful labels.
    var labels: String?
    /// The DICOM objects holding the labels (absolute paths).
    var labelObjects: [String]?
    var doubtfulLabelLatentIndices: [Int]?
    var annotationsRegistered: Int?
    var privacyRadius: Float?
    var stopped: Bool
    var synthesisId: Int64?
    var studyInstanceUid: String?
    var seriesInstanceUid: String?
    var sopInstanceUids: [String]

    init(_ result: SynthesisResult, model: TrainedModel, seed: UInt64?) {
        self.model = model.name
        modelId = model.record?.id
        checkpointSha256 = model.checkpointDigest
        self.seed = seed.map(String.init)
        folder = result.folder.path
        files = result.files.map { result.folder.appendingPathComponent($0).path }
        manifest = result.folder.appendingPathComponent(Synthesizer.manifestFile).path
        latents = result.folder.appendingPathComponent(Synthesizer.latentsFile).path
        framesRequested = result.framesRequested
        framesWritten = result.framesWritten
        framesGenerated = result.framesGenerated
        withheldLatentIndices = result.withheldLatentIndices
        labels = result.labelsFile.map { result.folder.appendingPathComponent($0).path }
        let drawsLabels = model.description.labels != nil
        labelObjects = drawsLabels ? result.labelObjects.map { result.folder.appendingPathComponent($0).path } : nil
        doubtfulLabelLatentIndices = drawsLabels ? result.doubtfulLabels.map(\.latentIndex) : nil
        annotationsRegistered = drawsLabels && result.synthesis != nil ? result.annotationsRegistered : nil
        privacyRadius = result.privacyRadius
        stopped = result.stopped
        synthesisId = result.synthesis?.id
        studyInstanceUid = result.synthesis?.studyInstanceUid
        seriesInstanceUid = result.synthesis?.seriesInstanceUid
        sopInstanceUids = result.instances.map(\.sopInstanceUid)
    }
}

extension OutputFormat: ExpressibleByArgument {}
