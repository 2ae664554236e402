import ArgumentParser
import Catalog
import DICOM
import DICOMNetwork
import Foundation
import Ingest

struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send catalogued instances, or DICOM files, to a PACS or another DICOM receiver (C-STORE).",
        discussion: """
            Chooses catalogued instances with the filters of 'query' (all of them without a filter), \
            or sends the DICOM files and folders given instead (a 'synthesize' output folder, say; \
            files that are not DICOM are skipped). \
            Each instance is offered in its stored transfer syntax and uncompressed, and decompressed \
            when the receiver accepts only uncompressed data. One line per instance on stdout; each \
            instance not stored is named on stderr with the receiver's status.

            Exit status: 0 all stored, 1 some not stored (named), 22 nothing to send, 80 no \
            association with the receiver (docs/cli.md).

            Examples:
              medsynth send --to PACS@pacs.example.org:104 --synthetic yes --model us-demo
              medsynth send --to ORTHANC@127.0.0.1:4242 synthetic-out/
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: ArgumentHelp("The receiver, as its AE title, host and port.", valueName: "AE@HOST:PORT"))
    var to: String

    @Option(name: .customLong("calling-ae"), help: "The AE title medsynth calls with (the receiver may allow only known ones).")
    var callingAETitle = "MEDSYNTH"

    @OptionGroup var filterOptions: InstanceFilterOptions

    @Option(help: "Seconds to wait for the receiver at each step (connecting, negotiating, each response).")
    var timeout = 30

    @Argument(help: ArgumentHelp("DICOM files and folders to send instead of catalogued instances.", valueName: "path"))
    var paths: [String] = []

    func validate() throws {
        guard DicomPeer(parsing: to) != nil else {
            throw ValidationError("--to needs AE@HOST:PORT (an AE title of 1 to 16 characters, a port from 1 to 65535): \(to)")
        }
        guard DicomPeer(parsing: "\(callingAETitle)@h:1") != nil else {
            throw ValidationError("--calling-ae needs 1 to 16 characters without backslashes: \(callingAETitle)")
        }
        if !paths.isEmpty && filterOptions.filter.selectsSome {
            throw ValidationError("give either paths to send or catalog filters, not both")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        let peer = DicomPeer(parsing: to)!
        let files = try failingWithStatus { try filesToSend() }
        let report = SendReport(
            peer: peer, sent: StorageSender.send(files, to: peer, callingAETitle: callingAETitle, timeoutSeconds: timeout))
        try report.finish()
    }

    private func filesToSend() throws -> [String] {
        if paths.isEmpty {
            let files = try catalogOptions.openCatalog(.read).storedFiles(filterOptions.filter)
            guard !files.isEmpty else { throw CommandFailure(.notInCatalog, "no catalogued instances pass the filters") }
            return files
        }
        let collected = FileCollector(paths: paths)
        if let problem = collected.problems.first {
            throw CommandFailure(.inputUnreadable, "cannot read (\(problem.reason)): \(problem.path)")
        }
        // Files that are not DICOM (a synthesize folder's synthesis.json and latents.npy) are skipped, as import skips them.
        let dicom = try collected.files.filter { try DicomProbe.classify(path: $0) != .notDicom }
        guard !dicom.isEmpty else {
            throw CommandFailure(.notInCatalog, "no DICOM files to send below \(paths.joined(separator: ", "))")
        }
        return dicom
    }
}

/// What `send` prints, and its exit status.
struct SendReport {
    let peer: DicomPeer
    let sent: (outcomes: [SendOutcome], failure: DicomNetworkError?)

    func finish() throws {
        for outcome in sent.outcomes where outcome.status != SendOutcome.notAttempted {
            if outcome.stored {
                print(
                    "stored (\(outcome.statusText), \(outcome.detail)): \(outcome.sopInstanceUID.escapingControlCharacters) \(outcome.path.escapingControlCharacters)"
                )
            } else {
                printError("not stored (\(outcome.statusText)): \(outcome.path)")
            }
        }
        let stored = sent.outcomes.filter(\.stored).count
        let notAttempted = sent.outcomes.filter { $0.status == SendOutcome.notAttempted }.count
        print(
            "Sent to \(peer): \(stored) of \(sent.outcomes.count) instances stored"
                + (notAttempted > 0 ? " (\(notAttempted) not sent: the association failed first)" : ""))
        if let failure = sent.failure { throw CommandFailure(.associationFailed, failure.reason) }
        if stored < sent.outcomes.count { throw ExitCode(ExitStatus.someInputsRejected.rawValue) }
    }
}
