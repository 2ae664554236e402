import Foundation
import GRDB

/// One `medsynth synthesize` run registered in the catalog: what generated
/// its frames and where they were written.
public struct SynthesisRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    /// The registry's model, or nil for a checkpoint folder outside it.
    public var modelId: Int64?
    public var modelName: String
    /// SHA-256 of the model's `generator.safetensors`.
    public var checkpointDigest: String
    /// The seed of the latents, or nil when they came from a file.
    public var seed: String?
    public var latentsSha256: String?
    public var frameCount: Int
    public var studyInstanceUid: String
    public var seriesInstanceUid: String
    public var outputFolder: String
    public var createdAt: String

    public init(
        modelId: Int64?, modelName: String, checkpointDigest: String, seed: UInt64?, latentsSha256: String?,
        frameCount: Int, studyInstanceUid: String, seriesInstanceUid: String, outputFolder: String, createdAt: String
    ) {
        self.modelId = modelId
        self.modelName = modelName
        self.checkpointDigest = checkpointDigest
        self.seed = seed.map { String($0) }
        self.latentsSha256 = latentsSha256
        self.frameCount = frameCount
        self.studyInstanceUid = studyInstanceUid
        self.seriesInstanceUid = seriesInstanceUid
        self.outputFolder = outputFolder
        self.createdAt = createdAt
    }
}

extension SynthesisRecord: CatalogRecord { public static let databaseTableName = "syntheses" }

/// The latent behind one frame of a generated instance.
public struct SyntheticFrameRecord: SnakeCaseRecord, PersistableRecord, Sendable, Equatable {
    public static let databaseTableName = "synthetic_frames"
    public var instanceId: Int64
    /// From 1, as DICOM counts frames.
    public var frameNumber: Int
    public var synthesisId: Int64
    public var latentIndex: Int

    public init(instanceId: Int64, frameNumber: Int, synthesisId: Int64, latentIndex: Int) {
        self.instanceId = instanceId
        self.frameNumber = frameNumber
        self.synthesisId = synthesisId
        self.latentIndex = latentIndex
    }
}

/// A generated file of a synthesis run: its SOP Instance UID and the latent
/// index of each of its frames, in frame order.
public struct GeneratedInstance: Sendable, Equatable {
    public var sopInstanceUid: String
    public var latentIndices: [Int]

    public init(sopInstanceUid: String, latentIndices: [Int]) {
        self.sopInstanceUid = sopInstanceUid
        self.latentIndices = latentIndices
    }
}

extension Catalog {
    /// Records a synthesis run and the latent of every frame of its instances,
    /// which must already be imported (and so catalogued as synthetic), in one
    /// transaction. Returns the run with its id.
    public func registerSynthesis(_ synthesis: SynthesisRecord, instances: [GeneratedInstance]) throws -> SynthesisRecord {
        try write { db in
            var inserted = synthesis
            try inserted.insert(db)
            for instance in instances {
                guard
                    let instanceId = try Int64.fetchOne(
                        db, sql: "SELECT id FROM instances WHERE sop_instance_uid = ?",
                        arguments: [instance.sopInstanceUid])
                else {
                    throw SynthesisRegistryError.instanceNotCatalogued(instance.sopInstanceUid)
                }
                for (offset, latentIndex) in instance.latentIndices.enumerated() {
                    try SyntheticFrameRecord(
                        instanceId: instanceId, frameNumber: offset + 1, synthesisId: inserted.id!,
                        latentIndex: latentIndex
                    ).insert(db)
                }
            }
            return inserted
        }
    }

    /// The Burned In Annotation values of a model's training instances
    /// (NULL when a file did not state it), for the honest value of exports.
    public func burnedInAnnotations(modelId: Int64) throws -> [String?] {
        try read { db in
            try String?.fetchAll(
                db,
                sql: """
                    SELECT i.burned_in_annotation FROM model_instances l JOIN instances i ON i.id = l.instance_id
                    WHERE l.model_id = ? AND l.role = 'training'
                    """, arguments: [modelId])
        }
    }
}

/// A synthesis registration that cannot be done.
public enum SynthesisRegistryError: Error, CustomStringConvertible, Sendable {
    case instanceNotCatalogued(String)

    public var description: String {
        switch self {
        case .instanceNotCatalogued(let uid): "a generated instance did not reach the catalog: \(uid)"
        }
    }
}
