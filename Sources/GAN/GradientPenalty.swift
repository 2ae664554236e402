import Engine

/// The first-order stand-in for R1 and R2 (`train --gradient-penalty`).
///
/// R1 (Mescheder, Geiger and Nowozin 2018) adds (gamma / 2) E|grad_x D(x)|^2
/// over real images to D's loss, R2 the same over generated ones; R3GAN
/// (Huang et al. 2024) pairs both with the relativistic loss. Their gradient
/// with respect to D's weights needs a gradient of a gradient, which the
/// engine does not have. For a small sigma and e ~ N(0, I),
/// D(x + sigma e) - D(x) ~ sigma grad_x D(x) . e, whose square has the mean
/// sigma^2 |grad_x D(x)|^2 over e; so
///
///     (gamma / 2) mean_i ((D(x_i + sigma e_i) - D(x_i)) / sigma)^2
///
/// has R1's value in expectation and needs only ordinary gradients: one more
/// pass of D over the perturbed batch, back-propagated.
public final class GradientPenalty {
    /// gamma, the weight of R1 and of R2.
    public let weight: Float
    /// sigma, the perturbation's scale, in the [-1, 1] units of D's input.
    public let scale: Float
    /// The perturbations' source; set it before each step for reproducible ones.
    public var random = EngineRandom(seed: 0)
    private var perturbed: Tensor?

    public init(weight: Float, scale: Float = 0.01) {
        precondition(weight > 0 && scale > 0, "a gradient penalty needs a positive weight and scale")
        self.weight = weight
        self.scale = scale
    }

    /// `images` [N, C, H, W] plus sigma times fresh standard normal noise.
    /// The result's storage is reused by the next call.
    public func perturb(_ images: Tensor) -> Tensor {
        let output = reuseTensor(&perturbed, images.shape)
        for index in 0..<images.count { output.data[index] = images.data[index] + scale * random.normal() }
        return output
    }

    /// The penalty (gamma / 2) mean_i ((perturbed_i - clean_i) / sigma)^2 of
    /// D's logits [N, 1] on a batch and on its perturbed copy, and its
    /// gradients with respect to each (opposite: [N, 1]).
    public func loss(clean: Tensor, perturbed: Tensor) -> (loss: Float, cleanGradient: Tensor, perturbedGradient: Tensor) {
        precondition(clean.shape == perturbed.shape, "a gradient penalty needs one perturbed logit per logit")
        let count = clean.count
        let cleanGradient = Tensor(shape: clean.shape), perturbedGradient = Tensor(shape: clean.shape)
        let slope = weight / (scale * scale * Float(count))
        var total: Double = 0
        for index in 0..<count {
            let difference = perturbed.data[index] - clean.data[index]
            total += Double(difference) * Double(difference)
            perturbedGradient.data[index] = slope * difference
            cleanGradient.data[index] = -slope * difference
        }
        return (Float(Double(weight) / 2 * total / Double(Float(count) * scale * scale)), cleanGradient, perturbedGradient)
    }

    /// Adds the penalty's parameter gradients through D's pass over a
    /// perturbed copy of `seen` (what D saw, logits `clean`) into D's store,
    /// and returns its gradient with respect to `clean`, for the caller to
    /// back-propagate with the clean pass's own. D's caches are then those
    /// of the perturbed pass.
    func accumulatePerturbedPass(
        of seen: Tensor, clean: Tensor, through discriminator: any DiscriminatorNetwork
    ) -> (loss: Float, cleanGradient: Tensor) {
        let perturbedLogits = discriminator.forward(perturb(seen), training: true)
        let penalty = loss(clean: clean, perturbed: perturbedLogits)
        discriminator.accumulateParameterGradients(penalty.perturbedGradient)
        return (penalty.loss, penalty.cleanGradient)
    }
}
