import Catalog
import DICOM
import Dispatch
import Engine
import Foundation
import Imaging
import Synchronization

/// How catalogued frames become training images. Part of the cache key and
/// of the training-set digest: a change here makes new cache entries.
public struct FramePreprocessing: Equatable, Sendable {
    public var resolution: Int

    public init(resolution: Int) { self.resolution = resolution }

    /// One line naming every step, versioned.
    public var summary: String {
        "v1 gray8=dcmtk(window|8-bit|min-max; colour: BT.601 luma) crop=centre-square resize=area-average:\(resolution) scale=[-1,1]"
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
    /// Frames that could not be decoded, each naming its file, and a cache
    /// that could not be written.
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
            throw ModelError.tooLarge(
                "\(totalFrames) frames of \(side)x\(side) need \(bytes >> 20) MiB, over the limit of "
                    + "\(maximumBytes >> 20) MiB; narrow the data set with --patient, --study or --series")
        }
        let cache = cacheFile(for: instances, preprocessing: preprocessing, catalog: catalog)
        if let cached = try? readCache(cache, instances: instances, preprocessing: preprocessing) { return cached }

        // Instances decode in parallel (separate DCMTK handles); results keep instance order.
        let done = Atomic<Int>(0)
        let results = Mutex<[Int: (frames: [[Float]], failures: [String])]>([:])
        DispatchQueue.concurrentPerform(iterations: instances.count) { index in
            let candidate = instances[index]
            let path = catalog.storage.absolutePath(relative: candidate.storedPath)
            var frames: [[Float]] = [], failures: [String] = []
            do {
                let file = try DicomFile(path: path)
                for frameIndex in 0..<candidate.frames {
                    do {
                        let frame = try file.grayFrame(frameIndex)
                        let resampled = SquareResampler.centreCropAreaAverage(
                            pixels: frame.pixels, width: frame.width,
                            height: frame.height, side: side)
                        frames.append(resampled.map { $0 / 127.5 - 1 })
                    } catch {
                        failures.append("\(error)")
                    }
                    progress(done.add(1, ordering: .relaxed).newValue, totalFrames)
                }
            } catch {
                failures.append("\(error)")
            }
            results.withLock { $0[index] = (frames, failures) }
        }
        var values: [Float] = [], frameInstance: [Int] = [], failures: [String] = []
        values.reserveCapacity(totalFrames * side * side)
        let collected = results.withLock { $0 }
        for index in instances.indices {
            let result = collected[index]!
            for frame in result.frames {
                values += frame
                frameInstance.append(index)
            }
            failures += result.failures
        }
        var dataset = FrameDataset(
            preprocessing: preprocessing, instances: instances, frameInstance: frameInstance,
            values: values, failures: failures, fromCache: false)
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
            let failures = try? JSONDecoder().decode([String].self, from: Data((contents.metadata["failures"] ?? "[]").utf8))
        else { return nil }
        let frameInstance = perInstance.enumerated().flatMap { index, count in Array(repeating: index, count: count) }
        return FrameDataset(
            preprocessing: preprocessing, instances: instances, frameInstance: frameInstance,
            values: frames.values, failures: failures, fromCache: true)
    }
}
