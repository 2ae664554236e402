import DICOM
import Engine
import Foundation
import GAN
import ModelStore

/// The frozen backbone of a transfer or projected discriminator: loaded from
/// its weight file, or (projected, without one) random from the model's seed.
struct FrozenBackbone {
    /// The discriminator it serves: transfer or projected.
    let discriminator: DiscriminatorKind
    let kind: BackboneKind
    let backbone: Backbone
    /// The weight file's absolute path and SHA-256; nil: random.
    let weights: (path: String, sha256: String)?

    /// The backbone `choice` names; nil for the DCGAN discriminator.
    init?(_ choice: DiscriminatorChoice, seed: UInt64) throws {
        switch choice {
        case .dcgan: return nil
        case .transfer(let kind, let path):
            try self.init(.transfer, kind, path: URL(fileURLWithPath: path).standardizedFileURL.path)
        case .projected(let path?): try self.init(.projected, .mobilenetv2, path: URL(fileURLWithPath: path).standardizedFileURL.path)
        case .projected(nil): self.init(randomFromSeed: seed)
        }
    }

    /// Loads the file at `path`; with `recordedDigest`, only if its SHA-256 is that one.
    private init(_ discriminator: DiscriminatorKind, _ kind: BackboneKind, path: String, recordedDigest: String? = nil) throws {
        let digest = try Self.weightFileDigest(path)
        if let recordedDigest, digest != recordedDigest {
            throw ModelError.modelFiles(
                "the backbone weight file is not the one the model was created with "
                    + "(sha256 \(digest.prefix(12))..., recorded \(recordedDigest.prefix(12))...)",
                path: path)
        }
        self.discriminator = discriminator
        self.kind = kind
        backbone = try kind.load(weights: path)
        weights = (path, digest)
    }

    /// A MobileNetV2 (width 1) with random weights from the model's seed:
    /// the same on every resume, where the discriminator's trainable
    /// parameters come from the checkpoint.
    private init(randomFromSeed seed: UInt64) {
        discriminator = .projected
        kind = .mobilenetv2
        backbone = MobileNetV2(alpha: 1, seed: SeedStreams.seed(.discriminatorInitialisation, seed: seed, index: 1))
        weights = nil
    }

    /// What `model.json` records of the backbone beside `discriminator`.
    func summary(of discriminator: any DiscriminatorNetwork) -> BackboneSummary {
        let mixings = (discriminator as? ProjectedDiscriminator)?.mixingParameterCount ?? 0
        return BackboneSummary(
            kind: kind, weights: weights?.path, weightsSha256: weights?.sha256,
            frozenParameters: backbone.kerasParameterCount + mixings, trainableParameters: discriminator.store.count)
    }

    /// The backbone a resumed model's `discriminator` recorded: random from `seed` when it
    /// records no weight file; else from the recorded file or the same file
    /// at `movedWeights` (then recorded instead), which must still have the
    /// recorded SHA-256.
    static func reload(
        for discriminator: DiscriminatorKind, _ recorded: inout BackboneSummary?, from movedWeights: String?, seed: UInt64,
        modelFile: String
    ) throws -> FrozenBackbone {
        guard var summary = recorded else {
            throw ModelError.modelFiles("model.json names a frozen backbone's discriminator but no backbone", path: modelFile)
        }
        guard let recordedWeights = summary.weights, let recordedDigest = summary.weightsSha256 else {
            if movedWeights != nil {
                throw TrainingError.notApplicable("--backbone-weights: this model's backbone is random, from its seed, not a weight file")
            }
            return FrozenBackbone(randomFromSeed: seed)
        }
        let weights = movedWeights ?? recordedWeights
        let backbone = try FrozenBackbone(discriminator, summary.kind, path: weights, recordedDigest: recordedDigest)
        summary.weights = weights
        recorded = summary
        return backbone
    }

    /// The SHA-256 of a backbone weight file, which must be readable.
    static func weightFileDigest(_ path: String) throws -> String {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw TensorFileError("cannot read the backbone weight file", path: path)
        }
        return try FileDigest.sha256(path: path)
    }
}
