import Catalog
import Engine
import Foundation
import ModelStore

/// The evaluate scenario of `medsynth bench`: `evaluate` of a registered
/// model, step by step. Give it a read-only catalog and nothing is stored.
public enum EvaluationBenchmark {
    public struct Result: Codable, Sendable {
        public var scenario = "evaluate"
        public var model: String
        public var generatedFrames: Int
        public var trainingFrames: Int
        public var validationFrames: Int
        public var seconds: Double
        /// Each step `evaluate` reports, with its seconds, in order.
        public var steps: [StepTime]
        public var peakRSSBytes: Int

        enum CodingKeys: String, CodingKey {
            case scenario, model, seconds, steps
            case generatedFrames = "generated_frames", trainingFrames = "training_frames"
            case validationFrames = "validation_frames", peakRSSBytes = "peak_rss_bytes"
        }
    }

    public struct StepTime: Codable, Sendable {
        public var step: String
        public var seconds: Double
    }

    public static func run(model: TrainedModel, catalog: Catalog, count: Int) throws -> Result {
        var marks: [(step: String, at: Date)] = []
        let started = Date()
        let result = try Evaluator.evaluate(model: model, catalog: catalog, count: count, seed: 1) { marks.append(($0, Date())) }
        let ended = Date()
        let steps = marks.indices.map { index in
            StepTime(
                step: marks[index].step,
                seconds: (index + 1 < marks.count ? marks[index + 1].at : ended).timeIntervalSince(marks[index].at))
        }
        return Result(
            model: model.name, generatedFrames: count, trainingFrames: result.trainingFrames,
            validationFrames: result.validationFrames, seconds: ended.timeIntervalSince(started), steps: steps,
            peakRSSBytes: ProcessMemory.peakResidentBytes())
    }
}
