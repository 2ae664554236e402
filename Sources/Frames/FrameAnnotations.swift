import Catalog
import DICOM
import Imaging

extension Catalog {
    /// The annotations of frame `frameNumber` (from 1) of an instance, as an
    /// overlay draws them and preparation carries them.
    public func frameAnnotations(sopInstanceUID: String, frameNumber: Int) throws -> [FrameAnnotation] {
        try annotations(sopInstanceUID: sopInstanceUID, frameNumber: frameNumber).map { annotation, labelSet in
            FrameAnnotation(
                label: labelSet.name,
                keypoints: FrameAnnotation.keypoints(flat: annotation.keypointValues ?? [], names: labelSet.keypoints),
                skeleton: labelSet.skeletonPairs, mask: annotation.labelMask)
        }
    }
}

extension Frame {
    /// The frame in RGB with `annotations` drawn on it (`AnnotationOverlay`); itself when nil.
    public func drawing(_ annotations: [FrameAnnotation]?) -> Frame {
        guard let annotations else { return self }
        return Frame(
            width: width, height: height, channels: 3,
            pixels: AnnotationOverlay.draw(pixels: pixels, width: width, height: height, channels: channels, annotations: annotations))
    }
}
