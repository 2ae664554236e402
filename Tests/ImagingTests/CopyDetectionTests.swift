import Engine
import Foundation
import TestSupport
import Testing

@testable import Imaging

/// Known-answer tests of the copy measure (docs/evaluation.md) on the sample
/// US frames and on the simulated B-mode set: disguised copies are caught,
/// real frames of held-out series and frames that copy nothing are not.
@Suite("Copy detection on the sample US frames and the simulated set", .serialized)
struct CopyDetectionTests {
    enum DataSet: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case sampleUS, simulated
        var testDescription: String { rawValue }
        func frames() throws -> UltrasoundFrames { try (self == .sampleUS ? UltrasoundFrames.sample : UltrasoundFrames.simulated).get() }
    }

    /// Signed [-1, 1] frames from 0-to-1 ones.
    static func matrix(_ frames: [[Float]]) -> FrameMatrix {
        FrameMatrix(pixels: frames[0].count, values: frames.flatMap { $0.map { $0 * 2 - 1 } })
    }

    @Test("the copy distance equals a direct search over mirrors, shifts and gains, with the mask's weights")
    func copyDistanceAgainstDirectSearch() throws {
        let sample = try UltrasoundFrames.sample.get()
        let mask = StructureMask(training: StructureMaps(sample.matrix), series: sample.series)
        #expect(mask.weights.contains { $0 > 0.1 && $0 < 0.9 }, "a mask with weights between 0 and 1")
        var random = EngineRandom(seed: 3)
        let referenceIndices = [10, 100, 200]
        let queries = [
            Disguise.combined.apply(sample.unitFrame(100), side: 64, random: &random), sample.unitFrame(150),
            sample.unitFrame(20),
        ]
        let referenceMaps = StructureMaps(sample.matrix.rows(referenceIndices)), queryMaps = StructureMaps(Self.matrix(queries))
        let found = CopyDistance.nearest(queryMaps, in: CopyReferences(referenceMaps, mask: mask))
        var largest: Float = 0
        for query in 0..<queries.count {
            for (slot, _) in referenceIndices.enumerated() {
                let direct = Self.directCopyDistance(queryMaps.map(query), referenceMaps.map(slot), weights: mask.weights)
                let measured = found[query].first { $0.index == slot }!.distance
                largest = max(largest, abs(direct - measured))
                #expect(abs(direct - measured) <= 1e-4 * max(1, direct), "query \(query), reference \(slot)")
            }
        }
        print("copy distance against a direct search: largest difference \(largest)")
    }

    /// The definition, computed plainly: every mirror and shift, the best
    /// gain in [0.8, 1.25], the residual weighted by the mask over the
    /// reference's central window.
    static func directCopyDistance(_ query: [Float], _ reference: [Float], weights: [Float]) -> Float {
        let side = 64, margin = 8, window = 48
        func values(_ map: [Float], dy: Int, dx: Int) -> [Double] {
            var values: [Double] = []
            for y in 0..<window { for x in 0..<window { values.append(Double(map[(margin + dy + y) * side + margin + dx + x])) } }
            return values
        }
        let r = values(reference, dy: 0, dx: 0), w = values(weights, dy: 0, dx: 0)
        func weightedDot(_ a: [Double], _ b: [Double]) -> Double { (0..<a.count).reduce(0) { $0 + w[$1] * w[$1] * a[$1] * b[$1] } }
        let rr = weightedDot(r, r)
        let mirrored = (0..<(side * side)).map { query[($0 / side) * side + side - 1 - $0 % side] }
        var best = Double.infinity
        for map in [query, mirrored] {
            for dy in -4...4 {
                for dx in -4...4 {
                    let q = values(map, dy: dy, dx: dx)
                    let gain = min(max(weightedDot(q, r) / rr, 0.8), 1.25)
                    let difference = zip(q, r).map { $0 - gain * $1 }
                    best = min(best, (weightedDot(difference, difference) / rr).squareRoot())
                }
            }
        }
        return Float(best)
    }

    @Test("(a) disguised copies of training frames are caught at least 95 % of the time, each disguise", arguments: DataSet.allCases)
    func disguisedCopiesAreCaught(_ dataSet: DataSet) throws {
        let sample = try dataSet.frames()
        #expect(sample.count == (dataSet == .sampleUS ? 234 : UltrasoundFrames.simulatedPhantoms * UltrasoundFrames.simulatedFrames))
        let detector = CopyDetector(training: sample.matrix, series: sample.series, patients: sample.patients)
        var random = EngineRandom(seed: 13)
        // 60 training frames evenly spread over the set.
        let sources = (0..<60).map { $0 * sample.count / 60 }
        for disguise in Disguise.allCases {
            let disguised = sources.map { disguise.apply(sample.unitFrame($0), side: 64, random: &random) }
            let checks = detector.check(Self.matrix(disguised))
            let caught = checks.filter(\.isCopy).count
            let worst = checks.map(\.distance).max()!
            print(
                "copy detection, \(sample.name): \(disguise.rawValue) copies caught \(caught) of \(sources.count), largest copy distance \(worst)"
            )
            #expect(Double(caught) >= 0.95 * Double(sources.count), "\(disguise.rawValue)")
        }
    }

    @Test("(b) real frames of held-out series are flagged at most 5 % of the time", arguments: DataSet.allCases)
    func heldOutSeriesAreNotFlagged(_ dataSet: DataSet) throws {
        let sample = try dataSet.frames()
        var flagged = 0, total = 0
        // Each series held out in turn (sample US, 9 series), or four folds of series (simulated).
        let seriesList = Set(sample.series).sorted()
        let folds = seriesList.count <= 10 ? seriesList.map { [$0] } : (0..<4).map { fold in seriesList.filter { $0 % 4 == fold } }
        for heldOut in folds {
            let training = sample.series.indices.filter { !heldOut.contains(sample.series[$0]) }
            let tested = sample.series.indices.filter { heldOut.contains(sample.series[$0]) }
            let detector = CopyDetector(
                training: sample.matrix.rows(training), series: training.map { sample.series[$0] },
                patients: training.map { sample.patients[$0] })
            let checks = detector.check(sample.matrix.rows(tested))
            let count = checks.filter(\.isCopy).count
            print(
                "copy detection, \(sample.name): held-out series \(heldOut.count == 1 ? "\(heldOut[0])" : "fold of \(heldOut.count)") (\(tested.count) frames): \(count) flagged, "
                    + "nearest copy distance \(checks.map(\.distance).min()!)")
            flagged += count
            total += tested.count
        }
        print("copy detection, \(sample.name): held-out frames flagged \(flagged) of \(total)")
        #expect(Double(flagged) <= 0.05 * Double(total))
    }

    @Test("(c) averaged, blurred and uniform dark frames that copy nothing are not flagged", arguments: DataSet.allCases)
    func framesThatCopyNothingAreNotFlagged(_ dataSet: DataSet) throws {
        let sample = try dataSet.frames()
        let detector = CopyDetector(training: sample.matrix, series: sample.series, patients: sample.patients)
        var random = EngineRandom(seed: 29)
        let bySeries = Dictionary(grouping: 0..<sample.count, by: { sample.series[$0] })
        let seriesList = bySeries.keys.sorted()
        // 20 frames spread over the series (a mean of 20 frames of one cine is that cine, and is a copy);
        // on the simulated set, 20 different phantoms.
        let means = (0..<40).map { _ in
            CopyFreeFrames.mean(
                of: (0..<20).map { draw in
                    let members = bySeries[seriesList[draw % seriesList.count]]!
                    return sample.unitFrame(members[random.integer(0...(members.count - 1))])
                })
        }
        let blurred = (0..<40).map { CopyFreeFrames.blurred(sample.unitFrame($0 * sample.count / 40), side: 64, sigma: 4) }
        let uniform = (0..<40).map { _ in [Float](repeating: random.uniform(0, 0.15), count: 64 * 64) }
        for (name, frames) in [("mean of 20 frames", means), ("blurred, sigma 4 px", blurred), ("uniform dark", uniform)] {
            let checks = detector.check(Self.matrix(frames))
            print(
                "copy detection, \(sample.name): \(name): \(checks.filter(\.isCopy).count) of \(frames.count) flagged, "
                    + "smallest copy distance \(checks.map(\.distance).min()!)")
            #expect(checks.allSatisfy { !$0.isCopy }, "\(name)")
        }
    }
}

extension UltrasoundFrames {
    var matrix: FrameMatrix { FrameMatrix(pixels: 64 * 64, values: values) }
}
