import Catalog
import DICOM
import Engine
import Foundation
import GAN

/// A trained model opened for inference, as synthesis and evaluation run it:
/// a registered model or a checkpoint folder (`model.json` +
/// `generator.safetensors`, architecture page), loaded with everything the
/// provenance of its frames names.
public struct TrainedModel {
    /// The registry's record, nil for a folder outside the registry.
    public let record: ModelRecord?
    public let folder: URL
    public let description: ModelDescription
    public let generator: Generator
    /// SHA-256 of `generator.safetensors` as read now: the weights that made the frames.
    public let checkpointDigest: String
    /// The registry's name, else `model.json`'s, else the folder's.
    public let name: String
    /// The modality the model was trained on; `OT` (other) when a foreign folder does not say.
    public let modality: String

    /// Resolves `reference`: a folder holding `model.json` wins, else a model
    /// id or name in `catalog`.
    public static func open(_ reference: String, catalog: Catalog?) throws -> TrainedModel {
        if isCheckpointFolder(reference) {
            return try TrainedModel(folder: URL(fileURLWithPath: reference, isDirectory: true).standardizedFileURL, record: nil)
        }
        guard let catalog else { throw ModelError.catalogNeeded(reference) }
        guard let record = try catalog.model(reference) else { throw ModelError.notFound(reference) }
        guard record.checkpointDigest != nil else { throw ModelError.noCheckpoint(record.name) }
        return try TrainedModel(folder: catalog.folder(of: record), record: record)
    }

    /// Generator outputs [N, channels, R, R] in [-1, 1] for N latent rows
    /// (row-major [N, latent_dim]), in inference mode: a frame depends on its
    /// latent only, not on the batch it is generated in.
    public func generate(latentRows: some Collection<Float>) -> [Float] {
        let dimension = generator.configuration.latentDimension
        return generator.forward(Tensor(shape: [latentRows.count / dimension, dimension], values: Array(latentRows)), training: false)
            .values
    }

    /// Whether `generateFrames` gives grayscale frames, which the measures and
    /// the privacy gate compare with real ones: a one-channel model's, or a
    /// labelled model's frame channel (its labels follow it).
    public var makesGrayscaleFrames: Bool { generator.configuration.channels == 1 || description.labels != nil }

    /// The frames of `generate`: its first channel, without the label channels a labelled model draws after it.
    public func generateFrames(latentRows: some Collection<Float>) -> [Float] {
        generator.imageChannel(of: generate(latentRows: latentRows))
    }

    /// Whether `reference` names a folder holding `model.json`.
    public static func isCheckpointFolder(_ reference: String) -> Bool {
        FileManager.default.fileExists(
            atPath: URL(fileURLWithPath: reference, isDirectory: true)
                .appendingPathComponent(CheckpointFolder.modelFile).path)
    }

    private init(folder: URL, record: ModelRecord?) throws {
        self.folder = folder
        self.record = record
        description = try CheckpointFolder.readDescription(folder: folder)
        let weightsPath = folder.appendingPathComponent(CheckpointFolder.generatorFile).path
        guard let weights = FileManager.default.contents(atPath: weightsPath) else {
            throw TensorFileError("cannot read the generator weights", path: weightsPath)
        }
        // One read for both, so the digest names exactly the weights loaded
        // even while a training run replaces the file.
        generator = try CheckpointFolder.loadGenerator(from: folder, weights: weights)
        checkpointDigest = FileDigest.sha256(bytes: [UInt8](weights))
        name = record?.name ?? description.name ?? folder.lastPathComponent
        modality = Self.modalityCode(record?.modality ?? description.modality)
    }

    /// A valid Modality (CS: upper case, digits, space, underscore, at most 16
    /// characters), else `OT` (other): a foreign `model.json` may say anything.
    static func modalityCode(_ stated: String?) -> String {
        let code = (stated ?? "").uppercased().trimmingCharacters(in: .whitespaces)
        let allowed = code.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == " " || $0 == "_" }
        return !code.isEmpty && code.count <= 16 && allowed ? code : "OT"
    }
}
