import Engine
import Foundation
import TaskModel

/// The arms of the utility measure: what the task model trains on.
public enum UtilityArm: String, Codable, CaseIterable, Sendable {
    /// The real labelled frames only.
    case real
    /// The real frames with classic augmentation.
    case realAugmented = "real+augmentation"
    /// The real frames and the model's frames, with the labels the model
    /// drew with them, or pseudo-labels when it draws none.
    case realSynthetic = "real+synthetic"
    case realSyntheticAugmented = "real+synthetic+augmentation"
    /// The model's frames only, tested on real ones.
    case synthetic
    /// A labelled model's frames with pseudo-labels instead of its own: the
    /// same frames, labelled by each seed's real-only task model.
    case realPseudoLabelled = "real+pseudo-labelled"
    case realPseudoLabelledAugmented = "real+pseudo-labelled+augmentation"
    case pseudoLabelled = "pseudo-labelled"

    /// The arms a request runs: the pseudo-labelled ones only when the
    /// model's frames carry labels of their own (otherwise the synthetic arms are pseudo-labelled).
    static func arms(ownLabels: Bool) -> [UtilityArm] {
        ownLabels ? allCases : [.real, .realAugmented, .realSynthetic, .realSyntheticAugmented, .synthetic]
    }

    /// Whether the task model trains with classic augmentation.
    var augments: Bool { [.realAugmented, .realSyntheticAugmented, .realPseudoLabelledAugmented].contains(self) }
}

/// What the utility measure compares: the same task model, trained on each
/// arm's frames with the same plan and seeds, tested on the same real frames.
public struct UtilityRequest: Sendable {
    /// Real labelled frames the arms train on.
    public var training: TaskFrames
    /// Real labelled frames of series no arm trains on (and the generator never saw).
    public var test: TaskFrames
    /// The model's frames; their targets are used only with `extraLabelled`.
    public var extra: TaskFrames
    /// Whether `extra` carries labels of its own; if not, each seed's real-only
    /// task model labels it (pseudo-labels, as EchoNet-Synthetic does).
    public var extraLabelled: Bool
    public var plan: TaskTrainingPlan
    /// One task model per arm and seed; the same seeds in every arm.
    public var seeds: [UInt64]
    /// PCK counts a keypoint within this fraction of the frame side.
    public var pckFraction: Float = 0.05
    /// Seeds the bootstrap's draws of test series.
    public var bootstrapSeed: UInt64 = 1

    public init(
        training: TaskFrames, test: TaskFrames, extra: TaskFrames, extraLabelled: Bool, plan: TaskTrainingPlan, seeds: [UInt64]
    ) {
        self.training = training
        self.test = test
        self.extra = extra
        self.extraLabelled = extraLabelled
        self.plan = plan
        self.seeds = seeds
    }
}

/// The utility measure's figures (`evaluate --utility`, docs/evaluation.md):
/// for keypoints the mean point error and PCK, for masks the Dice
/// coefficient; the fields of the other task are absent.
public struct UtilityFigures: Codable, Sendable, Equatable {
    /// What the task model learns.
    public enum Task: String, Codable, Sendable {
        case keypoints, masks
    }

    public struct Arm: Codable, Sendable, Equatable {
        public var arm: UtilityArm
        /// Keypoints: mean point error in pixels over test series (each series the mean of its frames, averaged over seeds).
        public var meanError: Float?
        public var meanErrorInterval: [Float]?
        /// Keypoints: share of labelled test keypoints within `pck_threshold` pixels.
        public var pck: Float?
        public var pckInterval: [Float]?
        /// Keypoints: the mean point error of each seed's task model.
        public var meanErrorBySeed: [Float]?
        /// Masks: the mean Dice over test series, averaged as the mean error is.
        public var dice: Float?
        public var diceInterval: [Float]?
        /// Masks: the mean Dice of each seed's task model.
        public var diceBySeed: [Float]?
        public var trainingFrames: Int

        /// The figure the arms are compared by (mean point error, or Dice) and its interval.
        public var headline: (value: Float, interval: [Float]) {
            (meanError ?? dice ?? .nan, meanErrorInterval ?? diceInterval ?? [])
        }
    }

    /// An arm against another: its headline figure minus the other's, paired by test series.
    public struct Difference: Codable, Sendable, Equatable {
        public var arm: UtilityArm
        public var against: UtilityArm
        public var meanErrorDifference: Float?
        public var diceDifference: Float?
        public var interval: [Float]
        public var verdict: UtilityVerdict

        public var headline: Float { meanErrorDifference ?? diceDifference ?? .nan }
    }

    public var task: Task
    public var arms: [Arm]
    public var differences: [Difference]
    /// Whether the model's frames were labelled by the real-only task model.
    public var pseudoLabels: Bool
    /// Keypoints: PCK's distance in pixels.
    public var pckThreshold: Float?
    public var testSeries: Int
    public var testFrames: Int
    public var seeds: [UInt64]
    public var plan: TaskTrainingPlan

    enum CodingKeys: String, CodingKey {
        case task, arms, differences, seeds, plan
        case pseudoLabels = "pseudo_labels", pckThreshold = "pck_threshold", testSeries = "test_series", testFrames = "test_frames"
    }
}

extension UtilityFigures {
    /// The headline figure's name and unit, and the kind of task model, as the text and the report print them.
    public var figureName: String { task == .masks ? "Dice" : "mean point error" }
    public var figureUnit: String { task == .masks ? "" : "px" }
    public var taskModelKind: String { task == .masks ? "segmentation" : "keypoint" }
}

extension UtilityFigures.Arm {
    enum CodingKeys: String, CodingKey {
        case arm, pck, dice
        case meanError = "mean_error", meanErrorInterval = "mean_error_interval", pckInterval = "pck_interval"
        case meanErrorBySeed = "mean_error_by_seed", diceInterval = "dice_interval", diceBySeed = "dice_by_seed"
        case trainingFrames = "training_frames"
    }
}

extension UtilityFigures.Difference {
    enum CodingKeys: String, CodingKey {
        case arm, against, interval, verdict
        case meanErrorDifference = "mean_error_difference", diceDifference = "dice_difference"
    }
}

/// What a difference between two arms allows one to say.
public enum UtilityVerdict: String, Codable, Sendable {
    /// The arm does better: its error is lower (the interval lies wholly
    /// below 0), or its Dice higher (wholly above 0).
    case helps
    /// The arm does worse.
    case hurts
    /// The interval holds 0 (or there are no test series to draw).
    case noDifferenceShown = "no difference shown"

    init(interval: [Float], higherIsBetter: Bool) {
        guard interval.count == 2 else {
            self = .noDifferenceShown
            return
        }
        let (better, worse): (Self, Self) = higherIsBetter ? (.hurts, .helps) : (.helps, .hurts)
        self = interval[1] < 0 ? better : interval[0] > 0 ? worse : .noDifferenceShown
    }
}

extension UtilityFigures {
    /// Where the generated frames' labels come from, in words.
    public var labelSource: String {
        pseudoLabels
            ? "labelled by the real-only task model (pseudo-labels)"
            : "with the labels the model drew (the pseudo-labelled arms: the real-only task model's labels of the same frames)"
    }
}

/// Does adding a model's frames help a task model learn? Trains the task
/// model on each arm's frames and tests it on real frames of series it never
/// saw; intervals come from drawing test series again (docs/evaluation.md).
public enum UtilityMeasure {
    /// The differences reported: every arm against real frames alone, the
    /// model's frames against classic augmentation, the baseline a generator
    /// must beat to be worth its compute, and for a model that draws labels,
    /// its own labels against pseudo-labels of the same frames.
    public static func comparisons(ownLabels: Bool) -> [(arm: UtilityArm, against: UtilityArm)] {
        let common: [(arm: UtilityArm, against: UtilityArm)] = [
            (.realAugmented, .real), (.realSynthetic, .real), (.realSyntheticAugmented, .real), (.synthetic, .real),
            (.realSynthetic, .realAugmented), (.realSyntheticAugmented, .realAugmented),
        ]
        guard ownLabels else { return common }
        return common + [
            (.realPseudoLabelled, .real), (.realSynthetic, .realPseudoLabelled),
            (.realSyntheticAugmented, .realPseudoLabelledAugmented), (.synthetic, .pseudoLabelled),
        ]
    }

    /// Runs every arm for every seed. `progress` gets the arm and seed done, in order.
    public static func run(
        _ request: UtilityRequest, progress: (UtilityArm, UInt64) -> Void = { _, _ in }
    ) -> UtilityFigures {
        runKeepingPredictions(request, progress: progress).figures
    }

    /// `run`, with what each arm's first task model finds on the test frames (for the report's sheet).
    static func runKeepingPredictions(
        _ request: UtilityRequest, progress: (UtilityArm, UInt64) -> Void
    ) -> (figures: UtilityFigures, predictions: [UtilityArm: [[Float]]]) {
        let threshold = request.pckFraction * Float(request.test.side)
        let augmentation = ClassicAugmentation()
        // Per arm, per seed: each test frame's score.
        var scores: [UtilityArm: [[TaskScore?]]] = [:]
        var trainingFrames: [UtilityArm: Int] = [:]
        var predictions: [UtilityArm: [[Float]]] = [:]
        for seed in request.seeds {
            let real = TrainedTaskModel.train(on: request.training, plan: request.plan, augmentation: nil, seed: seed)
            let pseudoLabelled = request.extra.relabelled(real.predict(request.extra))
            let extra = request.extraLabelled ? request.extra : pseudoLabelled
            for arm in UtilityArm.arms(ownLabels: request.extraLabelled) {
                let frames: TaskFrames
                switch arm {
                case .real, .realAugmented: frames = request.training
                case .realSynthetic, .realSyntheticAugmented: frames = request.training.adding(extra)
                case .synthetic: frames = extra
                case .realPseudoLabelled, .realPseudoLabelledAugmented: frames = request.training.adding(pseudoLabelled)
                case .pseudoLabelled: frames = pseudoLabelled
                }
                let model =
                    arm == .real
                    ? real
                    : TrainedTaskModel.train(
                        on: frames, plan: request.plan, augmentation: arm.augments ? augmentation : nil, seed: seed)
                let found = model.predict(request.test)
                if predictions[arm] == nil { predictions[arm] = found }
                scores[arm, default: []].append(TaskScore.perFrame(predicted: found, truth: request.test, threshold: threshold))
                trainingFrames[arm] = frames.count
                progress(arm, seed)
            }
        }
        return (figures(scores, trainingFrames: trainingFrames, request: request, threshold: threshold), predictions)
    }

    /// Per-series figures, their bootstrap intervals and the differences between arms.
    private static func figures(
        _ scores: [UtilityArm: [[TaskScore?]]], trainingFrames: [UtilityArm: Int], request: UtilityRequest, threshold: Float
    ) -> UtilityFigures {
        let series = GroupBootstrap.members(of: request.test.series)
        let arms = UtilityArm.arms(ownLabels: request.extraLabelled)
        let masks = request.test.head == .mask
        // [arm][series]: the series' mean frame score averaged over seeds, and its PCK hits and totals over seeds.
        let values = arms.map { seriesMeans(scores[$0] ?? [], series: series) }
        let hits = arms.map { arm in
            series.map { members in
                (scores[arm] ?? []).reduce(into: (hits: 0, total: 0)) { sum, frames in
                    for member in members { if let score = frames[member] { sum = (sum.hits + score.hits, sum.total + score.total) } }
                }
            }
        }
        let usable = series.indices.filter { index in values.allSatisfy { !$0[index].isNaN } }
        var random = EngineRandom(seed: request.bootstrapSeed)
        let draws = UtilityBootstrap.draw(series: usable, count: GroupBootstrap.draws, random: &random)
        let figures = arms.enumerated().map { index, arm in
            let value = UtilityBootstrap.mean(values[index], usable)
            let interval = GroupBootstrap.centralInterval(draws.map { UtilityBootstrap.mean(values[index], $0) })
            let bySeed = (scores[arm] ?? []).map { frames in
                let values = frames.compactMap { $0?.value }
                return values.reduce(0, +) / Float(max(1, values.count))
            }
            var figure = UtilityFigures.Arm(arm: arm, trainingFrames: trainingFrames[arm] ?? 0)
            if masks {
                (figure.dice, figure.diceInterval, figure.diceBySeed) = (value, interval, bySeed)
            } else {
                (figure.meanError, figure.meanErrorInterval, figure.meanErrorBySeed) = (value, interval, bySeed)
                figure.pck = UtilityBootstrap.ratio(hits[index], usable)
                figure.pckInterval = GroupBootstrap.centralInterval(draws.map { UtilityBootstrap.ratio(hits[index], $0) })
            }
            return figure
        }
        let differences = comparisons(ownLabels: request.extraLabelled).map { arm, against in
            let (a, b) = (arms.firstIndex(of: arm) ?? 0, arms.firstIndex(of: against) ?? 0)
            let difference = values[a].indices.map { values[a][$0] - values[b][$0] }
            let interval = GroupBootstrap.centralInterval(draws.map { UtilityBootstrap.mean(difference, $0) })
            let mean = UtilityBootstrap.mean(difference, usable)
            return UtilityFigures.Difference(
                arm: arm, against: against, meanErrorDifference: masks ? nil : mean, diceDifference: masks ? mean : nil,
                interval: interval, verdict: UtilityVerdict(interval: interval, higherIsBetter: masks))
        }
        return UtilityFigures(
            task: masks ? .masks : .keypoints, arms: figures, differences: differences, pseudoLabels: !request.extraLabelled,
            pckThreshold: masks ? nil : threshold, testSeries: usable.count, testFrames: request.test.count, seeds: request.seeds,
            plan: request.plan)
    }

    /// Per series (`series` lists each one's frames): the mean of its frames'
    /// scores for each seed, averaged over seeds; NaN where no frame scored.
    private static func seriesMeans(_ bySeed: [[TaskScore?]], series: [[Int]]) -> [Double] {
        series.map { members in
            let perSeed = bySeed.compactMap { frames -> Double? in
                let values = members.compactMap { frames[$0]?.value }
                return values.isEmpty ? nil : Double(values.reduce(0, +)) / Double(values.count)
            }
            return perSeed.isEmpty ? .nan : perSeed.reduce(0, +) / Double(perSeed.count)
        }
    }
}

/// Test series drawn again with replacement, the same draws for every arm
/// (so differences between arms are paired), and the figures of a draw.
enum UtilityBootstrap {
    static func draw(series: [Int], count: Int, random: inout EngineRandom) -> [[Int]] {
        guard !series.isEmpty else { return [] }
        return (0..<count).map { _ in series.map { _ in series[Int(random.nextUInt64() % UInt64(series.count))] } }
    }

    static func mean(_ values: [Double], _ members: [Int]) -> Float {
        Float(members.reduce(0) { $0 + values[$1] } / Double(max(1, members.count)))
    }

    static func ratio(_ counts: [(hits: Int, total: Int)], _ members: [Int]) -> Float {
        let hits = members.reduce(0) { $0 + counts[$1].hits }, total = members.reduce(0) { $0 + counts[$1].total }
        return Float(hits) / Float(max(1, total))
    }
}
