import DICOM
import Engine
import Foundation
import GAN
import ModelStore

/// The frozen backbone of a transfer discriminator, loaded from its weight
/// file, with the summary `model.json` records.
struct TransferBackbone {
    let backbone: Backbone
    let summary: BackboneSummary

    /// The backbone `choice` names; nil for the DCGAN discriminator.
    init?(_ choice: DiscriminatorChoice) throws {
        guard case .transfer(let kind, let weights) = choice else { return nil }
        let absolute = URL(fileURLWithPath: weights).standardizedFileURL.path
        let digest = try Self.weightFileDigest(absolute)
        backbone = try kind.load(weights: absolute)
        // The head's parameters: the Linear layer on the pooled features.
        summary = BackboneSummary(
            kind: kind, weights: absolute, weightsSha256: digest,
            frozenParameters: backbone.kerasParameterCount, trainableParameters: backbone.featureCount + 1)
    }

    /// The backbone a resumed model recorded, from the recorded weight file
    /// or the same file at `movedWeights` (then recorded instead): it must
    /// still have the recorded SHA-256.
    static func reload(_ recorded: inout BackboneSummary?, from movedWeights: String?, modelFile: String) throws -> Backbone {
        guard var summary = recorded else {
            throw ModelError.modelFiles("model.json names a transfer discriminator but no backbone", path: modelFile)
        }
        let weights = movedWeights ?? summary.weights
        let digest = try weightFileDigest(weights)
        guard digest == summary.weightsSha256 else {
            throw ModelError.modelFiles(
                "the backbone weight file is not the one the model was created with "
                    + "(sha256 \(digest.prefix(12))..., recorded \(summary.weightsSha256.prefix(12))...)",
                path: weights)
        }
        summary.weights = weights
        recorded = summary
        return try summary.kind.load(weights: weights)
    }

    /// The SHA-256 of a backbone weight file, which must be readable.
    static func weightFileDigest(_ path: String) throws -> String {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw TensorFileError("cannot read the backbone weight file", path: path)
        }
        return try FileDigest.sha256(path: path)
    }
}
