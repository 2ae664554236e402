import Catalog
import DICOM
import Foundation
import GAN
import Training

/// The model a synthesis runs: a registered model or a checkpoint folder
/// (`model.json` + `generator.safetensors`, architecture page), loaded with
/// everything the provenance of its frames names.
public struct SynthesisModel {
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
    public static func open(_ reference: String, catalog: Catalog?) throws -> SynthesisModel {
        let asFolder = URL(fileURLWithPath: reference, isDirectory: true)
        if FileManager.default.fileExists(atPath: asFolder.appendingPathComponent(CheckpointFolder.modelFile).path) {
            return try SynthesisModel(folder: asFolder.standardizedFileURL, record: nil)
        }
        guard let catalog else { throw SynthesisError.catalogNeeded(reference) }
        guard let record = try catalog.model(reference) else { throw TrainingError.modelNotFound(reference) }
        guard record.checkpointDigest != nil else { throw SynthesisError.noCheckpoint(record.name) }
        return try SynthesisModel(folder: catalog.directory.appendingPathComponent(record.folder, isDirectory: true), record: record)
    }

    private init(folder: URL, record: ModelRecord?) throws {
        self.folder = folder
        self.record = record
        description = try CheckpointFolder.readDescription(folder: folder)
        generator = try CheckpointFolder.loadGenerator(from: folder)
        checkpointDigest = try FileDigest.sha256(path: folder.appendingPathComponent(CheckpointFolder.generatorFile).path)
        name = record?.name ?? description.name ?? folder.lastPathComponent
        modality = (record?.modality ?? description.modality ?? "OT").uppercased()
    }
}
