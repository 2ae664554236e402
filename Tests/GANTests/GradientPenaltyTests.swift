import Engine
import Testing

@testable import GAN

/// The first-order R1 and R2 stand-in (`train --gradient-penalty`).
@Suite("Gradient penalty")
struct GradientPenaltyTests {
    @Test("the penalty and its gradients against numpy's (Fixtures/make_gradient_penalty_reference.py)")
    func matchesReference() {
        let penalty = GradientPenalty(weight: 0.5)
        let clean: [Float] = [0.25, -1.5, 3.0, 0.0, -0.02], perturbed: [Float] = [0.2512, -1.5031, 3.0, 0.0047, -0.0188]
        let result = penalty.loss(
            clean: Tensor(shape: [5, 1], values: clean), perturbed: Tensor(shape: [5, 1], values: perturbed))
        let reference: [Float] = [1.2, -3.1, 0, 4.7, 1.2]
        #expect(abs(result.loss - 0.01729) < 1e-5)
        for index in reference.indices {
            #expect(abs(result.perturbedGradient.data[index] - reference[index]) < 1e-3)
            #expect(result.cleanGradient.data[index] == -result.perturbedGradient.data[index])
        }
    }

    /// Bright discs on dark, their centres moved by `shift` pixels.
    static func discs(count: Int, side: Int, shift: Int = 0) -> Tensor {
        Tensor(
            shape: [count, 1, side, side],
            values: (0..<(count * side * side)).map { index in
                let sample = index / (side * side)
                let x = Float(index % side - side / 2 - shift), y = Float(index / side % side - side / 2 + sample)
                return x * x + y * y < Float(side * side) / 8 ? 0.8 : -0.9
            })
    }

    @Test("it estimates R1: its mean over perturbations is (gamma/2) |grad_x D(x)|^2, the gradient from D's backward pass")
    func estimatesTheSquaredGradient() {
        let discriminator = Discriminator(resolution: 16, seed: 11)
        let images = Self.discs(count: 4, side: 16)
        // Eval mode: each logit depends on its own image, so one backward of ones gives every image's gradient.
        let clean = Tensor(shape: [4, 1], values: discriminator.forward(images, training: false).values)
        let imageGradient = discriminator.backward(Tensor(shape: [4, 1], values: [1, 1, 1, 1]), parameterGradients: false)
        let squaredNorm = imageGradient.values.reduce(0) { $0 + Double($1) * Double($1) } / 4
        let penalty = GradientPenalty(weight: 2)
        penalty.random = EngineRandom(seed: 12)
        let draws = 400
        var sum: Double = 0
        for _ in 0..<draws {
            let perturbed = discriminator.forward(penalty.perturb(images), training: false)
            sum += Double(penalty.loss(clean: clean, perturbed: perturbed).loss)
        }
        let estimate = sum / Double(draws)
        print("gradient penalty: mean \(estimate) over \(draws) perturbations, |grad D|^2 \(squaredNorm)")
        // (g . e)^2 has twice its squared mean as variance: 1,600 draws give a standard error of 3.5 %.
        #expect(abs(estimate - squaredNorm) < 0.12 * squaredNorm)
    }
}
