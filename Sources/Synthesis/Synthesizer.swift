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
    /// Withhold near-copies of training frames (`PrivacyFilter`).
    public var privacy: PrivacySetting = .derived

    public enum PrivacySetting: Sendable, Equatable {
        /// The threshold the model's real frames give (`PrivacyFilter.derivedThreshold`).
        case derived
        /// This distance (RMS on 0-to-1 intensities).
        case threshold(Float)
        case disabled
    }

    public enum LatentRequest: Sendable {
        case seed(UInt64, count: Int)
        /// A `.npy` file; `count`, when given, must equal its rows.
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
    public var framesGenerated = 0
    public var framesRequested: Int
    /// The latent index of every frame written, in order.
    public var writtenLatentIndices: [Int] = []
    /// Frames the privacy filter withheld, by latent index.
    public var withheldLatentIndices: [Int] = []
    /// The privacy filter's threshold, nil when no filter ran.
    public var privacyThreshold: Float?
    /// What the caller should tell the user (a filter that could not run, ...).
    public var warnings: [String] = []
    /// Stopped by the caller before every frame was written.
    public var stopped = false
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
        let latents: Latents
        switch request.latentSource {
        case .seed(let seed, let count):
            guard (1...maximumFrames).contains(count) else {
                throw SynthesisError.tooLarge("the frame count must be between 1 and \(maximumFrames), not \(count)")
            }
            latents = Latents.seeded(seed, count: count, dimension: configuration.latentDimension)
        case .file(let path, let count):
            latents = try Latents.read(path: path, dimension: configuration.latentDimension, maximumRows: maximumFrames)
            if let count, count != latents.count {
                throw SynthesisError.latents("--count \(count) differs from the file's \(latents.count) rows", path: path)
            }
        }
        let frameValues = side * side * channels
        if request.format == .npy, latents.count * frameValues * 4 > maximumArrayBytes {
            throw SynthesisError.tooLarge("\(latents.count) frames of \(channels)x\(side)x\(side) float32 exceed the "
                                          + "\(maximumArrayBytes >> 30) GiB limit of \(framesFile); generate fewer per run")
        }
        var warnings: [String] = []
        let filter = try privacyFilter(request.privacy, model: model, catalog: catalog, warnings: &warnings)
        try prepareEmptyFolder(request.output)

        let series = SyntheticSeries(modelName: model.name, modelId: model.record?.id, checkpointDigest: model.checkpointDigest,
                                     step: model.description.step, preset: model.description.preset, modality: model.modality,
                                     latentSource: latents.source,
                                     burnedInAnnotation: try burnedInAnnotation(of: model, catalog: catalog), createdAt: Date())
        var result = SynthesisResult(folder: request.output, framesRequested: latents.count)
        result.warnings = warnings
        result.privacyThreshold = filter?.threshold
        var pending: [(index: Int, pixels: [UInt8])] = []
        var rawFrames: [Float] = []
        func flushDicom() throws {
            guard !pending.isEmpty else { return }
            let name = String(format: "synthetic-%06d.dcm", pending[0].index)
            var uid = ""
            try publish(request.output.appendingPathComponent(name).path) { path in
                uid = try SyntheticDicomWriter.write(frames: pending.map(\.pixels), side: side, latentIndices: pending.map(\.index),
                                                     instanceNumber: result.files.count + 1, series: series, to: path)
            }
            result.files.append(name)
            result.instances.append(GeneratedInstance(sopInstanceUid: uid, latentIndices: pending.map(\.index)))
            pending.removeAll()
        }
        var start = 0
        while start < latents.count {
            if shouldStop() {
                result.stopped = true
                break
            }
            let range = start..<min(start + request.batchSize, latents.count)
            let images = model.generate(latents, range)
            let distances = filter?.nearestTrainingDistances(FrameMatrix(pixels: frameValues, values: images))
            for (offset, index) in range.enumerated() {
                if let distances, let filter, filter.withholds(distance: distances[offset]) {
                    result.withheldLatentIndices.append(index)
                    continue
                }
                result.writtenLatentIndices.append(index)
                let values = images[(offset * frameValues)..<((offset + 1) * frameValues)]
                switch request.format {
                case .npy:
                    rawFrames.append(contentsOf: values)
                case .png:
                    let name = String(format: "synthetic-%06d.png", index)
                    try publish(request.output.appendingPathComponent(name).path) {
                        try PNGWriter.write(path: $0, pixels: values.map(SampleGrid.byte(fromSigned:)), width: side, height: side, channels: 1)
                    }
                    result.files.append(name)
                case .dicom:
                    pending.append((index, values.map(SampleGrid.byte(fromSigned:))))
                    if pending.count == request.framesPerFile { try flushDicom() }
                }
            }
            result.framesGenerated = range.upperBound
            progress(result.framesGenerated, latents.count)
            start = range.upperBound
        }
        try flushDicom()
        // The latents of the frames written, in order: withheld near-copies cannot be regenerated from the folder.
        try publish(request.output.appendingPathComponent(latentsFile).path) {
            try NumpyFile.write(NamedArray(shape: [result.writtenLatentIndices.count, latents.dimension],
                                           values: Array(result.writtenLatentIndices.map { latents.row($0) }.joined())), to: $0)
        }
        if request.format == .npy, result.framesWritten > 0 {
            try publish(request.output.appendingPathComponent(framesFile).path) {
                try NumpyFile.write(NamedArray(shape: [result.framesWritten, channels, side, side], values: rawFrames), to: $0)
            }
            result.files.append(framesFile)
        }
        if request.format == .dicom, request.register, let catalog, !result.instances.isEmpty {
            do {
                result.synthesis = try register(result, series: series, model: model, catalog: catalog)
            } catch {
                // The files stay complete and described, whatever the catalog did.
                try? Manifest(model: model, series: series, request: request, result: result).write(to: request.output)
                throw error
            }
        }
        try Manifest(model: model, series: series, request: request, result: result).write(to: request.output)
        return result
    }

    /// The filter `setting` asks for, or nil (with a warning saying why) when
    /// it is disabled or cannot run: a model outside the registry has no
    /// training frames to compare with.
    static func privacyFilter(_ setting: SynthesisRequest.PrivacySetting, model: SynthesisModel, catalog: Catalog?,
                              warnings: inout [String]) throws -> PrivacyFilter? {
        let givenThreshold: Float?
        switch setting {
        case .disabled:
            warnings.append("the privacy filter is off: near-copies of training frames are exported too")
            return nil
        case .threshold(let value): givenThreshold = value
        case .derived: givenThreshold = nil
        }
        guard let record = model.record, let catalog else {
            warnings.append("no privacy filter: the model's training frames are unknown (a checkpoint folder outside the registry)")
            return nil
        }
        guard model.generator.configuration.channels == 1 else {
            warnings.append("no privacy filter: the model makes \(model.generator.configuration.channels)-channel images")
            return nil
        }
        let frames = try ModelFrameSets.load(model, record: record, catalog: catalog)
        guard let threshold = givenThreshold ?? frames.nearCopyThreshold else {
            warnings.append("no privacy filter: the model's real frames come from one series, so no threshold can be derived "
                            + "(give --privacy-threshold)")
            return nil
        }
        return PrivacyFilter(threshold: threshold, trainingFrames: frames.training)
    }

    /// YES unless the model's lineage shows every training instance stating NO.
    static func burnedInAnnotation(of model: SynthesisModel, catalog: Catalog?) throws -> String {
        guard let id = model.record?.id, let catalog else { return "YES" }
        let stated = try catalog.burnedInAnnotations(modelId: id)
        return !stated.isEmpty && stated.allSatisfy({ $0?.uppercased() == "NO" }) ? "NO" : "YES"
    }

    /// Creates `folder`, or accepts it when it exists and is empty: a run
    /// never mixes its files with, or overwrites, earlier ones.
    static func prepareEmptyFolder(_ folder: URL) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw SynthesisError.output("exists and is not a folder", path: folder.path) }
            let entries: [String]
            do {
                entries = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            } catch {
                throw SynthesisError.output("cannot list the output folder (\(error.localizedDescription))", path: folder.path)
            }
            guard entries.isEmpty else {
                throw SynthesisError.output("the output folder is not empty (choose another --out)", path: folder.path)
            }
            return
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw SynthesisError.output("cannot create the output folder (\(error.localizedDescription))", path: folder.path)
        }
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
    /// The distance below which frames were withheld; absent when no filter ran.
    var privacyThreshold: Float?
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
        privacyThreshold = result.privacyThreshold
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
