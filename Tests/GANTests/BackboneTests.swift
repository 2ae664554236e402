import Engine
import Foundation
import TestSupport
import Testing

@testable import GAN

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
        print(
            "MobileNetV2 0.35 against Keras: largest absolute difference \(difference), largest feature \(largestMagnitude(reference["features"]!.values))"
        )
        #expect(difference <= 1e-4 * max(1, largestMagnitude(reference["features"]!.values)))
        Self.expectInputDependent(reference["features"]!)
        // Backward reaches the input with the input's shape and leaves the frozen weights' gradients at zero.
        backbone.store.zeroGradients()
        let gradient = backbone.backward(Tensor(shape: [2, 1280], values: Array(repeating: 1, count: 2560)))
        #expect(gradient.shape == input.shape && gradient.values.contains { $0 != 0 })
        #expect(UnsafeBufferPointer(start: backbone.store.gradients, count: backbone.store.count).allSatisfy { $0 == 0 })
    }

    /// The comparison can only catch a wrong stride, padding or channel order if the reference
    /// features [2, C] depend on the image: the two rows must differ by far more than the tolerance.
    static func expectInputDependent(_ features: NamedArray) {
        let count = features.shape[1]
        let spread = largestDifference(Array(features.values[..<count]), Array(features.values[count...]))
        print("reference features of the two images differ by up to \(spread)")
        #expect(spread > 0.1)
    }

    /// make_keras_backbones.py's `formula_weight`, over an engine-layout array: splitmix64 of
    /// (key(name) << 32) + flat index, as a uniform value in [-1, 1), scaled by the array's role.
    static func formulaWeight(_ name: String, count: Int, shape: [Int]) -> [Float] {
        let key = UInt64(name.utf8.enumerated().reduce(0) { $0 + ($1.offset + 1) * Int($1.element) } % 1_000_003)
        let fanIn = Double(shape.dropFirst().reduce(1, *))
        return (0..<count).map { index -> Float in
            var z = (key << 32) &+ UInt64(index) &+ 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            let uniform = Double(z >> 11) * 0x1p-53 * 2 - 1
            if name.hasSuffix(".bias") { return Float(0.1 * uniform) }
            if shape.count == 1 { return Float(1 + 0.2 * uniform) }
            return Float(uniform * (3 / fanIn).squareRoot())
        }
    }

    @Test(
        "Xception has Keras' parameter count (20,861,480) and, with the same formula weights and BatchNorm statistics, Keras' pooled features to 1e-4"
    )
    func xceptionMatchesKeras() throws {
        let io = try #require(Bundle.module.url(forResource: "xception_formula_io", withExtension: "safetensors", subdirectory: "Fixtures"))
        let reference = try SafeTensors.read(path: io.path).tensors
        let backbone = Xception()
        #expect(backbone.kerasParameterCount == 20_861_480)
        #expect(backbone.kerasParameterCount == Int(reference["parameters"]!.values[0]))
        var arrays: [String: NamedArray] = [:]
        for parameter in backbone.store.parameters {
            arrays[parameter.name] = NamedArray(
                shape: parameter.shape, values: Self.formulaWeight(parameter.name, count: parameter.count, shape: parameter.shape))
        }
        // The BatchNorm moving statistics were calibrated on data in Keras and are stored in the fixture.
        for (name, _) in backbone.store.buffers {
            arrays[name] = try #require(reference[name], "\(name) missing from the fixture")
        }
        try backbone.store.load(arrays, source: "formula")
        let input = reference["input"]!
        let features = backbone.forward(Tensor(shape: input.shape, values: input.values))
        #expect(features.shape == [2, 2048])
        let expected = reference["features"]!.values
        let difference = largestDifference(features.values, expected)
        print("Xception against Keras: largest absolute difference \(difference), largest feature \(largestMagnitude(expected))")
        #expect(difference <= 1e-4 * max(1, largestMagnitude(expected)))
        Self.expectInputDependent(reference["features"]!)
        let gradient = backbone.backward(Tensor(shape: [2, 2048], values: Array(repeating: 1, count: 4096)))
        #expect(gradient.shape == input.shape)
    }

    /// Finite differences of L = sum(y * r) at sampled input entries against `backward`.
    static func checkBlock(_ label: String, inputShape: [Int], forward: (Tensor) -> Tensor, backward: (Tensor) -> Tensor) {
        var random = EngineRandom(seed: 21)
        let count = inputShape.reduce(1, *)
        let input = Tensor(shape: inputShape, values: (0..<count).map { _ in random.uniform(-1, 1) })
        let output = forward(input)
        let weights = Tensor(shape: output.shape, values: (0..<output.count).map { _ in random.uniform(-1, 1) })
        let analytic = backward(weights).values
        func loss() -> Double {
            let y = forward(input)
            return (0..<y.count).reduce(0) { $0 + Double(y.data[$1]) * Double(weights.data[$1]) }
        }
        var largest = 0.0
        let step: Float = 5e-3
        for _ in 0..<16 {
            let index = Int(random.nextUInt64() % UInt64(count))
            let saved = input.data[index]
            input.data[index] = saved + step
            let plus = loss()
            input.data[index] = saved - step
            let minus = loss()
            input.data[index] = saved
            let numeric = (plus - minus) / Double(2 * step)
            largest = max(largest, abs(numeric - Double(analytic[index])))
            #expect(
                abs(numeric - Double(analytic[index])) <= 3e-3 + 2e-2 * abs(numeric),
                "\(label) input[\(index)]: analytic \(analytic[index]), numeric \(numeric)")
        }
        print("gradient check \(label): largest difference \(largest)")
    }

    @Test("backward through the backbones' blocks matches finite differences (frozen BatchNorm, residual additions)")
    func blockGradients() {
        let initializer = DefaultInitializer(random: EngineRandom(seed: 4))
        for (stride, inChannels, outChannels) in [(1, 8, 8), (2, 8, 12)] {
            let store = ParameterStore()
            let block = ResidualBlock.invertedResidual(
                index: 1, store: store, initializer: initializer, inChannels: inChannels,
                outChannels: outChannels, stride: stride, expansion: 3)
            store.seal()
            let identity = if case .identity = block.shortcut { " with identity" } else { "" }
            Self.checkBlock(
                "inverted residual stride \(stride)\(identity)", inputShape: [2, inChannels, 8, 8],
                forward: { block.forward($0) }, backward: block.backward)
        }
        let store = ParameterStore()
        let main = Sequential([
            ReLU(), DepthwiseConv2d("d", store: store, initializer: initializer, channels: 4, kernel: 3, padding: 1, bias: false),
            Conv2d("p", store: store, initializer: initializer, inChannels: 4, outChannels: 6, kernel: 1, bias: false),
            BatchNorm2d("b", store: store, channels: 6, epsilon: 1e-3),
        ])
        let residual = Sequential([
            Conv2d(
                "r", store: store, initializer: initializer, inChannels: 4, outChannels: 6, kernel: 1, stride: 1,
                bias: false), BatchNorm2d("rb", store: store, channels: 6, epsilon: 1e-3),
        ])
        store.seal()
        // (Max pooling is left out here: a finite-difference step can change a window's winner;
        // EngineTests checks it alone on well-separated values.)
        let block = ResidualBlock(main: main, shortcut: .projection(residual))
        Self.checkBlock(
            "xception block with residual convolution", inputShape: [2, 4, 7, 7], forward: { block.forward($0) }, backward: block.backward)
    }

    @Test(
        "a file Keras wrote with Xception's kinds of layers maps to the engine's names and layouts (Keras 2, and Keras 3's .weights.h5)",
        arguments: [("separable_residual", "h5", "_4"), ("separable_residual_keras3", "weights.h5", "")])
    func separableResidualFromKeras(name: String, fileExtension: String, unnamedSuffix: String) throws {
        let weights = try #require(Bundle.module.url(forResource: name, withExtension: fileExtension, subdirectory: "Fixtures"))
        let io = try #require(
            Bundle.module.url(forResource: "separable_residual_io", withExtension: "safetensors", subdirectory: "Fixtures"))
        let file = try KerasWeightFile(path: weights.path)
        let names = file.layerNames
        #expect(
            names.contains("conv2d\(unnamedSuffix)") && names.contains("batch_normalization\(unnamedSuffix)"),
            "Keras numbered the unnamed layers: \(names)")
        let arrays = try file.engineArrays(rename: Xception.kerasRename(layerNames: names))
        let expected = try SafeTensors.read(path: io.path).tensors
        #expect(Set(arrays.keys) == Set(expected.keys))
        for (name, reference) in expected {
            #expect(arrays[name]?.shape == reference.shape && arrays[name]?.values == reference.values, "\(name)")
        }
    }

    @Test("files Keras 3 wrote, in its .weights.h5 layout and as a whole model in .h5, give the Keras 2 file's weights")
    func keras3Files() throws {
        let keras2 = try #require(Bundle.module.url(forResource: "mobilenetv2_035_notop", withExtension: "h5", subdirectory: "Fixtures"))
        let expected = try BackboneKind.mobilenetv2.load(weights: keras2.path).store.namedArrays()
        for (name, fileExtension) in [("mobilenetv2_035_keras3", "weights.h5"), ("mobilenetv2_035_keras3_model", "h5")] {
            let url = try #require(Bundle.module.url(forResource: name, withExtension: fileExtension, subdirectory: "Fixtures"))
            // Through the transfer discriminator's loader: the width multiplier is read from the file too.
            let loaded = try BackboneKind.mobilenetv2.load(weights: url.path).store.namedArrays()
            let differing = zip(loaded, expected).filter {
                $0.0.name != $0.1.name || $0.0.array.shape != $0.1.array.shape || $0.0.array.values != $0.1.array.values
            }.map(\.0.name)
            print("\(name).\(fileExtension): \(loaded.count) arrays, \(differing.count) differ from the Keras 2 file's")
            #expect(loaded.count == expected.count && differing.isEmpty, "\(differing.prefix(5))")
        }
        let neither = try #require(Bundle.module.url(forResource: "not_keras", withExtension: "h5", subdirectory: "Fixtures"))
        #expect { try KerasWeightFile(path: neither.path) } throws: {
            "\($0)".contains("neither a layer_names attribute (Keras 2) nor a layers group") && "\($0)".contains("not_keras.h5")
        }
    }

    @Test("a whole model with a classification head gives its backbone's weights; the head in a weights-only file is refused")
    func wholeModelWithHead() throws {
        let keras2 = try #require(Bundle.module.url(forResource: "mobilenetv2_035_notop", withExtension: "h5", subdirectory: "Fixtures"))
        let expected = try BackboneKind.mobilenetv2.load(weights: keras2.path).store.namedArrays()
        let whole = try #require(
            Bundle.module.url(forResource: "mobilenetv2_035_model_with_head", withExtension: "h5", subdirectory: "Fixtures"))
        #expect(try KerasWeightFile(path: whole.path).layerNames.suffix(2) == ["dropout", "dense"])
        let loaded = try BackboneKind.mobilenetv2.load(weights: whole.path).store.namedArrays()
        #expect(loaded.count == expected.count)
        #expect(zip(loaded, expected).allSatisfy { $0.0.name == $0.1.name && $0.0.array.values == $0.1.array.values })
        let weightsOnly = try #require(
            Bundle.module.url(forResource: "mobilenetv2_035_notop_with_head", withExtension: "h5", subdirectory: "Fixtures"))
        #expect { try BackboneKind.mobilenetv2.load(weights: weightsOnly.path) } throws: {
            "\($0)".contains("does not have: head_conv.bias, head_conv.weight")
                && "\($0)".contains("mobilenetv2_035_notop_with_head.h5")
        }
    }

    @Test("name lists longer than the first buffer keep every name, fixed- or variable-length")
    func longNameLists() throws {
        let file = try KerasWeightFile(
            path: try #require(Bundle.module.url(forResource: "long_names", withExtension: "h5", subdirectory: "Fixtures")).path)
        let layers = file.layerNames
        #expect(layers.count == 400 && layers.first == "layer_with_a_long_name_000" && layers.last == "layer_with_a_long_name_399")
        let weights = file.weightNames(group: "/many")
        #expect(weights.count == 400 && weights.last == "many/weight_399:0")
    }

    @Test("Xception maps a Keras file's unnamed residual layers by order")
    func xceptionRename() {
        let rename = Xception.kerasRename(layerNames: [
            "input_1", "block1_conv1", "conv2d_4", "batch_normalization_4", "block2_sepconv1",
            "conv2d_5", "batch_normalization_5",
        ])
        #expect(
            rename("conv2d_4") == "residual_0" && rename("batch_normalization_5") == "residual_1_bn"
                && rename("block1_conv1") == "block1_conv1")
    }

    @Test("the same weights as safetensors with the engine's names give the same features")
    func safetensorsEquivalent() throws {
        let weights = try #require(Bundle.module.url(forResource: "mobilenetv2_035_notop", withExtension: "h5", subdirectory: "Fixtures"))
        let io = try #require(Bundle.module.url(forResource: "mobilenetv2_035_io", withExtension: "safetensors", subdirectory: "Fixtures"))
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let fromKeras = try BackboneKind.mobilenetv2.load(weights: weights.path)
        let converted = folder.file("mobilenetv2_035.safetensors")
        try SafeTensors.write(fromKeras.store.namedArrays(), to: converted)
        let fromSafetensors = try BackboneKind.mobilenetv2.load(weights: converted)
        let input = try SafeTensors.read(path: io.path).tensors["input"]!
        let a = fromKeras.forward(Tensor(shape: input.shape, values: input.values)).values
        let b = fromSafetensors.forward(Tensor(shape: input.shape, values: input.values)).values
        #expect(a == b)
    }

    @Test("the transfer discriminator's own step adds the same head gradients without the pass back through the backbone")
    func headOnlyGradients() throws {
        let weights = try #require(Bundle.module.url(forResource: "mobilenetv2_035_notop", withExtension: "h5", subdirectory: "Fixtures"))
        let discriminator = TransferDiscriminator(
            backbone: try BackboneKind.mobilenetv2.load(weights: weights.path), resolution: 32, seed: 3)
        let (full, headOnly) = OwnStepGradients.measure(discriminator)
        #expect(full == headOnly && full.contains { $0 != 0 })
    }

    @Test("a weight file that does not fit, or declares more values than any backbone has, names what is wrong")
    func mismatch() throws {
        let weights = try #require(Bundle.module.url(forResource: "mobilenetv2_035_notop", withExtension: "h5", subdirectory: "Fixtures"))
        #expect { try MobileNetV2(alpha: 1).loadKerasWeights(KerasWeightFile(path: weights.path)) } throws: {
            "\($0)".contains("Conv1.weight") && "\($0)".contains("mobilenetv2_035_notop.h5")
        }
        let notHDF5 = try #require(
            Bundle.module.url(forResource: "compact_generator_io", withExtension: "safetensors", subdirectory: "Fixtures"))
        #expect { try KerasWeightFile(path: notHDF5.path) } throws: { "\($0)".contains("not an HDF5 file") }
        // A dataset declaring 3 x 3 x 3 x 2^40 floats (and storing none) is refused before any allocation.
        let oversized = try #require(Bundle.module.url(forResource: "oversized_weight", withExtension: "h5", subdirectory: "Fixtures"))
        #expect { try KerasWeightFile(path: oversized.path).engineArrays() } throws: {
            "\($0)".contains("/Conv1/Conv1/kernel:0 declares shape [3, 3, 3, 1099511627776]") && "\($0)".contains("oversized_weight.h5")
        }
        // Datasets each within the limit, but more in all: the fixture holds 410,208 values.
        #expect { try KerasWeightFile(path: weights.path, valueLimit: 400_000).engineArrays() } throws: {
            "\($0)".contains("takes the file's weights past the 400000 values it may hold")
        }
        #expect { try KerasWeightFile(path: oversized.path).array(at: "/Conv2/Conv2/kernel:0") } throws: {
            "\($0)".contains("/Conv2/Conv2/kernel:0 has more than 8 dimensions")
        }
    }
}
