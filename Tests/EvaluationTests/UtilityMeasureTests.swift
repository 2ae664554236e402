import Engine
import Foundation
import TaskModel
import Testing

@testable import Evaluation

/// The utility measure's known answers (issue 37): it must tell useful extra
/// data from harmful. Frames of a small known task: a bright ring (its
/// centre is the keypoint) among filled discs, in noise; a series is four
/// frames of one scene drifting.
@Suite("Utility measure")
struct UtilityMeasureTests {
    static let side = 32
    static let plan = KeypointTrainingPlan(steps: 150, batch: 8, learningRate: 2e-3, width: 8, levels: 3)

    static func scenes(series: Int, framesPerSeries: Int = 4, seed: UInt64, firstSeries: Int = 0) -> KeypointSet {
        var random = EngineRandom(seed: seed)
        var set = KeypointSet(side: side, keypointCount: 1)
        for scene in 0..<series {
            let ring = (x: random.uniform(8, 24), y: random.uniform(8, 24), radius: random.uniform(3, 4.5))
            let discs = (0..<3).map { _ in (x: random.uniform(3, 29), y: random.uniform(3, 29), radius: random.uniform(2, 3.5)) }
            for frame in 0..<framesPerSeries {
                let drift = Float(frame) * 0.7
                var image = [Float](repeating: 0, count: side * side)
                for row in 0..<side {
                    for column in 0..<side {
                        let x = Float(column), y = Float(row)
                        let ringDistance = abs(
                            ((x - ring.x - drift) * (x - ring.x - drift) + (y - ring.y) * (y - ring.y)).squareRoot() - ring.radius)
                        var value: Float = 40 + 170 * exp(-ringDistance * ringDistance / 0.8)
                        for disc in discs where (x - disc.x) * (x - disc.x) + (y - disc.y) * (y - disc.y) < disc.radius * disc.radius {
                            value = max(value, 190)
                        }
                        image[row * side + column] = min(255, max(0, value + 12 * random.normal()))
                    }
                }
                set.append(image: image, keypoints: [ring.x + drift, ring.y], labelled: [true], series: firstSeries + scene)
            }
        }
        return set
    }

    static func request(extra: KeypointSet, labelled: Bool) -> UtilityRequest {
        UtilityRequest(
            training: scenes(series: 2, framesPerSeries: 2, seed: 1), test: scenes(series: 10, seed: 2, firstSeries: 100),
            extra: extra, extraLabelled: labelled, plan: plan, seeds: [7])
    }

    static func difference(_ figures: UtilityFigures, _ arm: UtilityArm) -> UtilityFigures.Difference {
        figures.differences.first { $0.arm == arm && $0.against == .real }!
    }

    static func report(_ label: String, _ figures: UtilityFigures) {
        let arms = figures.arms.map { "\($0.arm.rawValue) \($0.meanError) \($0.meanErrorInterval) pck \($0.pck)" }
        let differences = figures.differences.map {
            "\($0.arm.rawValue) - \($0.against.rawValue) \($0.meanErrorDifference) \($0.interval) \($0.verdict.rawValue)"
        }
        print("utility \(label): \(arms.joined(separator: "; ")) | \(differences.joined(separator: "; "))")
    }

    @Test("extra real labelled frames given as synthetic help")
    func usefulFramesHelp() {
        let figures = UtilityMeasure.run(Self.request(extra: Self.scenes(series: 16, seed: 3, firstSeries: 200), labelled: true))
        Self.report("useful", figures)
        #expect(Self.difference(figures, .realSynthetic).verdict == .helps)
        #expect(!figures.pseudoLabels && figures.testSeries == 10 && figures.arms.count == 5)
    }

    @Test("the same frames with scrambled labels hurt")
    func scrambledLabelsHurt() {
        let extra = Self.scenes(series: 16, seed: 3, firstSeries: 200)
        var random = EngineRandom(seed: 5)
        let figures = UtilityMeasure.run(Self.request(extra: extra.relabelled(random.shuffled(extra.keypoints)), labelled: true))
        Self.report("scrambled", figures)
        #expect(Self.difference(figures, .realSynthetic).verdict == .hurts)
    }

    @Test("synthetic-only on frames of pure noise fails, with pseudo-labels")
    func noiseFails() {
        var random = EngineRandom(seed: 9)
        var noise = KeypointSet(side: Self.side, keypointCount: 1)
        for index in 0..<64 {
            noise.append(
                image: (0..<(Self.side * Self.side)).map { _ in random.uniform(0, 255) }, keypoints: [0, 0], labelled: [false],
                series: 300 + index / 4)
        }
        let figures = UtilityMeasure.run(Self.request(extra: noise, labelled: false))
        Self.report("noise", figures)
        #expect(figures.pseudoLabels)
        #expect(Self.difference(figures, .synthetic).verdict == .hurts)
        // Failing: no better than always answering the frame's centre.
        let test = Self.request(extra: noise, labelled: false).test
        let centre = Float(Self.side - 1) / 2
        let guess =
            test.keypoints.map { (($0[0] - centre) * ($0[0] - centre) + ($0[1] - centre) * ($0[1] - centre)).squareRoot() }
            .reduce(0, +) / Float(test.count)
        let synthetic = figures.arms.first { $0.arm == .synthetic }!
        #expect(
            synthetic.meanError > 0.8 * guess && synthetic.pck < 0.1, "synthetic-only \(synthetic.meanError) px, the centre \(guess) px")
    }

    @Test("classic augmentation moves the keypoint with the pixels")
    func augmentationKeepsRegister() {
        var random = EngineRandom(seed: 3)
        var geometryOnly = ClassicAugmentation()
        (geometryOnly.maximumBrightness, geometryOnly.contrasts, geometryOnly.maximumNoise) = (0, 1...1, 0)
        for _ in 0..<20 {
            // One blob; after the warp its intensity-weighted centre must be the moved keypoint.
            let x = random.uniform(10, 22), y = random.uniform(10, 22)
            let image = (0..<(Self.side * Self.side)).map { index -> Float in
                let dx = Float(index % Self.side) - x, dy = Float(index / Self.side) - y
                return 255 * exp(-(dx * dx + dy * dy) / 4)
            }
            let (warped, keypoints, labelled) = geometryOnly.apply(
                image: image, keypoints: [x, y], labelled: [true], side: Self.side, random: &random)
            let total = warped.reduce(0, +)
            let centroid = warped.indices.reduce((0 as Float, 0 as Float)) {
                ($0.0 + warped[$1] * Float($1 % Self.side), $0.1 + warped[$1] * Float($1 / Self.side))
            }
            #expect(labelled == [true])
            #expect(
                abs(centroid.0 / total - keypoints[0]) < 0.3 && abs(centroid.1 / total - keypoints[1]) < 0.3, "\(centroid) \(keypoints)")
        }
    }
}
