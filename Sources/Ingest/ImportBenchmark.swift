import Catalog
import DICOM
import Foundation
import Synchronization

/// The import scenario of `medsynth bench`: a real sample written again
/// under new UIDs as many small instances, imported into a fresh catalog.
/// Reports the rate over the whole run and over its first and last thousand
/// files, so that a slowdown as the catalog grows shows as a ratio below 1.
public enum ImportBenchmark {
    public struct Result: Codable, Sendable {
        public var scenario = "import"
        public var sample: String
        public var instances: Int
        public var jobs: Int
        public var seconds: Double
        public var instancesPerSecond: Double
        public var firstThousandPerSecond: Double
        public var lastThousandPerSecond: Double
        /// Last thousand's rate over the first thousand's.
        public var lastToFirstRatio: Double

        enum CodingKeys: String, CodingKey {
            case scenario, sample, instances, jobs, seconds
            case instancesPerSecond = "instances_per_second"
            case firstThousandPerSecond = "first_thousand_per_second"
            case lastThousandPerSecond = "last_thousand_per_second"
            case lastToFirstRatio = "last_to_first_ratio"
        }
    }

    /// Writes `count` copies of `sample` with new study (one per 100), series
    /// (one per 10) and SOP Instance UIDs into `folder`.
    public static func generate(sample: String, count: Int, into folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = try DicomFile(path: sample)
        var study = "", series = ""
        for index in 0..<count {
            if index % 100 == 0 { study = DicomUID.make() }
            if index % 10 == 0 { series = DicomUID.make() }
            try file.setString(.studyInstanceUID, study)
            try file.setString(.seriesInstanceUID, series)
            try file.setString(.sopInstanceUID, DicomUID.make())
            try file.setString(.instanceNumber, String(index % 10 + 1))
            try file.save(to: folder.appendingPathComponent(String(format: "%06d.dcm", index)).path)
        }
        // Flush the generated files now, so that the import's first sync does
        // not pay for writing its own inputs.
        try syncFileSystem(containing: folder.path)
    }

    /// Imports the files of `inputs` into a new catalog at `catalogFolder` and times it.
    public static func run(sample: String, inputs: URL, count: Int, catalogFolder: URL, jobs: Int?) throws -> Result {
        let catalog = try Catalog(directory: catalogFolder, create: true)
        let options = ImportOptions(jobs: jobs)
        let checkpoints = Mutex<[(done: Int, elapsed: Double)]>([(0, 0)])
        let result = try Importer(catalog: catalog, options: options).run(paths: [inputs.path]) { progress in
            checkpoints.withLock { $0.append((progress.filesDone, progress.elapsed)) }
        }
        guard result.summary.imported == count else {
            throw StorageError(reason: "imported \(result.summary.imported) of \(count) generated instances", path: inputs.path)
        }
        let marks = checkpoints.withLock { $0 }
        let total = marks.last!
        let thousand = min(1000, count)
        // First thousand: up to the first checkpoint at or past 1000 files.
        let first = marks.first { $0.done >= thousand }!
        // Last thousand: from the last checkpoint at or before count - 1000.
        let lastStart = marks.last { $0.done <= count - thousand }!
        let firstRate = Double(first.done) / first.elapsed
        let lastRate = Double(total.done - lastStart.done) / (total.elapsed - lastStart.elapsed)
        return Result(
            sample: sample, instances: count, jobs: options.jobs, seconds: total.elapsed,
            instancesPerSecond: Double(count) / total.elapsed, firstThousandPerSecond: firstRate,
            lastThousandPerSecond: lastRate, lastToFirstRatio: lastRate / firstRate)
    }
}
