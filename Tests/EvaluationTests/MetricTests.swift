import Engine
import Foundation
import Imaging
import Synthesis
import TestSupport
import Testing

@testable import Evaluation

/// Frames with known structure: bright elliptic blobs (a few per frame, random
/// position and size) on a dark speckled background, 64 x 64 in [-1, 1].
func blobFrames(_ count: Int, seed: UInt64) -> FrameMatrix {
    var random = EngineRandom(seed: seed)
    var values: [Float] = []
    for _ in 0..<count {
        let blobs = (0..<3).map { _ in (x: random.uniform(12, 52), y: random.uniform(12, 52), r: random.uniform(4, 12)) }
        for y in 0..<64 {
            for x in 0..<64 {
                var intensity: Float = 0.1 * random.uniform()
                for blob in blobs {
                    let dx = Float(x) - blob.x, dy = Float(y) - blob.y
                    intensity += 0.8 * exp(-(dx * dx + dy * dy) / (2 * blob.r * blob.r))
                }
                values.append(min(1, intensity) * 2 - 1)
            }
        }
    }
    return FrameMatrix(pixels: 4096, values: values)
}

/// Uniform noise frames in [-1, 1]: nothing like blobs.
func noiseFrames(_ count: Int, seed: UInt64) -> FrameMatrix {
    var random = EngineRandom(seed: seed)
    return FrameMatrix(pixels: 4096, values: (0..<(count * 4096)).map { _ in random.uniform(-1, 1) })
}

@Suite("Evaluation metrics on cases with known answers")
struct MetricTests {
    init() { EngineThreads.configure(2) }

    @Test("two-sample test: two draws of one distribution are near chance, blobs against noise are separated")
    func twoSample() throws {
        let each = Array(0..<40)
        let same = try #require(
            ClassifierTwoSampleTest.accuracy(blobFrames(40, seed: 1), groups: each, blobFrames(40, seed: 2), groups: each, seed: 3))
        let different = try #require(
            ClassifierTwoSampleTest.accuracy(
                blobFrames(40, seed: 1), groups: each, noiseFrames(40, seed: 2),
                groups: each, seed: 3))
        print("C2ST: same distribution \(same.accuracy), blobs vs noise \(different.accuracy), \(same.testFrames) test frames")
        #expect(same.testFrames == 80)  // cross-fitted: every frame of both sets is tested
        #expect(same.accuracy <= 0.75)
        #expect(different.accuracy >= 0.95)
        #expect(
            ClassifierTwoSampleTest.accuracy(blobFrames(3, seed: 1), groups: [0, 1, 2], blobFrames(40, seed: 2), groups: each, seed: 3)
                == nil)
        // Halves keep whole groups on one side.
        var random = EngineRandom(seed: 4)
        let groups = (0..<40).map { $0 / 8 }
        let (first, second) = ClassifierTwoSampleTest.halves(groups, random: &random)
        #expect(Set(first.map { groups[$0] }).isDisjoint(with: second.map { groups[$0] }))
        #expect(first.count + second.count == 40 && first.count >= 16 && second.count >= 16)
        // One group cannot be halved, so the calibration has no answer.
        #expect(
            ClassifierTwoSampleTest.calibration(
                blobFrames(10, seed: 5), groups: Array(repeating: 0, count: 10),
                seed: 1) == nil)
    }

    @Test("data copying: copies of training frames give a large negative Z, fresh draws do not")
    func dataCopying() throws {
        let training = blobFrames(60, seed: 10), heldOut = blobFrames(40, seed: 11)
        let copies = training.rows(Array(0..<40))
        let detector = CopyDetector(training: training, series: Array(0..<60), patients: Array(repeating: nil, count: 60))
        let heldOutDistances = detector.check(heldOut).map(\.distance)
        func test(_ generated: FrameMatrix) throws -> DataCopyingTest {
            try #require(
                DataCopyingTest.run(
                    training: training, heldOut: heldOut, generated: generated, heldOutDistances: heldOutDistances,
                    generatedDistances: detector.check(generated).map(\.distance)))
        }
        let copying = try test(copies), fresh = try test(blobFrames(40, seed: 12)), noise = try test(noiseFrames(40, seed: 13))
        print("data-copying Z: copies \(copying.z), fresh \(fresh.z), noise \(noise.z)")
        #expect(copying.z < DataCopyingTest.copyingThreshold)
        #expect(abs(fresh.z) < 2)
        #expect(noise.z > 2, "frames far from every training frame read as under-fitting")
        #expect(DataCopyingTest.mannWhitneyZ(generated: [1, 2, 3], heldOut: [1, 2, 3]) == 0)
    }

    @Test("SSIM and MS-SSIM: 1 for identical frames, lower for different ones; a single repeated frame has diversity 1")
    func similarity() {
        let frames = blobFrames(10, seed: 20)
        let a = Evaluator.unit(frames.row(0)), b = Evaluator.unit(frames.row(1))
        #expect(abs(StructuralSimilarity.ssim(a, a, side: 64) - 1) < 1e-5)
        #expect(abs(StructuralSimilarity.msssim(a, a, side: 64) - 1) < 1e-5)
        #expect(StructuralSimilarity.ssim(a, b, side: 64) < 0.9)
        let single = FrameMatrix(pixels: 4096, values: Array((0..<10).map { _ in frames.row(0) }.joined()))
        let collapsed = Evaluator.meanPairwiseMSSSIM(single, side: 64, seed: 1)!
        let diverse = Evaluator.meanPairwiseMSSSIM(frames, side: 64, seed: 1)!
        print("mean pairwise MS-SSIM: one repeated frame \(collapsed), ten different frames \(diverse)")
        #expect(abs(collapsed - 1) < 1e-5 && diverse < 0.8)
    }

    @Test("histogram and spectrum distances: 0 for identical sets, large for blobs against noise")
    func statistics() {
        let blobs = blobFrames(8, seed: 30), noise = noiseFrames(8, seed: 31)
        let unitBlobs = blobs.values.map(Evaluator.unitValue), unitNoise = noise.values.map(Evaluator.unitValue)
        let blobHistogram = ImageStatistics.intensityHistogram(unitBlobs)
        #expect(ImageStatistics.wassersteinDistance(blobHistogram, blobHistogram) == 0)
        #expect(ImageStatistics.wassersteinDistance(blobHistogram, ImageStatistics.intensityHistogram(unitNoise)) > 0.2)
        let blobSpectrum = ImageStatistics.meanRow(Evaluator.frames(blobs).map { ImageStatistics.logSpectrum($0, side: 64) })
        #expect(ImageStatistics.spectrumDistance(blobSpectrum, blobSpectrum) == 0)
        let noiseSpectrum = ImageStatistics.meanRow(Evaluator.frames(noise).map { ImageStatistics.logSpectrum($0, side: 64) })
        print("spectrum distance blobs vs noise: \(ImageStatistics.spectrumDistance(blobSpectrum, noiseSpectrum)) decades")
        #expect(ImageStatistics.spectrumDistance(blobSpectrum, noiseSpectrum) > 1)
        // The pooled histogram is the mean of the frames' histograms.
        let histograms = (0..<8).map { ImageStatistics.intensityHistogram(Evaluator.unit(blobs.row($0))) }
        let pooled = ImageStatistics.intensityHistogram(unitBlobs)
        #expect(zip(ImageStatistics.meanRow(histograms), pooled).allSatisfy { abs($0 - $1) < 1e-12 })
        // The bootstrap interval of a large distance brackets it; resampling a set against itself gives a small one.
        let blobRows = Evaluator.frames(blobs).map { ImageStatistics.logSpectrum($0, side: 64) }
        let noiseRows = Evaluator.frames(noise).map { ImageStatistics.logSpectrum($0, side: 64) }
        var random = EngineRandom(seed: 1)
        let apart = GroupBootstrap.meanDistanceInterval(
            generated: noiseRows, real: blobRows, groups: [0, 0, 1, 1, 2, 2, 3, 3], distance: ImageStatistics.spectrumDistance,
            random: &random)
        let same = GroupBootstrap.meanDistanceInterval(
            generated: blobRows, real: blobRows, groups: Array(0..<8), distance: ImageStatistics.spectrumDistance, random: &random)
        let distance = ImageStatistics.spectrumDistance(blobSpectrum, noiseSpectrum)
        print("spectrum distance interval, blobs vs noise: \(apart) around \(distance); blobs vs blobs: \(same)")
        #expect(apart[0] <= distance && distance <= apart[1] && apart[1] - apart[0] < distance / 2)
        #expect(same[1] < apart[0] / 4)
        // The FFT against a direct DFT of one frame.
        let frame = Evaluator.unit(blobs.row(0))
        let power = FourierTransform.power2D(frame, side: 64)
        for (u, v) in [(0, 0), (1, 0), (3, 5), (31, 2), (63, 63)] {
            var re = 0.0, im = 0.0
            for y in 0..<64 {
                for x in 0..<64 {
                    let angle = -2 * Double.pi * Double(u * x + v * y) / 64
                    re += Double(frame[y * 64 + x]) * cos(angle)
                    im += Double(frame[y * 64 + x]) * sin(angle)
                }
            }
            #expect(abs(power[v * 64 + u] - (re * re + im * im)) <= 1e-6 * max(1, re * re + im * im))
        }
    }

    @Test("nearest neighbours by matrix product agree with brute force, k candidates")
    func nearestNeighbours() {
        let references = blobFrames(30, seed: 50), queries = blobFrames(7, seed: 51)
        let found = FrameDistance.nearest(queries, in: references, count: 3)
        for query in 0..<queries.count {
            let brute = (0..<references.count).map { (index: $0, distance: FrameDistance.between(queries.row(query), references.row($0))) }
                .sorted { $0.distance < $1.distance }
            #expect(found[query].map(\.index) == brute.prefix(3).map(\.index))
            #expect(abs(found[query][0].distance - brute[0].distance) < 1e-6)
        }
    }

    @Test("all figures: a generator returning training frames is flagged; one returning a single frame shows no diversity")
    func wholeEvaluation() throws {
        let training = blobFrames(40, seed: 40), validation = blobFrames(30, seed: 41)
        let trainingSeries = (0..<40).map { $0 / 5 }, validationSeries = (0..<30).map { 100 + $0 / 5 }
        let detector = CopyDetector(training: training, series: trainingSeries, patients: Array(repeating: nil, count: 40))
        func figures(_ generated: FrameMatrix) -> EvaluationFigures {
            Evaluator.measure(
                generated: generated, nearest: FrameDistance.nearest(generated, in: training, count: 8), training: training,
                validation: validation, trainingSeries: trainingSeries, validationSeries: validationSeries,
                copyChecks: CopyChecks(detector, generated: generated, heldOut: validation), side: 64, seed: 1)
        }
        let copying = figures(training.rows(Array(0..<24)))
        #expect(copying.nearestTrainL2Mean == 0 && copying.nearestTrainL2Min == 0)
        #expect(abs(copying.nearestTrainSsimMean - 1) < 1e-5)
        #expect(copying.copies == 24 && copying.copyDistanceMin == 0 && copying.heldOutCopies == 0)
        #expect(copying.copyRateInterval[0] > 0.85 && copying.copyRateInterval[1] == 1)
        #expect(copying.dataCopyingFlagged == true)
        // The figures stored in the registry read back as they were measured.
        let stored = try JSONEncoder().encode(copying)
        #expect(try JSONDecoder().decode(EvaluationFigures.self, from: stored) == copying)
        let singleFrame = FrameMatrix(pixels: 4096, values: Array((0..<24).map { _ in validation.row(0) }.joined()))
        let collapsed = figures(singleFrame)
        #expect(collapsed.msSsimGenerated! > 0.999 && collapsed.validation.msSsimReal! < 0.8)
        let encoded = String(decoding: try! JSONEncoder().encode(figures(singleFrame.rows([0]))), as: UTF8.self)
        #expect(encoded.contains("\"msSsimGenerated\":null"), "an absent figure is written as null: \(encoded)")
    }
}
