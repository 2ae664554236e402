import ArgumentParser
import Engine
import Evaluation
import Foundation
import ModelStore

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

    @Option(help: ArgumentHelp("Also write sheet.png and index.html into this folder.", valueName: "dir"))
    var report: String?

    @Option(parsing: .unconditional, help: "Engine threads (default: one per core).")
    var threads: Int?

    func validate() throws {
        if !(8...20_000).contains(count) { throw ValidationError("--count must be between 8 and 20000.") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
    }

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.writeIfPossible)
        EngineThreads.configure(threads ?? ProcessInfo.processInfo.activeProcessorCount)
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
}
