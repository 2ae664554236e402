import Catalog
import DICOM
import Engine
import Foundation
import Imaging
import Training

/// What `medsynth synthesize` writes.
public enum OutputFormat: String, CaseIterable, Sendable {
    /// Multi-frame Grayscale Byte Secondary Capture files, marked synthetic.
    case dicom
    /// One 8-bit grayscale PNG per frame.
    case png
    /// The generator's raw float32 output [N, channels, H, W] in one `frames.npy`.
    case npy
}

/// One synthesis run: which latents, where, in which form.
public struct SynthesisRequest: Sendable {
    public var latentSource: LatentRequest
    public var output: URL
    public var format: OutputFormat = .dicom
    /// Frames per DICOM file (the last file may hold fewer).
    public var framesPerFile = 1
    /// Import the DICOM files into the catalog as synthetic, with their lineage.
    public var register = true
    /// Frames generated per forward pass.
    public var batchSize = 32
    /// Withhold copies of training frames (`CopyDetector`).
    public var privacy: PrivacySetting = .standard
    /// The most latents a seeded run draws to write its count of frames past
    /// the privacy gate; nil: `LatentPlan.defaultDrawLimit`.
    public var drawLimit: Int?

    public enum PrivacySetting: Sendable, Equatable {
        /// `CopyDetector.defaultRadius`.
        case standard
        /// This copy radius (copy distance, 0 to 1).
        case radius(Float)
        case disabled
    }

    public enum LatentRequest: Sendable {
        /// `count` frames written, from rows 0, 1, ... of the seeded latents
        /// (further rows replace frames the privacy gate withholds).
        case seed(UInt64, count: Int)
        /// A `.npy` file's rows, each drawn once; `count`, when given, must equal its rows.
        case file(path: String, count: Int?)
    }

    public init(latentSource: LatentRequest, output: URL) {
        self.latentSource = latentSource
        self.output = output
    }
}

/// What a run wrote.
public struct SynthesisResult: Sendable {
    public var folder: URL
    /// File names inside `folder`, in the order written (not counting the manifest and `latents.npy`).
    public var files: [String] = []
    /// Frames written: generated and not withheld by the privacy filter.
    public var framesWritten: Int { writtenLatentIndices.count }
    /// Latents drawn (frames generated): written or withheld.
    public var framesGenerated = 0
    public var framesRequested: Int
    /// The most latents the run could draw.
    public var drawLimit = 0
    /// The latent index of every frame written, in order.
    public var writtenLatentIndices: [Int] = []
    /// Frames the privacy filter withheld, by latent index.
    public var withheldLatentIndices: [Int] = []
    /// The privacy filter's copy radius, nil when no filter ran.
    public var privacyRadius: Float?
    /// What the caller should tell the user (a filter that could not run, ...).
    public var warnings: [String] = []
    /// Stopped by the caller before every frame was written.
    public var stopped = false
    /// Fewer frames written than requested without a stop: the privacy gate
    /// withheld so many that the draw limit (or the latents file) ran out.
    public var isShort: Bool { !stopped && framesWritten < framesRequested }
    /// The catalog's record of the run, when the files were registered.
    public var synthesis: SynthesisRecord?
    public var instances: [GeneratedInstance] = []
}

/// Generates frames from a model and writes them (architecture page:
/// inference mode, BatchNorm with its running statistics).
public enum Synthesizer {
    public static let latentsFile = "latents.npy"
    public static let manifestFile = "synthesis.json"
    public static let framesFile = "frames.npy"
    /// The largest `frames.npy` written, checked before the frames are generated.
    public static let maximumArrayBytes = 4 << 30
    /// The most frames of one run (and rows of a `--latents` file).
    public static let maximumFrames = 100_000

    public static func run(model: SynthesisModel, request: SynthesisRequest, catalog: Catalog?,
                           shouldStop: () -> Bool = { false },
                           progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> SynthesisResult {
        let configuration = model.generator.configuration
        let side = configuration.resolution, channels = configuration.channels
        if request.format != .npy, channels != 1 {
            throw SynthesisError.unsupportedChannels(channels, format: request.format.rawValue)
        }
        let plan = try LatentPlan(request.latentSource, drawLimit: request.drawLimit, dimension: configuration.latentDimension)
        let frameValues = side * side * channels
        if request.format == .npy, plan.target * frameValues * 4 > maximumArrayBytes {
            throw SynthesisError.tooLarge("\(plan.target) frames of \(channels)x\(side)x\(side) float32 exceed the "
                                          + "\(maximumArrayBytes >> 30) GiB limit of \(framesFile); generate fewer per run")
        }
        var warnings: [String] = []
        let detector = try copyDetector(request.privacy, model: model, catalog: catalog, warnings: &warnings)
        if let removed = try prepareEmptyFolder(request.output) {
            warnings.append("removed \(removed) files an interrupted run had left in the output folder")
        }
        // Written first and removed last: a folder holding it is an interrupted
        // run whose files were never registered, and the next run may reuse it.
        try publish(request.output.appendingPathComponent(incompleteMarker).path) {
            try Data("""
                An interrupted medsynth synthesize: these files were not registered and have no synthesis.json.
                Run synthesize again with this --out to replace them.

                """.utf8).write(to: URL(fileURLWithPath: $0))
        }

        let series = SyntheticSeries(modelName: model.name, modelId: model.record?.id, checkpointDigest: model.checkpointDigest,
                                     step: model.description.step, preset: model.description.preset, modality: model.modality,
                                     latentSource: plan.source,
                                     burnedInAnnotation: try burnedInAnnotation(of: model, catalog: catalog), createdAt: Date())
        var result = SynthesisResult(folder: request.output, framesRequested: plan.target)
        result.warnings = warnings
        result.privacyRadius = detector?.radius
        result.drawLimit = plan.limit
        var sink = FrameSink(request: request, series: series, side: side)
        var writtenLatents: [Float] = []
        while result.framesWritten < plan.target, result.framesGenerated < plan.limit {
            if shouldStop() {
                result.stopped = true
                break
            }
            // Never more than still needed: every frame drawn is either written or withheld.
            let range = result.framesGenerated..<min(result.framesGenerated + request.batchSize, plan.limit,
                                                     result.framesGenerated + plan.target - result.framesWritten)
            let latentRows = plan.rows(range)
            let images = model.generate(latentRows: latentRows)
            let checks = detector?.check(FrameMatrix(pixels: frameValues, values: images))
            for (offset, index) in range.enumerated() {
                if let check = checks?[offset], check.isCopy {
                    result.withheldLatentIndices.append(index)
                    continue
                }
                result.writtenLatentIndices.append(index)
                writtenLatents += latentRows[(latentRows.startIndex + offset * plan.dimension)..<(latentRows.startIndex + (offset + 1) * plan.dimension)]
                try sink.add(images[(offset * frameValues)..<((offset + 1) * frameValues)], latentIndex: index, into: &result)
            }
            result.framesGenerated = range.upperBound
            progress(result.framesWritten, plan.target)
        }
        try sink.finish(into: &result)
        // The latents of the frames written, in order: withheld copies cannot be regenerated from the folder.
        try publish(request.output.appendingPathComponent(latentsFile).path) {
            try NumpyFile.write(NamedArray(shape: [result.framesWritten, plan.dimension], values: writtenLatents), to: $0)
        }
        if request.format == .dicom, request.register, let catalog, !result.instances.isEmpty {
            do {
                result.synthesis = try register(result, series: series, model: model, catalog: catalog)
            } catch {
                // The files stay complete and described, whatever the catalog did.
                try? Manifest(model: model, series: series, request: request, result: result).write(to: request.output)
                unlink(request.output.appendingPathComponent(incompleteMarker).path)
                throw error
            }
        }
        try Manifest(model: model, series: series, request: request, result: result).write(to: request.output)
        unlink(request.output.appendingPathComponent(incompleteMarker).path)
        return result
    }

    /// The copy detector `setting` asks for, or nil (with a warning saying
    /// why) when it is disabled or cannot run: a model outside the registry
    /// has no training frames to compare with.
    static func copyDetector(_ setting: SynthesisRequest.PrivacySetting, model: SynthesisModel, catalog: Catalog?,
                             warnings: inout [String]) throws -> CopyDetector? {
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
        guard model.generator.configuration.channels == 1 else {
            warnings.append("no privacy filter: the model makes \(model.generator.configuration.channels)-channel images")
            return nil
        }
        return try ModelFrameSets.load(model, record: record, catalog: catalog).copyDetector(radius: radius)
    }

    /// YES unless the model's lineage shows every training instance stating NO.
    static func burnedInAnnotation(of model: SynthesisModel, catalog: Catalog?) throws -> String {
        guard let id = model.record?.id, let catalog else { return "YES" }
        let stated = try catalog.burnedInAnnotations(modelId: id)
        return !stated.isEmpty && stated.allSatisfy({ $0?.uppercased() == "NO" }) ? "NO" : "YES"
    }

    /// Creates `folder`, or accepts it when it exists and is empty, or when it
    /// holds only what an interrupted run wrote (its marker says so; those
    /// files are removed and their number returned): a run never mixes its
    /// files with, or overwrites, those of a finished run or anyone else.
    static func prepareEmptyFolder(_ folder: URL) throws -> Int? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else {
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw SynthesisError.output("cannot create the output folder (\(error.localizedDescription))", path: folder.path)
            }
            return nil
        }
        guard isDirectory.boolValue else { throw SynthesisError.output("exists and is not a folder", path: folder.path) }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw SynthesisError.output("cannot list the output folder (\(error.localizedDescription))", path: folder.path)
        }
        if entries.isEmpty { return nil }
        guard entries.contains(incompleteMarker), entries.allSatisfy(isRunFile) else {
            throw SynthesisError.output("the output folder is not empty (choose another --out)", path: folder.path)
        }
        for name in entries where name != incompleteMarker {
            guard unlink(folder.appendingPathComponent(name).path) == 0 else {
                throw SynthesisError.output("cannot remove a file of an interrupted run (\(String(cString: strerror(errno))))",
                                            path: folder.appendingPathComponent(name).path)
            }
        }
        unlink(folder.appendingPathComponent(incompleteMarker).path)
        return entries.count - 1
    }

    /// Marks an output folder whose run has not finished.
    public static let incompleteMarker = "synthesis.incomplete"

    /// A name a synthesize run writes: its frames, latents, manifest, marker and temporary files.
    static func isRunFile(_ name: String) -> Bool {
        let base = name.hasSuffix(".partial") ? String(name.dropLast(".partial".count)) : name
        if [incompleteMarker, manifestFile, latentsFile, framesFile].contains(base) { return true }
        guard base.hasPrefix("synthetic-"), base.hasSuffix(".dcm") || base.hasSuffix(".png") else { return false }
        return base.dropFirst("synthetic-".count).dropLast(4).allSatisfy(\.isNumber)
    }

    /// Writes a file through `<path>.partial` and links it into place without
    /// replacing anything: a file under its final name is always complete,
    /// and no run overwrites another's files. Failures name `path`.
    static func publish(_ path: String, write: (String) throws -> Void) throws {
        let temporary = path + ".partial"
        defer { unlink(temporary) }
        do {
            try write(temporary)
        } catch {
            let reason = (error as? DicomError)?.reason ?? (error as? TensorFileError)?.reason ?? (error as? PNGError)?.reason
                ?? error.localizedDescription
            throw SynthesisError.output("cannot write (\(reason))", path: path)
        }
        guard link(temporary, path) == 0 else {
            let reason = errno == EEXIST ? "a file of this name appeared meanwhile (another run writing here?); it was left alone"
                : "cannot write (\(String(cString: strerror(errno))))"
            throw SynthesisError.output(reason, path: path)
        }
    }

    /// Imports the written files (catalogued as synthetic from their own
    /// Synthetic Data attribute, with managed copies), then records the run
    /// and the latent of every frame.
    static func register(_ result: SynthesisResult, series: SyntheticSeries, model: SynthesisModel, catalog: Catalog) throws -> SynthesisRecord {
        let paths = result.files.map { result.folder.appendingPathComponent($0).path }
        let imported = try Importer(catalog: catalog).run(paths: paths)
        if let problem = imported.rejections.first ?? imported.conflicts.first {
            throw SynthesisError.output("the catalog did not accept a generated file (\(problem.reason))", path: problem.path)
        }
        let record = SynthesisRecord(modelId: model.record?.id, modelName: model.name, checkpointDigest: model.checkpointDigest,
                                     seed: series.latentSource.seed, latentsSha256: series.latentSource.fileSha256,
                                     frameCount: result.framesWritten,
                                     studyInstanceUid: series.studyInstanceUID, seriesInstanceUid: series.seriesInstanceUID,
                                     outputFolder: result.folder.path, createdAt: series.createdAt.formatted(.iso8601))
        return try catalog.registerSynthesis(record, instances: result.instances)
    }
}

/// The latents a run draws from, in order: the seeded rows 0, 1, ... up to
/// a limit, or a file's rows.
struct LatentPlan {
    let source: Latents.Source
    /// Frames to write.
    let target: Int
    /// The most rows drawn.
    let limit: Int
    let dimension: Int
    private let file: Latents?

    /// A seeded run draws at most this many latents per frame requested (and
    /// at least 100 in all) before it gives up on reaching its count.
    static let drawsPerFrame = 10

    static func defaultDrawLimit(target: Int) -> Int { max(target * drawsPerFrame, 100) }

    init(_ request: SynthesisRequest.LatentRequest, drawLimit: Int?, dimension: Int) throws {
        self.dimension = dimension
        switch request {
        case .seed(let seed, let count):
            guard (1...Synthesizer.maximumFrames).contains(count) else {
                throw SynthesisError.tooLarge("the frame count must be between 1 and \(Synthesizer.maximumFrames), not \(count)")
            }
            (source, target, file) = (.seed(seed), count, nil)
            limit = max(drawLimit ?? Self.defaultDrawLimit(target: count), count)
        case .file(let path, let count):
            let latents = try Latents.read(path: path, dimension: dimension, maximumRows: Synthesizer.maximumFrames)
            if let count, count != latents.count {
                throw SynthesisError.latents("--count \(count) differs from the file's \(latents.count) rows", path: path)
            }
            (source, target, limit, file) = (latents.source, latents.count, latents.count, latents)
        }
    }

    /// Rows `range`, row-major [range.count, dimension].
    func rows(_ range: Range<Int>) -> ArraySlice<Float> {
        switch source {
        case .seed(let seed): ArraySlice(Latents.seededRows(seed, range, dimension: dimension))
        case .file: file!.rows(range)
        }
    }
}

/// Where written frames go: one file per frame (PNG), K frames per DICOM
/// file, or all frames in one `frames.npy` at the end.
struct FrameSink {
    let request: SynthesisRequest
    let series: SyntheticSeries
    let side: Int
    private var pending: [(index: Int, pixels: [UInt8])] = []
    private var rawFrames: [Float] = []

    init(request: SynthesisRequest, series: SyntheticSeries, side: Int) {
        (self.request, self.series, self.side) = (request, series, side)
    }

    mutating func add(_ values: ArraySlice<Float>, latentIndex: Int, into result: inout SynthesisResult) throws {
        switch request.format {
        case .npy:
            rawFrames.append(contentsOf: values)
        case .png:
            let name = String(format: "synthetic-%06d.png", latentIndex)
            try Synthesizer.publish(request.output.appendingPathComponent(name).path) {
                try PNGWriter.write(path: $0, pixels: values.map(SampleGrid.byte(fromSigned:)), width: side, height: side, channels: 1)
            }
            result.files.append(name)
        case .dicom:
            pending.append((latentIndex, values.map(SampleGrid.byte(fromSigned:))))
            if pending.count == request.framesPerFile { try flushDicom(into: &result) }
        }
    }

    /// Writes what is still held: the last DICOM file, or `frames.npy`.
    mutating func finish(into result: inout SynthesisResult) throws {
        try flushDicom(into: &result)
        guard request.format == .npy, result.framesWritten > 0 else { return }
        let shape = [result.framesWritten, rawFrames.count / (result.framesWritten * side * side), side, side]
        try Synthesizer.publish(request.output.appendingPathComponent(Synthesizer.framesFile).path) {
            try NumpyFile.write(NamedArray(shape: shape, values: rawFrames), to: $0)
        }
        result.files.append(Synthesizer.framesFile)
    }

    private mutating func flushDicom(into result: inout SynthesisResult) throws {
        guard !pending.isEmpty else { return }
        let name = String(format: "synthetic-%06d.dcm", pending[0].index)
        var uid = ""
        let frames = pending
        let instanceNumber = result.files.count + 1
        try Synthesizer.publish(request.output.appendingPathComponent(name).path) { path in
            uid = try SyntheticDicomWriter.write(frames: frames.map(\.pixels), side: side, latentIndices: frames.map(\.index),
                                                 instanceNumber: instanceNumber, series: series, to: path)
        }
        result.files.append(name)
        result.instances.append(GeneratedInstance(sopInstanceUid: uid, latentIndices: frames.map(\.index)))
        pending.removeAll()
    }
}

/// `synthesis.json`: the run's provenance beside its files, so that a
/// folder copied out of the workbench still says what made it.
struct Manifest: Encodable {
    struct Model: Encodable {
        var name: String
        var registryId: Int64?
        var folder: String
        var preset: String
        var modality: String
        var step: Int?
        var checkpointSha256: String
    }
    struct File: Encodable {
        var file: String
        var sopInstanceUid: String?
        var latentIndices: [Int]
    }
    var software = "medsynth \(SoftwareVersion.current)"
    var createdAt: String
    var model: Model
    /// Decimal text: seeds reach 2^64, beyond what JSON readers keep exactly.
    var seed: String?
    var latentsFrom: String?
    var latentsFromSha256: String?
    var latentsFile = Synthesizer.latentsFile
    var format: String
    var framesRequested: Int
    var framesGenerated: Int
    var framesWritten: Int
    var stopped: Bool
    /// The copy radius of the privacy filter; absent when no filter ran.
    var privacyRadius: Float?
    var drawLimit: Int
    var withheldLatentIndices: [Int]
    var studyInstanceUid: String?
    var seriesInstanceUid: String?
    var catalogSynthesisId: Int64?
    var files: [File]

    init(model: SynthesisModel, series: SyntheticSeries, request: SynthesisRequest, result: SynthesisResult) {
        createdAt = series.createdAt.formatted(.iso8601)
        self.model = Model(name: model.name, registryId: model.record?.id, folder: model.folder.path, preset: model.description.preset,
                           modality: model.modality, step: model.description.step, checkpointSha256: model.checkpointDigest)
        switch series.latentSource {
        case .seed(let value): seed = String(value)
        case .file(let path, let sha256): (latentsFrom, latentsFromSha256) = (path, sha256)
        }
        format = request.format.rawValue
        framesRequested = result.framesRequested
        framesGenerated = result.framesGenerated
        framesWritten = result.framesWritten
        privacyRadius = result.privacyRadius
        drawLimit = result.drawLimit
        withheldLatentIndices = result.withheldLatentIndices
        stopped = result.stopped
        let dicom = request.format == .dicom
        studyInstanceUid = dicom ? series.studyInstanceUID : nil
        seriesInstanceUid = dicom ? series.seriesInstanceUID : nil
        catalogSynthesisId = result.synthesis?.id
        switch request.format {
        case .dicom:
            files = result.instances.enumerated().map { File(file: result.files[$0.offset], sopInstanceUid: $0.element.sopInstanceUid,
                                                              latentIndices: $0.element.latentIndices) }
        case .png:
            files = zip(result.files, result.writtenLatentIndices).map { File(file: $0, latentIndices: [$1]) }
        case .npy:
            files = result.files.map { File(file: $0, latentIndices: result.writtenLatentIndices) }
        }
    }

    /// Writes `synthesis.json` into `folder`.
    func write(to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = try encoder.encode(self)
        try Synthesizer.publish(folder.appendingPathComponent(Synthesizer.manifestFile).path) { try data.write(to: URL(fileURLWithPath: $0)) }
    }
}

/// A synthesis that cannot be done, naming the file or model concerned.
public enum SynthesisError: Error, CustomStringConvertible, Sendable {
    case catalogNeeded(String)
    case noCheckpoint(String)
    case latents(String, path: String)
    case unsupportedChannels(Int, format: String)
    case tooLarge(String)
    case output(String, path: String)

    public var description: String {
        switch self {
        case .catalogNeeded(let reference):
            "not a checkpoint folder (no model.json) and no catalog to look the model up in: \(reference)"
        case .noCheckpoint(let name):
            "the model has no checkpoint yet (still starting, or failed before its first one): \(name)"
        case .latents(let reason, let path): "unusable latents (\(reason)): \(path)"
        case .unsupportedChannels(let channels, let format):
            "the model makes \(channels)-channel images; \(format) export writes grayscale only (use --format npy)"
        case .tooLarge(let reason): reason
        case .output(let reason, let path): "\(reason): \(path)"
        }
    }
}
