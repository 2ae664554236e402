import Engine

/// How the task model is trained: the same in every arm of the utility
/// measure, so that only the data differ (docs/evaluation.md, "Utility").
public struct KeypointTrainingPlan: Codable, Sendable, Equatable {
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
public struct KeypointModel {
    let network: TaskNetwork

    /// Trains a fresh network (initialised from `seed`) on `frames` for the
    /// plan's steps: batches drawn with replacement from `seed`'s stream,
    /// augmented when `augmentation` is given; Adam (beta1 0.9).
    public static func train(
        on frames: KeypointSet, plan: KeypointTrainingPlan, augmentation: ClassicAugmentation?, seed: UInt64
    ) -> KeypointModel {
        precondition(frames.count > 0, "no frames to train the task model on")
        let side = frames.side
        let network = TaskNetwork(
            TaskNetwork.Configuration(side: side, head: .keypoints(frames.keypointCount), width: plan.width, levels: plan.levels),
            seed: SeedStreams.seed(.taskModelInitialisation, seed: seed))
        let optimizer = Adam(store: network.store, learningRate: plan.learningRate, beta1: 0.9)
        var random = SeedStreams.stream(.taskModelBatches, seed: seed)
        var gradient: Tensor?
        let images = Tensor(shape: [plan.batch, 1, side, side])
        for _ in 0..<plan.steps {
            var targets: [Float] = [], labelled: [Bool] = []
            for item in 0..<plan.batch {
                let index = Int(random.nextUInt64() % UInt64(frames.count))
                var (image, keypoints, marks) = (frames.images[index], frames.keypoints[index], frames.labelled[index])
                if let augmentation {
                    (image, keypoints, marks) = augmentation.apply(
                        image: image, keypoints: keypoints, labelled: marks, side: side, random: &random)
                }
                Self.normalise(image, into: images.data + item * side * side)
                targets += keypoints
                labelled += marks
            }
            network.store.zeroGradients()
            let predicted = network.forward(images, training: true)
            _ = KeypointLoss.smoothL1(predicted: predicted, target: targets, labelled: labelled, gradient: &gradient)
            network.backward(kept(gradient))
            optimizer.update()
        }
        return KeypointModel(network: network)
    }

    /// The keypoints the model finds on each frame of `frames` (K * 2 values each).
    public func predict(_ frames: KeypointSet) -> [[Float]] {
        let side = frames.side, chunk = 32
        var result: [[Float]] = []
        for start in stride(from: 0, to: frames.count, by: chunk) {
            let count = min(chunk, frames.count - start)
            let images = Tensor(shape: [count, 1, side, side])
            for item in 0..<count { Self.normalise(frames.images[start + item], into: images.data + item * side * side) }
            let predicted = network.forward(images, training: false).values
            let width = 2 * frames.keypointCount
            for item in 0..<count { result.append(Array(predicted[item * width..<(item + 1) * width])) }
        }
        return result
    }

    /// 0...255 to -1...1, as the generator's frames are scaled.
    private static func normalise(_ image: [Float], into destination: UnsafeMutablePointer<Float>) {
        for index in image.indices { destination[index] = image[index] / 127.5 - 1 }
    }

    private static func kept(_ gradient: Tensor?) -> Tensor {
        guard let gradient else { preconditionFailure("the keypoint loss gave no gradient") }
        return gradient
    }
}

/// What a task model's keypoints score on labelled frames.
public enum KeypointScores {
    /// Per frame: the mean distance in pixels between predicted and true
    /// labelled keypoints, and how many of them lie within `threshold`
    /// pixels (PCK's hits) of how many labelled; frames without a labelled
    /// keypoint are left out (nil).
    public static func perFrame(predicted: [[Float]], truth: KeypointSet, threshold: Float) -> [(error: Float, hits: Int, total: Int)?] {
        zip(predicted, truth.keypoints.indices).map { prediction, index in
            let labelled = truth.labelled[index]
            var distances: [Float] = []
            for point in labelled.indices where labelled[point] {
                let dx = prediction[2 * point] - truth.keypoints[index][2 * point]
                let dy = prediction[2 * point + 1] - truth.keypoints[index][2 * point + 1]
                distances.append((dx * dx + dy * dy).squareRoot())
            }
            guard !distances.isEmpty else { return nil }
            return (distances.reduce(0, +) / Float(distances.count), distances.filter { $0 <= threshold }.count, distances.count)
        }
    }
}
