import Catalog
import DICOM
import Engine
import Foundation
import Imaging
import Ingest
import ModelStore

/// Generates frames from a model and writes them (architecture page:
/// inference mode, BatchNorm with its running statistics): a latent plan
/// (`LatentPlan`), the privacy gate (`CopyDetector`), a labelled model's
/// labels read and checked (`LabelReading`) and written (`LabelsFile`), one
/// sink per output format (`FrameSink`), the output folder's rules
/// (`OutputFolder`), and the run's record (`Manifest`, the catalog's
/// registration).
public enum Synthesizer {
    public static let latentsFile = "latents.npy"
    public static let manifestFile = "synthesis.json"
    public static let framesFile = "frames.npy"
    /// The largest `frames.npy` written, checked before the frames are generated.
    public static let maximumArrayBytes = 4 << 30
    /// The most frames of one run (and rows of a `--latents` file).
    public static let maximumFrames = 100_000

    public static func run(
        model: TrainedModel, request: SynthesisRequest, catalog: Catalog?,
        shouldStop: () -> Bool = { false },
        progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }
    ) throws -> SynthesisResult {
        let plan = try checkedPlan(model: model, request: request)
        let labels = model.description.labels.map {
            LabelReading(record: $0, side: model.generator.configuration.resolution, minimumConfidence: request.minimumLabelConfidence)
        }
        var result = SynthesisResult(folder: request.output, framesRequested: plan.target)
        result.keypointConfidenceFloor = labels?.record.kind == .keypoints ? labels?.minimumConfidence : nil
        result.drawLimit = plan.limit
        // The folder before the training frames load: a --out that cannot be used fails at once.
        if let removed = try OutputFolder.prepare(request.output) {
            result.warnings.append("removed \(removed) files an interrupted run had left in the output folder")
        }
        let detector = try copyDetector(request.privacy, model: model, catalog: catalog, warnings: &result.warnings)
        result.privacyRadius = detector?.radius
        // Written first and removed last: a folder holding it is an interrupted
        // run whose files were never registered, and the next run may reuse it.
        try OutputFolder.markIncomplete(request.output)
        let series = SyntheticSeries(
            modelName: model.name, modelId: model.record?.id, checkpointDigest: model.checkpointDigest,
            step: model.description.step, preset: model.description.preset, modality: model.modality,
            latentSource: plan.source,
            burnedInAnnotation: try burnedInAnnotation(of: model, catalog: catalog), createdAt: Date())
        var sink = makeFrameSink(request, series: series, side: model.generator.configuration.resolution)
        let writtenLatents = try generate(
            model: model, plan: plan, batchSize: request.batchSize, detector: detector, labels: labels, sink: &sink,
            result: &result, shouldStop: shouldStop, progress: progress)
        try sink.finish(into: &result)
        if let labels, result.framesWritten > 0 {
            try LabelsFile(model: model, labels: labels, format: request.format, result: result).write(to: request.output)
            result.labelsFile = LabelsFile.fileName
            if request.format == .dicom { try LabelObjects.write(into: &result, labels: labels, series: series) }
        }
        // The latents of the frames written, in order: withheld copies cannot be regenerated from the folder.
        try OutputFolder.publish(request.output.appendingPathComponent(latentsFile).path) {
            try NumpyFile.write(NamedArray(shape: [result.framesWritten, plan.dimension], values: writtenLatents), to: $0)
        }
        try record(&result, series: series, model: model, request: request, catalog: catalog)
        return result
    }

    /// The latent plan of `request`, once the model and the request are known to fit.
    static func checkedPlan(model: TrainedModel, request: SynthesisRequest) throws -> LatentPlan {
        let configuration = model.generator.configuration
        let side = configuration.resolution, channels = configuration.channels
        if request.format != .npy, !model.makesGrayscaleFrames {
            throw SynthesisError.unsupportedChannels(channels, format: request.format.rawValue)
        }
        if request.minimumLabelConfidence != nil, model.description.labels?.kind != .keypoints {
            throw SynthesisError.noKeypoints(model.name)
        }
        let plan = try LatentPlan(request.latentSource, drawLimit: request.drawLimit, dimension: configuration.latentDimension)
        if request.format == .npy, plan.target * side * side * channels * 4 > maximumArrayBytes {
            throw SynthesisError.tooLarge(
                "\(plan.target) frames of \(channels)x\(side)x\(side) float32 exceed the "
                    + "\(maximumArrayBytes >> 30) GiB limit of \(framesFile); generate fewer per run")
        }
        return plan
    }

    /// Draws latents batch by batch until the plan's count of frames has
    /// passed the privacy gate (and, with `labels`, has confident labels),
    /// the draw limit is reached or a stop is asked for; hands every frame
    /// that passes to `sink`. Returns the latents of the frames written, row-major.
    static func generate(
        model: TrainedModel, plan: LatentPlan, batchSize: Int, detector: CopyDetector?, labels: LabelReading?,
        sink: inout any FrameSink,
        result: inout SynthesisResult, shouldStop: () -> Bool,
        progress: (_ done: Int, _ total: Int) -> Void
    ) throws -> [Float] {
        let frameValues =
            model.generator.configuration.resolution * model.generator.configuration.resolution
            * model.generator.configuration.channels
        var writtenLatents: [Float] = []
        while result.framesWritten < plan.target, result.framesGenerated < plan.limit {
            if shouldStop() {
                result.stopped = true
                break
            }
            // Never more than still needed: every frame drawn is either written or withheld.
            let range =
                result
                .framesGenerated..<min(
                    result.framesGenerated + batchSize, plan.limit,
                    result.framesGenerated + plan.target - result.framesWritten)
            let latentRows = plan.rows(range)
            let images = model.generate(latentRows: latentRows)
            // The copy test compares the frame, without the labels a labelled model draws after it.
            let checks = detector.map { detector in
                let frames = model.generator.imageChannel(of: images)
                return detector.check(FrameMatrix(pixels: frames.count / range.count, values: frames))
            }
            for (offset, index) in range.enumerated() {
                if let check = checks?[offset], check.isCopy {
                    result.withheldLatentIndices.append(index)
                    continue
                }
                let frame = images[(offset * frameValues)..<((offset + 1) * frameValues)]
                if let labels {
                    switch labels.read(frame) {
                    case .doubtful(let doubt):
                        result.doubtfulLabels.append((index, doubt))
                        continue
                    case .confident(let decoded):
                        result.writtenLabels.append(decoded)
                    }
                }
                result.writtenLatentIndices.append(index)
                let latentStart = latentRows.startIndex + offset * plan.dimension
                writtenLatents += latentRows[latentStart..<(latentStart + plan.dimension)]
                try sink.add(frame, latentIndex: index, into: &result)
            }
            result.framesGenerated = range.upperBound
            progress(result.framesWritten, plan.target)
        }
        return writtenLatents
    }

    /// Registers the DICOM files when asked, then writes `synthesis.json` and
    /// removes the marker. When the catalog fails, the files stay complete
    /// and described all the same; when the manifest cannot be written, the
    /// marker stays and the folder counts as interrupted.
    static func record(
        _ result: inout SynthesisResult, series: SyntheticSeries, model: TrainedModel, request: SynthesisRequest,
        catalog: Catalog?
    ) throws {
        if request.format == .dicom, request.register, let catalog, !result.instances.isEmpty {
            do {
                (result.synthesis, result.annotationsRegistered) = try register(
                    result, series: series, model: model, catalog: catalog)
            } catch {
                try? Manifest(model: model, series: series, request: request, result: result).write(to: request.output)
                OutputFolder.markComplete(request.output)
                throw error
            }
        }
        try Manifest(model: model, series: series, request: request, result: result).write(to: request.output)
        OutputFolder.markComplete(request.output)
    }

    /// The copy detector `setting` asks for, or nil (with a warning saying
    /// why) when it is disabled or cannot run: a model outside the registry
    /// has no training frames to compare with.
    static func copyDetector(
        _ setting: SynthesisRequest.PrivacySetting, model: TrainedModel, catalog: Catalog?,
        warnings: inout [String]
    ) throws -> CopyDetector? {
        let radius: Float
        switch setting {
        case .disabled:
            warnings.append("the privacy filter is off: copies of training frames are exported too")
            return nil
        case .radius(let value): radius = value
        case .standard: radius = CopyDetector.defaultRadius
        }
        guard let record = model.record, let catalog else {
            warnings.append("no privacy filter: the model's training frames are unknown (a checkpoint folder outside the registry)")
            return nil
        }
        guard model.makesGrayscaleFrames else {
            warnings.append("no privacy filter: the model makes \(model.generator.configuration.channels)-channel images")
            return nil
        }
        return try ModelFrameSets.load(model, record: record, catalog: catalog).copyDetector(radius: radius)
    }

    /// YES unless the model's lineage shows every training instance stating
    /// NO, or its frames all came from inside a declared tissue region with
    /// burned-in annotations masked (docs/provenance.md, "Burned In
    /// Annotation, honestly"). A model outside the registry always says YES.
    static func burnedInAnnotation(of model: TrainedModel, catalog: Catalog?) throws -> String {
        guard let id = model.record?.id, let catalog else { return "YES" }
        if model.description.training?.trainingSet.preparation?.everyFrameFromMaskedTissueRegion == true { return "NO" }
        let stated = try catalog.burnedInAnnotations(modelId: id)
        return !stated.isEmpty && stated.allSatisfy({ $0?.uppercased() == "NO" }) ? "NO" : "YES"
    }

    /// Imports the written files (catalogued as synthetic from their own
    /// Synthetic Data attribute, with managed copies) and their labels (as
    /// annotations of those instances), then records the run and the latent
    /// of every frame.
    static func register(_ result: SynthesisResult, series: SyntheticSeries, model: TrainedModel, catalog: Catalog) throws
        -> (SynthesisRecord, annotations: Int)
    {
        let paths = (result.files + [result.labelsFile].compactMap { $0 }).map { result.folder.appendingPathComponent($0).path }
        let imported = try Importer(catalog: catalog).run(paths: paths)
        if let problem = imported.rejections.first ?? imported.conflicts.first {
            throw SynthesisError.output("the catalog did not accept a generated file (\(problem.reason))", path: problem.path)
        }
        let record = SynthesisRecord(
            modelId: model.record?.id, modelName: model.name, checkpointDigest: model.checkpointDigest,
            seed: series.latentSource.seed, latentsSha256: series.latentSource.fileSha256,
            frameCount: result.framesWritten,
            studyInstanceUid: series.studyInstanceUID, seriesInstanceUid: series.seriesInstanceUID,
            outputFolder: result.folder.path, createdAt: series.createdAt.formatted(.iso8601))
        return (try catalog.registerSynthesis(record, instances: result.instances), imported.summary.annotations)
    }
}
