import Catalog
import DICOM
import Engine
import Foundation
import Imaging
import Ingest
import TestSupport
import Testing
import Training

@testable import ModelStore
@testable import Synthesis

/// Synthesis from models that draw each frame with its labels (`train
/// --labels`): the labels read back, doubtful ones withheld, written as COCO
/// beside the frames and into the catalog.
@Suite("Synthesis with labels", .serialized)
struct LabelledSynthesisTests {
    init() { EngineThreads.configure(2) }

    static let names = ["a", "b", "c"]
    static let keypointRecord = LabelRecord(kind: .keypoints, labelSet: "stent", keypoints: names, skeleton: [[1, 2]], sigma: 1.5)

    /// One frame as a keypoint model draws it: a flat image plane, then a heatmap per keypoint at `points`.
    static func frame(_ points: [(Double, Double)], side: Int = 32) -> [Float] {
        let annotation = FrameAnnotation(
            label: "stent", keypoints: zip(names, points).map { LabelledKeypoint(name: $0, x: $1.0, y: $1.1, visibility: 2) },
            skeleton: [], mask: nil)
        return [Float](repeating: 0, count: side * side) + keypointRecord.channels.render(annotation, side: side)
    }

    @Test(
        "labels read back: confident keypoints with the label set's skeleton; a faint heatmap, one cut by the edge, an empty mask are doubts"
    )
    func readingAndDoubts() throws {
        let reading = LabelReading(record: Self.keypointRecord, side: 32)
        guard case .confident(let decoded) = reading.read(Self.frame([(5, 6), (20.5, 11), (16, 26)])[...]) else {
            Issue.record("a rendered frame's labels are doubtful")
            return
        }
        #expect(decoded.annotation.label == "stent" && decoded.annotation.skeleton == [[1, 2]])
        #expect(abs(decoded.annotation.keypoints[1].x - 20.5) < 0.1 && decoded.confidences.allSatisfy { $0 > 0.9 })
        // Keypoint b's heatmap at half height: (h + 1) / 2 = 0.45.
        var faint = Self.frame([(5, 6), (20.5, 11), (16, 26)])
        for index in (2 * 32 * 32)..<(3 * 32 * 32) { faint[index] = (faint[index] + 1) * 0.45 - 1 }
        guard case .doubtful(.faintKeypoint) = reading.read(faint[...]) else {
            Issue.record("a peak of 0.45 passed the floor of 0.5")
            return
        }
        guard case .confident = LabelReading(record: Self.keypointRecord, side: 32, minimumConfidence: 0.4).read(faint[...]) else {
            Issue.record("a peak of 0.45 failed the floor of 0.4")
            return
        }
        guard case .doubtful(.keypointOffFrame) = reading.read(Self.frame([(5, 6), (-1.5, 11), (16, 26)])[...]) else {
            Issue.record("a keypoint beyond the edge was written")
            return
        }
        let masks = LabelRecord(kind: .masks, labelSet: "stent", keypoints: Self.names, skeleton: [], sigma: nil)
        var maskFrame = [Float](repeating: -1, count: 2 * 16 * 16)
        guard case .doubtful(.emptyMask) = LabelReading(record: masks, side: 16).read(maskFrame[...]) else {
            Issue.record("an empty mask was written")
            return
        }
        maskFrame[256 + 5 * 16 + 7] = 0.3
        guard case .confident(let mask) = LabelReading(record: masks, side: 16).read(maskFrame[...]) else {
            Issue.record("a one-pixel mask is doubtful")
            return
        }
        #expect(mask.annotation.mask?.area == 1 && mask.annotation.mask?.pixels[5 * 16 + 7] == 1)
    }

    /// A catalog of the simulated aortography set and a model of `kind` trained a few steps on it.
    static func trainedModel(kind: LabelChannels.Kind, in folder: TemporaryFolder) throws -> (Catalog, TrainedModel) {
        try SimulatedAngiography.generate(cines: 4, frames: 3, size: 96, seed: 21, into: folder.path)
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        #expect(try Importer(catalog: catalog).run(paths: [folder.file("xa")]).rejections.isEmpty)
        var request = TrainingRequest(modality: "XA")
        request.name = "xa-\(kind.rawValue)"
        request.batchSize = 4
        request.threads = 2
        request.region = .none
        request.annotations = .keep
        request.validationFraction = 0
        request.gridEveryEpochs = 1000
        request.checkpointEverySteps = 1000
        request.copyCheck = nil
        request.labels = LabelRequest(kind: kind)
        _ = try ModelTrainer.create(request, catalog: catalog).train(.steps(2))
        return (catalog, try TrainedModel.open("xa-\(kind.rawValue)", catalog: catalog))
    }

    static func request(_ folder: URL, count: Int, format: OutputFormat = .dicom, framesPerFile: Int = 1) -> SynthesisRequest {
        var request = SynthesisRequest(latentSource: .seed(5, count: count), output: folder)
        request.format = format
        request.framesPerFile = framesPerFile
        request.batchSize = 4
        request.privacy = .disabled
        return request
    }

    /// `labels.json` of `folder`, as JSON.
    static func labelsJSON(_ folder: URL) throws -> [String: Any] {
        let data = try Data(contentsOf: folder.appendingPathComponent("labels.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("keypoint model: labels.json names each DICOM frame, matches the heatmaps of the same latents, and the catalog holds the labels")
    func keypointLabelsOut() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (catalog, model) = try Self.trainedModel(kind: .keypoints, in: folder)
        // A model of two steps draws faint heatmaps: a floor of 0 writes them, off-frame ones still go.
        var dicom = Self.request(folder.url.appendingPathComponent("dicom"), count: 6, framesPerFile: 4)
        dicom.minimumLabelConfidence = 0
        let written = try Synthesizer.run(model: model, request: dicom, catalog: catalog)
        #expect(written.framesWritten == 6 && written.files.count == 2 && written.labelsFile == "labels.json")
        #expect(written.framesGenerated == 6 + written.doubtfulLabels.count)
        #expect(written.doubtfulLabels.allSatisfy { $0.doubt == .keypointOffFrame })
        #expect(written.annotationsRegistered == 6)

        // The same latents as NumPy: every channel, decoded here by the channels' own reader.
        var numpy = Self.request(folder.url.appendingPathComponent("npy"), count: 6 + written.doubtfulLabels.count, format: .npy)
        numpy.minimumLabelConfidence = 0
        numpy.register = false
        let raw = try Synthesizer.run(model: model, request: numpy, catalog: catalog)
        let frames = try NumpyFile.read(path: raw.folder.appendingPathComponent("frames.npy").path)
        let side = model.generator.configuration.resolution, plane = side * side
        #expect(frames.shape == [raw.framesWritten, 5, side, side])

        let coco = try Self.labelsJSON(written.folder)
        let images = try #require(coco["images"] as? [[String: Any]])
        let annotations = try #require(coco["annotations"] as? [[String: Any]])
        let categories = try #require(coco["categories"] as? [[String: Any]])
        #expect(categories.count == 1 && categories[0]["name"] as? String == "tavi-stent")
        #expect((categories[0]["keypoints"] as? [String])?.count == 4)
        #expect(images.count == 6 && annotations.count == 6)
        for (image, annotation) in zip(images, annotations) {
            let latent = try #require(image["latent_index"] as? Int)
            let file = try #require(image["file_name"] as? String)
            let frameNumber = try #require(image["frame_number"] as? Int)
            let instanceIndex = try #require(written.files.firstIndex(of: file))
            let instance = written.instances[instanceIndex]
            #expect(image["sop_instance_uid"] as? String == instance.sopInstanceUid)
            #expect(instance.latentIndices[frameNumber - 1] == latent)
            #expect(image["width"] as? Int == side && annotation["image_id"] as? Int == image["id"] as? Int)
            let row = try #require(raw.writtenLatentIndices.firstIndex(of: latent))
            let channels = frames.values[(row * 5 * plane + plane)..<((row + 1) * 5 * plane)]
            let expected = model.description.labels!.channels.decode(channels, side: side, label: "tavi-stent").annotation.keypoints
            let keypoints = try #require(annotation["keypoints"] as? [Double])
            // Another batch's arithmetic may round differently in the last bits.
            #expect(zip(keypoints, expected.flatMap { [$0.x, $0.y, 2] }).allSatisfy { abs($0 - $1) < 1e-3 })
            #expect(keypoints.count == 12)
            // And the catalog has them on that frame.
            let stored = try catalog.annotations(sopInstanceUID: instance.sopInstanceUid, frameNumber: frameNumber)
            #expect(stored.count == 1 && stored.first?.labelSet.name == "tavi-stent")
            let values = try #require(stored.first?.annotation.keypointValues)
            #expect(zip(values, keypoints).allSatisfy { abs($0 - $1) < 1e-9 })
        }

        // Each image file's keypoints as a Comprehensive SR: valid, read back by DCMTK and pydicom at DICOM's coordinates.
        let script = folder.file("check_report.py")
        try Self.reportCheck.write(toFile: script, atomically: true, encoding: .utf8)
        #expect(written.labelObjects == written.files.map { $0.replacingOccurrences(of: ".dcm", with: "-sr.dcm") })
        for (name, instance) in zip(written.labelObjects, written.instances) {
            let path = written.folder.appendingPathComponent(name).path
            try Self.expectValid(path, iod: "ComprehensiveSR")
            #expect(try ExternalProcess.run("dsrdump", [path]).standardOutput.contains("inflow-left"))
            let read = try ExternalProcess.run(
                "/usr/bin/python3", [script, path, written.folder.appendingPathComponent("labels.json").path])
            #expect(read.status == 0 && read.standardOutput == "\(instance.latentIndices.count * 4)\n", "\(read.standardError)")
            try Self.expectMarked(path, like: written.folder.appendingPathComponent(written.files[0]).path, model: model, modality: "SR")
        }

        // A floor no heatmap reaches: nothing written, every frame withheld and counted, the run short.
        var strict = Self.request(folder.url.appendingPathComponent("strict"), count: 2)
        strict.minimumLabelConfidence = 1
        strict.drawLimit = 8
        let short = try Synthesizer.run(model: model, request: strict, catalog: catalog)
        #expect(short.framesWritten == 0 && short.isShort && short.doubtfulLabels.count == 8 && short.labelsFile == nil)
        let manifest = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: short.folder.appendingPathComponent("synthesis.json")))
                as? [String: Any])
        let labels = try #require(manifest["labels"] as? [String: Any])
        #expect((labels["withheld_latent_indices"] as? [Int])?.count == 8 && labels["minimum_confidence"] as? Double == 1)
    }

    /// Checks with pydicom that each frame of the Segmentation at argv[1] is the mask
    /// labels.json (argv[2]) gives the frame it references; prints the frames checked.
    static let segmentationCheck = """
        import json, sys
        import numpy as np, pydicom
        seg = pydicom.dcmread(sys.argv[1])
        labels = json.load(open(sys.argv[2]))
        images = {(i["sop_instance_uid"], i["frame_number"]): i["id"] for i in labels["images"]}
        masks = {}
        for a in labels["annotations"]:
            rows, columns = a["segmentation"]["size"]
            flat = np.zeros(rows * columns, bool)
            offset = 0
            for index, length in enumerate(a["segmentation"]["counts"]):
                flat[offset:offset + length] = index % 2 == 1
                offset += length
            masks[a["image_id"]] = flat.reshape(columns, rows).T
        frames = seg.pixel_array.reshape(-1, seg.Rows, seg.Columns)
        for frame, groups in zip(frames, seg.PerFrameFunctionalGroupsSequence):
            source = groups.DerivationImageSequence[0].SourceImageSequence[0]
            key = (source.ReferencedSOPInstanceUID, int(source.ReferencedFrameNumber))
            assert (masks[images[key]] == frame.astype(bool)).all(), key
            assert groups.SegmentIdentificationSequence[0].ReferencedSegmentNumber == 1
        assert seg.SegmentSequence[0].SegmentLabel == "tavi-stent" and seg.SegmentSequence[0].SegmentAlgorithmType == "AUTOMATIC"
        print(len(frames))
        """

    /// No error from dciodvfy but about the Synthetic Data attribute its dictionary predates, and the IOD recognised.
    static func expectValid(_ path: String, iod: String) throws {
        let validation = try ExternalProcess.run("dciodvfy", [path])
        let errors = (validation.standardOutput + validation.standardError).split(separator: "\n")
            .filter { $0.hasPrefix("Error") && !$0.contains("(0x0008,0x001c)") }
        #expect(errors.isEmpty, "dciodvfy \(path): \(errors)")
        #expect(validation.standardError.contains(iod), "dciodvfy did not recognise \(iod)")
    }

    /// The label object at `path` has the provenance of the image at `image`: synthetic, the same
    /// synthetic patient and study, a series of its own, the model and its checkpoint named.
    static func expectMarked(_ path: String, like image: String, model: TrainedModel, modality: String) throws {
        let file = try DicomFile(path: path), frames = try DicomFile(path: image)
        #expect(file.string(.syntheticData) == "YES" && file.string(.patientIdentityRemoved) == "YES")
        #expect(file.string(.patientID) == frames.string(.patientID) && file.string(.studyInstanceUID) == frames.string(.studyInstanceUID))
        #expect(file.string(.seriesInstanceUID) != frames.string(.seriesInstanceUID) && file.string(.modality) == modality)
        #expect(file.string(.sopInstanceUID)?.hasPrefix("2.25.") == true)
        let contribution = try ExternalProcess.run("dcmdump", ["+L", "+P", "0018,a003", path]).standardOutput
        #expect(contribution.contains(model.name) && contribution.contains(model.checkpointDigest))
    }

    /// Checks with pydicom that the report at argv[1] places each keypoint labels.json
    /// (argv[2]) gives, at DICOM's coordinates (+ 0.5), on the frame it labels; prints the points checked.
    static let reportCheck = """
        import json, sys
        import pydicom
        report = pydicom.dcmread(sys.argv[1])
        labels = json.load(open(sys.argv[2]))
        images = {(i["sop_instance_uid"], i["frame_number"]): i["id"] for i in labels["images"]}
        points = {a["image_id"]: a["keypoints"] for a in labels["annotations"]}
        names = labels["categories"][0]["keypoints"]
        assert report.CompletionFlag == "COMPLETE" and report.ContentSequence
        checked = 0
        for item in report.ContentSequence:
            assert item.RelationshipType == "CONTAINS" and item.ValueType == "SCOORD" and item.GraphicType == "POINT"
            image = item.ContentSequence[0]
            assert image.RelationshipType == "SELECTED FROM" and image.ValueType == "IMAGE"
            reference = image.ReferencedSOPSequence[0]
            values = points[images[(reference.ReferencedSOPInstanceUID, int(reference.ReferencedFrameNumber))]]
            index = names.index(item.ConceptNameCodeSequence[0].CodeMeaning)
            x, y = values[3 * index], values[3 * index + 1]
            assert abs(item.GraphicData[0] - (x + 0.5)) < 1e-4 and abs(item.GraphicData[1] - (y + 0.5)) < 1e-4, (item.GraphicData, x, y)
            checked += 1
        print(checked)
        """

    @Test(
        "mask model: a Segmentation per image file passes dciodvfy and reads in pydicom onto the right frames; a fresh catalog stores each mask once"
    )
    func segmentationsAndReimport() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (catalog, model) = try Self.trainedModel(kind: .masks, in: folder)
        var request = Self.request(folder.url.appendingPathComponent("out"), count: 5, framesPerFile: 3)
        request.register = false
        let written = try Synthesizer.run(model: model, request: request, catalog: catalog)
        #expect(written.framesWritten == 5 && written.labelsFile != nil && written.synthesis == nil)
        #expect(written.doubtfulLabels.allSatisfy { $0.doubt == .emptyMask })
        #expect(written.labelObjects == written.files.map { $0.replacingOccurrences(of: ".dcm", with: "-seg.dcm") })
        let script = folder.file("check_segmentation.py")
        try Self.segmentationCheck.write(toFile: script, atomically: true, encoding: .utf8)
        for (name, instance) in zip(written.labelObjects, written.instances) {
            let path = written.folder.appendingPathComponent(name).path
            try Self.expectValid(path, iod: "Segmentation")
            let read = try ExternalProcess.run(
                "/usr/bin/python3", [script, path, written.folder.appendingPathComponent("labels.json").path])
            #expect(read.status == 0 && read.standardOutput == "\(instance.latentIndices.count)\n", "\(read.standardError)")
            try Self.expectMarked(path, like: written.folder.appendingPathComponent(written.files[0]).path, model: model, modality: "SEG")
        }
        // Frames, Segmentations and labels.json into a fresh catalog: each mask once.
        let fresh = try Catalog(directory: folder.url.appendingPathComponent("fresh"), create: true)
        let imported = try Importer(catalog: fresh).run(paths: [written.folder.path])
        #expect(imported.rejections.isEmpty && imported.summary.imported == 4)
        #expect(imported.summary.annotations + imported.summary.annotationsAlreadyCatalogued == 5)
        for (latentIndex, decoded) in zip(written.writtenLatentIndices, written.writtenLabels) {
            let instance = try #require(written.instances.first { $0.latentIndices.contains(latentIndex) })
            let frame = instance.latentIndices.firstIndex(of: latentIndex)! + 1
            let stored = try fresh.annotations(sopInstanceUID: instance.sopInstanceUid, frameNumber: frame)
            #expect(stored.count == 1 && stored.first?.annotation.labelMask == decoded.annotation.mask)
            #expect(decoded.annotation.mask.map { $0.area > 0 } == true)
        }
        #expect(try fresh.read { try LabelSetRecord.fetchAll($0) }.map(\.keypoints.count) == [4])
    }
}
