import Catalog
import Foundation

/// What `import` prints: problems on stderr, the summary on stdout.
struct ImportReport {
    let result: ImportResult
    let catalog: String

    func print(json: Bool) {
        for problem in result.rejections {
            printError("rejected (\(problem.reason)): \(problem.path)")
        }
        for conflict in result.conflicts {
            printError("not stored (\(conflict.reason)): \(conflict.path)")
        }
        let summary = result.summary
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            Swift.print(String(decoding: try! encoder.encode(summary), as: UTF8.self))
            return
        }
        let modalities = summary.byModality.sorted { $0.key < $1.key }.map { "\($0.key.escapingControlCharacters) \($0.value)" }
        Swift.print("""
            Import into \(catalog.escapingControlCharacters):
              files seen   \(summary.filesSeen)
              imported     \(summary.imported) instances, \(summary.frames) frames
              duplicates   \(summary.duplicates) (already catalogued, not stored again)
              skipped      \(summary.skipped) (not DICOM)
              rejected     \(summary.rejected)\(summary.rejected > 0 ? " (reasons above)" : "")
              by modality  \(modalities.isEmpty ? "-" : modalities.joined(separator: ", "))
            """)
    }
}
