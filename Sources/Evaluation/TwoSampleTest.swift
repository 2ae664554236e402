import Engine
import Imaging

/// The classifier two-sample test (Lopez-Paz and Oquab, ICLR 2017): a small
/// fixed CNN learns to tell set A from set B on half of each (balanced), and
/// its accuracy on the other halves measures how distinguishable they are:
/// 0.5 indistinguishable, 1.0 perfectly separable. The same test on two
/// halves of one real set (split by series) calibrates what
/// "indistinguishable" looks like with these frames.
public enum ClassifierTwoSampleTest {
    /// The classifier sees 64 x 64 frames (larger ones are box-averaged down).
    public static let side = 64
    public static let epochs = 20
    public static let batchSize = 16
    public static let learningRate: Float = 1e-3
    /// An accuracy with its 95 % interval from a bootstrap over the tested
    /// frames' groups (series of each side; a generated frame is its own
    /// group), since frames of one cine are not independent; and how many
    /// frames and groups were tested.
    public struct Result: Sendable, Equatable {
        public let accuracy: Float
        public let interval: [Float]
        public let testFrames: Int
        public let testGroups: Int
        /// The fewest groups one classifier was tested on, on either side.
        public let fewestGroupsPerSide: Int
    }

    /// A verdict needs at least this many test groups on each side: one or two
    /// cines say nothing about a modality, however many frames they hold.
    public static let minimumGroupsForVerdict = 5

    /// Halvings per test; each trains two classifiers, one on each half,
    /// tested on the other (cross-fitting), so that one classifier's luck
    /// (its initialisation, its batches, which series fell in its half)
    /// does not decide the figure (docs/evaluation.md).
    public static let repeats = 3

    /// The balanced accuracy of classifiers telling `a` from `b`, each frame
    /// scored by the share of the classifiers that saw it as a test frame and
    /// got it right; nil when either half of either set would hold fewer than
    /// 2 frames. Each set is halved by its `groups` (series: frames of one
    /// cine are near-duplicates and must not sit on both sides), `repeats`
    /// times; a classifier trains on one half of each set and is tested on
    /// the other halves, the larger side of each cut to the smaller's size so
    /// that chance is 0.5.
    public static func accuracy(
        _ a: FrameMatrix, groups aGroups: [Int], _ b: FrameMatrix, groups bGroups: [Int],
        seed: UInt64
    ) -> Result? {
        var random = EngineRandom(seed: seed)
        // Each frame is box-averaged once; every classifier takes its rows from these.
        let (a, b) = (a.downsampled(to: side), b.downsampled(to: side))
        // Per side, per frame: how often it was tested and how often classified right.
        var tested = [[Int](repeating: 0, count: a.count), [Int](repeating: 0, count: b.count)], right = tested
        var fewestGroupsPerSide = Int.max
        for _ in 0..<repeats {
            let (firstA, secondA) = halves(aGroups, random: &random), (firstB, secondB) = halves(bGroups, random: &random)
            for (trainA, testA, trainB, testB) in [(firstA, secondA, firstB, secondB), (secondA, firstA, secondB, firstB)] {
                let trainCount = min(trainA.count, trainB.count), testCount = min(testA.count, testB.count)
                guard trainCount >= 2, testCount >= 2 else { return nil }
                let classifier = trained(
                    a.rows(Array(trainA.prefix(trainCount))), b.rows(Array(trainB.prefix(trainCount))), random: &random)
                for (label, (frames, indices, frameGroups)) in [(a, testA, aGroups), (b, testB, bGroups)].enumerated() {
                    let chosen = Array(indices.prefix(testCount))
                    let logits = predictions(classifier, frames.rows(chosen))
                    for (frame, logit) in zip(chosen, logits) {
                        tested[label][frame] += 1
                        if (logit > 0) == (label == 1) { right[label][frame] += 1 }
                    }
                    fewestGroupsPerSide = min(fewestGroupsPerSide, Set(chosen.map { frameGroups[$0] }).count)
                }
            }
        }
        // Per side, per group: the summed right shares of its tested frames, and their number.
        let strata = [aGroups, bGroups].enumerated().map { label, frameGroups in
            GroupBootstrap.members(of: frameGroups).compactMap { members -> (sum: Double, count: Int)? in
                let testedMembers = members.filter { tested[label][$0] > 0 }
                guard !testedMembers.isEmpty else { return nil }
                return (testedMembers.reduce(0) { $0 + Double(right[label][$1]) / Double(tested[label][$1]) }, testedMembers.count)
            }
        }
        let sides = strata.map { groups in groups.reduce(0) { $0 + $1.sum } / Double(max(1, groups.reduce(0) { $0 + $1.count })) }
        return Result(
            accuracy: Float((sides[0] + sides[1]) / 2), interval: GroupBootstrap.balancedMeanInterval(strata, random: &random),
            testFrames: strata.joined().reduce(0) { $0 + $1.count }, testGroups: strata[0].count + strata[1].count,
            fewestGroupsPerSide: fewestGroupsPerSide)
    }

    /// A fresh classifier (seeded from `random`) trained to call `b` 1 and
    /// `a` 0, for `epochs` passes in batches of `batchSize` from each.
    private static func trained(_ a: FrameMatrix, _ b: FrameMatrix, random: inout EngineRandom) -> Classifier {
        let count = a.count
        let classifier = Classifier(seed: random.nextUInt64())
        let optimizer = Adam(store: classifier.store, learningRate: learningRate, beta1: 0.9, beta2: 0.999)
        var gradient: Tensor?
        for _ in 0..<epochs {
            let orderA = random.shuffled(Array(0..<count)), orderB = random.shuffled(Array(0..<count))
            for start in stride(from: 0, to: count, by: batchSize) {
                let end = min(start + batchSize, count)
                classifier.store.zeroGradients()
                for (frames, order, target) in [(a, orderA, Float(0)), (b, orderB, Float(1))] {
                    let logits = classifier.forward(batch(frames, Array(order[start..<end])), training: true)
                    _ = BinaryCrossEntropy.withLogits(logits, target: target, gradient: &gradient)
                    _ = classifier.backward(gradient!)
                }
                optimizer.update()
            }
        }
        return classifier
    }

    /// The classifier's logit for each of `frames`, in order.
    private static func predictions(_ classifier: Classifier, _ frames: FrameMatrix) -> [Float] {
        stride(from: 0, to: frames.count, by: 64).flatMap { start in
            classifier.forward(batch(frames, Array(start..<min(start + 64, frames.count))), training: false).values
        }
    }

    /// What the interval allows one to say against chance, or against the
    /// calibration's interval when there is one: distinguishable when its
    /// low end lies above both; indistinguishable when it reaches them and
    /// is at most 0.2 wide; else, or with fewer than
    /// `minimumGroupsForVerdict` test series on a side, undecided.
    public static func verdict(_ test: Result?, calibration: Result?) -> Verdict? {
        guard let test else { return nil }
        guard test.fewestGroupsPerSide >= minimumGroupsForVerdict else { return .undecided }
        let chance = max(0.5, calibration?.interval[1] ?? 0.5)
        if test.interval[0] > chance { return .distinguishable }
        if test.interval[1] - test.interval[0] <= 0.2 { return .indistinguishable }
        return .undecided
    }

    public enum Verdict: String, Codable, Sendable {
        case distinguishable, indistinguishable, undecided
    }

    /// The test between two halves of one real set, split by `groups`: what
    /// "indistinguishable" scores with these frames; nil with too few groups.
    public static func calibration(_ set: FrameMatrix, groups: [Int], seed: UInt64) -> Result? {
        var random = EngineRandom(seed: seed ^ 0xC0FFEE)
        let (first, second) = halves(groups, random: &random)
        return accuracy(set.rows(first), groups: first.map { groups[$0] }, set.rows(second), groups: second.map { groups[$0] }, seed: seed)
    }

    /// Frame indices in two parts of about half the frames each, whole groups
    /// on one side (groups taken in random order until the first part holds
    /// half); frames in random order within each part.
    static func halves(_ groups: [Int], random: inout EngineRandom) -> (first: [Int], second: [Int]) {
        var members: [Int: [Int]] = [:]
        for (frame, group) in groups.enumerated() { members[group, default: []].append(frame) }
        var first: [Int] = [], second: [Int] = []
        for group in random.shuffled(members.keys.sorted()) {
            if first.count * 2 < groups.count { first += members[group]! } else { second += members[group]! }
        }
        return (random.shuffled(first), random.shuffled(second))
    }

    /// The frames at `indices` as [n, 1, 64, 64].
    static func batch(_ frames: FrameMatrix, _ indices: [Int]) -> Tensor {
        Tensor(shape: [indices.count, 1, side, side], values: frames.rows(indices).values)
    }

    /// The fixed classifier: three Conv 4x4 stride 2 pad 1 (1 -> 16 -> 32 -> 64)
    /// with LeakyReLU(0.2), then Linear 64 x 8 x 8 -> 1 logit (45,633 parameters).
    /// Input [N, 1, 64, 64], output [N, 1].
    final class Classifier {
        let store = ParameterStore()
        let network: Sequential

        init(seed: UInt64) {
            let initializer = DefaultInitializer(random: EngineRandom(seed: seed))
            var layers: [Layer] = []
            var inChannels = 1
            for (index, width) in [16, 32, 64].enumerated() {
                layers.append(
                    Conv2d(
                        "conv\(index)", store: store, initializer: initializer, inChannels: inChannels, outChannels: width,
                        kernel: 4, stride: 2, padding: 1))
                layers.append(LeakyReLU(slope: 0.2))
                inChannels = width
            }
            layers.append(Linear("fc", store: store, initializer: initializer, inFeatures: 64 * 8 * 8, outFeatures: 1))
            network = Sequential(layers)
            store.seal()
        }

        func forward(_ images: Tensor, training: Bool) -> Tensor { network.forward(images, training: training) }
        func backward(_ logitGradient: Tensor) -> Tensor { network.backward(logitGradient, parameterGradients: true) }
    }
}
