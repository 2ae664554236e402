import Engine
import Foundation
import TestSupport
import Testing

@testable import TaskModel

@Suite("Keypoint network")
struct KeypointNetworkTests {
    init() { EngineThreads.configure(2) }

    /// Without the LeakyReLU (slope 1), whose kink a finite difference would
    /// cross somewhere in a whole network (it is checked on its own in
    /// EngineTests), and with a step of 1e-3: a weight of the first level
    /// moves a whole map, and a step of 1e-2 swaps the maximum of some pooling
    /// window (a kink too). The outputs are a few coordinates of a few pixels,
    /// so float32 rounding stays near 1e-6 / 2e-3, well inside the tolerance.
    @Test("the whole U-Net's gradients, through skips, pooling and soft-argmax, against finite differences")
    func gradients() {
        let network = TaskNetwork(
            TaskNetwork.Configuration(side: 8, head: .keypoints(2), width: 2, levels: 2, activationSlope: 1), seed: 4)
        GradientCheck.check(
            "keypoint U-Net", input: GradientCheck.input([2, 1, 8, 8], seed: 6), store: network.store, samples: 6, step: 1e-3,
            run: { network.forward($0, training: true) },
            backward: { network.backward($0) })
    }

    @Test("the smooth L1 keypoint loss: values, gradient, keypoints that are not labelled add nothing")
    func loss() {
        let predicted = Tensor(shape: [1, 2, 2], values: [1.5, 2, 10, 10])
        var gradient: Tensor?
        let value = KeypointLoss.smoothL1(predicted: predicted, target: [1, 5, 0, 0], labelled: [true, false], gradient: &gradient)
        // 0.5 * 0.5^2 and |-3| - 0.5, over the two coordinates of the one labelled point.
        #expect(abs(value - (0.125 + 2.5) / 2) < 1e-6)
        #expect(gradient?.values == [0.25, -0.5, 0, 0])
    }

    /// A frame with one bright blob; its keypoint is the blob's centre.
    static func blobs(count: Int, side: Int, random: inout EngineRandom) -> (images: [Float], keypoints: [Float]) {
        var images = [Float](), keypoints = [Float]()
        for _ in 0..<count {
            let x = random.uniform(4, Float(side - 5)), y = random.uniform(4, Float(side - 5))
            for row in 0..<side {
                for column in 0..<side {
                    let distance = (Float(column) - x) * (Float(column) - x) + (Float(row) - y) * (Float(row) - y)
                    images.append(-0.8 + 1.6 * exp(-distance / 8) + 0.1 * random.normal())
                }
            }
            keypoints += [x, y]
        }
        return (images, keypoints)
    }

    @Test("training on blob frames reduces the loss and finds held-out blobs to about a pixel")
    func learnsBlobs() {
        let side = 32
        var random = EngineRandom(seed: 21)
        let network = TaskNetwork(TaskNetwork.Configuration(side: side, head: .keypoints(1), width: 8, levels: 3), seed: 2)
        let optimizer = Adam(store: network.store, learningRate: 2e-3, beta1: 0.9)
        let test = Self.blobs(count: 64, side: side, random: &random)
        func testError() -> Float {
            let predicted = network.forward(Tensor(shape: [64, 1, side, side], values: test.images), training: false).values
            var total: Float = 0
            for index in stride(from: 0, to: 128, by: 2) {
                let dx = predicted[index] - test.keypoints[index], dy = predicted[index + 1] - test.keypoints[index + 1]
                total += (dx * dx + dy * dy).squareRoot()
            }
            return total / 64
        }
        let before = testError()
        var gradient: Tensor?
        var losses: [Float] = []
        for _ in 0..<200 {
            let batch = Self.blobs(count: 16, side: side, random: &random)
            network.store.zeroGradients()
            let predicted = network.forward(Tensor(shape: [16, 1, side, side], values: batch.images), training: true)
            losses.append(
                KeypointLoss.smoothL1(
                    predicted: predicted, target: batch.keypoints, labelled: Array(repeating: true, count: 16), gradient: &gradient))
            network.backward(gradient!)
            optimizer.update()
        }
        let after = testError()
        let first: Float = losses.prefix(10).reduce(0, +) / 10, last: Float = losses.suffix(10).reduce(0, +) / 10
        print("blob keypoints: mean error \(before) px untrained, \(after) px after 200 steps; loss \(first) -> \(last)")
        #expect(last < first / 4)
        #expect(after < 1.5 && after < before / 4)
    }
}
