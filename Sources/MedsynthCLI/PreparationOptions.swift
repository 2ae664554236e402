import ArgumentParser
import Frames

extension RegionChoice: ExpressibleByArgument {}
extension AnnotationHandling: ExpressibleByArgument {}

/// How frames become training images (docs/training.md, "Frame
/// preparation"): shared by `train` and `show --prepared`.
struct PreparationOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Part of each frame to train on: auto (the ultrasound tissue region the file states, else the scan sector "
                + "of a cine, else the whole frame; the default), none (the whole frame) or a rectangle X0,Y0,X1,Y1 "
                + "(pixels, corners included).",
            valueName: "auto|none|X0,Y0,X1,Y1"))
    var region: RegionChoice?

    @Option(
        help: ArgumentHelp(
            "mask (in cines, fill static bright overlays such as text and calipers from their surroundings; in "
                + "single frames, set the screen around the image to black; the default) or keep."))
    var annotations: AnnotationHandling?

    /// The options given, by name, for commands that refuse them.
    var given: [String] { [("--region", region != nil), ("--annotations", annotations != nil)].filter(\.1).map(\.0) }
}
