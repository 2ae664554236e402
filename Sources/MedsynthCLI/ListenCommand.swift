import ArgumentParser
import CPlatform
import Catalog
import DICOM
import DICOMNetwork
import Foundation
import Ingest

struct ListenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Receive studies from a modality or a PACS into the catalog (a DICOM Storage SCP: C-STORE, C-ECHO).",
        discussion: """
            Every instance received goes through the import path (limits, parsing, decodability, \
            managed copy, catalog rows) and is answered success only once it is durable in the \
            catalog; any failure is answered with a failure status and named on stderr. \
            Accepts every storage SOP class DCMTK knows, in the uncompressed, deflated, JPEG, JPEG-LS, \
            RLE and JPEG 2000 transfer syntaxes, and keeps what the sender sent. An instance received \
            again is a duplicate, not a conflict: identity is the dataset, not the file.

            Listens on 127.0.0.1 unless --bind says otherwise, so that nothing is exposed by surprise. \
            Associations must call --ae-title; --allow limits the calling AE titles; --tls-cert and \
            --tls-key turn on DICOM TLS, and --tls-ca then requires each peer's certificate to be \
            signed by that CA. While it listens, 'import' into the same catalog reports it busy.

            One line per association when it ends (calling AE, instances, rate). Ctrl-C (SIGINT) or \
            SIGTERM stops accepting, lets each association finish the instance it is receiving, \
            prints a summary and exits with status 3.

            Exit status: 3 stopped by a signal, 41 catalog unwritable, 42 catalog busy, 81 cannot \
            listen or load the TLS files (docs/cli.md).

            Examples:
              medsynth listen --port 11112
              medsynth listen --bind 10.0.0.5 --port 104 --allow CT01,PACS --ae-title MEDSYNTH
              medsynth listen --bind 0.0.0.0 --tls-cert me.pem --tls-key me.key --tls-ca lab-ca.pem
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: "The TCP port to listen on (11112 is DICOM's registered port; 104 needs privileges).")
    var port: UInt16 = 11112

    @Option(name: .customLong("ae-title"), help: "The AE title senders must call.")
    var aeTitle = "MEDSYNTH"

    @Option(help: ArgumentHelp("The IPv4 address to listen on: 0.0.0.0 for every interface.", valueName: "address"))
    var bind = "127.0.0.1"

    @Option(
        help: ArgumentHelp(
            "Calling AE titles allowed (comma-separated or repeated); others are rejected at association. Default: any.",
            valueName: "AE[,AE...]"))
    var allow: [String] = []

    @Option(name: .customLong("max-associations"), help: "Associations served at once; one more is rejected until one ends.")
    var maxAssociations = 4

    @Option(help: "Seconds to wait for a peer at each step; an association idle this long is aborted.")
    var timeout = 60

    @Option(
        name: .customLong("max-instance-mib"),
        help: "Largest instance one C-STORE may send, in MiB: past it the association is aborted and nothing of it kept.")
    var maxInstanceMiB = 4096

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("Our certificate (PEM): turns on DICOM TLS.", valueName: "file"))
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The private key of --tls-cert (PEM, not encrypted).", valueName: "file"))
    var tlsKey: String?

    @Option(
        name: .customLong("tls-ca"),
        help: ArgumentHelp("A CA certificate (PEM): peers must present a certificate it signed.", valueName: "file"))
    var tlsCA: String?

    @OptionGroup var output: JSONOption

    var allowedAETitles: [String] {
        allow.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        for title in [aeTitle] + allowedAETitles where DicomPeer(parsing: "\(title)@h:1") == nil {
            throw ValidationError("an AE title needs 1 to 16 characters without backslashes: \(title)")
        }
        guard port > 0 else { throw ValidationError("--port must be from 1 to 65535") }
        guard bind.split(separator: ".").count == 4, inet_addr(bind) != INADDR_NONE || bind == "255.255.255.255" else {
            throw ValidationError("--bind needs an IPv4 address (DCMTK 3.6.7 listens over IPv4 only): \(bind)")
        }
        if (tlsCertificate == nil) != (tlsKey == nil) { throw ValidationError("give --tls-cert and --tls-key together") }
        if tlsCA != nil && tlsCertificate == nil { throw ValidationError("--tls-ca needs --tls-cert and --tls-key") }
        guard maxAssociations >= 1 else { throw ValidationError("--max-associations must be at least 1") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        guard (1...(1 << 20)).contains(maxInstanceMiB) else { throw ValidationError("--max-instance-mib must be from 1 to 1048576") }
    }

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.write(create: true))
        let ingest = try failingWithStatus { try NetworkIngest(catalog: catalog, options: listenerOptions) }
        ms_install_stop_handlers()
        let summary = try failingWithStatus {
            try ingest.run(shouldStop: { ms_stop_requested() != 0 }) { [json = output.json] in ListenText.print($0, json: json) }
        }
        try ListenText.printSummary(summary, json: output.json)
        if let failure = summary.failure { throw CommandFailure(.cannotListen, failure) }
        throw ExitCode(ExitStatus.interrupted.rawValue)
    }

    /// The listener's settings; `NetworkIngest` sets the folder it writes into.
    private var listenerOptions: StorageListenerOptions {
        StorageListenerOptions(
            bindAddress: bind, port: port, aeTitle: aeTitle, allowedCallingAETitles: allowedAETitles,
            maxAssociations: maxAssociations, timeoutSeconds: timeout, incomingDirectory: "",
            maxInstanceBytes: UInt64(maxInstanceMiB) << 20,
            tls: tlsCertificate.map {
                StorageListenerOptions.TLSFiles(certificate: $0, privateKey: tlsKey ?? "", certificateAuthority: tlsCA)
            })
    }
}

/// What `listen` prints of a run: a line per association and per refused
/// instance, and the summary when stopped.
enum ListenText {
    static func print(_ event: NetworkIngest.Event, json: Bool) {
        switch event {
        case .listening(let aeTitle, let address, let port, let tls):
            printResult("Listening as \(aeTitle) on \(address):\(port)" + (tls ? " (DICOM TLS)" : "") + "; Ctrl-C stops.", json: json)
        case .associationRejected(let who, let reason):
            printError("association rejected (\(reason)): \(who)")
        case .associationEnded(let who, let ending, let stored, let failed, let rate):
            printResult(
                "\(who): \(ending), \(stored) instances stored, \(failed) failed, " + String(format: "%.1f instances/s", rate), json: json)
        case .notStored(let status, let reason, let name):
            printError("not stored (\(SendOutcome.text(ofStatus: Int(status))): \(reason)): \(name)")
        }
    }

    static func printSummary(_ summary: NetworkIngest.Summary, json: Bool) throws {
        let result = summary.imports, s = result.summary
        if json {
            try printJSON(
                ListenJSON(
                    summary: s, associations: summary.associations, rejectedAssociations: summary.rejectedAssociations,
                    runId: result.runID))
            return
        }
        printResult(
            "Stopped. \(summary.associations) associations (\(summary.rejectedAssociations) rejected): \(s.filesSeen) instances "
                + "received, \(s.imported) new (\(s.frames) frames), \(s.duplicates - result.conflicts.count) already catalogued, "
                + "\(s.replaced) replaced, \(result.conflicts.count) conflicting, \(s.rejected) rejected; import run \(result.runID).",
            json: false)
    }
}

/// `listen --json`: what the run received (keys as `import --json`'s summary).
struct ListenJSON: Encodable {
    let summary: ImportSummary
    let associations: Int
    let rejectedAssociations: Int
    let runId: Int64
}
