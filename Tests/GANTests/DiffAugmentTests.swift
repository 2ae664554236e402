import Engine
import Testing

@testable import GAN

@Suite("DiffAugment")
struct DiffAugmentTests {
    /// With its parameters fixed (same seed), the augmentation is affine in
    /// the input: y = A x + c. So backward must be A's transpose exactly:
    /// <backward(r), v> = <forward(x + v) - forward(x), r> for any v and r.
    /// Checked for random v, r on every entry at once, to float rounding.
    /// <backward(r), v> and <forward(x + v) - forward(x), r> with the
    /// parameters of `seed`, and forward(x).
    static func adjointSides(_ augment: DiffAugment, x: Tensor, v: [Float], r: Tensor, seed: UInt64) -> (Double, Double, [Float]) {
        augment.random = EngineRandom(seed: seed)
        let base = augment.forward(x).values
        augment.random = EngineRandom(seed: seed)
        let shifted = augment.forward(Tensor(shape: x.shape, values: zip(x.values, v).map { $0 + $1 })).values
        let backward = augment.backward(r).values
        var left: Double = 0, right: Double = 0
        for i in 0..<x.count {
            left += Double(backward[i]) * Double(v[i])
            right += Double(shifted[i] - base[i]) * Double(r.data[i])
        }
        return (left, right, base)
    }

    @Test("a subset of the transforms applies those alone, with the draws all three would make")
    func transformSubsets() {
        // A constant image: colour moves its value, translation and cutout put zeros in it.
        let x = Tensor(shape: [16, 1, 16, 16], values: Array(repeating: 0.5, count: 16 * 256))
        func augmented(_ transforms: Set<AugmentationTransform>) -> [[Float]] {
            let augment = DiffAugment(seed: 4)
            augment.transforms = transforms
            let values = augment.forward(x).values
            return (0..<16).map { Array(values[($0 * 256)..<(($0 + 1) * 256)]) }
        }
        let translation = augmented([.translation]), cutout = augmented([.cutout]), color = augmented([.color])
        #expect(translation.allSatisfy { $0.allSatisfy { $0 == 0.5 || $0 == 0 } } && translation.contains { $0.contains(0) })
        // A quarter of each image goes to 0 by cutout (clipped at the border: less).
        #expect(cutout.allSatisfy { image in image.allSatisfy { $0 == 0.5 || $0 == 0 } && image.filter { $0 == 0 }.count <= 64 })
        #expect(color.allSatisfy { image in Set(image).count == 1 } && color.contains { $0[0] != 0.5 })
        // Translation and cutout together zero the union of what each zeroes alone.
        let both = augmented([.translation, .cutout])
        for image in 0..<16 {
            let zeros = (0..<256).filter { translation[image][$0] == 0 || cutout[image][$0] == 0 }
            #expect(zeros == (0..<256).filter { both[image][$0] == 0 })
        }
    }

    @Test("backward is the transpose of forward (adjoint test), and the ops do what they say")
    func adjoint() {
        var random = EngineRandom(seed: 3)
        let shape = [5, 2, 16, 16], count = 5 * 2 * 16 * 16
        let x = Tensor(shape: shape, values: (0..<count).map { _ in random.uniform(-1, 1) })
        let v = (0..<count).map { _ in random.uniform(-1, 1) }
        let r = Tensor(shape: shape, values: (0..<count).map { _ in random.uniform(-1, 1) })
        let augment = DiffAugment(seed: 11)
        let (left, right, base) = Self.adjointSides(augment, x: x, v: v, r: r, seed: 11)
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

    @Test("label channels move and are cut with the image, filled with -1, without colour; the image is augmented as alone; adjoint")
    func labelChannels() {
        var random = EngineRandom(seed: 5)
        let n = 6, side = 16, plane = side * side
        // Channel 0 an image; channels 1 and 2 labels, each the constant 1 (everywhere labelled).
        let image = (0..<(n * plane)).map { _ in random.uniform(-1, 1) }
        var values: [Float] = []
        for sample in 0..<n { values += image[(sample * plane)..<((sample + 1) * plane)] + Array(repeating: 1, count: 2 * plane) }
        let x = Tensor(shape: [n, 3, side, side], values: values)
        let labelled = DiffAugment(seed: 8)
        labelled.imageChannels = 1
        let augmented = labelled.forward(x).values
        let alone = DiffAugment(seed: 8).forward(Tensor(shape: [n, 1, side, side], values: image)).values
        for sample in 0..<n {
            let out = Array(augmented[(sample * 3 * plane)..<((sample + 1) * 3 * plane)])
            #expect(Array(out[0..<plane]) == Array(alone[(sample * plane)..<((sample + 1) * plane)]))
            // A label pixel is 1 where the image pixel came from the frame, -1 where translation or cutout filled it.
            let kept = (0..<plane).map { out[plane + $0] == 1 }
            #expect(kept.contains(false) && kept.contains(true))
            #expect((0..<plane).allSatisfy { out[plane + $0] == (kept[$0] ? 1 : -1) && out[2 * plane + $0] == out[plane + $0] })
            #expect((0..<plane).allSatisfy { kept[$0] || out[$0] == 0 })
        }
        let v = (0..<x.count).map { _ in random.uniform(-1, 1) }
        let r = Tensor(shape: x.shape, values: (0..<x.count).map { _ in random.uniform(-1, 1) })
        let (left, right, _) = Self.adjointSides(labelled, x: x, v: v, r: r, seed: 12)
        #expect(abs(left - right) <= 1e-3 * max(1, abs(left)))
    }

    @Test("below probability 1 an image gets each transform with that chance; at 0 it is the identity, and still its own adjoint")
    func probability() {
        var random = EngineRandom(seed: 4)
        let shape = [200, 1, 16, 16], count = 200 * 256
        let x = Tensor(shape: shape, values: (0..<count).map { _ in random.uniform(-1, 1) })
        let augment = DiffAugment(seed: 5)
        augment.probability = 0
        #expect(augment.forward(x).values == x.values)
        #expect(augment.backward(x).values == x.values)

        augment.probability = 0.5
        let y = augment.forward(x).values
        let untouched = (0..<200).filter { image in (0..<256).allSatisfy { y[image * 256 + $0] == x.data[image * 256 + $0] } }
        // Untouched: none of three transforms, 1/8 of the images (25 expected; 99.9 % within 9...45).
        print("DiffAugment at p 0.5: \(untouched.count) of 200 images untouched")
        #expect((9...45).contains(untouched.count))

        var adjointRandom = EngineRandom(seed: 6)
        let v = (0..<count).map { _ in adjointRandom.uniform(-1, 1) }
        let r = Tensor(shape: shape, values: (0..<count).map { _ in adjointRandom.uniform(-1, 1) })
        let (left, right, _) = Self.adjointSides(augment, x: x, v: v, r: r, seed: 7)
        #expect(abs(left - right) <= 1e-3 * max(1, abs(left)))
    }
}

@Suite("Adaptive discriminator augmentation")
struct AdaptiveAugmentationTests {
    @Test("p moves every 4 steps by 4 batches over the ramp, up while r_t is above the target, down below it, within [0, 1]")
    func probabilityFollowsOverfitting() {
        let ada = AdaptiveAugmentation(target: 0.6, rampImages: 64)
        let allReal = Tensor(shape: [4, 1], values: [2, 1, 0.5, 3])
        let mixed = Tensor(shape: [4, 1], values: [2, -1, 0.5, -3])
        #expect(AdaptiveAugmentation.signSum(allReal) == 4 && AdaptiveAugmentation.signSum(mixed) == 0)
        var probabilities: [Float] = []
        for step in 1...24 {
            let logits = step <= 12 ? allReal : mixed
            ada.observe(signSum: AdaptiveAugmentation.signSum(logits), count: 4)
            ada.adjust(step: step, batchSize: 4)
            probabilities.append(ada.probability)
        }
        // Each adjustment moves p by 4 x 4 / 64 = 0.25.
        #expect(probabilities[2] == 0 && probabilities[3] == 0.25 && probabilities[11] == 0.75)
        #expect(probabilities[15] == 0.5 && probabilities[23] == 0)
        #expect(ada.signCount == 0)
        // Two steps of a new interval are pending, as a checkpoint saves them.
        ada.observe(signSum: 4, count: 4)
        ada.adjust(step: 25, batchSize: 4)
        #expect(ada.signSum == 4 && ada.signCount == 4)
        // r_t 1 for many intervals: p stops at 1.
        for step in 26...60 {
            ada.observe(signSum: 4, count: 4)
            ada.adjust(step: step, batchSize: 4)
        }
        #expect(ada.probability == 1)
    }
}
