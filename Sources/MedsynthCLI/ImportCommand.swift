import ArgumentParser
import Catalog
import Foundation
import Ingest

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Catalog DICOM files and folders, keeping a managed copy of each.",
        discussion: """
            Folders are read recursively (symbolic links followed, each folder once). Files that are \
            not DICOM are skipped and counted; DICOM files that cannot be read are rejected with the \
            reason, and the rest of the import goes on. An instance already in the catalog (same SOP \
            Instance UID) is counted as a duplicate and not stored again; if its dataset differs (not \
            only its encoding: a receiver's meta header, VR, byte order), the first stays and the \
            second is recorded with the reason ('query' lists instances). A stored copy that does not \
            decode is replaced by a copy that does (another transfer syntax, or the same file that an \
            older medsynth could not decode: import JPEG 2000 files again to train on them); the \
            replaced copy stays in storage.

            Exit status: 0 all imported or skipped, 1 some files rejected, 2 or more fatal (docs/cli.md).

            Examples:
              medsynth import samples/data
              medsynth import --catalog /data/lab-catalog /media/usb/DICOM --json
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Argument(help: ArgumentHelp("DICOM files and folders to import.", valueName: "path"))
    var paths: [String]

    @Option(parsing: .unconditional, help: "Files parsed in parallel (default: one per core).")
    var jobs: Int?

    @OptionGroup var output: JSONOption

    func validate() throws {
        if paths.isEmpty { throw ValidationError("Name at least one file or folder to import.") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1.") }
    }

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.write(create: true))
        let progress = ProgressLine(label: "import", unit: "files")
        let result = try failingWithStatus {
            try Importer(catalog: catalog, options: ImportOptions(jobs: jobs)).run(paths: paths) {
                progress.update(
                    done: $0.filesDone, total: $0.filesTotal, elapsed: $0.elapsed,
                    detail: "\($0.summary.imported) new")
            }
        }
        progress.finish()
        ImportReport(result: result, catalog: catalog.directory.path).print(json: output.json)
        if result.summary.rejected > 0 { throw ExitCode(ExitStatus.someInputsRejected.rawValue) }
    }
}
