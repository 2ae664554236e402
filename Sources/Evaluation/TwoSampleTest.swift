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
    /// An accuracy with its 95 % interval from a bootstrap over the test
    /// frames' groups (series of each side; a generated frame is its own
    /// group), since frames of one cine are not independent; and how many
    /// frames and groups the test halves held.
    public struct Result: Sendable, Equatable {
        public let accuracy: Float
        public let interval: [Float]
        public let testFrames: Int
        public let testGroups: Int
        /// The test groups of the side that has fewer.
        public let fewestGroupsPerSide: Int
    }

    /// A verdict needs at least this many test groups on each side: one or two
    /// cines say nothing about a modality, however many frames they hold.
    public static let minimumGroupsForVerdict = 5

    /// Accuracy on the held-out halves and how many frames they held; nil
    /// when either half of either set would hold fewer than 2 frames. Each
    /// set is halved by its `groups` (series: frames of one cine are
    /// near-duplicates and must not sit on both sides), then the larger side
    /// of each half is cut to the smaller's size, so that chance is 0.5.
    public static func accuracy(
        _ a: FrameMatrix, groups aGroups: [Int], _ b: FrameMatrix, groups bGroups: [Int],
        seed: UInt64
    ) -> Result? {
        var random = EngineRandom(seed: seed)
        let (trainA, testA) = halves(aGroups, random: &random), (trainB, testB) = halves(bGroups, random: &random)
        let trainCount = min(trainA.count, trainB.count), testCount = min(testA.count, testB.count)
        guard trainCount >= 2, testCount >= 2 else { return nil }
        let training = (
            a.rows(Array(trainA.prefix(trainCount))).downsampled(to: side),
            b.rows(Array(trainB.prefix(trainCount))).downsampled(to: side)
        )
        let testing = (
            a.rows(Array(testA.prefix(testCount))).downsampled(to: side),
            b.rows(Array(testB.prefix(testCount))).downsampled(to: side)
        )

        let classifier = Classifier(seed: random.nextUInt64())
        let optimizer = Adam(store: classifier.store, learningRate: learningRate, beta1: 0.9, beta2: 0.999)
        var gradient: Tensor?
        for _ in 0..<epochs {
            let orderA = random.shuffled(Array(0..<trainCount)), orderB = random.shuffled(Array(0..<trainCount))
            for start in stride(from: 0, to: trainCount, by: batchSize) {
                let end = min(start + batchSize, trainCount)
                classifier.store.zeroGradients()
                for (frames, order, target) in [(training.0, orderA, Float(0)), (training.1, orderB, Float(1))] {
                    let logits = classifier.forward(batch(frames, Array(order[start..<end])), training: true)
                    _ = BinaryCrossEntropy.withLogits(logits, target: target, gradient: &gradient)
                    _ = classifier.backward(gradient!)
                }
                optimizer.update()
            }
        }
        // Per test frame: its group and whether the classifier was right, by side.
        var groups: [[Int]] = [[], []], right: [[Bool]] = [[], []]
        for (side, (frames, indices, frameGroups)) in [(testing.0, testA, aGroups), (testing.1, testB, bGroups)].enumerated() {
            for start in stride(from: 0, to: frames.count, by: 64) {
                let logits = classifier.forward(batch(frames, Array(start..<min(start + 64, frames.count))), training: false)
                for index in 0..<logits.count {
                    groups[side].append(frameGroups[indices[start + index]])
                    right[side].append((logits.data[index] > 0) == (side == 1))
                }
            }
        }
        let strata = (0..<2).map { side in GroupBootstrap.groups(of: groups[side]) { right[side][$0] } }
        let correct = right.reduce(0) { $0 + $1.filter { $0 }.count }
        return Result(
            accuracy: Float(correct) / Float(2 * testCount), interval: GroupBootstrap.ratioInterval(strata, random: &random),
            testFrames: 2 * testCount, testGroups: strata[0].count + strata[1].count,
            fewestGroupsPerSide: min(strata[0].count, strata[1].count))
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
