import Engine
import Testing

@testable import GAN

@Suite("DiffAugment")
struct DiffAugmentTests {
    /// With its parameters fixed (same seed), the augmentation is affine in
    /// the input: y = A x + c. So backward must be A's transpose exactly:
    /// <backward(r), v> = <forward(x + v) - forward(x), r> for any v and r.
    /// Checked for random v, r on every entry at once, to float rounding.
    @Test("backward is the transpose of forward (adjoint test), and the ops do what they say")
    func adjoint() {
        var random = EngineRandom(seed: 3)
        let shape = [5, 2, 16, 16], count = 5 * 2 * 16 * 16
        let x = Tensor(shape: shape, values: (0..<count).map { _ in random.uniform(-1, 1) })
        let v = (0..<count).map { _ in random.uniform(-1, 1) }
        let r = Tensor(shape: shape, values: (0..<count).map { _ in random.uniform(-1, 1) })
        let augment = DiffAugment(seed: 11)

        augment.random = EngineRandom(seed: 11)
        let base = augment.forward(x).values
        augment.random = EngineRandom(seed: 11)
        let shifted = augment.forward(Tensor(shape: shape, values: zip(x.values, v).map { $0 + $1 })).values
        let backward = augment.backward(r).values
        var left: Double = 0, right: Double = 0
        for i in 0..<count {
            left += Double(backward[i]) * Double(v[i])
            right += Double(shifted[i] - base[i]) * Double(r.data[i])
        }
        print("DiffAugment adjoint test: <A^T r, v> = \(left), <A v, r> = \(right), difference \(abs(left - right))")
        #expect(abs(left - right) <= 1e-3 * max(1, abs(left)))

        // Cutout zeroes a square of half the side, 8 x 8 (at least 4 x 4 when
        // clipped at a corner); translation by at most 2 adds at most 2 rows and 2 columns.
        let zeros = (0..<5).map { image in (0..<256).filter { base[image * 512 + $0] == 0 }.count }
        #expect(zeros.allSatisfy { $0 >= 4 * 4 && $0 <= 8 * 8 + 2 * 16 + 2 * 16 }, "zeroed pixels per image: \(zeros)")
        // Fresh parameters on each call: a second forward differs.
        let again = augment.forward(x).values
        #expect(again != base)
    }
}
