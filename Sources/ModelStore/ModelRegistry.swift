import Catalog
import DICOM
import Foundation
import Frames
import GAN
import GRDB

import struct Catalog.Table

/// Where a model of the registry is in its life.
public enum ModelStatus: String, Codable, CaseIterable, Sendable {
    /// Being trained, or killed while it was (`train --resume` continues).
    case training
    /// Stopped on request with a checkpoint; `train --resume` continues.
    case stopped
    case finished
    /// A run failed; the last checkpoint stands.
    case failed
}

/// A trained (or training) model in the registry. Its files live in
/// `folder`, relative to the catalog folder (`models/<id>`).
public struct ModelRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var name: String
    public var modality: String
    public var preset: String
    public var discriminator: DiscriminatorKind
    /// The frozen backbone of a transfer discriminator.
    public var backbone: BackboneKind?
    public var resolution: Int
    public var status: ModelStatus
    public var steps = 0
    public var epochs = 0
    public var frameCount: Int
    public var validationFrameCount: Int
    public var trainingSetDigest: String
    public var checkpointDigest: String?
    public var folder = ""
    public var createdAt: String
    public var updatedAt: String

    public init(
        name: String, modality: String, preset: String, discriminator: DiscriminatorKind, backbone: BackboneKind?,
        resolution: Int, frameCount: Int, validationFrameCount: Int, trainingSetDigest: String, createdAt: String
    ) {
        self.name = name
        self.modality = modality
        self.preset = preset
        self.discriminator = discriminator
        self.backbone = backbone
        self.resolution = resolution
        status = .training
        self.frameCount = frameCount
        self.validationFrameCount = validationFrameCount
        self.trainingSetDigest = trainingSetDigest
        self.createdAt = createdAt
        updatedAt = createdAt
    }
}

extension ModelRecord: CatalogRecord { public static let databaseTableName = "models" }

/// What an instance was used for in a model.
public enum LineageRole: String, Codable, Sendable {
    case training, validation
}

/// One row of a model's lineage.
public struct ModelInstanceRecord: SnakeCaseRecord, PersistableRecord, Sendable, Equatable {
    public static let databaseTableName = "model_instances"
    public var modelId: Int64
    public var instanceId: Int64
    public var role: LineageRole
    public var frames: Int

    public init(modelId: Int64, instanceId: Int64, role: LineageRole, frames: Int) {
        self.modelId = modelId
        self.instanceId = instanceId
        self.role = role
        self.frames = frames
    }
}

extension Catalog {
    /// The modalities of the catalog's images, sorted (segmentations are labels, not images).
    public func modalities() throws -> [String] {
        try read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT UPPER(s.modality) FROM series s JOIN instances i ON i.series_id = s.id
                    WHERE s.modality IS NOT NULL AND i.sop_class_uid NOT IN \(SOPClass.segmentationSQLList) ORDER BY 1
                    """)
        }
    }

    /// The instances a model was registered with, and their roles.
    public func lineage(modelId: Int64) throws -> [(candidate: TrainingCandidate, role: LineageRole)] {
        try read { db in
            let sql =
                TrainingCandidate.selection(extraColumns: ", m.role")
                + " JOIN model_instances m ON m.instance_id = i.id WHERE m.model_id = ? ORDER BY i.sop_instance_uid"
            let rows = try Row.fetchAll(db, sql: sql, arguments: [modelId])
            return try rows.map { row in
                let role: String = try row.decode(forColumn: "role")
                return (try TrainingCandidate(row: row), LineageRole(rawValue: role) ?? .training)
            }
        }
    }

    /// Inserts the model and its lineage in one transaction, filling in its
    /// id, its folder (`models/<id>`) and, when empty, its name
    /// (`<modality>-<preset>-<id>`).
    public func registerModel(_ model: inout ModelRecord, lineage: [(instanceId: Int64, role: LineageRole, frames: Int)]) throws {
        model = try write { db in
            if !model.name.isEmpty, try ModelRecord.filter(Column("name") == model.name).fetchCount(db) > 0 {
                throw ModelRegistryError.nameTaken(model.name)
            }
            var inserted = model
            try inserted.insert(db)
            inserted.folder = Self.modelFolder(id: inserted.id!)
            if inserted.name.isEmpty { inserted.name = "\(model.modality.lowercased())-\(model.preset)-\(inserted.id!)" }
            try inserted.update(db)
            for entry in lineage {
                try ModelInstanceRecord(modelId: inserted.id!, instanceId: entry.instanceId, role: entry.role, frames: entry.frames).insert(
                    db)
            }
            return inserted
        }
    }

    /// Records the progress of a model after a checkpoint.
    public func updateModel(_ model: ModelRecord) throws {
        try write { db in try model.update(db) }
    }

    /// The model with this id or name.
    public func model(_ idOrName: String) throws -> ModelRecord? {
        try read { db in
            if let id = Int64(idOrName), let byId = try ModelRecord.fetchOne(db, key: id) { return byId }
            return try ModelRecord.filter(Column("name") == idOrName).fetchOne(db)
        }
    }

    /// The registry as `medsynth models` lists it.
    public func modelsTable() throws -> Table {
        let columns = [
            "id", "name", "modality", "preset", "discriminator", "backbone", "resolution", "status", "steps", "epochs",
            "frame_count", "validation_frame_count", "instances", "training_set_digest", "checkpoint_digest",
            "folder", "created_at", "updated_at",
        ]
        let rows = try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT m.id, m.name, m.modality, m.preset, m.discriminator, m.backbone, m.resolution, m.status, m.steps, m.epochs,
                           m.frame_count, m.validation_frame_count,
                           (SELECT COUNT(*) FROM model_instances l WHERE l.model_id = m.id),
                           m.training_set_digest, m.checkpoint_digest, m.folder, m.created_at, m.updated_at
                    FROM models m ORDER BY m.id
                    """)
        }
        return Table(
            columns: columns,
            rows: rows.map { row in
                columns.indices.map { Self.value(row[$0], boolean: false) }
            })
    }
}

/// A registry operation that cannot be done.
public enum ModelRegistryError: Error, CustomStringConvertible, Sendable {
    case nameTaken(String)

    public var description: String {
        switch self {
        case .nameTaken(let name): return "a model named \"\(name)\" exists already (choose another --name)"
        }
    }
}
