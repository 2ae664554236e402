import DICOM
import Foundation
import Imaging
import TaskModel

/// `evaluate --utility --report DIR`: `index.html` with the table of every
/// arm, `errors.png` (each arm's mean point error, or Dice, with its 95 %
/// interval) and `sheet.png` (test frames, enlarged, with the true keypoints
/// or mask outlines in cyan, the real-only task model's in magenta and the
/// real+synthetic one's in yellow).
enum UtilityReport {
    static let plotFile = "errors.png"
    static let sheetFile = EvaluationReport.sheetFile
    static let pageFile = EvaluationReport.pageFile
    /// Test frames on the sheet: the first of each test series, up to this many.
    static let sheetFrames = 8
    static let enlargement = 4

    static func write(_ result: UtilityResult, test: TaskFrames, predictions: [UtilityArm: [[Float]]], to folder: URL) throws {
        let plot = IntervalPlot(
            rows: result.utility.arms.map {
                IntervalPlot.Row(label: $0.arm.rawValue, value: $0.headline.value, interval: $0.headline.interval)
            },
            axisLabel: result.utility.figureName + (result.utility.figureUnit.isEmpty ? "" : " (\(result.utility.figureUnit))"))
        try writing(folder.appendingPathComponent(plotFile)) { try plot.write(path: $0.path) }
        try writing(folder.appendingPathComponent(sheetFile)) { try sheet(test: test, predictions: predictions, path: $0.path) }
        try writing(folder.appendingPathComponent(pageFile)) { try page(result).write(to: $0, atomically: true, encoding: .utf8) }
    }

    private static func writing(_ file: URL, _ body: (URL) throws -> Void) throws {
        do {
            try body(file)
        } catch {
            throw EvaluationError.report("cannot write (\(error))", path: file.path)
        }
    }

    /// One row of enlarged test frames with the three sets of keypoints or mask outlines.
    private static func sheet(test: TaskFrames, predictions: [UtilityArm: [[Float]]], path: String) throws {
        var firsts: [Int] = []
        for index in 0..<test.count where !firsts.contains(where: { test.series[$0] == test.series[index] }) {
            if firsts.count < sheetFrames { firsts.append(index) }
        }
        let tile = test.side * enlargement, gap = 4
        let width = max(1, firsts.count) * (tile + gap), height = tile
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        for (slot, index) in firsts.enumerated() {
            let originX = slot * (tile + gap)
            for y in 0..<tile {
                for x in 0..<tile {
                    let value = UInt8(max(0, min(255, test.images[index][(y / enlargement) * test.side + x / enlargement].rounded())))
                    for channel in 0..<3 { pixels[(y * width + originX + x) * 3 + channel] = value }
                }
            }
            let placement = AnnotationOverlay.Placement(originX: Double(originX), scale: Double(enlargement))
            let sets: [([Float]?, [Bool], (UInt8, UInt8, UInt8))] = [
                (test.targets[index], test.labelled[index], (0, 220, 255)),
                (predictions[.real]?[index], Array(repeating: true, count: test.keypointCount), (255, 0, 255)),
                (predictions[.realSynthetic]?[index], Array(repeating: true, count: test.keypointCount), (255, 230, 0)),
            ]
            for (target, labelled, colour) in sets {
                guard let target else { continue }
                AnnotationOverlay.draw(
                    on: &pixels, width: width, height: height, annotations: [annotation(target, labelled: labelled, of: test)],
                    placement: placement, colour: colour)
            }
        }
        try PNGWriter.write(path: path, pixels: pixels, width: width, height: height, channels: 3)
    }

    /// A task target as an annotation to draw: its keypoints, or its mask.
    private static func annotation(_ target: [Float], labelled: [Bool], of frames: TaskFrames) -> FrameAnnotation {
        guard frames.head != .mask else {
            let mask = LabelMask(rows: frames.side, columns: frames.side, pixels: target.map { $0 > 0.5 ? 1 : 0 })
            return FrameAnnotation(label: "", keypoints: [], skeleton: [], mask: mask)
        }
        let points = labelled.indices.map { point in
            LabelledKeypoint(name: "", x: Double(target[2 * point]), y: Double(target[2 * point + 1]), visibility: labelled[point] ? 2 : 0)
        }
        return FrameAnnotation(label: "", keypoints: points, skeleton: [], mask: nil)
    }

    private static func page(_ result: UtilityResult) -> String {
        let escape = EvaluationReport.escape
        let u = result.utility
        let (figure, unit) = (u.figureName, u.figureUnit.isEmpty ? "" : ", \(u.figureUnit)")
        let labels = u.task == .masks ? "mask outlines" : "keypoints"
        func interval(_ values: [Float]) -> String {
            values.count == 2 ? String(format: "%.2f to %.2f", values[0], values[1]) : "n/a"
        }
        let pckHeader = u.pckThreshold.map { "<th>PCK at \(String(format: "%.1f", $0)) px</th>" } ?? ""
        let arms = u.arms.map { arm in
            let pck = arm.pck.map { String(format: "<td>%.2f (%@)</td>", $0, interval(arm.pckInterval ?? [])) } ?? ""
            return "<tr><td><code>\(arm.arm.rawValue)</code></td><td>\(arm.trainingFrames)</td><td>"
                + String(format: "%.2f", arm.headline.value) + " (\(interval(arm.headline.interval)))</td>\(pck)</tr>"
        }.joined(separator: "\n")
        let differences = u.differences.map { difference in
            "<tr><td><code>\(difference.arm.rawValue)</code> - <code>\(difference.against.rawValue)</code></td><td>"
                + String(format: "%+.2f", difference.headline) + " (\(interval(difference.interval)))</td><td>"
                + "\(difference.verdict.rawValue)</td></tr>"
        }.joined(separator: "\n")
        let warnings = result.warnings.map { "<li>\(escape($0))</li>" }.joined(separator: "\n")
        return """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>medsynth utility: \(escape(result.model))</title>
            <style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}</style></head>
            <body>
            <h1>Does \(escape(result.model)) help a \(u.taskModelKind) model learn?</h1>
            <p>Model id \(result.modelId), checkpoint sha256 <code>\(result.checkpointSha256)</code>. Task: \(escape(result.taskDescription)).
            \(result.trainingSeries) of \(result.availableTrainingSeries) labelled training series; \(result.generatedFrames) generated
            frames (seed \(result.seed)), \(u.labelSource);
            tested on \(u.testFrames) frames of \(u.testSeries) held-out series; \(u.seeds.count) task models per arm, \(u.plan.steps)
            steps of \(u.plan.batch). Intervals: 95 %, from drawing the test series again. Meanings and limits: docs/evaluation.md,
            "Utility". \(String(format: "%.0f", result.seconds)) s; \(escape(result.createdAt)).</p>
            \(warnings.isEmpty ? "" : "<ul>\(warnings)</ul>")
            <table>
            <tr><th>arm</th><th>training frames</th><th>\(figure)\(unit)</th>\(pckHeader)</tr>
            \(arms)
            </table>
            <img src="\(plotFile)" alt="\(figure) per arm with its interval">
            <table>
            <tr><th>arm - arm compared</th><th>\(figure) difference\(unit)</th><th>verdict</th></tr>
            \(differences)
            </table>
            <h2>Test frames</h2>
            <p>The first frame of each held-out series: true \(labels) in cyan, the real-only task model's in magenta, the
            real+synthetic one's in yellow (first seed).</p>
            <img src="\(sheetFile)" alt="test frames with true and predicted \(labels)" style="image-rendering:pixelated;width:100%">
            </body></html>

            """
    }
}
