import ArgumentParser
import DICOM

/// `medsynth decode-worker`: the child process in which `import` parses and
/// decodes untrusted files (see `DecodeWorker`). Not for people: hidden from help.
struct DecodeWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: DecodeWorker.subcommand,
        abstract: "Parse and decode files named on standard input, one JSON answer per line (used by import).",
        shouldDisplay: false
    )

    func run() throws {
        // DCMTK's warnings stay quiet here, as they do in import without --verbose.
        ConsoleLogHandler.bootstrap(verbose: false)
        DecodeWorker.serve()
    }
}
