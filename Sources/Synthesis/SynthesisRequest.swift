import Catalog
import Foundation
import Imaging
import ModelStore

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
    /// the privacy gate; nil: `Latents.defaultDrawLimit`.
    public var drawLimit: Int?
    /// A keypoint model's lowest heatmap peak written; nil:
    /// `LabelReading.defaultMinimumConfidence`. Only for models that draw keypoints.
    public var minimumLabelConfidence: Double?

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
    /// Frames of a labelled model withheld for doubtful labels (`LabelReading`), by latent index, with why.
    public var doubtfulLabels: [(latentIndex: Int, doubt: LabelReading.Doubt)] = []
    /// The labels of every frame written, in the order of `writtenLatentIndices`, when the model draws labels.
    public var writtenLabels: [LabelChannels.Decoded] = []
    /// `labels.json` in `folder`, when the model draws labels and frames were written.
    public var labelsFile: String?
    /// The lowest keypoint peak written, when the model draws keypoints.
    public var keypointConfidenceFloor: Double?
    /// The DICOM objects holding the labels of the DICOM frames (`LabelObjects`), in `folder`.
    public var labelObjects: [String] = []
    /// Annotations the catalog stored from `labelsFile`.
    public var annotationsRegistered = 0
    /// The privacy filter's copy radius, nil when no filter ran.
    public var privacyRadius: Float?
    /// What the caller should tell the user (a filter that could not run, ...).
    public var warnings: [String] = []
    /// Stopped by the caller before every frame was written.
    public var stopped = false
    /// Fewer frames written than requested without a stop: the privacy gate
    /// (and the label check) withheld so many that the draw limit (or the
    /// latents file) ran out.
    public var isShort: Bool { !stopped && framesWritten < framesRequested }
    /// The catalog's record of the run, when the files were registered.
    public var synthesis: SynthesisRecord?
    public var instances: [GeneratedInstance] = []
}

/// A synthesis that cannot be done, naming the file or model concerned.
public enum SynthesisError: Error, CustomStringConvertible, Sendable {
    case unsupportedChannels(Int, format: String)
    /// A keypoint option for a model that draws no keypoints.
    case noKeypoints(String)
    case tooLarge(String)
    case output(String, path: String)

    public var description: String {
        switch self {
        case .unsupportedChannels(let channels, let format):
            "the model makes \(channels)-channel images; \(format) export writes grayscale only (use --format npy)"
        case .noKeypoints(let model): "the model \(model) draws no keypoints: a minimum label confidence applies to keypoint models only"
        case .tooLarge(let reason): reason
        case .output(let reason, let path): "\(reason): \(path)"
        }
    }
}
