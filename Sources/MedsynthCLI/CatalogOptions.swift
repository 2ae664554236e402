import ArgumentParser
import Catalog
import DICOM
import Foundation
import Glibc

/// Options every subcommand that uses the catalog shares.
struct CatalogOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The catalog folder (default: $MEDSYNTH_CATALOG, else ./catalog).", valueName: "dir"))
    var catalog: String?

    @Flag(name: .long, help: "Also print DCMTK's warnings about odd files.")
    var verbose = false

    /// The catalog folder: --catalog, else MEDSYNTH_CATALOG, else ./catalog.
    var catalogDirectory: URL {
        let path = catalog ?? ProcessInfo.processInfo.environment["MEDSYNTH_CATALOG"] ?? "catalog"
        return absolutePath(path, isDirectory: true)
    }

    /// How a command uses the catalog.
    enum Access {
        /// Reads only: works on a read-only catalog, never migrates.
        case read
        /// Writes when the catalog can be written, else reads (evaluate: its
        /// figures are then printed but not stored).
        case writeIfPossible
        /// Writes; `create` makes a missing catalog.
        case write(create: Bool)
    }

    /// Sets up logging, then opens the catalog.
    func openCatalog(_ use: Access) throws -> Catalog {
        ConsoleLogHandler.bootstrap(verbose: verbose)
        let directory = catalogDirectory
        return try failingWithStatus {
            switch use {
            case .read:
                return try Catalog(readingDirectory: directory)
            case .writeIfPossible:
                let database = directory.appendingPathComponent(Catalog.databaseFileName).path
                let writable = Glibc.access(directory.path, W_OK) == 0 && Glibc.access(database, W_OK) == 0
                return writable ? try Catalog(directory: directory, create: false) : try Catalog(readingDirectory: directory)
            case .write(let create):
                return try Catalog(directory: directory, create: create)
            }
        }
    }
}
