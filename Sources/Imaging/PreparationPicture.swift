/// A frame beside its training image, for a person to check the preparation
/// (`show --prepared`). Left: the frame as training decodes it (8-bit gray)
/// with the kept rectangle outlined in green, the pixels set to black
/// (outside an estimated scan sector, or a single frame's screen around its
/// image) tinted blue and the filled annotation
/// pixels in magenta. Right: the training image, enlarged (nearest
/// neighbour) to the frame's height. With annotations, each side has them
/// drawn in register (`AnnotationOverlay`): the frame's on the left, as the
/// plan carries them to the training image on the right.
public enum PreparationPicture {
    /// RGB pixels, row-major, and the picture's size.
    public static func render(
        frame: [UInt8], width: Int, height: Int, plan: FramePlan, trainingImage: [Float], side: Int, annotations: [FrameAnnotation] = []
    ) -> (pixels: [UInt8], width: Int, height: Int) {
        let gap = 8, pictureWidth = width + gap + height
        var pixels = [UInt8](repeating: 128, count: pictureWidth * height * 3)
        func paint(_ x: Int, _ y: Int, _ colour: (UInt8, UInt8, UInt8)) {
            let offset = (y * pictureWidth + x) * 3
            (pixels[offset], pixels[offset + 1], pixels[offset + 2]) = colour
        }
        for y in 0..<height {
            for x in 0..<width {
                let value = frame[y * width + x]
                paint(x, y, (value, value, value))
            }
        }
        let rectangle = plan.rectangle
        func framePoint(_ index: Int) -> (Int, Int) { (rectangle.x0 + index % rectangle.width, rectangle.y0 + index / rectangle.width) }
        for (index, outside) in (plan.outside ?? []).enumerated() where outside {
            let (x, y) = framePoint(index), value = frame[y * width + x] / 2
            paint(x, y, (value, value, 96 + value / 2))
        }
        for index in plan.annotations?.filledPixels ?? [] {
            let (x, y) = framePoint(index)
            paint(x, y, (255, 0, 255))
        }
        for x in rectangle.x0...rectangle.x1 {
            paint(x, rectangle.y0, (0, 255, 0))
            paint(x, rectangle.y1, (0, 255, 0))
        }
        for y in rectangle.y0...rectangle.y1 {
            paint(rectangle.x0, y, (0, 255, 0))
            paint(rectangle.x1, y, (0, 255, 0))
        }
        for y in 0..<height {
            for x in 0..<height {
                let value = UInt8(max(0, min(255, trainingImage[(y * side / height) * side + x * side / height].rounded())))
                paint(width + gap + x, y, (value, value, value))
            }
        }
        if !annotations.isEmpty {
            AnnotationOverlay.draw(
                on: &pixels, width: pictureWidth, height: height, annotations: annotations, placement: AnnotationOverlay.Placement())
            AnnotationOverlay.draw(
                on: &pixels, width: pictureWidth, height: height,
                annotations: annotations.map { plan.trainingImageAnnotation($0, side: side) },
                placement: AnnotationOverlay.Placement(originX: Double(width + gap), scale: Double(height) / Double(side)))
        }
        return (pixels, pictureWidth, height)
    }
}
