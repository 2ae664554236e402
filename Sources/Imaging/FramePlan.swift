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
        let pixels = preparedPixels(frame, frameWidth: frameWidth)
        switch fit {
        case .centreCrop:
            return SquareResampler.centreCropAreaAverage(pixels: pixels, width: rectangle.width, height: rectangle.height, side: side)
        case .letterbox:
            return SquareResampler.letterboxAreaAverage(pixels: pixels, width: rectangle.width, height: rectangle.height, side: side)
        }
    }
}
