import Foundation
import GRDB

/// One `medsynth evaluate` of a model: the figures as JSON (the keys of
/// `evaluate --json`), for the checkpoint that was evaluated.
public struct EvaluationRecord: Codable, Sendable, Equatable {
    public var id: Int64?
    public var modelId: Int64
    public var checkpointDigest: String
    public var generatedFrames: Int
    public var seed: String
    public var figures: String
    public var reportFolder: String?
    public var createdAt: String

    public init(
        modelId: Int64, checkpointDigest: String, generatedFrames: Int, seed: UInt64, figures: String, reportFolder: String?,
        createdAt: String
    ) {
        self.modelId = modelId
        self.checkpointDigest = checkpointDigest
        self.generatedFrames = generatedFrames
        self.seed = String(seed)
        self.figures = figures
        self.reportFolder = reportFolder
        self.createdAt = createdAt
    }
}

extension EvaluationRecord: CatalogRecord { public static let databaseTableName = "evaluations" }

extension Catalog {
    /// Stores an evaluation with its model; returns it with its id.
    public func recordEvaluation(_ evaluation: EvaluationRecord) throws -> EvaluationRecord {
        try write { db in
            var inserted = evaluation
            try inserted.insert(db)
            return inserted
        }
    }

    /// A model's evaluations, oldest first.
    public func evaluations(modelId: Int64) throws -> [EvaluationRecord] {
        try read { db in try EvaluationRecord.filter(Column("model_id") == modelId).order(Column("id")).fetchAll(db) }
    }
}
