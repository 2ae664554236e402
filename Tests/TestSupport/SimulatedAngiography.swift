import Foundation

/// The labelled aortography set of `samples/simulate_xa.py`: XA cines of a
/// TAVI-like stent with its keypoints in COCO JSON.
public enum SimulatedAngiography {
    /// Writes `cines` cines of `frames` frames of `size` x `size` pixels into
    /// `folder`/xa (with xa/annotations.json); with `keypointsAt`, the
    /// known answer `folder`/known/annotations-SIZE.json; with
    /// `segmentations`, a DICOM Segmentation per cine in `folder`/xa/seg.
    public static func generate(
        cines: Int, frames: Int, size: Int = 256, seed: Int, keypointsAt: Int? = nil, segmentations: Bool = false, into folder: String
    ) throws {
        let script = Samples.repositoryRoot.appendingPathComponent("samples/simulate_xa.py").path
        var arguments = [script, folder, "--cines", "\(cines)", "--frames", "\(frames)", "--size", "\(size)", "--seed", "\(seed)"]
        if let keypointsAt { arguments += ["--keypoints-at", "\(keypointsAt)"] }
        if segmentations { arguments.append("--segmentations") }
        let run = try ExternalProcess.run("/usr/bin/python3", arguments)
        guard run.status == 0 else { throw SimulationFailed(message: run.standardError) }
    }

    public struct SimulationFailed: Error, CustomStringConvertible {
        public let message: String
        public var description: String { "samples/simulate_xa.py failed: \(message)" }
    }
}
