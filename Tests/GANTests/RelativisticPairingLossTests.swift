import Engine
import Testing

@testable import GAN

/// The relativistic pairing loss (`train --loss relativistic`).
@Suite("Relativistic pairing loss")
struct RelativisticPairingLossTests {
    static let winner: [Float] = [0, 1.5, -2, 30, -25, 0.3]
    static let loser: [Float] = [0, -0.5, 1, 0, 0, 0.3]

    static func loss(_ winner: [Float], _ loser: [Float]) -> (loss: Float, winnerGradient: [Float], loserGradient: [Float]) {
        let result = RelativisticPairingLoss.loss(
            winner: Tensor(shape: [winner.count, 1], values: winner), loser: Tensor(shape: [loser.count, 1], values: loser))
        return (result.loss, result.winnerGradient.values, result.loserGradient.values)
    }

    @Test("the loss and its gradients against numpy's (Fixtures/make_relativistic_reference.py), margins of 30 included")
    func matchesReference() {
        let (loss, winnerGradient, loserGradient) = Self.loss(Self.winner, Self.loser)
        let reference: [Float] = [
            -0.08333333333333333, -0.019867153670352924, -0.15876235447040557, -1.559603828139883e-14, -0.166666666664352,
            -0.08333333333333333,
        ]
        #expect(abs(loss - 4.926968287291764) < 1e-5)
        for index in reference.indices {
            #expect(abs(winnerGradient[index] - reference[index]) < 1e-7 && abs(loserGradient[index] + reference[index]) < 1e-7)
        }
    }

    @Test("the gradients match finite differences of the loss")
    func gradientMatchesFiniteDifferences() {
        let (_, winnerGradient, loserGradient) = Self.loss(Self.winner, Self.loser)
        var largest: Float = 0
        for index in Self.winner.indices where abs(Self.winner[index]) < 10 {
            let step: Float = 1e-2
            for (values, analytic, isWinner) in [(Self.winner, winnerGradient, true), (Self.loser, loserGradient, false)] {
                var up = values, down = values
                up[index] += step
                down[index] -= step
                let numeric =
                    isWinner
                    ? (Self.loss(up, Self.loser).loss - Self.loss(down, Self.loser).loss) / (2 * step)
                    : (Self.loss(Self.winner, up).loss - Self.loss(Self.winner, down).loss) / (2 * step)
                largest = max(largest, abs(numeric - analytic[index]))
            }
        }
        print("relativistic pairing loss: largest difference from finite differences \(largest)")
        #expect(largest < 1e-3)
    }

    @Test(
        "a training step with the relativistic loss, without and with the gradient penalty: both losses stay finite and D learns to score the real batch above the generated one",
        arguments: [nil, 0.1] as [Float?])
    func discriminatorLearnsThePairing(penalty: Float?) {
        let step = TrainingStep(generator: Generator(preset: .compact, seed: 3), discriminator: Discriminator(resolution: 64, seed: 4))
        step.loss = .relativistic
        step.penalty = penalty.map { GradientPenalty(weight: $0) }
        var random = EngineRandom(seed: 5)
        // A fixed "real" batch: bright discs on dark; a fixed latent batch.
        let real = Tensor(
            shape: [8, 1, 64, 64],
            values: (0..<(8 * 64 * 64)).map { index in
                let x = Float(index % 64) - 32, y = Float(index / 64 % 64) - 32
                return x * x + y * y < 200 ? 0.8 : -0.9
            })
        let dimension = step.generator.configuration.latentDimension
        let latents = Tensor(shape: [8, dimension], values: (0..<(8 * dimension)).map { _ in random.normal() })
        let results = (0..<6).map { _ in step.run(real: real, latents: latents) }
        let losses = results.map(\.discriminatorLoss)
        print("relativistic D loss over 6 steps, penalty \(penalty.map { "\($0)" } ?? "none"): \(losses)")
        #expect(results.allSatisfy { $0.discriminatorLoss.isFinite && $0.generatorLoss.isFinite })
        #expect(losses.last! < losses.first!, "D's pairing loss falls while it learns the fixed batches")
    }
}
