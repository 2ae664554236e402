import DICOM

/// A named point of a labelled object, in a frame's pixels: (0, 0) is the
/// centre of the top-left pixel, x to the right, y down.
public struct LabelledKeypoint: Equatable, Sendable {
    public var name: String
    public var x: Double
    public var y: Double
    /// COCO's v: 0 not labelled, 1 labelled but hidden, 2 labelled and visible.
    public var visibility: Int

    public init(name: String, x: Double, y: Double, visibility: Int) {
        self.name = name
        self.x = x
        self.y = y
        self.visibility = visibility
    }

    /// Whether the point has a position (COCO's v > 0).
    public var isLabelled: Bool { visibility > 0 }

    /// Whether (x, y) lies on a `width` x `height` frame: pixel centres run
    /// from 0 to size - 1, and a pixel reaches half a pixel beyond its centre.
    public static func liesOnFrame(x: Double, y: Double, width: Int, height: Int) -> Bool {
        x.isFinite && y.isFinite && x >= -0.5 && y >= -0.5 && x <= Double(width) - 0.5 && y <= Double(height) - 0.5
    }
}

/// One labelled object on one frame, as an overlay draws it and preparation
/// carries it: keypoints (with the skeleton that joins them), a mask, or both.
public struct FrameAnnotation: Equatable, Sendable {
    public var label: String
    public var keypoints: [LabelledKeypoint]
    /// Pairs of keypoint numbers, from 1 as COCO counts.
    public var skeleton: [[Int]]
    public var mask: LabelMask?

    public init(label: String, keypoints: [LabelledKeypoint], skeleton: [[Int]], mask: LabelMask?) {
        self.label = label
        self.keypoints = keypoints
        self.skeleton = skeleton
        self.mask = mask
    }

    /// Keypoints from COCO's flat `[x, y, v, ...]`, named in the label set's order.
    public static func keypoints(flat values: [Double], names: [String]) -> [LabelledKeypoint] {
        stride(from: 0, to: values.count - 2, by: 3).enumerated().map { index, offset in
            LabelledKeypoint(
                name: index < names.count ? names[index] : "\(index + 1)", x: values[offset], y: values[offset + 1],
                visibility: Int(values[offset + 2]))
        }
    }
}

/// Draws annotations on a frame: mask outlines in cyan, the skeleton in
/// orange, keypoints as yellow crosses with their names beside them.
public enum AnnotationOverlay {
    /// Where annotations of an image go on a picture: the image's pixel
    /// (0, 0) edge at (`originX`, `originY`), each image pixel `scale`
    /// picture pixels wide.
    public struct Placement: Sendable {
        public var originX: Double
        public var originY: Double
        public var scale: Double

        public init(originX: Double = 0, originY: Double = 0, scale: Double = 1) {
            self.originX = originX
            self.originY = originY
            self.scale = scale
        }

        /// The picture pixel under image point (`x`, `y`), both with (0, 0) the centre of the top-left pixel.
        func pixel(_ x: Double, _ y: Double) -> (Int, Int) {
            (Int((originX + (x + 0.5) * scale - 0.5).rounded()), Int((originY + (y + 0.5) * scale - 0.5).rounded()))
        }
    }

    /// `pixels` (`height` rows of `width` pixels of `channels` 8-bit
    /// samples, gray or RGB) as RGB with `annotations` drawn on it.
    public static func draw(
        pixels: [UInt8], width: Int, height: Int, channels: Int, annotations: [FrameAnnotation]
    ) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for index in 0..<(width * height) {
            for channel in 0..<3 { rgb[index * 3 + channel] = pixels[index * channels + (channels == 1 ? 0 : channel)] }
        }
        draw(on: &rgb, width: width, height: height, annotations: annotations, placement: Placement())
        return rgb
    }

    /// Draws `annotations` on an RGB picture, placed by `placement`; their
    /// keypoints and mask outlines all in `colour` when one is given.
    public static func draw(
        on rgb: inout [UInt8], width: Int, height: Int, annotations: [FrameAnnotation], placement: Placement,
        colour: (UInt8, UInt8, UInt8)? = nil
    ) {
        let keypointColour = colour ?? Self.keypointColour
        var canvas = Canvas(width: width, height: height)
        canvas.pixels = rgb
        for annotation in annotations {
            if let mask = annotation.mask {
                let block = max(1, Int(placement.scale.rounded(.up)))
                for point in mask.outline {
                    canvas.fill(
                        x: Int((placement.originX + Double(point.x) * placement.scale).rounded(.down)),
                        y: Int((placement.originY + Double(point.y) * placement.scale).rounded(.down)), width: block, height: block,
                        colour: colour ?? outlineColour)
                }
            }
            let points = annotation.keypoints
            for pair in annotation.skeleton where pair.count == 2 {
                guard pair.allSatisfy({ $0 >= 1 && $0 <= points.count }) else { continue }
                let a = points[pair[0] - 1], b = points[pair[1] - 1]
                guard a.isLabelled, b.isLabelled else { continue }
                canvas.line(from: placement.pixel(a.x, a.y), to: placement.pixel(b.x, b.y), colour: skeletonColour)
            }
            for point in points where point.isLabelled {
                let (x, y) = placement.pixel(point.x, point.y)
                for offset in -2...2 {
                    canvas.set(x + offset, y, keypointColour)
                    canvas.set(x, y + offset, keypointColour)
                }
                canvas.text(point.name, left: x + 4, top: y - 3, colour: keypointColour)
            }
        }
        rgb = canvas.pixels
    }

    public static let outlineColour: (UInt8, UInt8, UInt8) = (0, 220, 255)
    public static let skeletonColour: (UInt8, UInt8, UInt8) = (255, 140, 0)
    public static let keypointColour: (UInt8, UInt8, UInt8) = (255, 230, 0)
}
