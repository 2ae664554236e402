import ArgumentParser
import Catalog
import DICOM
import Frames
import GAN
import Imaging

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Write one frame of a catalogued instance as PNG, so a person can look at it.",
        discussion: """
            Frames are numbered from 1, as DICOM counts them and 'medsynth query annotations' lists \
            them. Grayscale frames go through the file's first window (else a min-max window when more \
            than 8 bits are stored); colour frames stay in colour.

            --overlay draws the frame's annotations (see 'medsynth import --help'): keypoints as \
            yellow crosses with their names, the skeleton joining them in orange, mask outlines in cyan; \
            with --prepared, on the training image too, where preparation carries them.

            --prepared shows what training makes of the frame (see 'medsynth train --help'): \
            left, the frame in gray with the kept region outlined in green, pixels blanked \
            (outside an estimated scan sector, or a single frame's screen around its image) \
            in blue and filled burned-in annotations in magenta; right, the training image at the preset's resolution, enlarged.

            Examples:
              medsynth show 1.2.840.113619.2.1.1.322987881.621.736170080.681 \\
                  --frame 10 --png frame.png
              medsynth show 2.25.1234 --frame 3 --overlay --png labelled.png
              medsynth show 1.2.840.113619.2.1.1.322987881.621.736170080.681 \\
                  --prepared --png prepared.png
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Argument(help: "The instance's SOP Instance UID (see 'medsynth query instances').")
    var sopInstanceUID: String

    @Option(parsing: .unconditional, help: "Frame number, from 1 (as DICOM counts frames).")
    var frame = 1

    @Option(help: ArgumentHelp("Where to write the PNG.", valueName: "file"))
    var png: String

    @Flag(help: "Write the frame as training prepares it, beside the training image.")
    var prepared = false

    @Flag(help: "Draw the frame's keypoints (named) and mask outlines on it.")
    var overlay = false

    @OptionGroup var preparation: PreparationOptions

    @Option(help: "With --prepared: the preset whose resolution the training image has (compact, the default, residual or paper).")
    var preset: GeneratorPreset?

    @OptionGroup var output: JSONOption

    func validate() throws {
        if frame < 1 { throw ValidationError("--frame counts from 1, as DICOM numbers frames.") }
        let preparationOnly = preparation.given + (preset != nil ? ["--preset"] : [])
        if !prepared, !preparationOnly.isEmpty {
            throw ValidationError("\(preparationOnly.joined(separator: ", ")) go with --prepared.")
        }
    }

    func run() throws {
        let catalog = try catalogOptions.openCatalog(.read)
        let file = try failingWithStatus {
            try DicomFile(path: try catalog.storedFile(ofFrame: frame, sopInstanceUID: sopInstanceUID))
        }
        let (picture, preparationRecord) = try failingWithStatus { () throws -> (Frame, InstancePreparation?) in
            let annotations = overlay ? try catalog.frameAnnotations(sopInstanceUID: sopInstanceUID, frameNumber: frame) : nil
            if prepared { return try preparedPicture(of: file, annotations: annotations ?? []) }
            return (try file.displayFrame(frame - 1).drawing(annotations), nil)
        }
        let destination = absolutePath(png).path
        try failingWithStatus {
            try PNGWriter.write(
                path: destination, pixels: picture.pixels, width: picture.width, height: picture.height, channels: picture.channels)
        }
        printResult(
            "Wrote \(prepared ? "the prepared " : "")frame \(frame) of \(sopInstanceUID) (\(picture.width)x\(picture.height)) to \(destination)",
            json: output.json)
        if output.json {
            try printJSON(
                ShowOutput(
                    sopInstanceUid: sopInstanceUID, frame: frame, width: picture.width, height: picture.height,
                    channels: picture.channels, png: destination, preparation: preparationRecord))
        }
    }

    /// The frame beside its training image, and what the preparation did.
    private func preparedPicture(of file: DicomFile, annotations: [FrameAnnotation]) throws -> (Frame, InstancePreparation) {
        let preprocessing = FramePreprocessing(
            resolution: (preset ?? .compact).configuration().resolution, region: preparation.region ?? .auto,
            annotations: preparation.annotations ?? .mask)
        let picture = try PreparedFramePicture(file, frame: frame - 1, preprocessing: preprocessing, annotations: annotations)
        let singleFrame = picture.prepared.annotationsLeftInSingleFrame ? PreparedInstance.singleFrameNote([file.path]) : []
        for note in picture.prepared.notes + singleFrame { printError("warning: \(note)") }
        return (picture.frame, picture.prepared.record)
    }
}

/// `show --json`: the frame written and where; with --prepared, what the
/// preparation did (region source, rectangle, annotation pixels filled).
struct ShowOutput: Encodable {
    var sopInstanceUid: String
    var frame: Int
    var width: Int
    var height: Int
    var channels: Int
    var png: String
    var preparation: InstancePreparation?
}
