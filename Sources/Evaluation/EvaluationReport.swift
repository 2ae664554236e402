import Foundation
import Imaging
import ModelStore

/// `evaluate --report DIR`: `sheet.png` (real frames, generated frames, and
/// the generated frames nearest to a training frame by copy distance above
/// the training frame each is nearest to) and `index.html` with every figure.
public enum EvaluationReport {
    public static let sheetFile = "sheet.png"
    public static let pageFile = "index.html"
    static let columns = 8

    /// Creates the report folder, or checks that an existing one can be
    /// written: before the evaluation, so that a bad --report fails at once.
    static func prepare(folder: URL) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw EvaluationError.report("the report folder is a file", path: folder.path)
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw EvaluationError.report("cannot create the report folder (\(error.localizedDescription))", path: folder.path)
        }
        guard FileManager.default.isWritableFile(atPath: folder.path) else {
            throw EvaluationError.report("cannot write into the report folder", path: folder.path)
        }
    }

    /// Writes the sheet and the page into `folder` (made by `prepare`).
    static func write(
        _ result: EvaluationResult, generated: FrameMatrix, training: FrameMatrix, validation: FrameMatrix,
        copyChecks: [CopyCheck], side: Int, to folder: URL
    ) throws {
        let real = Array(
            (0..<min(columns, validation.count)).map { validation.row($0) }
                + (0..<min(columns, training.count)).map { training.row($0 * max(1, training.count / columns)) }
        ).prefix(columns)
        let closest = copyChecks.indices.filter { copyChecks[$0].nearestTraining >= 0 }
            .sorted { copyChecks[$0].distance < copyChecks[$1].distance }.prefix(columns)
        var rows: [[ArraySlice<Float>]] = [
            Array(real), (0..<min(columns, generated.count)).map { generated.row($0) },
            closest.map { generated.row($0) }, closest.map { training.row(copyChecks[$0].nearestTraining) },
        ]
        let blank = ArraySlice([Float](repeating: -1, count: side * side))
        rows = rows.map { $0 + Array(repeating: blank, count: columns - $0.count) }
        try SampleGrid.write(
            images: rows.flatMap { $0.flatMap { $0 } }, count: rows.count * columns, side: side, columns: columns,
            path: folder.appendingPathComponent(sheetFile).path)
        let captions = closest.map { String(format: "%.3f", copyChecks[$0].distance) + (copyChecks[$0].isCopy ? " (copy)" : "") }
            .joined(separator: ", ")
        do {
            try page(result, nearestCaptions: captions).write(
                to: folder.appendingPathComponent(pageFile), atomically: true, encoding: .utf8)
        } catch {
            throw EvaluationError.report("cannot write (\(error.localizedDescription))", path: folder.appendingPathComponent(pageFile).path)
        }
    }

    /// "0.1234", or a reason when a figure could not be computed.
    static func show(_ value: Float?) -> String { value.map { String(format: "%.4f", $0) } ?? "n/a (too few frames)" }

    /// "0.123 (95 % interval 0.100-0.150)", with `digits` decimals.
    static func withInterval(_ value: Float?, _ bounds: [Float]?, digits: Int = 3) -> String {
        guard let value, let bounds else { return show(value) }
        let format = "%.\(digits)f"
        return String(format: "\(format) (95 %% interval \(format)-\(format))", value, bounds[0], bounds[1])
    }

    /// The page's rows (JSON key, value, meaning) comparing the generated
    /// frames with the validation and the training frames.
    static func comparisonRows(_ f: EvaluationFigures) -> [(String, String, String)] {
        [
            (
                "c2st_accuracy", withInterval(f.validation.c2stAccuracy, f.validation.c2stAccuracyInterval),
                "classifier two-sample test, generated vs held-out validation frames: 0.5 indistinguishable, 1.0 separable; 95 % interval by bootstrap over the test series"
            ),
            (
                "c2st_test_frames, c2st_test_series",
                f.validation.c2stTestFrames.map { "\($0) frames of \(f.validation.c2stTestSeries!) series" } ?? "n/a",
                "the size of the test"
            ),
            (
                "c2st_calibration_accuracy", withInterval(f.validation.c2stCalibrationAccuracy, f.validation.c2stCalibrationInterval),
                "the same test on two halves of the validation frames, split by series"
            ),
            (
                "c2st_verdict", f.validation.c2stVerdict?.rawValue ?? "n/a",
                "what the intervals allow: distinguishable, indistinguishable, or undecided (too few series)"
            ),
            (
                "against_training.c2st_accuracy", withInterval(f.againstTraining.c2stAccuracy, f.againstTraining.c2stAccuracyInterval),
                "generated vs training frames"
            ),
            (
                "against_training.c2st_calibration_accuracy",
                withInterval(f.againstTraining.c2stCalibrationAccuracy, f.againstTraining.c2stCalibrationInterval),
                "two halves of the training frames"
            ),
            ("against_training.c2st_verdict", f.againstTraining.c2stVerdict?.rawValue ?? "n/a", "the verdict against the training frames"),
            (
                "density", withInterval(f.validation.density, f.validation.densityInterval),
                "Naeem et al.: generated frames in real frames' neighbourhoods (random CNN features), 1 like the real frames, below 1 outside them"
            ),
            (
                "coverage", withInterval(f.validation.coverage, f.validation.coverageInterval),
                "share of real frames' neighbourhoods reached by a generated frame: low for a collapsed model"
            ),
            (
                "against_training.density, coverage",
                "\(withInterval(f.againstTraining.density, f.againstTraining.densityInterval)), \(withInterval(f.againstTraining.coverage, f.againstTraining.coverageInterval))",
                "the same against the training frames"
            ),
            ("ms_ssim_generated", show(f.msSsimGenerated), "mean pairwise MS-SSIM of generated frames (higher than real: less diverse)"),
            ("ms_ssim_real", show(f.validation.msSsimReal), "the same among validation frames"),
            ("against_training.ms_ssim_real", show(f.againstTraining.msSsimReal), "the same among training frames"),
        ]
    }

    /// The page's rows (JSON key, value, meaning) of the histogram and spectrum distances.
    static func distanceRows(_ f: EvaluationFigures) -> [(String, String, String)] {
        [
            (
                "histogram_distance", withInterval(f.validation.histogramDistance, f.validation.histogramDistanceInterval, digits: 4),
                "Wasserstein-1 distance of intensity histograms, vs validation"
            ),
            (
                "against_training.histogram_distance",
                withInterval(f.againstTraining.histogramDistance, f.againstTraining.histogramDistanceInterval, digits: 4),
                "vs training"
            ),
            (
                "spectrum_distance", withInterval(f.validation.spectrumDistance, f.validation.spectrumDistanceInterval),
                "mean |difference| of log10 radial power spectra, vs validation"
            ),
            (
                "against_training.spectrum_distance",
                withInterval(f.againstTraining.spectrumDistance, f.againstTraining.spectrumDistanceInterval), "vs training"
            ),
        ]
    }

    /// The page's rows (JSON key, value, meaning) about copies of training frames.
    static func copyRows(_ result: EvaluationResult) -> [(String, String, String)] {
        let f = result.figures
        return [
            (
                "data_copying_z", show(f.dataCopyingZ),
                "Meehan et al. C_T: below \(DataCopyingTest.copyingThreshold) flags copying, near 0 healthy, above 0 under-fitting"
            ),
            (
                "copies", "\(f.copies) of \(result.generatedFrames): \(withInterval(f.copyRate, f.copyRateInterval))",
                "generated frames that copy a training frame (copy distance within its radius)"
            ),
            (
                "held_out_copies",
                f.heldOutCopies.map { "\($0) of \(result.validationFrames): \(withInterval(f.heldOutCopyRate, f.heldOutCopyRateInterval))" }
                    ?? "n/a (no held-out frames)", "held-out real frames the same test flags: its false-positive rate on this data"
            ),
            (
                "copy_radius", show(f.copyRadius),
                "copy distance within which a frame counts as a copy (smaller where real frames of different series come closer)"
            ),
            (
                "copy_distance_mean", show(f.copyDistanceMean),
                "mean copy distance of a generated frame to its nearest training frame: 0 copy, 0.8 blank, about 1 unrelated"
            ),
            ("nearest_train_l2_mean", show(f.nearestTrainL2Mean), "mean distance of a generated frame to its nearest training frame"),
            ("nearest_train_ssim_mean", show(f.nearestTrainSsimMean), "mean SSIM to the most similar of the 8 nearest training frames"),
        ]
    }

    /// `text` safe inside HTML.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;")
    }

    static func page(_ result: EvaluationResult, nearestCaptions: String) -> String {
        let rows = comparisonRows(result.figures) + distanceRows(result.figures) + copyRows(result)
        let table = rows.map { "<tr><td><code>\($0.0)</code></td><td>\(escape($0.1))</td><td>\(escape($0.2))</td></tr>" }.joined(
            separator: "\n")
        let warnings = result.warnings.map { "<li>\(escape($0))</li>" }.joined(separator: "\n")
        return """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>medsynth evaluation: \(escape(result.model))</title>
            <style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td{padding:.2em .6em;border-bottom:1px solid #ddd}</style></head>
            <body>
            <h1>Evaluation of \(escape(result.model))</h1>
            <p>Model id \(result.modelId), checkpoint sha256 <code>\(result.checkpointSha256)</code>; \(result.generatedFrames) generated frames
            (seed \(result.seed)) against \(result.validationFrames) validation and \(result.trainingFrames) training frames;
            \(String(format: "%.1f", result.seconds)) s; \(escape(result.createdAt)). Meanings and limits: docs/evaluation.md.</p>
            \(warnings.isEmpty ? "" : "<ul>\(warnings)</ul>")
            <table>
            \(table)
            </table>
            <h2>Frames</h2>
            <p>Rows: real frames (validation, then training); generated frames; the generated frames nearest to a training frame;
            below each, that training frame (copy distances \(nearestCaptions)).</p>
            <img src="\(sheetFile)" alt="real, generated and nearest-neighbour frames" style="image-rendering:pixelated;width:100%">
            </body></html>

            """
    }
}
