import DICOM
import Foundation

/// The label channels a labelled model draws with each frame (`train
/// --labels`): one heatmap per keypoint of a label set, or one mask plane,
/// on the training image, in the image's range [-1, 1] with -1 meaning "no
/// label", so that the discriminator sees frame and labels together and a
/// frame whose labels do not fit it is told from real (as in Hadzic et al.
/// 2024, landmark heatmaps generated with hand X-rays; SinGAN-Seg 2022, masks).
///
/// `render` draws a prepared annotation (`FramePlan.trainingImageAnnotation`)
/// and `decode` reads generated channels back, so that a drawn frame comes
/// with labels in the catalog's form.
public struct LabelChannels: Equatable, Sendable {
    public enum Kind: String, Codable, CaseIterable, Sendable {
        /// A Gaussian heatmap per keypoint: 2 exp(-d^2 / (2 sigma^2)) - 1, d the distance to the keypoint.
        case keypoints
        /// One plane: 1 inside the mask, -1 outside.
        case masks
    }

    public var kind: Kind
    /// The label set's keypoint names, in its order (`keypoints`).
    public var keypointNames: [String]
    /// The heatmaps' Gaussian width in pixels of the training image.
    public var sigma: Double

    public init(kind: Kind, keypointNames: [String], sigma: Double) {
        self.kind = kind
        self.keypointNames = kind == .keypoints ? keypointNames : []
        // A mask has no width: 0, whatever is given, so that equal channels compare and digest equal.
        self.sigma = kind == .keypoints ? sigma : 0
    }

    /// The channels drawn after the image's.
    public var count: Int { kind == .keypoints ? keypointNames.count : 1 }

    /// `annotation`'s channels on a `side` x `side` training image: [count, side, side].
    /// A keypoint not labelled (COCO's v = 0), or a missing mask, gives a plane of -1.
    public func render(_ annotation: FrameAnnotation, side: Int) -> [Float] {
        let plane = side * side
        var channels = [Float](repeating: -1, count: count * plane)
        switch kind {
        case .keypoints:
            let spread = 2 * sigma * sigma
            for (index, name) in keypointNames.enumerated() {
                guard let point = annotation.keypoints.first(where: { $0.name == name }), point.isLabelled else { continue }
                for row in 0..<side {
                    for column in 0..<side {
                        let dx = Double(column) - point.x, dy = Double(row) - point.y
                        channels[index * plane + row * side + column] = Float(2 * exp(-(dx * dx + dy * dy) / spread) - 1)
                    }
                }
            }
        case .masks:
            guard let mask = annotation.mask, mask.rows == side, mask.columns == side else { break }
            for index in 0..<plane where mask.pixels[index] != 0 { channels[index] = 1 }
        }
        return channels
    }

    /// One decoded frame's labels: the annotation, and for each keypoint its
    /// confidence, the height of its heatmap's peak in [0, 1] (1: the peak
    /// a rendered keypoint has).
    public struct Decoded: Equatable, Sendable {
        public var annotation: FrameAnnotation
        public var confidences: [Double]
    }

    /// Reads `channels` ([count, side, side], as the generator draws them)
    /// back as labels of `label`. A keypoint is the centroid of its heatmap's
    /// heat (h + 1) / 2 above the heat a Gaussian of the peak's height has at
    /// 2 sigma: a soft-argmax around the peak, which the background far away
    /// cannot pull off, and whose weights fall to 0 before the window ends, so
    /// a keypoint between pixels is not pulled towards the peak pixel. A
    /// heatmap that peaks on the frame's outermost pixels is cut by the edge:
    /// its keypoint may lie beyond it and the centroid would pull it in, so
    /// it is not labelled (v = 0), as a keypoint off the frame. The mask is
    /// the pixels above 0.
    public func decode(_ channels: ArraySlice<Float>, side: Int, label: String) -> Decoded {
        let plane = side * side
        precondition(channels.count == count * plane, "label channels: \(channels.count) values for \(count) planes of \(side)²")
        let base = channels.startIndex
        switch kind {
        case .masks:
            let pixels = (0..<plane).map { channels[base + $0] > 0 ? UInt8(1) : 0 }
            return Decoded(
                annotation: FrameAnnotation(
                    label: label, keypoints: [], skeleton: [], mask: LabelMask(rows: side, columns: side, pixels: pixels)),
                confidences: [])
        case .keypoints:
            var keypoints: [LabelledKeypoint] = [], confidences: [Double] = []
            let radius = 2 * sigma
            for (index, name) in keypointNames.enumerated() {
                let start = base + index * plane
                var peak = 0
                for offset in 0..<plane where channels[start + offset] > channels[start + peak] { peak = offset }
                let peakRow = peak / side, peakColumn = peak % side
                let confidence = min(1, max(0, (Double(channels[start + peak]) + 1) / 2))
                let floor = confidence * exp(-2)  // a Gaussian's height at 2 sigma
                var total = 0.0, x = 0.0, y = 0.0
                let reach = Int(radius.rounded(.up)) + 1
                for row in max(0, peakRow - reach)...min(side - 1, peakRow + reach) {
                    for column in max(0, peakColumn - reach)...min(side - 1, peakColumn + reach) {
                        let weight = max(0, (Double(channels[start + row * side + column]) + 1) / 2 - floor)
                        total += weight
                        x += weight * Double(column)
                        y += weight * Double(row)
                    }
                }
                let point = total > 0 ? (x: x / total, y: y / total) : (x: Double(peakColumn), y: Double(peakRow))
                let inside = [peakRow, peakColumn].allSatisfy { $0 > 0 && $0 < side - 1 }
                keypoints.append(LabelledKeypoint(name: name, x: point.x, y: point.y, visibility: inside ? 2 : 0))
                confidences.append(confidence)
            }
            return Decoded(
                annotation: FrameAnnotation(label: label, keypoints: keypoints, skeleton: [], mask: nil), confidences: confidences)
        }
    }
}
