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

    @Test("label channels of a data set's frames decode to the prepared keypoints within a tenth of a pixel; masks to the prepared masks")
    func frameLabelsMatchPreparedAnnotations() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try SimulatedAngiography.generate(cines: 2, frames: 3, size: 160, seed: 12, into: folder.path)
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        #expect(try Importer(catalog: catalog).run(paths: [folder.file("xa")]).rejections.isEmpty)
        let candidates = try catalog.trainingCandidates(modality: "XA", filter: QueryFilter(), includeSynthetic: false)
        let preprocessing = FramePreprocessing(resolution: 32, region: .none, annotations: .keep)
        let dataset = try FrameDataset.load(candidates, preprocessing: preprocessing, catalog: catalog)
        let annotations = try LabelledFrames.Annotations(of: candidates, catalog: catalog)
        let labelSet = try annotations.chooseLabelSet(requested: nil)
        let keypoints = LabelChannels(kind: .keypoints, keypointNames: labelSet.keypoints, sigma: 1.5)
        let labels = FrameLabels.load(dataset, annotations: annotations, labelSet: labelSet, channels: keypoints, catalog: catalog)
        let masks = FrameLabels.load(
            dataset, annotations: annotations, labelSet: labelSet, channels: LabelChannels(kind: .masks, keypointNames: [], sigma: 1.5),
            catalog: catalog)
        #expect(labels.labelledFrames == Array(0..<6) && masks.labelledFrames == Array(0..<6) && labels.failures.isEmpty)
        for frame in 0..<6 {
            let candidate = candidates[dataset.frameInstance[frame]]
            let frameNumber = frame - dataset.frameInstance.firstIndex(of: dataset.frameInstance[frame])! + 1
            let file = try DicomFile(path: catalog.storage.absolutePath(relative: candidate.storedPath))
            let plan = try preprocessing.prepare(file, geometry: file.geometry).plan
            let annotation = try #require(
                try catalog.frameAnnotations(sopInstanceUID: candidate.sopInstanceUid, frameNumber: frameNumber).first)
            let prepared = plan.trainingImageAnnotation(annotation, side: 32)
            let decoded = keypoints.decode(try #require(labels.planes(of: frame))[...], side: 32, label: labelSet.name)
            for (point, truth) in zip(decoded.annotation.keypoints, prepared.keypoints) {
                #expect(
                    point.name == truth.name && abs(point.x - truth.x) < 0.1 && abs(point.y - truth.y) < 0.1, "\(point) against \(truth)")
            }
            #expect(decoded.confidences.allSatisfy { $0 > 0.8 })
            let mask = try #require(masks.planes(of: frame))
            #expect(mask == (prepared.mask?.pixels ?? []).map { $0 == 1 ? 1 : -1 } && mask.contains(1))
        }
    }

    @Test("the label set of a kind: keypoints find the only set that names them beside a Segmentation's masks-only set")
    func labelSetOfAKind() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try SimulatedAngiography.generate(cines: 2, frames: 2, size: 96, seed: 13, segmentations: true, into: folder.path)
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        #expect(try Importer(catalog: catalog).run(paths: [folder.file("xa")]).rejections.isEmpty)
        let candidates = try catalog.trainingCandidates(modality: "XA", filter: QueryFilter(), includeSynthetic: false)
        let annotations = try LabelledFrames.Annotations(of: candidates, catalog: catalog)
        #expect(try annotations.chooseLabelSet(requested: nil, carrying: .keypoints).name == "tavi-stent")
        // Both sets carry masks (the COCO outline and the Segmentation), and both teach something.
        for kind in [LabelChannels.Kind.masks, nil] {
            #expect(throws: LabelledFrames.LoadError.self) { _ = try annotations.chooseLabelSet(requested: nil, carrying: kind) }
        }
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
