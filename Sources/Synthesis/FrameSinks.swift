import Catalog
import Engine
import Foundation
import Imaging

/// Where the frames of a run go, one kind per output format. A sink adds
/// the files it writes to the result as it writes them.
protocol FrameSink {
    /// Takes one generated frame (values in [-1, 1], [channels, side, side]:
    /// the image, then a labelled model's label channels) made from latent `latentIndex`.
    mutating func add(_ values: ArraySlice<Float>, latentIndex: Int, into result: inout SynthesisResult) throws
    /// Writes what is still held.
    mutating func finish(into result: inout SynthesisResult) throws
}

/// The sink of the request's format, writing into its output folder.
func makeFrameSink(_ request: SynthesisRequest, series: SyntheticSeries, side: Int) -> any FrameSink {
    switch request.format {
    case .dicom: DicomSink(folder: request.output, series: series, side: side, framesPerFile: request.framesPerFile)
    case .png: PNGSink(folder: request.output, side: side)
    case .npy: NpySink(folder: request.output, side: side)
    }
}

/// K frames per Multi-frame Grayscale Byte Secondary Capture file, named
/// after the latent index of its first frame: the image channel (the labels
/// go to `labels.json`).
struct DicomSink: FrameSink {
    let folder: URL
    let series: SyntheticSeries
    let side: Int
    let framesPerFile: Int
    private var pending: [(index: Int, pixels: [UInt8])] = []

    init(folder: URL, series: SyntheticSeries, side: Int, framesPerFile: Int) {
        (self.folder, self.series, self.side, self.framesPerFile) = (folder, series, side, framesPerFile)
    }

    mutating func add(_ values: ArraySlice<Float>, latentIndex: Int, into result: inout SynthesisResult) throws {
        pending.append((latentIndex, values.prefix(side * side).map(SampleGrid.byte(fromSigned:))))
        if pending.count == framesPerFile { try finish(into: &result) }
    }

    mutating func finish(into result: inout SynthesisResult) throws {
        guard !pending.isEmpty else { return }
        let name = String(format: "synthetic-%06d.dcm", pending[0].index)
        var uid = ""
        let frames = pending, instanceNumber = result.files.count + 1, side = side, series = series
        try OutputFolder.publish(folder.appendingPathComponent(name).path) { path in
            uid = try SyntheticDicomWriter.write(
                frames: frames.map(\.pixels), side: side, latentIndices: frames.map(\.index),
                instanceNumber: instanceNumber, series: series, to: path)
        }
        result.files.append(name)
        result.instances.append(GeneratedInstance(sopInstanceUid: uid, latentIndices: frames.map(\.index)))
        pending.removeAll()
    }
}

/// One 8-bit grayscale PNG per frame of the image channel, named after its latent index.
struct PNGSink: FrameSink {
    let folder: URL
    let side: Int

    func add(_ values: ArraySlice<Float>, latentIndex: Int, into result: inout SynthesisResult) throws {
        let name = String(format: "synthetic-%06d.png", latentIndex)
        try OutputFolder.publish(folder.appendingPathComponent(name).path) {
            try PNGWriter.write(
                path: $0, pixels: values.prefix(side * side).map(SampleGrid.byte(fromSigned:)), width: side, height: side, channels: 1)
        }
        result.files.append(name)
    }

    func finish(into result: inout SynthesisResult) throws {}
}

/// The generator's raw float32 output of every frame, label channels
/// included, in one `frames.npy` [N, channels, H, W] written at the end.
struct NpySink: FrameSink {
    let folder: URL
    let side: Int
    private var values: [Float] = []

    init(folder: URL, side: Int) {
        (self.folder, self.side) = (folder, side)
    }

    mutating func add(_ values: ArraySlice<Float>, latentIndex: Int, into result: inout SynthesisResult) throws {
        self.values.append(contentsOf: values)
    }

    func finish(into result: inout SynthesisResult) throws {
        guard result.framesWritten > 0 else { return }
        let shape = [result.framesWritten, values.count / (result.framesWritten * side * side), side, side]
        try OutputFolder.publish(folder.appendingPathComponent(Synthesizer.framesFile).path) {
            try NumpyFile.write(NamedArray(shape: shape, values: values), to: $0)
        }
        result.files.append(Synthesizer.framesFile)
    }
}
