import Foundation
import Synchronization

/// Progress of long work on stderr: one line redrawn in place on a terminal
/// (count, rate, ETA), a plain line every few seconds otherwise (logs, CI).
final class ProgressLine: Sendable {
    private let label: String
    private let unit: String
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let lastDrawn = Mutex<Double>(-.infinity)

    init(label: String, unit: String) {
        self.label = label
        self.unit = unit
    }

    /// Reports `done` of `total` after `elapsed` seconds; `detail` is appended.
    func update(done: Int, total: Int, elapsed: Double, detail: String = "") {
        let interval = isTerminal ? 0.1 : 5.0
        let due = lastDrawn.withLock { last in
            guard elapsed - last >= interval || done == total else { return false }
            last = elapsed
            return true
        }
        guard due else { return }
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        var text = "\(label): \(done)/\(total) \(unit), \(String(format: "%.0f", rate)) \(unit)/s, ETA \(Self.duration(remaining))"
        if !detail.isEmpty { text += ", \(detail)" }
        if isTerminal {
            let width = 24
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[K[\(bar)] \(text)".utf8))
        } else {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    /// Ends the redrawn line so that later output starts on a fresh one.
    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600
            ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }
}
