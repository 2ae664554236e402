import Catalog
import Foundation
import Frames
import Ingest

/// A data set's ultrasound frames as training sees them (import, then the
/// frame preprocessing at 64 x 64, values in [-1, 1]), with the series and
/// patient of each frame: the copy detector's and the evaluation's test data.
public struct UltrasoundFrames: Sendable {
    public let name: String
    /// Row-major frames of 64 x 64.
    public let values: [Float]
    public let series: [Int]
    public let patients: [String?]
    public var count: Int { series.count }

    /// Frame `index` on the 0-to-1 scale.
    public func unitFrame(_ index: Int) -> [Float] { values[(index * 4096)..<((index + 1) * 4096)].map { ($0 + 1) / 2 } }

    public static func load(_ name: String, paths: [String]) throws -> UltrasoundFrames {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        _ = try Importer(catalog: catalog).run(paths: paths)
        let candidates = try catalog.trainingCandidates(modality: "US", filter: QueryFilter(), includeSynthetic: false).filter(\.decodable)
        let dataset = try FrameDataset.load(
            candidates, preprocessing: FramePreprocessing(resolution: 64, region: .none, annotations: .keep), catalog: catalog)
        let patients = dataset.frameInstance.map { dataset.instances[$0].patientId.isEmpty ? nil : dataset.instances[$0].patientId }
        return UltrasoundFrames(name: name, values: dataset.values, series: dataset.frameSeriesNumbers, patients: patients)
    }

    /// The decodable ultrasound files of the sample corpora: 4 cines and 6 single frames, 234 frames of 9 series.
    public static let sampleFiles = [
        "deid-data/GREYSCALE_CINE.dcm", "deid-data/ultrasounds/GREYSCALE_IMAGE.dcm", "deid-data/RGB_CINE.dcm",
        "deid-data/ultrasounds/RGB_IMAGE.dcm", "deid-data/ultrasounds/ultrasound-multiframe.dcm",
        "pydicom-data/JPGLosslessP14SV1_1s_1f_8b.dcm", "pydicom-data/OBXXXX1A.dcm", "pydicom-data/US1_UNCR.dcm",
        "pydicom-data/color-pl.dcm", "pydicom-data/color3d_jpeg_baseline.dcm",
    ]

    /// The sample US frames, loaded once per test process.
    public static let sample = Result { try load("sample US", paths: sampleFiles.map(Samples.path)) }

    /// The simulated set of the tests: 100 phantoms of 4 frames, seed 7, loaded once per test process.
    public static let simulatedPhantoms = 100, simulatedFrames = 4
    public static let simulated = Result { try load("simulated", paths: SimulatedUltrasound.testFiles.get()) }
}

/// The simulated B-mode set of `samples/simulate_bmode.py`.
public enum SimulatedUltrasound {
    /// The test set's files (`UltrasoundFrames.simulatedPhantoms` x `simulatedFrames`, seed 7),
    /// written once per test process into a temporary folder.
    public static let testFiles = Result { () throws -> [String] in
        let folder = try TemporaryFolder("medsynth-simulated")
        try generate(phantoms: UltrasoundFrames.simulatedPhantoms, frames: UltrasoundFrames.simulatedFrames, seed: 7, into: folder.path)
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map(folder.file)
    }

    /// Writes `phantoms` cines of `frames` frames (US Multi-frame DICOM) into `folder`.
    public static func generate(phantoms: Int, frames: Int, seed: Int, into folder: String) throws {
        let script = Samples.repositoryRoot.appendingPathComponent("samples/simulate_bmode.py").path
        let run = try ExternalProcess.run(
            "/usr/bin/python3",
            [
                script, folder, "--phantoms", "\(phantoms)", "--frames", "\(frames)",
                "--seed", "\(seed)",
            ])
        guard run.status == 0 else { throw SimulationFailed(message: run.standardError) }
    }

    public struct SimulationFailed: Error, CustomStringConvertible {
        public let message: String
        public var description: String { "samples/simulate_bmode.py failed: \(message)" }
    }
}
