import DICOM

/// How the frames of one instance become training images: the rectangle
/// kept, its pixels outside the scan sector or image set to black, its burned-in
/// annotations filled from their surroundings, and how the result is made
/// square. Worked out once per instance, applied to each frame.
public struct FramePlan: Sendable {
    public enum Fit: Sendable {
        /// The centred square of side min(width, height) (the whole-frame
        /// preparation of models made before regions were read).
        case centreCrop
        /// The whole rectangle on a black square (nothing cut).
        case letterbox
    }

    public let rectangle: PixelRectangle
    /// Over the rectangle: true for the pixels to set to 0; nil sets none.
    public let outside: [Bool]?
    /// The annotation pixels of the rectangle and how to fill them; nil fills none.
    public let annotations: MaskFill?
    public let fit: Fit

    public init(rectangle: PixelRectangle, outside: [Bool]? = nil, annotations: MaskFill? = nil, fit: Fit) {
        self.rectangle = rectangle
        self.outside = outside
        self.annotations = annotations
        self.fit = fit
    }

    /// The rectangle of a one-channel frame `frameWidth` wide, blanked and
    /// filled: `rectangle.width` x `rectangle.height` pixels, row-major.
    public func preparedPixels(_ frame: [UInt8], frameWidth: Int) -> [UInt8] {
        var pixels = rectangle.crop(frame, frameWidth: frameWidth)
        if let outside {
            for index in pixels.indices where outside[index] { pixels[index] = 0 }
        }
        annotations?.apply(to: &pixels)
        return pixels
    }

    /// The training image of a frame: `side` x `side` values in 0...255.
    public func trainingImage(_ frame: [UInt8], frameWidth: Int, side: Int) -> [Float] {
        squareAreaAverage(preparedPixels(frame, frameWidth: frameWidth), side: side)
    }

    private func squareAreaAverage(_ pixels: [UInt8], side: Int) -> [Float] {
        switch fit {
        case .centreCrop:
            return SquareResampler.centreCropAreaAverage(pixels: pixels, width: rectangle.width, height: rectangle.height, side: side)
        case .letterbox:
            return SquareResampler.letterboxAreaAverage(pixels: pixels, width: rectangle.width, height: rectangle.height, side: side)
        }
    }

    /// The square the kept rectangle is made into, in the rectangle's pixels.
    var square: SquareResampler.Square {
        switch fit {
        case .centreCrop: SquareResampler.Square(centreCropOf: rectangle.width, height: rectangle.height)
        case .letterbox: SquareResampler.Square(letterboxOf: rectangle.width, height: rectangle.height)
        }
    }

    // MARK: Labels in register with the training image

    /// Where point (`x`, `y`) of the frame lands on the training image of
    /// side `side`; both in pixels with (0, 0) the centre of the top-left
    /// pixel. Crop and square shift it, the area average scales the pixel
    /// edges: x' = (x - x0 - originX + 0.5) side / square - 0.5.
    public func trainingImagePoint(x: Double, y: Double, side: Int) -> (x: Double, y: Double) {
        let square = self.square, scale = Double(side) / Double(square.side)
        return (
            (x - Double(rectangle.x0 + square.originX) + 0.5) * scale - 0.5,
            (y - Double(rectangle.y0 + square.originY) + 0.5) * scale - 0.5
        )
    }

    /// `annotation` on the training image of side `side`: keypoints moved
    /// with `trainingImagePoint` (those that leave the image become not
    /// labelled, COCO's v = 0), the mask cropped, squared and area-averaged
    /// as the frame is, set where at least half of a pixel is covered.
    public func trainingImageAnnotation(_ annotation: FrameAnnotation, side: Int) -> FrameAnnotation {
        var prepared = annotation
        prepared.keypoints = annotation.keypoints.map { point in
            guard point.isLabelled else { return point }
            let moved = trainingImagePoint(x: point.x, y: point.y, side: side)
            let inside = LabelledKeypoint.liesOnFrame(x: moved.x, y: moved.y, width: side, height: side)
            return LabelledKeypoint(name: point.name, x: moved.x, y: moved.y, visibility: inside ? point.visibility : 0)
        }
        prepared.mask = annotation.mask.map { mask in
            let covered = squareAreaAverage(rectangle.crop(mask.pixels.map { $0 * 255 }, frameWidth: mask.columns), side: side)
            return LabelMask(rows: side, columns: side, pixels: covered.map { $0 >= 127.5 ? 1 : 0 })
        }
        return prepared
    }
}
