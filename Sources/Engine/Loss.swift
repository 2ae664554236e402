import Foundation

/// Binary cross-entropy on logits, averaged over the batch (PyTorch's
/// BCEWithLogitsLoss, reduction mean), in the numerically stable form
/// max(x, 0) - x t + log(1 + exp(-|x|)).
public enum BinaryCrossEntropy {
    /// The mean loss of `logits` [N, 1] against the constant `target`, and
    /// its gradient with respect to the logits in `gradient`.
    public static func withLogits(_ logits: Tensor, target: Float, gradient: inout Tensor?) -> Float {
        let n = logits.count
        let dx = reuseTensor(&gradient, logits.shape)
        var total: Double = 0
        for i in 0..<n {
            let x = logits.data[i]
            total += Double(max(x, 0) - x * target + log1pf(expf(-abs(x))))
            let sigmoid = 1 / (1 + expf(-x))
            dx.data[i] = (sigmoid - target) / Float(n)
        }
        return Float(total / Double(n))
    }
}
