import DICOM
import Foundation
import Testing

@testable import Imaging

@Suite("Label channels drawn with a frame")
struct LabelChannelsTests {
    static let names = ["inflow-left", "inflow-right", "outflow"]

    @Test("keypoints render as Gaussian heatmaps in [-1, 1] and decode back to within a tenth of a pixel, with confidence near 1")
    func keypointRoundTrip() {
        let channels = LabelChannels(kind: .keypoints, keypointNames: Self.names, sigma: 2)
        let points = [(10.3, 20.7), (40.0, 41.5), (55.8, 8.25)]
        let annotation = FrameAnnotation(
            label: "tavi", keypoints: zip(Self.names, points).map { LabelledKeypoint(name: $0, x: $1.0, y: $1.1, visibility: 2) },
            skeleton: [], mask: nil)
        let planes = channels.render(annotation, side: 64)
        #expect(channels.count == 3 && planes.count == 3 * 64 * 64)
        // Pixel (row 20, column 12) of the first map: d^2 = 1.7^2 + 0.7^2.
        let expected = 2 * exp(-(1.7 * 1.7 + 0.7 * 0.7) / 8) - 1
        #expect(abs(Double(planes[20 * 64 + 12]) - expected) < 1e-6)
        #expect(planes.allSatisfy { $0 >= -1 && $0 <= 1 })
        let decoded = channels.decode(planes[...], side: 64, label: "tavi")
        for (point, truth) in zip(decoded.annotation.keypoints, points) {
            #expect(abs(point.x - truth.0) < 0.1 && abs(point.y - truth.1) < 0.1, "\(point.name): (\(point.x), \(point.y)) for \(truth)")
            #expect(point.visibility == 2)
        }
        #expect(decoded.confidences.allSatisfy { $0 > 0.85 })
        #expect(decoded.annotation.keypoints.map(\.name) == Self.names)
    }

    @Test("a heatmap cut by the frame's edge decodes as off the frame (v = 0); one a pixel inside does not")
    func keypointsAtTheEdge() {
        let channels = LabelChannels(kind: .keypoints, keypointNames: Self.names, sigma: 1.5)
        let points = [(-1.5, 30.0), (1.0, 30.0), (20.0, 31.4)]
        let annotation = FrameAnnotation(
            label: "tavi", keypoints: zip(Self.names, points).map { LabelledKeypoint(name: $0, x: $1.0, y: $1.1, visibility: 2) },
            skeleton: [], mask: nil)
        let decoded = channels.decode(channels.render(annotation, side: 32)[...], side: 32, label: "tavi")
        #expect(decoded.annotation.keypoints.map(\.visibility) == [0, 2, 0])
        // The one beyond the edge still peaks high: only its place tells it.
        #expect(decoded.confidences[0] > 0.5)
    }

    @Test("a keypoint not labelled gives a plane of -1, which decodes with confidence 0; masks round-trip exactly")
    func unlabelledAndMasks() {
        let channels = LabelChannels(kind: .keypoints, keypointNames: Self.names, sigma: 1.5)
        let annotation = FrameAnnotation(
            label: "tavi",
            keypoints: [
                LabelledKeypoint(name: "inflow-left", x: 5, y: 5, visibility: 2),
                LabelledKeypoint(name: "inflow-right", x: 0, y: 0, visibility: 0),
            ], skeleton: [], mask: nil)
        let planes = channels.render(annotation, side: 16)
        #expect(planes[256..<768].allSatisfy { $0 == -1 })
        let decoded = channels.decode(planes[...], side: 16, label: "tavi")
        #expect(decoded.confidences[1] == 0 && decoded.confidences[2] == 0 && decoded.confidences[0] > 0.99)

        let masks = LabelChannels(kind: .masks, keypointNames: Self.names, sigma: 1.5)
        #expect(masks.count == 1 && masks.keypointNames.isEmpty)
        let pixels = (0..<256).map { UInt8(($0 / 16 - 8) * ($0 / 16 - 8) + ($0 % 16 - 6) * ($0 % 16 - 6) < 20 ? 1 : 0) }
        let mask = LabelMask(rows: 16, columns: 16, pixels: pixels)
        let rendered = masks.render(FrameAnnotation(label: "valve", keypoints: [], skeleton: [], mask: mask), side: 16)
        #expect(rendered == pixels.map { $0 == 1 ? 1 : -1 })
        #expect(masks.decode(rendered[...], side: 16, label: "valve").annotation.mask == mask)
        #expect(masks.render(FrameAnnotation(label: "valve", keypoints: [], skeleton: [], mask: nil), side: 16).allSatisfy { $0 == -1 })
    }
}
