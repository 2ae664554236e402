import Engine
import Testing

@testable import GAN

@Suite("LeCam regularisation")
struct LeCamRegularizerTests {
    /// The term of `logits` (a fresh gradient buffer: only the term's value is used).
    static func term(_ lecam: LeCamRegularizer, _ logits: [Float], real: Bool) -> Float {
        lecam.addTerm(
            logits: Tensor(shape: [logits.count, 1], values: logits), real: real,
            into: Tensor(shape: [logits.count, 1], values: Array(repeating: 0, count: logits.count)))
    }

    @Test("the gradient added to the logits matches finite differences of the term, on both sides of its anchors")
    func gradientMatchesFiniteDifferences() {
        let lecam = LeCamRegularizer(weight: 0.3)
        let logits: [Float] = [-1.5, -0.2, 0.4, 1.1, 2.3, -3.0]
        #expect(Self.term(lecam, logits, real: true) == 0, "no term before the first step sets the anchors")
        lecam.update(realMean: 0.8, generatedMean: -0.6)
        var largest: Float = 0
        for real in [true, false] {
            let gradient = Tensor(shape: [logits.count, 1], values: Array(repeating: 0, count: logits.count))
            let term = lecam.addTerm(logits: Tensor(shape: [logits.count, 1], values: logits), real: real, into: gradient)
            #expect(term > 0)
            for index in logits.indices {
                let step: Float = 1e-3
                var up = logits, down = logits
                up[index] += step
                down[index] -= step
                let numeric = (Self.term(lecam, up, real: real) - Self.term(lecam, down, real: real)) / (2 * step)
                largest = max(largest, abs(numeric - gradient.values[index]))
            }
        }
        print("LeCam: largest difference between the gradient and finite differences \(largest)")
        #expect(largest < 1e-3)
    }

    @Test("the anchors start at the first step's means and then move by 1 % per step")
    func anchorsAreMovingAverages() throws {
        let lecam = LeCamRegularizer(weight: 0.1)
        lecam.update(realMean: 2, generatedMean: -2)
        lecam.update(realMean: 1, generatedMean: 0)
        let anchors = try #require(lecam.anchors)
        #expect(abs(anchors.real - 1.99) < 1e-6 && abs(anchors.generated - -1.98) < 1e-6)
    }
}
