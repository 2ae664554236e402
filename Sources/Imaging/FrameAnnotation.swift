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
    /// `pixels` (`height` rows of `width` pixels of `channels` 8-bit
    /// samples, gray or RGB) as RGB with `annotations` drawn on it.
    public static func draw(
        pixels: [UInt8], width: Int, height: Int, channels: Int, annotations: [FrameAnnotation]
    ) -> [UInt8] {
        var canvas = Canvas(width: width, height: height)
        for index in 0..<(width * height) {
            for channel in 0..<3 {
                canvas.pixels[index * 3 + channel] = pixels[index * channels + (channels == 1 ? 0 : channel)]
            }
        }
        for annotation in annotations {
            if let mask = annotation.mask, mask.rows == height, mask.columns == width {
                for point in mask.outline { canvas.set(point.x, point.y, outlineColour) }
            }
            let points = annotation.keypoints
            for pair in annotation.skeleton where pair.count == 2 {
                guard pair.allSatisfy({ $0 >= 1 && $0 <= points.count }) else { continue }
                let a = points[pair[0] - 1], b = points[pair[1] - 1]
                guard a.isLabelled, b.isLabelled else { continue }
                canvas.line(from: pixel(a), to: pixel(b), colour: skeletonColour)
            }
            for point in points where point.isLabelled {
                let (x, y) = pixel(point)
                for offset in -2...2 {
                    canvas.set(x + offset, y, keypointColour)
                    canvas.set(x, y + offset, keypointColour)
                }
                canvas.text(point.name, left: x + 4, top: y - 3, colour: keypointColour)
            }
        }
        return canvas.pixels
    }

    private static func pixel(_ point: LabelledKeypoint) -> (Int, Int) {
        (Int(point.x.rounded()), Int(point.y.rounded()))
    }

    static let outlineColour: (UInt8, UInt8, UInt8) = (0, 220, 255)
    static let skeletonColour: (UInt8, UInt8, UInt8) = (255, 140, 0)
    static let keypointColour: (UInt8, UInt8, UInt8) = (255, 230, 0)
}
