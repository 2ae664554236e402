import Evaluation
import Foundation

/// The figures of an evaluation as `evaluate` prints them, and `train` at its end.
enum EvaluationText {
    /// The table of `result`, one figure per line, intervals beside them.
    static func describe(_ result: EvaluationResult) -> String {
        let f = result.figures, t = result.figures.againstTraining
        func show(_ value: Float?) -> String { value.map { String(format: "%.4f", $0) } ?? "n/a" }
        return """
            model \(result.modelId) "\(result.model)": \(result.generatedFrames) generated frames (seed \(result.seed)) against \
            \(result.validationFrames) validation and \(result.trainingFrames) training frames, \(String(format: "%.0f", result.seconds)) s
              two-sample test vs validation  \(twoSample(f.validation.c2stAccuracy, f.validation.c2stAccuracyInterval, f.validation.c2stTestFrames, f.validation.c2stTestSeries, f.validation.c2stCalibrationAccuracy, f.validation.c2stCalibrationInterval, f.validation.c2stVerdict))
              two-sample test vs training    \(twoSample(t.c2stAccuracy, t.c2stAccuracyInterval, t.c2stTestFrames, t.c2stTestSeries, t.c2stCalibrationAccuracy, t.c2stCalibrationInterval, t.c2stVerdict))
                                          vs validation   vs training
              density                     \(pad(withInterval(f.validation.density, f.validation.densityInterval)))  \(withInterval(t.density, t.densityInterval))
              coverage                    \(pad(withInterval(f.validation.coverage, f.validation.coverageInterval)))  \(withInterval(t.coverage, t.coverageInterval))
              MS-SSIM among real frames   \(pad(show(f.validation.msSsimReal)))  \(show(f.againstTraining.msSsimReal))
              histogram distance          \(pad(withInterval(f.validation.histogramDistance, f.validation.histogramDistanceInterval, digits: 4)))  \(withInterval(t.histogramDistance, t.histogramDistanceInterval, digits: 4))
              spectrum distance           \(pad(withInterval(f.validation.spectrumDistance, f.validation.spectrumDistanceInterval, digits: 3)))  \(withInterval(t.spectrumDistance, t.spectrumDistanceInterval, digits: 3))
              MS-SSIM among generated     \(show(f.msSsimGenerated))
              data-copying Z              \(show(f.dataCopyingZ))\(f.dataCopyingFlagged == true ? "  COPYING: generated frames sit closer to training frames than new real frames do" : "")
              copies of training frames   \(rate(f.copies, of: result.generatedFrames, f.copyRateInterval)) (copy radius \(show(f.copyRadius)); copy distance mean \(show(f.copyDistanceMean)))
              held-out frames flagged     \(f.heldOutCopies.map { rate($0, of: result.validationFrames, f.heldOutCopyRateInterval!) } ?? "n/a") (real frames that copy nothing: the false-positive rate)
              nearest training frame      distance mean \(show(f.nearestTrainL2Mean)), min \(show(f.nearestTrainL2Min)); SSIM mean \(show(f.nearestTrainSsimMean))
            stored as evaluation \(result.evaluationId.map(String.init) ?? "?") of the model\(result.reportFolder.map { "; report: \($0)/\(EvaluationReport.pageFile)" } ?? "")
            """
    }

    /// "accuracy 0.62 (0.55-0.70; 128 test frames of 70 series), calibration 0.51 (0.40-0.62): indistinguishable".
    private static func twoSample(
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

    /// "0.91 (0.80-1.02)" with `digits` decimals, or "n/a".
    private static func withInterval(_ value: Float?, _ interval: [Float]?, digits: Int = 2) -> String {
        guard let value, let interval else { return "n/a" }
        let format = "%.\(digits)f"
        return String(format: "\(format) (\(format)-\(format))", value, interval[0], interval[1])
    }

    private static func rate(_ count: Int, of total: Int, _ interval: [Float]) -> String {
        String(format: "%d of %d (95 %% interval %.1f-%.1f %%)", count, total, 100 * interval[0], 100 * interval[1])
    }

    private static func pad(_ text: String) -> String { text.padding(toLength: max(14, text.count), withPad: " ", startingAt: 0) }
}

/// The utility measure's figures as `evaluate --utility` prints them.
enum UtilityText {
    static func describe(_ result: UtilityResult) -> String {
        let u = result.utility
        let (figure, unit) = (u.figureName, u.figureUnit.isEmpty ? "" : " \(u.figureUnit)")
        func interval(_ values: [Float]) -> String {
            values.count == 2 ? String(format: "%.2f to %.2f", values[0], values[1]) : "n/a"
        }
        let arms = u.arms.map { arm in
            "  " + arm.arm.rawValue.padding(toLength: 30, withPad: " ", startingAt: 0)
                + String(format: "%6d  %6.2f%@ (%@)", arm.trainingFrames, arm.headline.value, unit, interval(arm.headline.interval))
                + (arm.pck.map { String(format: "  %.2f (%@)", $0, interval(arm.pckInterval ?? [])) } ?? "")
        }
        let differences = u.differences.map { difference in
            "  " + "\(difference.arm.rawValue) - \(difference.against.rawValue)".padding(toLength: 48, withPad: " ", startingAt: 0)
                + String(
                    format: "%+6.2f%@ (%@): %@", difference.headline, unit, interval(difference.interval), difference.verdict.rawValue)
        }
        let pckHeader = u.pckThreshold.map { String(format: "    PCK at %.1f px (95 %%)", $0) } ?? ""
        return """
            model \(result.modelId) "\(result.model)": does adding its frames help a \(u.taskModelKind) model \
            learn \(result.taskDescription)? \(result.trainingSeries) of \(result.availableTrainingSeries) labelled training \
            series, \(result.generatedFrames) generated frames \(u.labelSource), \
            tested on \(u.testFrames) frames of \(u.testSeries) held-out series; \(u.seeds.count) task models per arm, \(u.plan.steps) steps \
            of \(u.plan.batch); \(String(format: "%.0f", result.seconds)) s
              arm                           frames  \(figure) (95 %)\(pckHeader)
            \(arms.joined(separator: "\n"))
              arm - arm compared                              \(figure) difference (95 %): verdict
            \(differences.joined(separator: "\n"))
            stored as evaluation \(result.evaluationId.map(String.init) ?? "?") of the model\(result.reportFolder.map { "; report: \($0)/\(EvaluationReport.pageFile)" } ?? "")
            """
    }
}
