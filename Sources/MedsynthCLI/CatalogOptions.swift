import ArgumentParser
import Catalog
import Foundation
import Logging

/// Options every subcommand that uses the catalog shares.
struct CatalogOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The catalog folder (default: $MEDSYNTH_CATALOG, else ./catalog).", valueName: "dir"))
    var catalog: String?

    @Flag(name: .long, help: "Also print DCMTK's warnings about odd files.")
    var verbose = false

    /// The catalog folder: --catalog, else MEDSYNTH_CATALOG, else ./catalog.
    var catalogDirectory: URL {
        let path = catalog ?? ProcessInfo.processInfo.environment["MEDSYNTH_CATALOG"] ?? "catalog"
        return URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
    }

    /// Sets up logging, then opens the catalog (creating it only for commands that write).
    func openCatalog(create: Bool) throws -> Catalog {
        ConsoleLogHandler.bootstrap(verbose: verbose)
        return try failingWithStatus { try Catalog(directory: catalogDirectory, create: create) }
    }
}

/// `medsynth: <level>: <message>` on stderr; DCMTK's own lines only with --verbose.
struct ConsoleLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let text = "medsynth: \(event.level): \(event.message)\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func bootstrap(verbose: Bool) {
        LoggingSystem.bootstrap { label in
            let isDCMTK = label == "medsynth.dcmtk"
            return ConsoleLogHandler(logLevel: isDCMTK ? (verbose ? .warning : .critical) : (verbose ? .debug : .info))
        }
    }
}

/// Output formats of the listing commands.
extension TableFormat: ExpressibleByArgument {}
