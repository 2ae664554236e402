import Engine

/// How the task model is trained: the same in every arm of the utility
/// measure, so that only the data differ (docs/evaluation.md, "Utility").
public struct TaskTrainingPlan: Codable, Sendable, Equatable {
    public var steps: Int
    public var batch: Int
    public var learningRate: Float
    /// Channels of the U-Net's first level.
    public var width: Int
    public var levels: Int

    public init(steps: Int = 600, batch: Int = 16, learningRate: Float = 2e-3, width: Int = 16, levels: Int = 3) {
        self.steps = steps
        self.batch = batch
        self.learningRate = learningRate
        self.width = width
        self.levels = levels
    }
}

/// A trained task model and what it finds.
public struct TrainedTaskModel {
    let network: TaskNetwork

    /// Trains a fresh network (initialised from `seed`) on `frames` for the
    /// plan's steps: batches drawn with replacement from `seed`'s stream,
    /// augmented when `augmentation` is given; Adam (beta1 0.9). Keypoints
    /// learn by `KeypointLoss`, masks by `MaskLoss`.
    public static func train(
        on frames: TaskFrames, plan: TaskTrainingPlan, augmentation: ClassicAugmentation?, seed: UInt64
    ) -> TrainedTaskModel {
        precondition(frames.count > 0, "no frames to train the task model on")
        let side = frames.side
        let network = TaskNetwork(
            TaskNetwork.Configuration(side: side, head: frames.head, width: plan.width, levels: plan.levels),
            seed: SeedStreams.seed(.taskModelInitialisation, seed: seed))
        let optimizer = Adam(store: network.store, learningRate: plan.learningRate, beta1: 0.9)
        var random = SeedStreams.stream(.taskModelBatches, seed: seed)
        var gradient: Tensor?
        let images = Tensor(shape: [plan.batch, 1, side, side])
        for _ in 0..<plan.steps {
            var targets: [Float] = [], labelled: [Bool] = []
            for item in 0..<plan.batch {
                let index = Int(random.nextUInt64() % UInt64(frames.count))
                var (image, target, marks) = (frames.images[index], frames.targets[index], frames.labelled[index])
                if let augmentation {
                    (image, target, marks) = augmentation.apply(
                        image: image, target: target, labelled: marks, head: frames.head, side: side, random: &random)
                }
                Self.normalise(image, into: images.data + item * side * side)
                targets += target
                labelled += marks
            }
            network.store.zeroGradients()
            let predicted = network.forward(images, training: true)
            switch frames.head {
            case .keypoints:
                _ = KeypointLoss.smoothL1(predicted: predicted, target: targets, labelled: labelled, gradient: &gradient)
            case .mask:
                _ = MaskLoss.diceCrossEntropy(logits: predicted, target: targets, gradient: &gradient)
            }
            network.backward(kept(gradient))
            optimizer.update()
        }
        return TrainedTaskModel(network: network)
    }

    /// What the model finds on each frame of `frames`, as a target of
    /// theirs: K * 2 coordinates, or a mask of 0 and 1 (logit above 0).
    public func predict(_ frames: TaskFrames) -> [[Float]] {
        let side = frames.side, chunk = 32, width = frames.targetCount
        var result: [[Float]] = []
        for start in stride(from: 0, to: frames.count, by: chunk) {
            let count = min(chunk, frames.count - start)
            let images = Tensor(shape: [count, 1, side, side])
            for item in 0..<count { Self.normalise(frames.images[start + item], into: images.data + item * side * side) }
            let predicted = network.forward(images, training: false).values
            for item in 0..<count {
                let target = predicted[item * width..<(item + 1) * width]
                result.append(frames.head == .mask ? target.map { $0 > 0 ? 1 : 0 } : Array(target))
            }
        }
        return result
    }

    /// 0...255 to -1...1, as the generator's frames are scaled.
    private static func normalise(_ image: [Float], into destination: UnsafeMutablePointer<Float>) {
        for index in image.indices { destination[index] = image[index] / 127.5 - 1 }
    }

    private static func kept(_ gradient: Tensor?) -> Tensor {
        guard let gradient else { preconditionFailure("the task loss gave no gradient") }
        return gradient
    }
}

/// How well a task model's prediction fits one labelled frame: for
/// keypoints the mean distance in pixels between predicted and true
/// labelled keypoints (`value`) and how many lie within the PCK threshold
/// (`hits`) of how many labelled (`total`); for a mask its Dice with the
/// true mask (`value`, hits and total 0).
public struct TaskScore: Sendable, Equatable {
    public var value: Float
    public var hits: Int
    public var total: Int

    /// Per frame of `truth`, the score of `predicted` (its targets); frames
    /// without a labelled keypoint are left out (nil). PCK counts a keypoint
    /// within `threshold` pixels.
    public static func perFrame(predicted: [[Float]], truth: TaskFrames, threshold: Float) -> [TaskScore?] {
        zip(predicted, truth.targets.indices).map { prediction, index in
            let target = truth.targets[index]
            guard truth.head != .mask else {
                return TaskScore(value: MaskLoss.dice(prediction.map { $0 > 0.5 }, target.map { $0 > 0.5 }), hits: 0, total: 0)
            }
            let labelled = truth.labelled[index]
            var distances: [Float] = []
            for point in labelled.indices where labelled[point] {
                let dx = prediction[2 * point] - target[2 * point], dy = prediction[2 * point + 1] - target[2 * point + 1]
                distances.append((dx * dx + dy * dy).squareRoot())
            }
            guard !distances.isEmpty else { return nil }
            return TaskScore(
                value: distances.reduce(0, +) / Float(distances.count), hits: distances.filter { $0 <= threshold }.count,
                total: distances.count)
        }
    }
}
