import ArgumentParser
import Catalog
import DICOM
import Imaging

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Write one frame of a catalogued instance as PNG, so a person can look at it.",
        discussion: """
            Grayscale frames go through the file's first window (else a min-max window when more \
            than 8 bits are stored); colour frames stay in colour.

            Example:
              medsynth show 1.2.840.113619.2.1.1.322987881.621.736170080.681 \\
                  --frame 10 --png frame.png
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Argument(help: "The instance's SOP Instance UID (see 'medsynth query instances').")
    var sopInstanceUID: String

    @Option(parsing: .unconditional, help: "Frame number, from 0.")
    var frame = 0

    @Option(help: ArgumentHelp("Where to write the PNG.", valueName: "file"))
    var png: String

    @OptionGroup var output: JSONOption

    func validate() throws {
        if frame < 0 { throw ValidationError("--frame counts from 0.") }
    }

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.read)
        guard let instance = try failingWithStatus({ try catalog.instance(sopInstanceUID: sopInstanceUID) }) else {
            throw CommandFailure(.notInCatalog, "no instance with this SOP Instance UID in the catalog: \(sopInstanceUID)")
        }
        guard frame < instance.frames else {
            throw CommandFailure(
                .notInCatalog,
                "--frame \(frame) is out of range: the instance has \(instance.frames) "
                    + "frame\(instance.frames == 1 ? "" : "s"), numbered from 0: \(sopInstanceUID)")
        }
        let rendered = try failingWithStatus {
            try DicomFile(path: catalog.storage.absolutePath(relative: instance.storedPath)).displayFrame(frame)
        }
        let destination = absolutePath(png).path
        try failingWithStatus {
            try PNGWriter.write(
                path: destination, pixels: rendered.pixels, width: rendered.width,
                height: rendered.height, channels: rendered.channels)
        }
        if output.json {
            try printJSON(
                ShowOutput(
                    sopInstanceUid: sopInstanceUID, frame: frame, width: rendered.width, height: rendered.height,
                    channels: rendered.channels, png: destination))
        } else {
            print("Wrote frame \(frame) of \(sopInstanceUID) (\(rendered.width)x\(rendered.height)) to \(destination)")
        }
    }
}

/// `show --json`: the frame written and where.
struct ShowOutput: Encodable {
    var sopInstanceUid: String
    var frame: Int
    var width: Int
    var height: Int
    var channels: Int
    var png: String
}
