import Catalog
import Foundation
import Ingest

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
        for replacement in result.replacements {
            printError("replaced (\(replacement.reason)): \(replacement.path)")
        }
        let summary = result.summary
        if json {
            try? printJSON(ImportOutput(summary: summary, catalog: catalog, importRunId: result.runID))
            return
        }
        let modalities = summary.byModality.sorted { $0.key < $1.key }.map { "\($0.key.escapingControlCharacters) \($0.value)" }
        Swift.print(
            """
            Import into \(catalog.escapingControlCharacters):
              files seen   \(summary.filesSeen)
              imported     \(summary.imported) instances, \(summary.frames) frames
              duplicates   \(summary.duplicates) (already catalogued, not stored again)
              annotations  \(summary.annotations) from \(summary.annotationFiles) COCO file\(summary.annotationFiles == 1 ? "" : "s")\(
                summary.annotationsAlreadyCatalogued > 0
                    ? " (and \(summary.annotationsAlreadyCatalogued) the catalog held already, from another file)" : "")
              replaced     \(summary.replaced) (a stored copy that does not decode, by one that does; annotations, by a newer file)
              skipped      \(summary.skipped) (neither DICOM nor COCO annotations)
              rejected     \(summary.rejected)\(summary.rejected > 0 ? " (reasons above)" : "")
              by modality  \(modalities.isEmpty ? "-" : modalities.joined(separator: ", "))
            """)
    }
}

/// `import --json`: the summary's counts beside the catalog and the run's id.
struct ImportOutput: Encodable {
    let summary: ImportSummary
    /// The catalog folder, absolute.
    let catalog: String
    /// The catalog's record of this import (its `import_runs` row).
    let importRunId: Int64

    enum CodingKeys: String, CodingKey { case catalog, importRunId = "import_run_id" }

    func encode(to encoder: any Encoder) throws {
        try summary.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(catalog, forKey: .catalog)
        try container.encode(importRunId, forKey: .importRunId)
    }
}
