import Catalog
import DICOM
import Dispatch
import Engine
import Foundation
import Imaging
import Synchronization

/// How catalogued frames become training images. Part of the cache key and
/// of the training-set digest: a change here makes new cache entries. A
/// change to what the region and annotation steps do (a threshold of
/// `ScanSector` or `BurnedInAnnotations`, a new step) is a new `version`, so
/// that models made before it reload their frames as they were made.
public struct FramePreprocessing: Equatable, Sendable {
    public var resolution: Int
    public var region: RegionChoice
    public var annotations: AnnotationHandling
    /// The version of the region and annotation steps (`summary`): 2 masks
    /// annotations in cines only; 3 also sets the screen around a single
    /// frame's image to black.
    public var version: Int

    /// The version new models are prepared with.
    public static let currentVersion = 3

    public init(resolution: Int, region: RegionChoice, annotations: AnnotationHandling, version: Int = currentVersion) {
        self.resolution = resolution
        self.region = region
        self.annotations = annotations
        self.version = version
    }

    /// The preparation `model.json` records (`training_set.preparation`);
    /// a model without one predates it and used the whole frame, one
    /// without a version was prepared by version 2.
    public init(resolution: Int, recorded: PreparationSummary?) {
        self.init(
            resolution: resolution, region: recorded?.region ?? .none, annotations: recorded?.annotations ?? .keep,
            version: recorded.map { $0.version ?? 2 } ?? 1)
    }

    /// Version 1, the only preparation of models before regions were read:
    /// the whole frame, nothing masked.
    package var isVersion1: Bool { region == .none && annotations == .keep }

    /// Masking annotations also blanks the screen around a single frame's image (version 3 on).
    var blanksSingleFrameScreen: Bool { annotations == .mask && version >= 3 }

    /// Without a region, the whole frame's centred square, as version 1 made
    /// it; a region is letterboxed, so none of it is cut.
    var fit: FramePlan.Fit { region == .none ? .centreCrop : .letterbox }

    /// One line naming every step, versioned. A recorded model's line must
    /// not change: it is part of its training-set digest.
    public var summary: String {
        let gray = "gray8=dcmtk(window|8-bit|min-max; colour: BT.601 luma)"
        if isVersion1 {
            return "v1 \(gray) crop=centre-square resize=area-average:\(resolution) scale=[-1,1]"
        }
        let regionStep =
            switch region {
            case .auto: "region=auto(largest 2D tissue region of (0018,6011), else cine sector estimate, else whole frame)"
            case .none: "region=whole-frame"
            case .fixed(let rectangle): "region=fixed(\(rectangle))"
            }
        let singleFrames =
            blanksSingleFrameScreen ? "; single frames: outside the convex hull of the largest opened shape of content set to 0" : ""
        let annotationStep =
            annotations == .mask
            ? "annotations=mask(cines: steady, brighter than surroundings, filled from neighbours\(singleFrames))" : "annotations=keep"
        let fitStep = fit == .centreCrop ? "crop=centre-square" : "fit=letterbox"
        return "v\(version) \(gray) \(regionStep) \(annotationStep) \(fitStep) resize=area-average:\(resolution) scale=[-1,1]"
    }
}

/// Every decodable frame of a set of instances as a training image:
/// `resolution` x `resolution` values in [-1, 1], one channel, row-major,
/// frames one after the other (as a tensor [count, 1, R, R]). Frames keep
/// the order of `instances` and, within an instance, the file's order.
public struct FrameDataset: Sendable {
    public let preprocessing: FramePreprocessing
    public let instances: [TrainingCandidate]
    /// The index into `instances` of each frame.
    public let frameInstance: [Int]
    public let values: [Float]
    /// What the preparation did to each instance (nil for one that did not open).
    public let preparations: [InstancePreparation?]
    /// Frames that could not be decoded, regions that fell back, annotations
    /// not masked, each naming its file, and a cache that could not be written.
    public private(set) var failures: [String]
    /// True when the frames came from the cache.
    public let fromCache: Bool

    public var count: Int { frameInstance.count }
    public var resolution: Int { preprocessing.resolution }

    /// The largest data set built in memory: 8 GiB of float32 frames.
    public static let maximumBytes = 8 << 30

    /// Decodes, or reads from the cache inside the catalog, every frame of
    /// `instances` (undecodable instances are skipped by the caller).
    /// `progress` gets (frames done, frames total) while decoding.
    public static func load(
        _ instances: [TrainingCandidate], preprocessing: FramePreprocessing, catalog: Catalog,
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) throws -> FrameDataset {
        let side = preprocessing.resolution
        let totalFrames = instances.reduce(0) { $0 + $1.frames }
        let bytes = totalFrames * side * side * 4
        guard bytes <= maximumBytes else {
            throw FrameDatasetError.tooLarge(
                "\(totalFrames) frames of \(side)x\(side) need \(bytes >> 20) MiB, over the limit of "
                    + "\(maximumBytes >> 20) MiB; narrow the data set with --patient, --study or --series")
        }
        let cache = cacheFile(for: instances, preprocessing: preprocessing, catalog: catalog)
        if let cached = try? readCache(cache, instances: instances, preprocessing: preprocessing) { return cached }

        // Instances decode in parallel (separate DCMTK handles); results keep instance order.
        let done = Atomic<Int>(0)
        let results = Mutex<[Int: InstanceFrames]>([:])
        DispatchQueue.concurrentPerform(iterations: instances.count) { index in
            let path = catalog.storage.absolutePath(relative: instances[index].storedPath)
            let decoded = InstanceFrames(path: path, frames: instances[index].frames, preprocessing: preprocessing) {
                progress(done.add(1, ordering: .relaxed).newValue, totalFrames)
            }
            results.withLock { $0[index] = decoded }
        }
        var values: [Float] = [], frameInstance: [Int] = [], failures: [String] = [], notes: [String] = []
        values.reserveCapacity(totalFrames * side * side)
        let collected = results.withLock { $0 }
        for index in instances.indices {
            let result = collected[index]!
            for frame in result.frames {
                values += frame
                frameInstance.append(index)
            }
            failures += result.failures
            notes += result.prepared?.notes ?? []
        }
        let singleFrames = instances.indices.filter { collected[$0]!.prepared?.annotationsLeftInSingleFrame == true }
        notes += PreparedInstance.singleFrameNote(singleFrames.map { catalog.storage.absolutePath(relative: instances[$0].storedPath) })
        var dataset = FrameDataset(
            preprocessing: preprocessing, instances: instances, frameInstance: frameInstance,
            values: values, preparations: instances.indices.map { collected[$0]!.prepared?.record },
            failures: failures + notes, fromCache: false)
        // The cache only saves time: a full disk or a read-only catalog does not stop training.
        do {
            try dataset.writeCache(cache)
        } catch {
            dataset.failures.append("frame cache not written (\(error)); the next run decodes again")
        }
        return dataset
    }

    /// The series of every frame, numbered 0, 1, ... in order of first appearance.
    public var frameSeriesNumbers: [Int] {
        var numbers: [String: Int] = [:]
        for instance in instances where numbers[instance.seriesInstanceUid] == nil {
            numbers[instance.seriesInstanceUid] = numbers.count
        }
        return frameInstance.map { numbers[instances[$0].seriesInstanceUid]! }
    }

    /// How many frames each instance gave, in instance order.
    public var framesPerInstance: [Int] {
        var counts = [Int](repeating: 0, count: instances.count)
        for instance in frameInstance { counts[instance] += 1 }
        return counts
    }

    /// The frames at `indices` as a batch [indices.count, 1, R, R], into `batch`.
    public func batch(_ indices: [Int], into batch: inout Tensor?) -> Tensor {
        let side = resolution, plane = side * side
        let tensor = reuseTensor(&batch, [indices.count, 1, side, side])
        values.withUnsafeBufferPointer { source in
            for (slot, frame) in indices.enumerated() {
                (tensor.data + slot * plane).update(from: source.baseAddress! + frame * plane, count: plane)
            }
        }
        return tensor
    }

    /// One instance's training images, as the parallel decode collects them.
    private struct InstanceFrames {
        var frames: [[Float]] = []
        /// Why the file or a frame did not decode, naming the file.
        var failures: [String] = []
        var prepared: PreparedInstance?

        /// Prepares and decodes the `frames` frames of the file at `path`;
        /// `frameDone` after each frame, decoded or not.
        init(path: String, frames count: Int, preprocessing: FramePreprocessing, frameDone: () -> Void) {
            do {
                let file = try DicomFile(path: path)
                let preparation = try preprocessing.prepare(file, geometry: file.geometry)
                prepared = preparation
                for frameIndex in 0..<count {
                    do {
                        let frame = try file.grayFrame(frameIndex)
                        let image = preparation.plan.trainingImage(frame.pixels, frameWidth: frame.width, side: preprocessing.resolution)
                        frames.append(image.map { $0 / 127.5 - 1 })
                    } catch {
                        failures.append("\(error)")
                    }
                    frameDone()
                }
            } catch {
                failures.append("\(error)")
            }
        }
    }

    // MARK: Cache

    /// `<catalog>/cache/frames/<key>.safetensors`, the key being the SHA-256
    /// of the preprocessing and the content digests of the instances.
    static func cacheFile(for instances: [TrainingCandidate], preprocessing: FramePreprocessing, catalog: Catalog) -> URL {
        var text = "medsynth frame cache\n\(preprocessing.summary)\n"
        for instance in instances { text += "\(instance.sha256)\n" }
        return catalog.frameCacheFolder.appendingPathComponent(FileDigest.sha256(bytes: Array(text.utf8)) + ".safetensors")
    }

    private func writeCache(_ file: URL) throws {
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let perInstance = framesPerInstance
        let metadata = [
            "preprocessing": preprocessing.summary,
            "frames_per_instance": perInstance.map(String.init).joined(separator: ","),
            "failures": String(decoding: try JSONEncoder().encode(failures), as: UTF8.self),
            "preparations": String(decoding: try JSONEncoder().encode(preparations), as: UTF8.self),
        ]
        try SafeTensors.write(
            [("frames", NamedArray(shape: [count, 1, resolution, resolution], values: values))],
            metadata: metadata, to: file.path)
    }

    /// The cached data set, or nil (then it is rebuilt) when the entry is
    /// missing or does not fit these instances.
    private static func readCache(_ file: URL, instances: [TrainingCandidate], preprocessing: FramePreprocessing) throws -> FrameDataset? {
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let contents = try SafeTensors.read(path: file.path)
        let perInstance = (contents.metadata["frames_per_instance"] ?? "").split(separator: ",").compactMap { Int($0) }
        guard contents.metadata["preprocessing"] == preprocessing.summary, perInstance.count == instances.count,
            let frames = contents.tensors["frames"],
            frames.shape == [perInstance.reduce(0, +), 1, preprocessing.resolution, preprocessing.resolution],
            let failures = try? JSONDecoder().decode([String].self, from: Data((contents.metadata["failures"] ?? "[]").utf8)),
            let preparations = try? JSONDecoder().decode(
                [InstancePreparation?].self, from: Data((contents.metadata["preparations"] ?? "").utf8)),
            preparations.count == instances.count
        else { return nil }
        let frameInstance = perInstance.enumerated().flatMap { index, count in Array(repeating: index, count: count) }
        return FrameDataset(
            preprocessing: preprocessing, instances: instances, frameInstance: frameInstance,
            values: frames.values, preparations: preparations, failures: failures, fromCache: true)
    }
}

/// A data set that cannot be made.
public enum FrameDatasetError: Error, CustomStringConvertible, Sendable {
    /// A data set over the memory limit.
    case tooLarge(String)

    public var description: String {
        switch self {
        case .tooLarge(let reason): reason
        }
    }
}

extension Catalog {
    /// Training images decoded once and reused (`cache/frames`, docs/training.md).
    public var frameCacheFolder: URL {
        directory.appendingPathComponent("cache/frames", isDirectory: true)
    }
}
