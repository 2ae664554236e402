import Engine
import Foundation
import TestSupport
import Testing

@testable import TaskModel

/// The task model's mask head: the same U-Net body, one map of logits,
/// Dice plus cross-entropy.
@Suite("Mask head")
struct MaskHeadTests {
    init() { EngineThreads.configure(2) }

    @Test("the Dice and cross-entropy loss's gradient against finite differences")
    func lossGradient() {
        var random = EngineRandom(seed: 12)
        let target = (0..<(2 * 5 * 5)).map { _ in random.uniform() < 0.3 ? Float(1) : 0 }
        var gradient: Tensor?
        GradientCheck.check(
            "dice + cross-entropy", input: GradientCheck.input([2, 1, 5, 5], seed: 13), store: nil, samples: 20,
            run: { logits in Tensor(shape: [1], values: [MaskLoss.diceCrossEntropy(logits: logits, target: target, gradient: &gradient)]) },
            backward: { upstream in
                let scaled = Tensor(shape: gradient!.shape, values: gradient!.values.map { $0 * upstream.data[0] })
                return scaled
            })
    }

    @Test("Dice of masks: overlap over size, 1 for two empty masks")
    func dice() {
        #expect(MaskLoss.dice([true, true, false, false], [true, false, true, false]) == 0.5)
        #expect(MaskLoss.dice([false, false], [false, false]) == 1)
        #expect(MaskLoss.dice([true], [false]) == 0)
    }

    @Test("the whole U-Net with the mask head, against finite differences")
    func networkGradient() {
        let network = TaskNetwork(TaskNetwork.Configuration(side: 8, head: .mask, width: 2, levels: 2, activationSlope: 1), seed: 4)
        GradientCheck.check(
            "mask U-Net", input: GradientCheck.input([2, 1, 8, 8], seed: 6), store: network.store, samples: 6, step: 1e-3,
            run: { network.forward($0, training: true) }, backward: { network.backward($0) })
    }

    @Test("trained on disc frames, it segments held-out discs with a Dice above 0.9")
    func learnsDiscs() {
        let side = 32
        var random = EngineRandom(seed: 31)
        func discs(_ count: Int) -> (images: [Float], masks: [Float]) {
            var images: [Float] = [], masks: [Float] = []
            for _ in 0..<count {
                let x = random.uniform(8, 24), y = random.uniform(8, 24), radius = random.uniform(3, 7)
                for row in 0..<side {
                    for column in 0..<side {
                        let inside = (Float(column) - x) * (Float(column) - x) + (Float(row) - y) * (Float(row) - y) < radius * radius
                        images.append((inside ? 0.4 : -0.4) + 0.3 * random.normal())
                        masks.append(inside ? 1 : 0)
                    }
                }
            }
            return (images, masks)
        }
        let network = TaskNetwork(TaskNetwork.Configuration(side: side, head: .mask, width: 8, levels: 3), seed: 3)
        let optimizer = Adam(store: network.store, learningRate: 2e-3, beta1: 0.9)
        var gradient: Tensor?
        for _ in 0..<150 {
            let batch = discs(8)
            network.store.zeroGradients()
            let logits = network.forward(Tensor(shape: [8, 1, side, side], values: batch.images), training: true)
            _ = MaskLoss.diceCrossEntropy(logits: logits, target: batch.masks, gradient: &gradient)
            network.backward(gradient!)
            optimizer.update()
        }
        let test = discs(16)
        let logits = network.forward(Tensor(shape: [16, 1, side, side], values: test.images), training: false).values
        let plane = side * side
        let scores = (0..<16).map { image in
            MaskLoss.dice(
                logits[(image * plane)..<((image + 1) * plane)].map { $0 > 0 },
                test.masks[(image * plane)..<((image + 1) * plane)].map { $0 > 0.5 })
        }
        let mean = scores.reduce(0, +) / 16
        print("mask head on discs: mean Dice \(mean) after 150 steps")
        #expect(mean > 0.9)
    }
}
