import Catalog
import Engine
import Foundation
import Synthesis
import TestSupport
import Testing
import Training

/// Known-answer tests of the copy measure on the sample US frames (docs/evaluation.md):
/// disguised copies are caught, real frames of held-out series and frames
/// that copy nothing are not.
@Suite("Copy detection on the sample US frames", .serialized)
struct CopyDetectionTests {
    /// The decodable ultrasound files of the sample corpora: 4 cines and 7 single frames, 234 frames.
    static let ultrasoundFiles = [
        "deid-data/GREYSCALE_CINE.dcm", "deid-data/ultrasounds/GREYSCALE_IMAGE.dcm", "deid-data/RGB_CINE.dcm",
        "deid-data/ultrasounds/RGB_IMAGE.dcm", "deid-data/ultrasounds/ultrasound-multiframe.dcm",
        "pydicom-data/JPGLosslessP14SV1_1s_1f_8b.dcm", "pydicom-data/OBXXXX1A.dcm", "pydicom-data/US1_UNCR.dcm",
        "pydicom-data/color-pl.dcm", "pydicom-data/color3d_jpeg_baseline.dcm",
    ]

    /// The sample US frames at 64 x 64, with the series and patient of each.
    struct SampleFrames: @unchecked Sendable {
        let frames: FrameMatrix
        let series: [Int]
        let patients: [String?]

        func unitFrame(_ index: Int) -> [Float] { frames.row(index).map { ($0 + 1) / 2 } }

        static func load() throws -> SampleFrames {
            EngineThreads.configure(2)
            let folder = try TemporaryFolder()
            defer { folder.remove() }
            let catalog = try Catalog(directory: folder.url.appendingPathComponent("catalog"), create: true)
            _ = try Importer(catalog: catalog).run(paths: ultrasoundFiles.map(Samples.path))
            let candidates = try catalog.trainingCandidates(modality: "US", filter: QueryFilter(), includeSynthetic: false).filter(\.decodable)
            let dataset = try FrameDataset.load(candidates, preprocessing: FramePreprocessing(resolution: 64), catalog: catalog)
            let patients = dataset.frameInstance.map { dataset.instances[$0].patientId.isEmpty ? nil : dataset.instances[$0].patientId }
            return SampleFrames(frames: FrameMatrix(pixels: 64 * 64, values: dataset.values), series: dataset.frameSeriesNumbers,
                                patients: patients)
        }
    }

    static let sample = Result { try SampleFrames.load() }

    /// Signed [-1, 1] frames from 0-to-1 ones.
    static func matrix(_ frames: [[Float]]) -> FrameMatrix {
        FrameMatrix(pixels: frames[0].count, values: frames.flatMap { $0.map { $0 * 2 - 1 } })
    }

    @Test("the copy distance equals a direct search over mirrors, shifts and gains")
    func copyDistanceAgainstDirectSearch() throws {
        let sample = try Self.sample.get()
        var random = EngineRandom(seed: 3)
        let referenceIndices = [10, 100, 200]
        let queries = [Disguise.combined.apply(sample.unitFrame(100), side: 64, random: &random), sample.unitFrame(150),
                       sample.unitFrame(20)]
        let references = StructureMaps(sample.frames.rows(referenceIndices)), queryMaps = StructureMaps(Self.matrix(queries))
        let found = CopyDistance.nearest(queryMaps, in: references)
        var largest: Float = 0
        for query in 0..<queries.count {
            for (slot, _) in referenceIndices.enumerated() {
                let direct = Self.directCopyDistance(queryMaps.map(query), references.map(slot))
                let measured = found[query].first { $0.index == slot }!.distance
                largest = max(largest, abs(direct - measured))
                #expect(abs(direct - measured) <= 1e-4 * max(1, direct), "query \(query), reference \(slot)")
            }
        }
        print("copy distance against a direct search: largest difference \(largest)")
    }

    /// The definition, computed plainly: every mirror and shift, the centred
    /// windows, the best gain in [0.8, 1.25].
    static func directCopyDistance(_ query: [Float], _ reference: [Float]) -> Float {
        let side = 64, margin = 8, window = 48
        func centred(_ map: [Float], dy: Int, dx: Int) -> [Double] {
            var values: [Double] = []
            for y in 0..<window { for x in 0..<window { values.append(Double(map[(margin + dy + y) * side + margin + dx + x])) } }
            let mean = values.reduce(0, +) / Double(values.count)
            return values.map { $0 - mean }
        }
        let r = centred(reference, dy: 0, dx: 0)
        let rr = r.reduce(0) { $0 + $1 * $1 }
        let mirrored = (0..<(side * side)).map { query[($0 / side) * side + side - 1 - $0 % side] }
        var best = Double.infinity
        for map in [query, mirrored] {
            for dy in -4...4 {
                for dx in -4...4 {
                    let q = centred(map, dy: dy, dx: dx)
                    let qr = zip(q, r).reduce(0) { $0 + $1.0 * $1.1 }
                    let gain = min(max(qr / rr, 0.8), 1.25)
                    best = min(best, (zip(q, r).reduce(0) { $0 + ($1.0 - gain * $1.1) * ($1.0 - gain * $1.1) } / rr).squareRoot())
                }
            }
        }
        return Float(best)
    }

    @Test("(a) disguised copies of training frames are caught at least 95 % of the time, each disguise")
    func disguisedCopiesAreCaught() throws {
        let sample = try Self.sample.get()
        #expect(sample.frames.count == 234)
        let detector = CopyDetector(training: sample.frames, series: sample.series, patients: sample.patients)
        var random = EngineRandom(seed: 13)
        // 60 training frames evenly spread over the set.
        let sources = (0..<60).map { $0 * sample.frames.count / 60 }
        for disguise in Disguise.allCases {
            let disguised = sources.map { disguise.apply(sample.unitFrame($0), side: 64, random: &random) }
            let checks = detector.check(Self.matrix(disguised))
            let caught = checks.filter(\.isCopy).count
            let worst = checks.map(\.distance).max()!
            print("copy detection, sample US: \(disguise.rawValue) copies caught \(caught) of \(sources.count), largest copy distance \(worst)")
            #expect(Double(caught) >= 0.95 * Double(sources.count), "\(disguise.rawValue)")
        }
    }

    @Test("(b) real frames of a held-out series are flagged at most 5 % of the time")
    func heldOutSeriesAreNotFlagged() throws {
        let sample = try Self.sample.get()
        var flagged = 0, total = 0
        for heldOut in Set(sample.series).sorted() {
            let training = sample.series.indices.filter { sample.series[$0] != heldOut }
            let tested = sample.series.indices.filter { sample.series[$0] == heldOut }
            let detector = CopyDetector(training: sample.frames.rows(training), series: training.map { sample.series[$0] },
                                        patients: training.map { sample.patients[$0] })
            let checks = detector.check(sample.frames.rows(tested))
            let count = checks.filter(\.isCopy).count
            print("copy detection, sample US: held-out series \(heldOut) (\(tested.count) frames): \(count) flagged, "
                  + "nearest copy distance \(checks.map(\.distance).min()!)")
            flagged += count
            total += tested.count
        }
        print("copy detection, sample US: held-out frames flagged \(flagged) of \(total)")
        #expect(Double(flagged) <= 0.05 * Double(total))
    }

    @Test("(c) averaged, blurred and uniform dark frames that copy nothing are not flagged")
    func framesThatCopyNothingAreNotFlagged() throws {
        let sample = try Self.sample.get()
        let detector = CopyDetector(training: sample.frames, series: sample.series, patients: sample.patients)
        var random = EngineRandom(seed: 29)
        let bySeries = Dictionary(grouping: sample.frames.count.indicesRange, by: { sample.series[$0] })
        let seriesList = bySeries.keys.sorted()
        // 20 frames spread over the series (a mean of 20 frames of one cine is that cine, and is a copy).
        let means = (0..<40).map { _ in
            CopyFreeFrames.mean(of: (0..<20).map { draw in
                let members = bySeries[seriesList[draw % seriesList.count]]!
                return sample.unitFrame(members[random.integer(0...(members.count - 1))])
            })
        }
        let blurred = (0..<40).map { CopyFreeFrames.blurred(sample.unitFrame($0 * sample.frames.count / 40), side: 64, sigma: 4) }
        let uniform = (0..<40).map { _ in [Float](repeating: random.uniform(0, 0.15), count: 64 * 64) }
        for (name, frames) in [("mean of 20 frames", means), ("blurred, sigma 4 px", blurred), ("uniform dark", uniform)] {
            let checks = detector.check(Self.matrix(frames))
            print("copy detection, sample US: \(name): \(checks.filter(\.isCopy).count) of \(frames.count) flagged, "
                  + "smallest copy distance \(checks.map(\.distance).min()!)")
            #expect(checks.allSatisfy { !$0.isCopy }, "\(name)")
        }
    }
}

extension Int {
    /// 0 ..< self as an array.
    fileprivate var indicesRange: [Int] { Array(0..<self) }
}
