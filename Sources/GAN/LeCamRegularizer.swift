import Engine

/// LeCam regularisation of the discriminator (Tseng et al., "Regularizing
/// Generative Adversarial Networks under Limited Data", CVPR 2021): D's
/// logits on real images are held near the moving average of its logits on
/// generated ones, and the other way round,
///
///     R = mean(relu(D(x) - anchor_generated)^2) + mean(relu(anchor_real - D(G(z)))^2),
///
/// added to D's loss with `weight`. It keeps D from pushing the two sets
/// ever further apart on a few hundred images, which is how D overfits.
/// The anchors are exponential moving averages (decay 0.99) of the mean
/// logits of the steps before; the first step sets them and has no term.
public final class LeCamRegularizer {
    public let weight: Float
    public static let decay: Float = 0.99
    /// The moving averages of D's mean logit on real and on generated
    /// images; nil before the first step.
    public private(set) var anchors: (real: Float, generated: Float)?

    public init(weight: Float) { self.weight = weight }

    /// `weight` times the term of `logits` [N, 1], with its gradient added
    /// into `gradient` [N, 1]: real logits (`real` true) are pulled down to
    /// the generated anchor, generated ones up to the real anchor. 0 before
    /// the first step has set the anchors.
    @discardableResult
    public func addTerm(logits: Tensor, real: Bool, into gradient: Tensor) -> Float {
        guard let anchors else { return 0 }
        let anchor = real ? anchors.generated : anchors.real
        let count = Float(logits.count)
        var term: Float = 0
        for index in 0..<logits.count {
            let excess = max(0, real ? logits.data[index] - anchor : anchor - logits.data[index])
            term += excess * excess / count
            gradient.data[index] += weight * 2 * excess / count * (real ? 1 : -1)
        }
        return weight * term
    }

    /// The anchors a checkpoint saved.
    public func restore(anchors: (real: Float, generated: Float)) { self.anchors = anchors }

    /// Moves the anchors towards this step's mean logits (sets them at the first step).
    public func update(realMean: Float, generatedMean: Float) {
        guard let anchors else {
            anchors = (realMean, generatedMean)
            return
        }
        self.anchors = (
            Self.decay * anchors.real + (1 - Self.decay) * realMean, Self.decay * anchors.generated + (1 - Self.decay) * generatedMean
        )
    }
}
