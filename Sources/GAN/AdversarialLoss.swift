import Engine
import Foundation

/// The adversarial loss of training (docs/training.md, `train --loss`).
public enum AdversarialLoss: String, Codable, Sendable, CaseIterable {
    /// The paper's: D's binary cross-entropy on real (1) and generated (0)
    /// images, G's non-saturating loss (generated labelled 1).
    case nonSaturating = "non-saturating"
    /// The relativistic pairing loss (RpGAN: Jolicoeur-Martineau 2019; the
    /// loss of R3GAN, Huang et al. 2024): `RelativisticPairingLoss`.
    case relativistic
}

/// The relativistic pairing loss: real image i of a batch is paired with
/// generated image i, and D learns to score each real image above its
/// partner rather than each image against a fixed threshold; D's loss is
/// mean_i softplus(-(d_real_i - d_generated_i)), G's the same with the roles
/// swapped. Each pair's loss depends only on the difference of its logits,
/// which R3GAN found removes the mode dropping that a fixed threshold allows.
public enum RelativisticPairingLoss {
    /// mean_i softplus(-(winner_i - loser_i)) over paired logits [N, 1], and
    /// its gradients with respect to `winner` and to `loser` (each [N, 1]).
    public static func loss(winner: Tensor, loser: Tensor) -> (loss: Float, winnerGradient: Tensor, loserGradient: Tensor) {
        precondition(winner.shape == loser.shape, "relativistic pairs need one loser logit per winner logit")
        let count = winner.count
        let winnerGradient = Tensor(shape: winner.shape), loserGradient = Tensor(shape: loser.shape)
        var total: Double = 0
        for index in 0..<count {
            let margin = Double(winner.data[index] - loser.data[index])
            // softplus(-m) = max(-m, 0) + log(1 + exp(-|m|)): the stable form; its slope in m is -sigmoid(-m).
            total += max(-margin, 0) + log1p(exp(-abs(margin)))
            let slope = Float(1 / (1 + exp(margin)) / Double(count))
            winnerGradient.data[index] = -slope
            loserGradient.data[index] = slope
        }
        return (Float(total / Double(count)), winnerGradient, loserGradient)
    }
}
