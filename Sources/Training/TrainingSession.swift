import Catalog
import Foundation
import ModelStore

/// One `medsynth train` run: opens the model (new, or resumed), trains it,
/// then evaluates what it trained. The evaluation is the caller's
/// (`Evaluation` is a sibling of this target), given the model as
/// `evaluate` opens it and the frame count the options ask for; its failure
/// is a warning, since the model is saved by then.
public final class TrainingSession {
    public let options: TrainingOptions
    public let trainer: ModelTrainer

    /// How the run ended, and the evaluation of the model it kept.
    public struct Result<Evaluation> {
        public let outcome: TrainingOutcome
        /// Nil when the run was stopped, the options skip it, or it failed.
        public let evaluation: Evaluation?
        /// Why the evaluation failed, with the command that runs it again.
        public let evaluationFailure: String?
    }

    private init(options: TrainingOptions, trainer: ModelTrainer) {
        self.options = options
        self.trainer = trainer
    }

    /// Creates the model the options describe, or opens `options.resume`;
    /// `processors` is the default thread count of a new model.
    public static func open(
        _ options: TrainingOptions, catalog: Catalog, processors: Int, shouldStop: @escaping @Sendable () -> Bool,
        decodeProgress: @escaping @Sendable (Int, Int) -> Void
    ) throws -> TrainingSession {
        guard let resume = options.resume else {
            let trainer = try ModelTrainer.create(
                options.request(processors: processors), catalog: catalog, shouldStop: shouldStop, decodeProgress: decodeProgress)
            return TrainingSession(options: options, trainer: trainer)
        }
        try ModelTrainer.checkResumable(resume, length: options.length, options: options.resumeOptions, catalog: catalog)
        let trainer = try ModelTrainer.resume(resume, catalog: catalog, options: options.resumeOptions, decodeProgress: decodeProgress)
        return TrainingSession(options: options, trainer: trainer)
    }

    /// Trains for the options' length (`progress` after each step, `trained`
    /// when the training is over), then, unless the run was stopped or the
    /// options skip it, evaluates the model kept.
    public func run<Evaluation>(
        catalog: Catalog, shouldStop: () -> Bool, progress: (TrainingProgress) -> Void,
        trained: (TrainingOutcome) -> Void, evaluate: (TrainedModel, Int) throws -> Evaluation
    ) throws -> Result<Evaluation> {
        let outcome = try trainer.train(options.length, shouldStop: shouldStop, progress: progress)
        trained(outcome)
        guard outcome != .stopped, options.evaluate else { return Result(outcome: outcome, evaluation: nil, evaluationFailure: nil) }
        do {
            let model = try TrainedModel.open(String(trainer.model.id ?? 0), catalog: catalog)
            return Result(outcome: outcome, evaluation: try evaluate(model, options.framesToEvaluate), evaluationFailure: nil)
        } catch {
            let failure =
                "the model is saved, but its evaluation failed (\(error)); "
                + "run: medsynth evaluate --catalog '\(catalog.directory.path)' --model '\(trainer.model.name)'"
            return Result(outcome: outcome, evaluation: nil, evaluationFailure: failure)
        }
    }

    /// What is trained, on what, from which step: said before the progress lines.
    public var summary: String {
        let model = trainer.model, summary = trainer.record.trainingSet
        var text = """
            model \(model.id ?? 0) "\(model.name)": \(model.modality), \(model.preset) \(model.resolution)x\(model.resolution), \
            \(summary.trainingFrames) training frames from \(summary.trainingInstances) instances, \(summary.validationFrames) \
            validation frames (\(summary.validationGroups) \(summary.validationGroupedBy.rawValue) held out), \
            \(trainer.record.hyperparameters.stepsPerEpoch) steps per epoch, from step \(trainer.step)
            """
        if let backbone = trainer.record.backbone {
            let discriminator = trainer.model.discriminator
            let weights = backbone.weights == nil ? "random, calibrated on the training frames; " : ""
            let head = discriminator == .projected ? "heads at three scales" : "Linear head"
            text +=
                "\ndiscriminator: \(discriminator.rawValue), \(backbone.kind.rawValue) frozen (\(weights)\(backbone.frozenParameters) "
                + "parameters) + \(head), \(backbone.trainableParameters) trainable parameters"
        }
        return text
    }

    /// The progress line's detail after a step.
    public func detail(of report: TrainingProgress) -> String {
        let adaptive = trainer.record.hyperparameters.augment == .adaptive
        return String(
            format: "epoch %d, step %d, D %.3f, G %.3f, ", report.epoch, report.step, report.discriminatorLoss, report.generatorLoss)
            + (adaptive ? String(format: "p %.3f, ", report.augmentationProbability) : "")
            + (report.copyCheck.map { "copies \($0.copies)/\($0.frames) at \($0.step), " } ?? "")
            + String(format: "%.1f img/s", report.imagesPerSecond)
    }

    /// Why a run ended at a copy check, where the model stays, and how to go on.
    public func copyLimitMessage(catalog: String) -> String {
        let settings = trainer.record.hyperparameters.copyCheck
        guard let failed = trainer.copyChecks.last, let settings else { return "stopped at a copy check" }
        let kept = trainer.copyChecks.last { $0.step == trainer.keptStep }
        return """
            stopped at step \(failed.step): \(failed.copies) of \(failed.frames) generated frames copy a training frame, \
            more than --copy-limit \(settings.limitPercent.formatted()) %. The model stays at step \(trainer.keptStep)\
            \(kept.map { " (\($0.copies) of \($0.frames) copied)" } ?? ""), the last step within the limit. \
            A generator that learns a few acquisitions gives them back (docs/training.md, "Stopping before the generator copies"); \
            to train past this anyway: medsynth train --catalog '\(catalog)' --resume '\(trainer.model.name)' --copy-limit PERCENT
            """
    }

    /// What a stopped run says: its checkpoint, and how to continue.
    public func stoppedMessage(catalog: String) -> String {
        "stopped at step \(trainer.step) with a checkpoint; continue with: "
            + "medsynth train --catalog '\(catalog)' --resume '\(trainer.model.name)'"
    }
}
