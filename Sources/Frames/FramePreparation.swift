import DICOM
import Imaging

/// Which part of each frame a model trains on (`train --region`).
public enum RegionChoice: Equatable, Sendable, Codable, CustomStringConvertible {
    /// The largest 2D tissue region of the Sequence of Ultrasound Regions;
    /// without valid regions, the scan sector estimated from a cine; else
    /// the whole frame, with a warning.
    case auto
    /// The whole frame.
    case none
    /// The same rectangle of every frame.
    case fixed(PixelRectangle)

    /// "auto", "none" or "X0,Y0,X1,Y1".
    public init?(argument: String) {
        switch argument {
        case "auto": self = .auto
        case "none": self = .none
        default:
            guard let rectangle = PixelRectangle(argument) else { return nil }
            self = .fixed(rectangle)
        }
    }

    public var description: String {
        switch self {
        case .auto: "auto"
        case .none: "none"
        case .fixed(let rectangle): rectangle.description
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let choice = RegionChoice(argument: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a region: \(text)"))
        }
        self = choice
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// What happens to burned-in annotations inside the region (`train --annotations`).
public enum AnnotationHandling: String, Codable, Sendable, CaseIterable {
    /// In cines, static bright overlays are filled from their surroundings.
    /// In single frames, the screen around the image (its text, scale bar
    /// and trace) is set to black; overlays on the image itself stay.
    case mask
    case keep
}

/// Where an instance's training pixels came from.
public enum RegionSource: String, Codable, Sendable {
    /// A 2D tissue region the file's Sequence of Ultrasound Regions states.
    case ultrasoundRegion = "ultrasound_region"
    /// The scan sector estimated from the cine's changing pixels.
    case estimatedSector = "estimated_sector"
    /// The rectangle given with `--region`.
    case fixedRegion = "fixed_region"
    case wholeFrame = "whole_frame"
}

/// What the preparation did to one instance, as the frame cache and
/// `model.json` record it.
public struct InstancePreparation: Codable, Equatable, Sendable {
    public var source: RegionSource
    /// "x0,y0,x1,y1" of the frame.
    public var rectangle: String
    /// Annotation pixels filled in every frame; nil when none were looked
    /// for (single frame, `--annotations keep`, or a cine too still to tell).
    public var annotationPixels: Int?
    /// Pixels of a single frame's rectangle outside its image, set to 0;
    /// nil when not looked for (a cine, `--annotations keep`, version 2) or
    /// no image shape was found.
    public var screenPixels: Int?

    enum CodingKeys: String, CodingKey {
        case source, rectangle
        case annotationPixels = "annotation_pixels", screenPixels = "screen_pixels"
    }
}

/// An instance's frame plan and what the user should know about it.
public struct PreparedInstance: Sendable {
    public let plan: FramePlan
    public let record: InstancePreparation
    /// Why the region fell back or the annotations were left, naming the file.
    public let notes: [String]
    /// Masking was asked for, but a single frame shows no motion to find
    /// overlays by: those on its image stay (said once for a whole data
    /// set, by `singleFrameNote`).
    public let annotationsLeftInSingleFrame: Bool

    /// The warning that single frames at `paths` keep the annotations on
    /// their image, naming the first few.
    public static func singleFrameNote(_ paths: [String]) -> [String] {
        guard !paths.isEmpty else { return [] }
        let instances = paths.count == 1 ? "a single-frame instance" : "\(paths.count) single-frame instances"
        let more = paths.count > 3 ? " and \(paths.count - 3) more" : ""
        return [
            "burned-in annotations on the image are left as they are in \(instances) (masking them needs a cine): "
                + paths.prefix(3).joined(separator: ", ") + more
        ]
    }
}

extension FramePreprocessing {
    /// The plan for the frames of `file` (`frames` of them, `geometry`'s
    /// size). Reads the ultrasound regions and, when a mask must be found
    /// from the pixels, decodes every frame once first (a single frame's
    /// image is found in its one frame). Throws when a `--region` rectangle
    /// does not fit the frame.
    public func prepare(_ file: DicomFile, geometry: FrameGeometry) throws -> PreparedInstance {
        // The statistics allocate per pixel: the size is checked against the limits first.
        guard try file.validatePixelData(), geometry.columns > 0, geometry.rows > 0 else {
            throw DicomError("no pixel data to prepare", path: file.path)
        }
        var statistics: CineStatistics?
        func cineStatistics() -> CineStatistics {
            if let statistics { return statistics }
            let computed = Self.statistics(of: file, geometry: geometry)
            statistics = computed
            return computed
        }
        var choice = try chooseRegion(file, geometry: geometry, statistics: cineStatistics)
        var fill: MaskFill?, screenPixels: Int?
        if annotations == .mask, geometry.frames >= 2 {
            switch BurnedInAnnotations.detect(cineStatistics().cropped(to: choice.rectangle)) {
            case .found(let mask):
                // Pixels blanked outside the sector need no filling.
                let inside = choice.outside.map { zip(mask, $0).map { $0 && !$1 } } ?? mask
                fill = MaskFill(mask: inside, width: choice.rectangle.width, height: choice.rectangle.height)
            case .notDetectable(let why):
                choice.notes.append("burned-in annotations not masked (\(why)): \(file.path)")
            }
        } else if blanksSingleFrameScreen, geometry.frames == 1,
            // A frame that does not decode is reported when the frames are read for training.
            let frame = try? file.grayFrame(0)
        {
            let pixels = choice.rectangle.crop(frame.pixels, frameWidth: frame.width)
            if let image = ScanSector.estimate(singleFrame: pixels, width: choice.rectangle.width, height: choice.rectangle.height) {
                choice.outside = image.map { !$0 }
                screenPixels = image.filter { !$0 }.count
            } else {
                choice.notes.append("no shape of image content found in the single frame: its screen is left as it is: \(file.path)")
            }
        }
        let record = InstancePreparation(
            source: choice.source, rectangle: choice.rectangle.description, annotationPixels: fill?.count, screenPixels: screenPixels)
        return PreparedInstance(
            plan: FramePlan(rectangle: choice.rectangle, outside: choice.outside, annotations: fill, fit: fit), record: record,
            notes: choice.notes, annotationsLeftInSingleFrame: annotations == .mask && geometry.frames < 2)
    }

    /// The pixels an instance trains on, before its annotations are masked.
    private struct ChosenRegion {
        var source = RegionSource.wholeFrame
        var rectangle: PixelRectangle
        /// Over the rectangle: true for the pixels set to 0 (outside an estimated sector or a single frame's image).
        var outside: [Bool]?
        var notes: [String] = []
    }

    /// The rectangle `region` chooses for `file`; `statistics` decodes the
    /// cine's frames when a sector must be estimated.
    private func chooseRegion(
        _ file: DicomFile, geometry: FrameGeometry, statistics: () -> CineStatistics
    ) throws -> ChosenRegion {
        let width = geometry.columns, height = geometry.rows
        var choice = ChosenRegion(rectangle: PixelRectangle(wholeFrameOf: width, height: height))
        switch region {
        case .none: break
        case .fixed(let fixed):
            guard fixed.fits(width: width, height: height) else {
                throw DicomError("the --region rectangle \(fixed) does not fit the \(width)x\(height) frame", path: file.path)
            }
            (choice.source, choice.rectangle) = (.fixedRegion, fixed)
        case .auto:
            switch Self.declaredTissueRegion(of: file, geometry: geometry) {
            case .found(let declared): (choice.source, choice.rectangle) = (.ultrasoundRegion, declared)
            case .absent(let why):
                if geometry.frames >= 2, let sector = ScanSector.estimate(statistics()),
                    let bounds = PixelRectangle(boundingTrueOf: sector, width: width)
                {
                    (choice.source, choice.rectangle) = (.estimatedSector, bounds)
                    choice.outside = bounds.crop(sector, frameWidth: width).map { !$0 }
                    choice.notes.append("\(why): the scan sector found from the frames (\(bounds)) is used: \(file.path)")
                } else {
                    choice.notes.append("\(why) and no scan sector could be found from the frames: the whole frame is used: \(file.path)")
                }
            }
        }
        return choice
    }

    private enum DeclaredRegion {
        case found(PixelRectangle)
        /// Why none is used, for the warning.
        case absent(String)
    }

    /// The largest 2D tissue region of every frame's regions; when frames
    /// state different ones, the part common to all of them, so that no
    /// frame contributes pixels from outside its own region.
    private static func declaredTissueRegion(of file: DicomFile, geometry: FrameGeometry) -> DeclaredRegion {
        let frames = file.hasPerFrameUltrasoundRegions ? Array(0..<geometry.frames) : [0]
        var common: PixelRectangle?
        for frame in frames {
            guard let regions = file.ultrasoundRegions(frame: frame) else {
                return .absent("over \(UltrasoundRegion.mostItems) ultrasound regions")
            }
            if regions.isEmpty { return .absent("no usable Sequence of Ultrasound Regions") }
            let tissue = regions.filter(\.isTissueImage)
            if tissue.isEmpty { return .absent("no 2D tissue region among the \(regions.count) ultrasound regions") }
            let onFrame = tissue.compactMap { region in
                PixelRectangle(x0: region.minX0, y0: region.minY0, x1: region.maxX1, y1: region.maxY1)
                    .cut(toWidth: geometry.columns, height: geometry.rows)
            }
            guard let largest = onFrame.max(by: { $0.area < $1.area }) else {
                return .absent("the 2D tissue regions lie outside the \(geometry.columns)x\(geometry.rows) frame or are empty")
            }
            guard let previous = common else {
                common = largest
                continue
            }
            guard let overlap = previous.intersection(largest) else {
                return .absent("the frames' 2D tissue regions have no part in common")
            }
            common = overlap
        }
        return common.map { .found($0) } ?? .absent("no usable Sequence of Ultrasound Regions")
    }

    /// The statistics of every frame that decodes (one that does not is
    /// reported when the frames are read for training).
    private static func statistics(of file: DicomFile, geometry: FrameGeometry) -> CineStatistics {
        var statistics = CineStatistics(width: geometry.columns, height: geometry.rows)
        for index in 0..<geometry.frames {
            if let frame = try? file.grayFrame(index) { statistics.add(frame.pixels) }
        }
        return statistics
    }
}

/// The preparation of a model's frames as `model.json` records it
/// (`training_set.preparation`): the choices, and how many frames each
/// source of pixels gave.
public struct PreparationSummary: Codable, Equatable, Sendable {
    public var region: RegionChoice
    public var annotations: AnnotationHandling
    public var ultrasoundRegionFrames: Int
    public var estimatedSectorFrames: Int
    public var fixedRegionFrames: Int
    public var wholeFrameFrames: Int
    /// Frames of cines whose annotations were looked for and filled.
    public var annotationMaskedFrames: Int
    /// Single frames whose screen around the image was set to black; nil
    /// when the preparation does not do that.
    public var screenBlankedFrames: Int?
    /// `FramePreprocessing.version`; nil in models of version 2, which did not record it.
    public var version: Int?

    /// The counts over the frames of `dataset`.
    public init(dataset: FrameDataset) {
        region = dataset.preprocessing.region
        annotations = dataset.preprocessing.annotations
        version = dataset.preprocessing.version
        var bySource: [RegionSource: Int] = [:]
        var masked = 0, screenBlanked = 0
        for instance in dataset.frameInstance {
            guard let record = dataset.preparations[instance] else { continue }
            bySource[record.source, default: 0] += 1
            if record.annotationPixels != nil { masked += 1 }
            if record.screenPixels != nil { screenBlanked += 1 }
        }
        screenBlankedFrames = dataset.preprocessing.blanksSingleFrameScreen ? screenBlanked : nil
        ultrasoundRegionFrames = bySource[.ultrasoundRegion] ?? 0
        estimatedSectorFrames = bySource[.estimatedSector] ?? 0
        fixedRegionFrames = bySource[.fixedRegion] ?? 0
        wholeFrameFrames = bySource[.wholeFrame] ?? 0
        annotationMaskedFrames = masked
    }

    /// True when every frame came from inside a 2D tissue region its file
    /// declares and had its burned-in annotations masked: the one case in
    /// which an export may say Burned In Annotation NO (docs/provenance.md).
    public var everyFrameFromMaskedTissueRegion: Bool {
        let frames = ultrasoundRegionFrames + estimatedSectorFrames + fixedRegionFrames + wholeFrameFrames
        return frames > 0 && ultrasoundRegionFrames == frames && annotationMaskedFrames == frames
    }

    enum CodingKeys: String, CodingKey {
        case region, annotations
        case ultrasoundRegionFrames = "ultrasound_region_frames", estimatedSectorFrames = "estimated_sector_frames"
        case fixedRegionFrames = "fixed_region_frames", wholeFrameFrames = "whole_frame_frames"
        case annotationMaskedFrames = "annotation_masked_frames", screenBlankedFrames = "screen_blanked_frames"
        case version
    }
}

/// One frame as training sees it, for `show --prepared`.
public struct PreparedFramePicture: Sendable {
    /// The frame beside its training image, RGB (`PreparationPicture`).
    public let frame: Frame
    public let prepared: PreparedInstance

    /// Frame `index` of `file` prepared as `preprocessing` prepares it for
    /// training, with `annotations` of the frame drawn on both sides.
    public init(_ file: DicomFile, frame index: Int, preprocessing: FramePreprocessing, annotations: [FrameAnnotation] = []) throws {
        prepared = try preprocessing.prepare(file, geometry: file.geometry)
        let gray = try file.grayFrame(index)
        let side = preprocessing.resolution
        let image = prepared.plan.trainingImage(gray.pixels, frameWidth: gray.width, side: side)
        let picture = PreparationPicture.render(
            frame: gray.pixels, width: gray.width, height: gray.height, plan: prepared.plan, trainingImage: image, side: side,
            annotations: annotations)
        frame = Frame(width: picture.width, height: picture.height, channels: 3, pixels: picture.pixels)
    }
}
