import Catalog
import DICOM
import Foundation
import Frames
import Imaging
import Ingest
import TestSupport
import Testing

/// Labels stay in register with the frame through preparation (issue 37).
@Suite("Prepared annotations")
struct PreparedAnnotationTests {
    /// The known answer's keypoints, by SOP Instance UID and frame number.
    struct KnownAnswer: Decodable {
        struct Image: Decodable {
            let id: Int
            let sopInstanceUid: String
            let frameNumber: Int
        }
        struct Annotation: Decodable {
            let imageId: Int
            let keypoints: [Double]
        }
        let images: [Image]
        let annotations: [Annotation]
    }

    @Test("keypoints prepared at 64 x 64 match the simulator's own projection of the stent at that size within half a pixel")
    func keypointsMatchTheSimulator() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try SimulatedAngiography.generate(cines: 3, frames: 3, size: 200, seed: 11, keypointsAt: 64, into: folder.path)
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        let imported = try Importer(catalog: catalog).run(paths: [folder.file("xa")])
        #expect(imported.summary.annotations == 9 && imported.rejections.isEmpty)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let known = try decoder.decode(
            KnownAnswer.self, from: Data(contentsOf: URL(fileURLWithPath: folder.file("known/annotations-64.json"))))
        let images = Dictionary(uniqueKeysWithValues: known.images.map { ($0.id, $0) })
        let preprocessing = FramePreprocessing(resolution: 64, region: .auto, annotations: .mask)
        var compared = 0
        for expected in known.annotations {
            let image = try #require(images[expected.imageId])
            let file = try DicomFile(path: try catalog.storedFile(ofFrame: image.frameNumber, sopInstanceUID: image.sopInstanceUid))
            let plan = try preprocessing.prepare(file, geometry: file.geometry).plan
            let annotation = try #require(
                try catalog.frameAnnotations(sopInstanceUID: image.sopInstanceUid, frameNumber: image.frameNumber).first)
            let prepared = plan.trainingImageAnnotation(annotation, side: 64)
            let flat = prepared.keypoints.flatMap { [$0.x, $0.y] }
            let answer = stride(from: 0, to: expected.keypoints.count, by: 3).flatMap { expected.keypoints[$0..<$0 + 2] }
            #expect(flat.count == 8 && zip(flat, answer).allSatisfy { abs($0 - $1) < 0.5 }, "\(flat) against \(answer)")
            #expect(prepared.keypoints.allSatisfy { $0.visibility == 2 })
            #expect(prepared.mask?.rows == 64 && (prepared.mask?.area ?? 0) > 0)
            compared += 1
        }
        #expect(compared == 9)
    }

    /// A bright pixel of the frame lands, through crop, square and area
    /// average, in the training pixel that holds its mapped point.
    @Test("a point moves with the pixels: fixed region, centre crop and letterbox", arguments: [false, true])
    func pointFollowsPixels(letterbox: Bool) {
        let width = 90, height = 60
        let rectangle = PixelRectangle(x0: 7, y0: 5, x1: 86, y1: 52)
        let plan = FramePlan(rectangle: rectangle, fit: letterbox ? .letterbox : .centreCrop)
        for (x, y) in [(30, 20), (47, 40), (60, 11)] {
            var frame = [UInt8](repeating: 0, count: width * height)
            frame[y * width + x] = 255
            let image = plan.trainingImage(frame, frameWidth: width, side: 16)
            let brightest = image.indices.max { image[$0] < image[$1] }!
            let point = plan.trainingImagePoint(x: Double(x), y: Double(y), side: 16)
            #expect(Int(point.x.rounded()) == brightest % 16 && Int(point.y.rounded()) == brightest / 16, "(\(x), \(y)) -> \(point)")
        }
    }
}
