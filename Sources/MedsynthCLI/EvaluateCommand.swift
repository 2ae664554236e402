import ArgumentParser
import Engine
import Evaluation
import Foundation
import Models

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
        let f = result.figures, t = result.figures.againstTraining
        func show(_ value: Float?) -> String { value.map { String(format: "%.4f", $0) } ?? "n/a" }
        print(
            """
            model \(result.modelId) "\(result.model)": \(result.generatedFrames) generated frames (seed \(result.seed)) against \
            \(result.validationFrames) validation and \(result.trainingFrames) training frames, \(String(format: "%.0f", result.seconds)) s
              two-sample test vs validation  \(twoSample(f.validation.c2stAccuracy, f.validation.c2stAccuracyInterval, f.validation.c2stTestFrames, f.validation.c2stTestSeries, f.validation.c2stCalibrationAccuracy, f.validation.c2stCalibrationInterval, f.validation.c2stVerdict))
              two-sample test vs training    \(twoSample(t.c2stAccuracy, t.c2stAccuracyInterval, t.c2stTestFrames, t.c2stTestSeries, t.c2stCalibrationAccuracy, t.c2stCalibrationInterval, t.c2stVerdict))
                                          vs validation   vs training
              density                     \(pad(withInterval(f.validation.density, f.validation.densityInterval)))  \(withInterval(t.density, t.densityInterval))
              coverage                    \(pad(withInterval(f.validation.coverage, f.validation.coverageInterval)))  \(withInterval(t.coverage, t.coverageInterval))
              MS-SSIM among real frames   \(pad(show(f.validation.msSsimReal)))  \(show(f.againstTraining.msSsimReal))
              histogram distance          \(pad(show(f.validation.histogramDistance)))  \(show(f.againstTraining.histogramDistance))
              spectrum distance           \(pad(show(f.validation.spectrumDistance)))  \(show(f.againstTraining.spectrumDistance))
              MS-SSIM among generated     \(show(f.msSsimGenerated))
              data-copying Z              \(show(f.dataCopyingZ))\(f.dataCopyingFlagged == true ? "  COPYING: generated frames sit closer to training frames than new real frames do" : "")
              copies of training frames   \(rate(f.copies, of: result.generatedFrames, f.copyRateInterval)) (copy radius \(show(f.copyRadius)); copy distance mean \(show(f.copyDistanceMean)))
              held-out frames flagged     \(f.heldOutCopies.map { rate($0, of: result.validationFrames, f.heldOutCopyRateInterval!) } ?? "n/a") (real frames that copy nothing: the false-positive rate)
              nearest training frame      distance mean \(show(f.nearestTrainL2Mean)), min \(show(f.nearestTrainL2Min)); SSIM mean \(show(f.nearestTrainSsimMean))
            stored as evaluation \(result.evaluationId.map(String.init) ?? "?") of the model\(result.reportFolder.map { "; report: \($0)/\(EvaluationReport.pageFile)" } ?? "")
            """)
    }

    /// "accuracy 0.62 (0.55-0.70; 128 test frames of 70 series), calibration 0.51 (0.40-0.62): indistinguishable".
    private func twoSample(
        _ accuracy: Float?, _ interval: [Float]?, _ frames: Int?, _ series: Int?, _ calibration: Float?,
        _ calibrationInterval: [Float]?, _ verdict: ClassifierTwoSampleTest.Verdict?
    ) -> String {
        guard let accuracy, let interval, let frames, let series, let verdict else { return "n/a (too few frames or series)" }
        let calibrationText =
            calibration.map { String(format: "%.2f (%.2f-%.2f)", $0, calibrationInterval![0], calibrationInterval![1]) } ?? "n/a"
        return String(
            format: "accuracy %.2f (95 %% interval %.2f-%.2f; %d test frames of %d series), calibration %@: %@",
            accuracy, interval[0], interval[1], frames, series, calibrationText, verdict.rawValue)
    }

    /// "0.91 (0.80-1.02)", or "n/a".
    private func withInterval(_ value: Float?, _ interval: [Float]?) -> String {
        guard let value, let interval else { return "n/a" }
        return String(format: "%.2f (%.2f-%.2f)", value, interval[0], interval[1])
    }

    private func rate(_ count: Int, of total: Int, _ interval: [Float]) -> String {
        String(format: "%d of %d (95 %% interval %.1f-%.1f %%)", count, total, 100 * interval[0], 100 * interval[1])
    }

    private func pad(_ text: String) -> String { text.padding(toLength: max(14, text.count), withPad: " ", startingAt: 0) }
}
