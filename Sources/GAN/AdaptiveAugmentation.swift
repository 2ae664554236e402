import Engine

/// Adaptive discriminator augmentation (Karras, Aittala, Hellsten, Laine,
/// Lehtinen and Aila, "Training Generative Adversarial Networks with Limited
/// Data", NeurIPS 2020): the augmentation probability p follows the
/// overfitting heuristic
///
///     r_t = E[sign(D(x_real))]
///
/// over the real images D saw in its last `interval` steps. A D that
/// memorises its training set calls every real image real (r_t near 1); one
/// that cannot tell calls half of them so (r_t near 0). With the relativistic
/// pairing loss D's output has no zero to call real by (the loss sees only
/// differences, so the logits drift as a whole: measured, p went to 0 in one
/// run and to 1 in another), and r_t is taken over its pairs instead,
///
///     r_t = E[sign(D(x_real) - D(G(z)))],
///
/// 1 when D ranks every real image above its generated partner, 0 when it
/// ranks half of them so. Every `interval`
/// steps, p moves up when r_t is above `target` and down otherwise, by as
/// much as lets it go from 0 to 1 in `rampImages` images, and stays in
/// [0, 1]. p starts at 0.
///
/// The transforms are DiffAugment's (`DiffAugment.probability`), each applied
/// to an image with probability p, instead of on every image: ADA's own
/// pipeline adds flips, rotations and scaling, which would teach an
/// ultrasound generator mirror-image anatomy when p leaks.
public final class AdaptiveAugmentation {
    /// The r_t that p steers towards: 0.6 in the paper.
    public let target: Float
    /// Images over which p can go from 0 to 1 (500,000 in the paper, whose
    /// runs see millions of images; medsynth's see tens of thousands).
    public let rampImages: Int
    /// Steps between adjustments (4 in the paper).
    public static let interval = 4
    /// The probability the next step augments with.
    public private(set) var probability: Float = 0
    /// The signs summed since the last adjustment (of D's real logits, or of
    /// its real-minus-generated differences), and their count.
    public private(set) var signSum: Float = 0
    public private(set) var signCount = 0

    public init(target: Float, rampImages: Int) {
        precondition(rampImages > 0, "the ramp needs at least one image")
        self.target = target
        self.rampImages = rampImages
    }

    /// The sum of the signs of `logits` [N, 1], less those of `baseline`
    /// [N, 1] pair by pair when given: N when D calls every image real, or
    /// ranks every real image above its generated partner.
    public static func signSum(_ logits: Tensor, minus baseline: Tensor? = nil) -> Float {
        var sum: Float = 0
        for index in 0..<logits.count {
            let difference = logits.data[index] - (baseline?.data[index] ?? 0)
            sum += difference > 0 ? 1 : (difference < 0 ? -1 : 0)
        }
        return sum
    }

    /// Counts a step's `count` real images (or pairs), whose signs sum to `signSum`.
    public func observe(signSum: Float, count: Int) {
        self.signSum += signSum
        signCount += count
    }

    /// Call after each step of `batchSize` images: every `interval` steps,
    /// moves p by sign(r_t - target) times the interval's share of the ramp.
    public func adjust(step: Int, batchSize: Int) {
        guard step % Self.interval == 0, signCount > 0 else { return }
        let overfitting = signSum / Float(signCount)
        let change = Float(batchSize * Self.interval) / Float(rampImages)
        let direction: Float = overfitting > target ? 1 : (overfitting < target ? -1 : 0)
        probability = min(1, max(0, probability + direction * change))
        signSum = 0
        signCount = 0
    }

    /// The state a checkpoint saved.
    public func restore(probability: Float, signSum: Float, signCount: Int) {
        self.probability = probability
        self.signSum = signSum
        self.signCount = signCount
    }
}
