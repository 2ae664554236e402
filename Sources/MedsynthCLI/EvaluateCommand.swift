import ArgumentParser
import Catalog
import Engine
import Evaluation
import Foundation
import ModelStore
import TaskModel

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure how real, how diverse and how private a model's generated frames are.",
        discussion: """
            Generates --count frames and compares them with the model's held-out validation frames \
            and, separately, its training frames: a classifier two-sample test (0.5 = indistinguishable) \
            with its real-vs-real calibration; memorisation (nearest training frame by distance and SSIM, \
            the data-copying test's Z, near copies); diversity (mean pairwise MS-SSIM, generated vs real); \
            intensity histogram and power spectrum distances. The figures are stored with the model in \
            the registry. docs/evaluation.md explains each figure and its limits.

            Examples:
              medsynth evaluate --model us-compact-1
              medsynth evaluate --model 1 --count 512 --json > figures.json
              medsynth evaluate --model us-compact-1 --report reports/us-compact-1

            --utility asks instead whether the model's frames help a model learn the labelled task \
            (docs/evaluation.md, "Utility"): a small network is trained on each arm (real labelled \
            frames; with classic augmentation; with the model's frames; both; the model's frames only) \
            and tested on the labelled series the generator never saw. It learns the keypoints of a \
            label set that names keypoints (scored by point error and PCK), else its masks (scored by \
            Dice). The model's frames are labelled by the real-only network (pseudo-labels); a model \
            trained with 'train --labels' brings its own labels of the task, and three arms more train \
            on the same frames pseudo-labelled, so that its labels are compared with pseudo-labels.

              medsynth evaluate --model xa-compact-1 --utility --train-series 10
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: ArgumentHelp("The model: id or name from 'medsynth models'.", valueName: "model"))
    var model: String

    @Option(parsing: .unconditional, help: "Frames to generate and compare.")
    var count = 256

    @Option(help: "Seed of the generated frames and of the tests' random splits.")
    var seed: UInt64 = 1

    @OptionGroup var output: JSONOption

    @Option(help: ArgumentHelp("Also write sheet.png and index.html (with --utility, errors.png too) into this folder.", valueName: "dir"))
    var report: String?

    @Option(parsing: .unconditional, help: "Engine threads (default: one per core).")
    var threads: Int?

    @OptionGroup var utility: UtilityArguments

    func validate() throws {
        if !(8...20_000).contains(count) { throw ValidationError("--count must be between 8 and 20000.") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
        try utility.validate()
    }

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.writeIfPossible)
        EngineThreads.configure(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        if utility.utility { return try runUtility(catalog: catalog) }
        let result = try failingWithStatus {
            let synthesisModel = try TrainedModel.open(model, catalog: catalog)
            return try Evaluator.evaluate(
                model: synthesisModel, catalog: catalog, count: count, seed: seed,
                reportFolder: report.map { absolutePath($0, isDirectory: true) }
            ) { step in
                FileHandle.standardError.write(Data("evaluate: \(step)\n".utf8))
            }
        }
        for warning in result.warnings { printError("warning: \(warning)") }
        if output.json {
            print(String(decoding: try result.json(), as: UTF8.self))
            return
        }
        print(EvaluationText.describe(result))
    }

    /// `--utility`: the utility measure instead of the figures above.
    private func runUtility(catalog: Catalog) throws {
        let result = try failingWithStatus {
            try UtilityEvaluation.evaluate(
                model: try TrainedModel.open(model, catalog: catalog), catalog: catalog, options: utility.options(count: count, seed: seed),
                reportFolder: report.map { absolutePath($0, isDirectory: true) }
            ) { FileHandle.standardError.write(Data("evaluate: \($0)\n".utf8)) }
        }
        for warning in result.warnings { printError("warning: \(warning)") }
        print(output.json ? String(decoding: try result.json(), as: UTF8.self) : UtilityText.describe(result))
    }
}

/// The options of `evaluate --utility`.
struct UtilityArguments: ParsableArguments {
    @Flag(help: "Measure whether the model's frames help a keypoint or mask model learn (docs/evaluation.md, \"Utility\").")
    var utility = false

    @Option(parsing: .unconditional, help: "With --utility: labelled training series the arms train on (default: all).")
    var trainSeries: Int?

    @Option(
        help: ArgumentHelp("With --utility: the label set whose keypoints or masks are learned (default: the only one).", valueName: "name")
    )
    var labelSet: String?

    @Option(parsing: .unconditional, help: "With --utility: task models per arm, each from its own seed.")
    var taskSeeds = 3

    @Option(parsing: .unconditional, help: "With --utility: training steps of each task model.")
    var taskSteps = 600

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            """
            With --utility, a keypoint model: the lowest heatmap peak a generated frame's keypoints may have for it to serve \
            with its labels (0 to 1; default \(LabelReading.defaultMinimumConfidence), as synthesize).
            """, valueName: "peak"))
    var labelConfidence: Double?

    func validate() throws {
        let given = [
            trainSeries != nil ? "--train-series" : nil, labelSet != nil ? "--label-set" : nil,
            labelConfidence != nil ? "--label-confidence" : nil,
        ].compactMap { $0 }
        if !utility, !given.isEmpty { throw ValidationError("\(given.joined(separator: ", ")) go with --utility.") }
        if let trainSeries, trainSeries < 1 { throw ValidationError("--train-series must be at least 1.") }
        if !(1...20).contains(taskSeeds) { throw ValidationError("--task-seeds must be between 1 and 20.") }
        if !(1...100_000).contains(taskSteps) { throw ValidationError("--task-steps must be between 1 and 100000.") }
        if let labelConfidence, !(labelConfidence >= 0 && labelConfidence <= 1) {
            throw ValidationError("--label-confidence is a heatmap peak between 0 and 1.")
        }
    }

    func options(count: Int, seed: UInt64) -> UtilityOptions {
        var options = UtilityOptions(
            trainSeries: trainSeries, labelSet: labelSet, count: count, seed: seed, taskSeeds: taskSeeds,
            plan: TaskTrainingPlan(steps: taskSteps))
        options.minimumLabelConfidence = labelConfidence
        return options
    }
}
