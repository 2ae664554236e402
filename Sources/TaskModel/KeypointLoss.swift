import Engine

/// The task model's loss: the smooth L1 (Huber, 1 pixel) distance between
/// predicted and true keypoint coordinates, averaged over the coordinates of
/// the labelled keypoints (COCO's v > 0); keypoints that are not labelled
/// add nothing.
public enum KeypointLoss {
    /// The loss of `predicted` [N, K, 2] against `target` (N * K * 2 values)
    /// where `labelled` (N * K) is true, and its gradient into `gradient`.
    public static func smoothL1(predicted: Tensor, target: [Float], labelled: [Bool], gradient: inout Tensor?) -> Float {
        precondition(
            target.count == predicted.count && labelled.count * 2 == predicted.count, "keypoint targets do not match the prediction")
        let g = reuseTensor(&gradient, predicted.shape)
        g.fill(0)
        let count = max(1, labelled.filter { $0 }.count * 2)
        var total: Double = 0
        for point in labelled.indices where labelled[point] {
            for axis in 0..<2 {
                let index = 2 * point + axis
                let difference = predicted.data[index] - target[index]
                if abs(difference) < 1 {
                    total += Double(0.5 * difference * difference)
                    g.data[index] = difference / Float(count)
                } else {
                    total += Double(abs(difference) - 0.5)
                    g.data[index] = (difference > 0 ? 1 : -1) / Float(count)
                }
            }
        }
        return Float(total / Double(count))
    }
}
