import Catalog
import DICOM
import Engine
import Foundation
import Frames
import Imaging
import Ingest
import TestSupport
import Testing

/// The frame preparation (docs/training.md, "Frame preparation") against
/// the ultrasound regions pydicom reads (Fixtures/make_ultrasound_regions.py)
/// and against cines built with known regions, text and speckle.
@Suite struct FramePreparationTests {
    struct ReferenceFile: Decodable {
        struct Region: Decodable, Equatable {
            var spatialFormat: Int
            var dataType: Int
            var x0: Int
            var y0: Int
            var x1: Int
            var y1: Int
        }
        var file: String
        var sha256: String
        var frames: Int
        var regions: [Region]
        var tissueRegion: [Int]?
    }

    static let decoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    static let reference = Result { () throws -> [ReferenceFile] in
        let url = Bundle.module.url(forResource: "ultrasound_regions", withExtension: "json", subdirectory: "Fixtures")!
        return try decoder.decode([ReferenceFile].self, from: Data(contentsOf: url))
    }

    @Test func regionsReadThroughDCMTKMatchPydicom() throws {
        let reference = try Self.reference.get()
        #expect(reference.count == 21 && reference.filter { $0.tissueRegion != nil }.count == 15)
        for entry in reference {
            let path = Samples.path(entry.file)
            #expect(try FileDigest.sha256(path: path) == entry.sha256, "\(entry.file) is not the file the reference was made from")
            let read = try #require(try DicomFile(path: path).ultrasoundRegions(frame: 0)).map {
                ReferenceFile.Region(
                    spatialFormat: $0.spatialFormat, dataType: $0.dataType, x0: $0.minX0, y0: $0.minY0, x1: $0.maxX1, y1: $0.maxY1)
            }
            #expect(read == entry.regions, "\(entry.file)")
        }
    }

    /// Every decodable sample US instance: with a tissue region, each prepared
    /// frame is the letterboxed area average of exactly pydicom's region of the
    /// DCMTK-decoded frame; without one, the whole frame with a warning naming it.
    @Test func preparedFramesAreTheRegionCropPydicomNames() throws {
        let reference = try Self.reference.get()
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
        _ = try Importer(catalog: catalog).run(paths: reference.map { Samples.path($0.file) })
        let candidates = try catalog.trainingCandidates(modality: "US", filter: QueryFilter(), includeSynthetic: false).filter(\.decodable)
        let preprocessing = FramePreprocessing(resolution: 32, region: .auto, annotations: .keep)
        let dataset = try FrameDataset.load(candidates, preprocessing: preprocessing, catalog: catalog)
        var checkedFrames = 0, largest: Float = 0
        for (index, instance) in dataset.instances.enumerated() {
            let entry = try #require(reference.first { $0.sha256 == instance.sha256 })
            let record = try #require(dataset.preparations[index])
            let path = catalog.storage.absolutePath(relative: instance.storedPath)
            guard let corners = entry.tissueRegion else {
                #expect(record.source == .wholeFrame, "\(entry.file)")
                #expect(dataset.failures.contains { $0.contains("whole frame is used") && $0.hasSuffix(path) }, "\(entry.file)")
                continue
            }
            let region = PixelRectangle(x0: corners[0], y0: corners[1], x1: corners[2], y1: corners[3])
            #expect(record.source == .ultrasoundRegion && record.rectangle == region.description, "\(entry.file)")
            let file = try DicomFile(path: path)
            let frames = dataset.frameInstance.indices.filter { dataset.frameInstance[$0] == index }
            for (frameIndex, datasetFrame) in frames.enumerated() {
                let gray = try file.grayFrame(frameIndex)
                let expected = SquareResampler.letterboxAreaAverage(
                    pixels: region.crop(gray.pixels, frameWidth: gray.width), width: region.width, height: region.height, side: 32
                ).map { $0 / 127.5 - 1 }
                largest = max(
                    largest, largestDifference(Array(dataset.values[(datasetFrame * 1024)..<((datasetFrame + 1) * 1024)]), expected))
                checkedFrames += 1
            }
        }
        print("prepared frames vs pydicom's region crops: \(checkedFrames) frames, largest difference \(largest)")
        #expect(checkedFrames > 200 && largest == 0)
    }

    /// A real echo cine rewritten twice, once with random pixels everywhere
    /// outside its tissue region: the training frames are the same bytes.
    @Test func noPixelOutsideTheRegionReachesTheTrainingSet() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let source = Samples.path("deid-data/ultrasounds/ultrasound-multiframe.dcm")
        let regions = try #require(try DicomFile(path: source).ultrasoundRegions(frame: 0))
        let tissue = regions.first { $0.isTissueImage }
        let region = try #require(tissue)
        let (frames, width, height) = try TestCine.grayFrames(of: source)
        var generator = EngineRandom(seed: 5)
        let scrambled = frames.map { frame in
            frame.indices.map { index -> UInt8 in
                let x = index % width, y = index / width
                let inside = (region.minX0...region.maxX1).contains(x) && (region.minY0...region.maxY1).contains(y)
                return inside ? frame[index] : UInt8(truncatingIfNeeded: generator.nextUInt64())
            }
        }
        let original = folder.file("original.dcm"), outsideScrambled = folder.file("scrambled.dcm")
        try TestCine.write(frames: frames, width: width, height: height, regions: regions, patientID: "A", to: original)
        try TestCine.write(frames: scrambled, width: width, height: height, regions: regions, patientID: "B", to: outsideScrambled)
        let prepared = try [original, outsideScrambled].map { try Self.prepare($0, in: folder) }
        #expect(prepared[0].values == prepared[1].values)
        #expect(prepared[0].preparations[0]?.source == .ultrasoundRegion)
        let filled = try #require(prepared[0].preparations[0]?.annotationPixels)
        print("echo cine: \(filled) annotation pixels filled in each frame; outside-region scramble changed no training value")
        #expect(filled > 1000 && filled == prepared[1].preparations[0]?.annotationPixels)
    }

    /// Regions off the frame: a cine gets the estimated scan sector, a single
    /// frame the whole frame, each with a warning naming its file.
    @Test func invalidRegionsFallBackWithAWarning() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cine = TestCine.speckle(frames: 12, seed: 3)
        let offFrame = [UltrasoundRegion(spatialFormat: 1, dataType: 1, minX0: 400, minY0: 10, maxX1: 500, maxY1: 100)]
        let cinePath = folder.file("cine.dcm"), singlePath = folder.file("single.dcm")
        try TestCine.write(frames: cine.frames, width: cine.width, height: cine.height, regions: offFrame, patientID: "C", to: cinePath)
        try TestCine.write(
            frames: [cine.frames[0]], width: cine.width, height: cine.height, regions: offFrame, patientID: "D", to: singlePath)

        let estimated = try Self.prepare(cinePath, in: folder)
        let record = try #require(estimated.preparations[0])
        #expect(record.source == .estimatedSector)
        // The sector is the speckle area: the estimate's bounds lie on it, give or take the closing's 2 pixels.
        let bounds = try #require(PixelRectangle(record.rectangle))
        print("estimated sector \(bounds) for speckle at \(cine.speckle)")
        #expect(abs(bounds.x0 - cine.speckle.x0) <= 2 && abs(bounds.x1 - cine.speckle.x1) <= 2)
        #expect(abs(bounds.y0 - cine.speckle.y0) <= 2 && abs(bounds.y1 - cine.speckle.y1) <= 2)

        let whole = try Self.prepare(singlePath, in: folder)
        #expect(whole.preparations[0]?.source == .wholeFrame)
        let warning = try #require(whole.failures.first { $0.contains("whole frame is used") })
        print(warning)
        #expect(warning.contains("lie outside") && warning.hasSuffix(".dcm"))
    }

    /// A single frame, the breast image of the corpus, whose stated tissue
    /// region takes in the scanner's text column: the screen around the
    /// image is set to black and the image is kept as it is. Version 2 of the
    /// preparation (models made before version 3) leaves the frame whole.
    @Test func singleFrameScreenIsBlanked() throws {
        let file = try DicomFile(path: Samples.path("deid-data/ultrasounds/GREYSCALE_IMAGE.dcm"))
        let gray = try file.grayFrame(0)
        let prepared = try FramePreprocessing(resolution: 64, region: .auto, annotations: .mask).prepare(file, geometry: file.geometry)
        let rectangle = prepared.plan.rectangle
        #expect(rectangle == PixelRectangle(x0: 14, y0: 38, x1: 1010, y1: 758))
        let original = rectangle.crop(gray.pixels, frameWidth: gray.width)
        let pixels = prepared.plan.preparedPixels(gray.pixels, frameWidth: gray.width)
        func indices(x: ClosedRange<Int>, y: ClosedRange<Int>) -> [Int] {
            y.flatMap { row in x.map { (row - rectangle.y0) * rectangle.width + $0 - rectangle.x0 } }
        }
        // The text column left of the image ("L12-5 36Hz RS 2D ..."), and speckle in the image's lower middle.
        let column = indices(x: 14...100, y: 50...250), speckle = indices(x: 300...700, y: 500...650)
        let brightBefore = column.filter { original[$0] > 100 }.count, brightAfter = column.filter { pixels[$0] > 0 }.count
        print(
            "breast image: \(prepared.record.screenPixels ?? 0) screen pixels blanked; text column: \(brightBefore) bright pixels before, \(brightAfter) lit after"
        )
        #expect(brightBefore > 200 && brightAfter == 0)
        #expect(speckle.allSatisfy { pixels[$0] == original[$0] })
        #expect(prepared.annotationsLeftInSingleFrame)

        let version2 = try FramePreprocessing(resolution: 64, region: .auto, annotations: .mask, version: 2).prepare(
            file, geometry: file.geometry)
        #expect(version2.plan.outside == nil && version2.record.screenPixels == nil)
    }

    /// A model.json written before version 3 records no version: its frames
    /// are prepared by version 2, under the same summary line (and so the
    /// same training-set digest) as when it was made.
    @Test func recordedPreparationWithoutVersionIsVersion2() throws {
        let json = """
            {"region": "auto", "annotations": "mask", "ultrasound_region_frames": 3, "estimated_sector_frames": 0,
             "fixed_region_frames": 0, "whole_frame_frames": 0, "annotation_masked_frames": 3}
            """
        let recorded = try JSONDecoder().decode(PreparationSummary.self, from: Data(json.utf8))
        let preprocessing = FramePreprocessing(resolution: 64, recorded: recorded)
        #expect(preprocessing.version == 2)
        #expect(
            preprocessing.summary
                == "v2 gray8=dcmtk(window|8-bit|min-max; colour: BT.601 luma) region=auto(largest 2D tissue region of (0018,6011), "
                + "else cine sector estimate, else whole frame) annotations=mask(cines: steady, brighter than surroundings, "
                + "filled from neighbours) fit=letterbox resize=area-average:64 scale=[-1,1]")
        #expect(FramePreprocessing(resolution: 64, region: .auto, annotations: .mask).summary.hasPrefix("v3 "))
    }

    /// The real echo cine without its regions: the estimated scan sector lies
    /// inside the tissue region the file states and fills most of it.
    @Test func scanSectorOfARealCineWithoutRegions() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let source = Samples.path("deid-data/ultrasounds/ultrasound-multiframe.dcm")
        let declared = try #require(try DicomFile(path: source).ultrasoundRegions(frame: 0)?.first { $0.isTissueImage })
        let (frames, width, height) = try TestCine.grayFrames(of: source)
        let path = folder.file("no-regions.dcm")
        try TestCine.write(frames: frames, width: width, height: height, regions: [], to: path)
        let record = try #require(try Self.prepare(path, in: folder).preparations[0])
        let sector = try #require(PixelRectangle(record.rectangle))
        print(
            "echo cine without regions: estimated sector \(sector), stated tissue region \(declared.minX0),\(declared.minY0),\(declared.maxX1),\(declared.maxY1)"
        )
        #expect(record.source == .estimatedSector)
        #expect(sector.x0 >= declared.minX0 && sector.y0 >= declared.minY0 && sector.x1 <= declared.maxX1 && sector.y1 <= declared.maxY1)
        #expect(Double(sector.area) >= 0.4 * Double((declared.maxX1 - declared.minX0 + 1) * (declared.maxY1 - declared.minY0 + 1)))
    }

    /// Regions per frame (Per-frame Functional Groups): the part common to
    /// every frame's tissue region is kept, a larger Doppler region is not.
    /// A --region rectangle is kept as given; one off the frame skips the
    /// instance with a warning naming it.
    @Test func perFrameAndFixedRegions() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cine = TestCine.speckle(frames: 4, seed: 9)
        let perFrame = (0..<4).map { frame in
            [
                UltrasoundRegion(spatialFormat: 3, dataType: 3, minX0: 0, minY0: 0, maxX1: 199, maxY1: 149),
                UltrasoundRegion(spatialFormat: 1, dataType: 1, minX0: 20 + frame, minY0: 24, maxX1: 179, maxY1: 139 - frame),
            ]
        }
        let path = folder.file("per-frame.dcm")
        try TestCine.write(frames: cine.frames, width: cine.width, height: cine.height, regions: [], perFrameRegions: perFrame, to: path)
        #expect(try DicomFile(path: path).ultrasoundRegions(frame: 2) == perFrame[2])
        let common = try Self.prepare(path, in: folder)
        #expect(common.preparations[0]?.source == .ultrasoundRegion && common.preparations[0]?.rectangle == "23,24,179,136")

        let fixed = try Self.prepare(path, in: folder, region: .fixed(PixelRectangle(x0: 30, y0: 30, x1: 100, y1: 90)))
        #expect(fixed.preparations[0]?.source == .fixedRegion && fixed.preparations[0]?.rectangle == "30,30,100,90")
        let offFrame = try Self.prepare(path, in: folder, region: .fixed(PixelRectangle(x0: 0, y0: 0, x1: 500, y1: 10)))
        #expect(offFrame.count == 0 && offFrame.preparations[0] == nil)
        #expect(offFrame.failures.contains { $0.contains("the --region rectangle 0,0,500,10 does not fit the 200x150 frame") })
        #expect(
            RegionChoice(argument: "5,5,4,9") == nil && RegionChoice(argument: "-1,0,3,3") == nil && RegionChoice(argument: "1,2,3") == nil)
    }

    /// The seeded cine: speckle that changes every frame, with static text
    /// drawn over it inside the region. No text pixel survives; at least 95 %
    /// of the speckle is kept as it was.
    @Test func burnedInTextIsMaskedAndSpeckleKept() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let cine = TestCine.speckle(frames: 16, seed: 11)
        let region = cine.speckle
        let path = folder.file("text.dcm")
        try TestCine.write(
            frames: cine.frames, width: cine.width, height: cine.height,
            regions: [
                UltrasoundRegion(spatialFormat: 1, dataType: 1, minX0: region.x0, minY0: region.y0, maxX1: region.x1, maxY1: region.y1)
            ],
            to: path)
        let file = try DicomFile(path: path)
        let prepared = try FramePreprocessing(resolution: 64, region: .auto, annotations: .mask).prepare(file, geometry: file.geometry)
        #expect(prepared.plan.rectangle == region)
        let filled = Set(try #require(prepared.plan.annotations).filledPixels)
        let text = cine.text.map { ($0 / cine.width - region.y0) * region.width + $0 % cine.width - region.x0 }
        let speckle = Set(0..<region.area).subtracting(text)
        let keptSpeckle = speckle.subtracting(filled).count
        print("text pixels \(text.count), filled \(filled.count), speckle kept \(keptSpeckle) of \(speckle.count)")
        #expect(text.allSatisfy(filled.contains))
        #expect(Double(keptSpeckle) >= 0.95 * Double(speckle.count))
        for frame in cine.frames {
            let pixels = prepared.plan.preparedPixels(frame, frameWidth: cine.width)
            #expect(text.allSatisfy { pixels[$0] != TestCine.textValue })
        }
    }

    /// The frames of one file as training prepares them by default.
    static func prepare(_ path: String, in folder: TemporaryFolder, region: RegionChoice = .auto) throws -> FrameDataset {
        let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog-\(UUID().uuidString)"), create: true)
        let imported = try Importer(catalog: catalog).run(paths: [path])
        #expect(imported.rejections.isEmpty, "\(imported.rejections)")
        let candidates = try catalog.trainingCandidates(modality: "US", filter: QueryFilter(), includeSynthetic: false)
        return try FrameDataset.load(
            candidates, preprocessing: FramePreprocessing(resolution: 64, region: region, annotations: .mask), catalog: catalog)
    }
}
