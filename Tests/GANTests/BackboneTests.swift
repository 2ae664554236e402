import Engine
import Foundation
import GAN
import TestSupport
import Testing

@Suite("Frozen ImageNet backbones")
struct BackboneTests {
    init() { EngineThreads.configure(2) }

    @Test("MobileNetV2 has Keras' parameter count (2,257,984 without top)")
    func mobileNetV2ParameterCount() {
        #expect(MobileNetV2(alpha: 1).kerasParameterCount == 2_257_984)
        #expect(MobileNetV2(alpha: 1).featureCount == 1280)
    }

    @Test("MobileNetV2 alpha 0.35 with weights saved by Keras gives Keras' pooled features to 1e-4")
    func mobileNetV2MatchesKeras() throws {
        let weights = try #require(Bundle.module.url(forResource: "mobilenetv2_035_notop", withExtension: "h5", subdirectory: "Fixtures"))
        let io = try #require(Bundle.module.url(forResource: "mobilenetv2_035_io", withExtension: "safetensors", subdirectory: "Fixtures"))
        let reference = try SafeTensors.read(path: io.path).tensors
        let backbone = MobileNetV2(alpha: 0.35)
        #expect(backbone.kerasParameterCount == Int(reference["parameters"]!.values[0]))
        try backbone.loadKerasWeights(KerasWeightFile(path: weights.path))
        let input = reference["input"]!
        let features = backbone.forward(Tensor(shape: input.shape, values: input.values))
        #expect(features.shape == [2, 1280])
        let difference = largestDifference(features.values, reference["features"]!.values)
        print("MobileNetV2 0.35 against Keras: largest absolute difference \(difference), largest feature \(largestMagnitude(reference["features"]!.values))")
        #expect(difference <= 1e-4 * max(1, largestMagnitude(reference["features"]!.values)))
        // Backward reaches the input with the input's shape and leaves the frozen weights' gradients at zero.
        backbone.store.zeroGradients()
        let gradient = backbone.backward(Tensor(shape: [2, 1280], values: Array(repeating: 1, count: 2560)))
        #expect(gradient.shape == input.shape && gradient.values.contains { $0 != 0 })
        #expect(UnsafeBufferPointer(start: backbone.store.gradients, count: backbone.store.count).allSatisfy { $0 == 0 })
    }

    @Test("a weight file that does not fit names what is wrong")
    func mismatch() throws {
        let weights = try #require(Bundle.module.url(forResource: "mobilenetv2_035_notop", withExtension: "h5", subdirectory: "Fixtures"))
        #expect { try MobileNetV2(alpha: 1).loadKerasWeights(KerasWeightFile(path: weights.path)) } throws: {
            "\($0)".contains("Conv1.weight") && "\($0)".contains("mobilenetv2_035_notop.h5")
        }
        let notHDF5 = try #require(Bundle.module.url(forResource: "compact_generator_io", withExtension: "safetensors", subdirectory: "Fixtures"))
        #expect { try KerasWeightFile(path: notHDF5.path) } throws: { "\($0)".contains("not an HDF5 file") }
    }
}
