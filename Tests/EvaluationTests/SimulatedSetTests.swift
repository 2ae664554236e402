import Engine
import Foundation
import Imaging
import Synthesis
import TestSupport
import Testing

@testable import Evaluation

/// Known-answer tests of the two-sample test and of density and coverage on
/// the simulated B-mode set (docs/evaluation.md): real against real sits at
/// chance within its interval; real against visibly different frames is
/// detected.
@Suite("Two-sample test and density/coverage on the simulated set", .serialized)
struct SimulatedSetTests {
    static func halves() throws -> (first: FrameMatrix, firstSeries: [Int], second: FrameMatrix, secondSeries: [Int]) {
        let set = try UltrasoundFrames.simulated.get()
        let first = (0..<set.count).filter { set.series[$0] % 2 == 0 }, second = (0..<set.count).filter { set.series[$0] % 2 == 1 }
        let matrix = FrameMatrix(pixels: 4096, values: set.values)
        return (matrix.rows(first), first.map { set.series[$0] }, matrix.rows(second), second.map { set.series[$0] })
    }

    /// `frames` blurred with sigma 2 px: the same anatomy, visibly softer speckle.
    static func blurred(_ frames: FrameMatrix) -> FrameMatrix {
        FrameMatrix(
            pixels: 4096,
            values: (0..<frames.count).flatMap { index in
                CopyFreeFrames.blurred(frames.row(index).map { ($0 + 1) / 2 }, side: 64, sigma: 2).map { $0 * 2 - 1 }
            })
    }

    @Test("(e) the calibration sits at chance within its interval; real against blurred frames is detected")
    func twoSampleCalibrationAndPower() throws {
        let set = try UltrasoundFrames.simulated.get()
        let matrix = FrameMatrix(pixels: 4096, values: set.values)
        let calibration = try #require(ClassifierTwoSampleTest.calibration(matrix, groups: set.series, seed: 1))
        print(
            "two-sample test, simulated real vs real: \(calibration.accuracy) \(calibration.interval), "
                + "\(calibration.testFrames) test frames of \(calibration.testGroups) series")
        #expect(calibration.interval[0] <= 0.5 && 0.5 <= calibration.interval[1])
        #expect(calibration.testGroups >= 40)

        let (first, firstSeries, second, _) = try Self.halves()
        let blurred = Self.blurred(second)
        let different = try #require(
            ClassifierTwoSampleTest.accuracy(
                first, groups: firstSeries, blurred,
                groups: Array(0..<blurred.count), seed: 1))
        print("two-sample test, simulated real vs blurred: \(different.accuracy) \(different.interval)")
        #expect(ClassifierTwoSampleTest.verdict(different, calibration: calibration) == .distinguishable)
    }

    @Test("(d) a generator that returns training frames is flagged: every frame a copy, the data-copying test below -2")
    func copiesOfTrainingFramesAreFlagged() throws {
        let (training, trainingSeries, validation, validationSeries) = try Self.halves()
        let detector = CopyDetector(training: training, series: trainingSeries, patients: Array(repeating: nil, count: training.count))
        let returned = training.rows((0..<48).map { $0 * training.count / 48 })
        let figures = Evaluator.measure(
            generated: returned, nearest: FrameDistance.nearest(returned, in: training, count: 8),
            training: training, validation: validation, trainingSeries: trainingSeries,
            validationSeries: validationSeries,
            copyChecks: CopyChecks(detector, generated: returned, heldOut: validation), side: 64, seed: 1)
        print(
            "simulated, generator returning training frames: copies \(figures.copies) of 48, held-out flagged "
                + "\(figures.heldOutCopies ?? -1) of \(validation.count), data-copying Z \(figures.dataCopyingZ ?? .nan)")
        #expect(figures.copies == 48 && figures.heldOutCopies == 0 && figures.dataCopyingFlagged == true)
    }

    @Test("density and coverage: high for other real frames, low for a collapsed or blurred set")
    func densityAndCoverage() throws {
        let (first, firstSeries, second, _) = try Self.halves()
        let real = RandomEmbedding.features(first)
        let same = try #require(
            DensityCoverage.measure(real: real, series: firstSeries, generated: RandomEmbedding.features(second), seed: 1))
        let collapsed = FrameMatrix(pixels: 4096, values: Array((0..<second.count).map { _ in second.row(0) }.joined()))
        let single = try #require(
            DensityCoverage.measure(
                real: real, series: firstSeries, generated: RandomEmbedding.features(collapsed),
                seed: 1))
        let blurred = Self.blurred(second)
        let soft = try #require(
            DensityCoverage.measure(real: real, series: firstSeries, generated: RandomEmbedding.features(blurred), seed: 1))
        for (name, figures) in [("other real frames", same), ("one frame repeated", single), ("blurred", soft)] {
            print(
                "density/coverage, simulated, \(name): density \(figures.density) \(figures.densityInterval), "
                    + "coverage \(figures.coverage) \(figures.coverageInterval)")
        }
        // A series' frames make a union of balls, so real against real gives a density above 1 on cines (docs/evaluation.md).
        #expect(same.densityInterval[0] >= 0.8 && same.densityInterval[1] <= 2 && same.coverage >= 0.8)
        #expect(single.coverage < 0.2 && single.coverageInterval[1] < same.coverageInterval[0])
        #expect(soft.densityInterval[1] < same.densityInterval[0])
    }
}
