import Engine
import Foundation

/// The mask head's loss (docs/evaluation.md, "Utility"): binary
/// cross-entropy on the logits, averaged over pixels, plus one minus the
/// soft Dice coefficient of the sigmoid probabilities, averaged over images
/// (Milletari et al. 2016). The cross-entropy gives every pixel a gradient
/// from the start; the Dice term keeps a small object from drowning in its
/// background.
public enum MaskLoss {
    /// Smooths the Dice ratio, so an empty mask predicted empty scores 1.
    static let smoothing: Double = 1

    /// The loss of `logits` [N, 1, H, W] against `target` (N * H * W values,
    /// 0 or 1), and its gradient with respect to the logits into `gradient`.
    public static func diceCrossEntropy(logits: Tensor, target: [Float], gradient: inout Tensor?) -> Float {
        precondition(target.count == logits.count, "mask targets do not match the logits")
        let g = reuseTensor(&gradient, logits.shape)
        let images = logits.shape[0], plane = logits.count / max(1, images)
        var crossEntropy: Double = 0, dice: Double = 0
        for image in 0..<images {
            let range = (image * plane)..<((image + 1) * plane)
            var overlap: Double = 0, predicted: Double = 0, truth: Double = 0
            for index in range {
                let z = Double(logits.data[index]), t = Double(target[index])
                let p = 1 / (1 + exp(-z))
                // max(z, 0) - z t + log(1 + exp(-|z|)): the stable form.
                crossEntropy += max(z, 0) - z * t + log1p(exp(-abs(z)))
                overlap += p * t
                predicted += p
                truth += t
            }
            let numerator = 2 * overlap + smoothing, denominator = predicted + truth + smoothing
            dice += numerator / denominator
            for index in range {
                let z = Double(logits.data[index]), t = Double(target[index])
                let p = 1 / (1 + exp(-z))
                let dDice = (2 * t * denominator - numerator) / (denominator * denominator)
                g.data[index] = Float((p - t) / Double(logits.count) - dDice * p * (1 - p) / Double(images))
            }
        }
        return Float(crossEntropy / Double(logits.count) + 1 - dice / Double(images))
    }

    /// The Dice coefficient of `predicted` and `truth` masks (0 or 1 each):
    /// 2 |A and B| / (|A| + |B|), and 1 when both are empty.
    public static func dice(_ predicted: [Bool], _ truth: [Bool]) -> Float {
        let overlap = zip(predicted, truth).filter { $0 && $1 }.count
        let total = predicted.filter { $0 }.count + truth.filter { $0 }.count
        return total == 0 ? 1 : Float(2 * overlap) / Float(total)
    }
}
