import Engine
import Foundation
import TestSupport
import Testing

/// One case of Fixtures/ops, written by Fixtures/make_reference.py (numpy, float64).
struct OpCase {
    let arrays: [String: NamedArray]

    init(_ name: String) throws {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "safetensors", subdirectory: "Fixtures/ops"))
        arrays = try SafeTensors.read(path: url.path).tensors
    }

    subscript(_ key: String) -> NamedArray { arrays[key]! }

    func tensor(_ key: String) -> Tensor { Tensor(shape: self[key].shape, values: self[key].values) }

    /// Compares `actual` with the expected array `key`, printing the largest difference.
    func expectClose(_ actual: [Float], _ key: String, _ label: String, tolerance: Float = 1e-4) {
        let expected = self[key].values
        let difference = largestDifference(actual, expected)
        print("\(label) \(key): largest absolute difference \(difference)")
        #expect(difference <= tolerance * max(1, largestMagnitude(expected)), "\(label) \(key)")
    }

    /// The op's parameters in a store, named `op.weight`, `op.bias` (and so on).
    func loadParameters(into store: ParameterStore) throws {
        var named: [String: NamedArray] = [:]
        for key in ["weight", "bias", "running_mean", "running_var", "scale"] where arrays[key] != nil { named["op.\(key)"] = arrays[key] }
        try store.load(named, source: "fixture")
    }
}

func gradients(_ store: ParameterStore, _ parameter: Parameter) -> [Float] {
    Array(UnsafeBufferPointer(start: store.gradient(parameter), count: parameter.count))
}

@Suite("Engine ops against numpy")
struct ReferenceTests {
    init() { EngineThreads.configure(2) }

    @Test(
        "Conv2d forward and backward",
        arguments: [
            "conv3x3_pad1", "conv1x1", "conv4x4_stride2_pad1", "conv4x4_stride2_pad1_2x2",
            "conv3x3_pad1_one_output",
        ], ConvolutionKernels.allCases)
    func convolution(name: String, kernels: ConvolutionKernels) throws {
        let fixture = try OpCase(name)
        let weightShape = fixture["weight"].shape
        let config = fixture["config"].values.map { Int($0) }
        let store = ParameterStore()
        store.convolutionKernels = kernels
        let layer = Conv2d(
            "op", store: store, initializer: DefaultInitializer(random: EngineRandom(seed: 1)),
            inChannels: weightShape[1], outChannels: weightShape[0], kernel: weightShape[2],
            stride: config[0], padding: config[1])
        store.seal()
        try fixture.loadParameters(into: store)
        let y = layer.forward(fixture.tensor("x"), training: true)
        fixture.expectClose(y.values, "y", "\(name) \(kernels)")
        let dx = layer.backward(fixture.tensor("dy"), parameterGradients: true)
        fixture.expectClose(dx.values, "dx", "\(name) \(kernels)")
        fixture.expectClose(gradients(store, layer.weight), "dweight", "\(name) \(kernels)")
        fixture.expectClose(gradients(store, layer.bias!), "dbias", "\(name) \(kernels)")
    }

    @Test(
        "ConvTranspose2d forward and backward", arguments: ["convT3x3_stride2_pad1_out1", "convT1x1_stride2_out1"],
        ConvolutionKernels.allCases)
    func transposedConvolution(name: String, kernels: ConvolutionKernels) throws {
        let fixture = try OpCase(name)
        let weightShape = fixture["weight"].shape
        let config = fixture["config"].values.map { Int($0) }
        let store = ParameterStore()
        store.convolutionKernels = kernels
        let layer = ConvTranspose2d(
            "op", store: store, initializer: DefaultInitializer(random: EngineRandom(seed: 1)),
            inChannels: weightShape[0], outChannels: weightShape[1], kernel: weightShape[2],
            stride: config[0], padding: config[1], outputPadding: config[2])
        store.seal()
        try fixture.loadParameters(into: store)
        let y = layer.forward(fixture.tensor("x"), training: true)
        #expect(y.shape == fixture["y"].shape)
        fixture.expectClose(y.values, "y", "\(name) \(kernels)")
        let dx = layer.backward(fixture.tensor("dy"), parameterGradients: true)
        fixture.expectClose(dx.values, "dx", "\(name) \(kernels)")
        fixture.expectClose(gradients(store, layer.weight), "dweight", "\(name) \(kernels)")
        fixture.expectClose(gradients(store, layer.bias), "dbias", "\(name) \(kernels)")
    }

    @Test("Linear forward and backward")
    func linear() throws {
        let fixture = try OpCase("linear")
        let store = ParameterStore()
        let layer = Linear(
            "op", store: store, initializer: DefaultInitializer(random: EngineRandom(seed: 1)), inFeatures: 7, outFeatures: 5)
        store.seal()
        try fixture.loadParameters(into: store)
        fixture.expectClose(layer.forward(fixture.tensor("x"), training: true).values, "y", "linear")
        fixture.expectClose(layer.backward(fixture.tensor("dy"), parameterGradients: true).values, "dx", "linear")
        fixture.expectClose(gradients(store, layer.weight), "dweight", "linear")
        fixture.expectClose(gradients(store, layer.bias), "dbias", "linear")
    }

    @Test("BatchNorm2d in training: batch statistics, running estimates, gradients")
    func batchNormTraining() throws {
        let fixture = try OpCase("batchnorm_train")
        let store = ParameterStore()
        let layer = BatchNorm2d("op", store: store, channels: 4)
        store.seal()
        try store.load(
            [
                "op.weight": fixture["weight"], "op.bias": fixture["bias"],
                "op.running_mean": NamedArray(shape: [4], values: [0, 0, 0, 0]),
                "op.running_var": NamedArray(shape: [4], values: [1, 1, 1, 1]),
            ], source: "fixture")
        fixture.expectClose(layer.forward(fixture.tensor("x"), training: true).values, "y", "batchnorm")
        fixture.expectClose(layer.runningMean.values, "running_mean", "batchnorm")
        fixture.expectClose(layer.runningVariance.values, "running_var", "batchnorm")
        fixture.expectClose(layer.backward(fixture.tensor("dy"), parameterGradients: true).values, "dx", "batchnorm")
        fixture.expectClose(gradients(store, layer.weight), "dweight", "batchnorm")
        fixture.expectClose(gradients(store, layer.bias), "dbias", "batchnorm")
    }

    @Test("BatchNorm2d in inference uses the running estimates")
    func batchNormInference() throws {
        let fixture = try OpCase("batchnorm_inference")
        let store = ParameterStore()
        let layer = BatchNorm2d("op", store: store, channels: 4)
        store.seal()
        try fixture.loadParameters(into: store)
        fixture.expectClose(layer.forward(fixture.tensor("x"), training: false).values, "y", "batchnorm inference")
        fixture.expectClose(layer.backward(fixture.tensor("dy"), parameterGradients: true).values, "dx", "batchnorm inference")
    }

    @Test(
        "activations, upsampling, the minibatch standard deviation and soft-argmax",
        arguments: ["leaky_relu", "relu", "tanh", "sigmoid", "upsample2x", "minibatch_stddev", "soft_argmax"])
    func elementwise(name: String) throws {
        let fixture = try OpCase(name)
        let layer: Layer =
            switch name {
            case "leaky_relu": LeakyReLU(slope: 0.2)
            case "relu": ReLU()
            case "tanh": Tanh()
            case "sigmoid": Sigmoid()
            case "minibatch_stddev": MinibatchStandardDeviation()
            case "soft_argmax": SoftArgmax2d()
            default: Upsample2x()
            }
        fixture.expectClose(layer.forward(fixture.tensor("x"), training: true).values, "y", name)
        fixture.expectClose(layer.backward(fixture.tensor("dy"), parameterGradients: true).values, "dx", name)
    }

    @Test("noise injection: the noise map times each channel's scale, added")
    func noiseInjection() throws {
        let fixture = try OpCase("noise_injection")
        let store = ParameterStore()
        let layer = NoiseInjection("op", store: store, channels: 3)
        store.seal()
        try fixture.loadParameters(into: store)
        fixture.expectClose(layer.forward(fixture.tensor("x"), noise: fixture.tensor("noise")).values, "y", "noise injection")
        fixture.expectClose(layer.backward(fixture.tensor("dy"), parameterGradients: true).values, "dx", "noise injection")
        fixture.expectClose(gradients(store, layer.scale), "dscale", "noise injection")
    }

    /// Its parts are gradient-checked one by one (GradientCheckTests); a
    /// finite difference of the whole block crosses its LeakyReLUs' kinks.
    @Test(
        "ResidualBottleneck forward and backward: the sum, both LeakyReLUs and the three convolutions; its residual starts at zero",
        arguments: ConvolutionKernels.allCases)
    func residualBottleneck(kernels: ConvolutionKernels) throws {
        let fixture = try OpCase("residual_bottleneck")
        let store = ParameterStore()
        store.convolutionKernels = kernels
        let layer = ResidualBottleneck(
            "op", store: store, initializer: DefaultInitializer(random: EngineRandom(seed: 1)), channels: 4, bottleneck: 2)
        store.seal()
        let restore = try #require(store.parameter(named: "op.restore.weight"))
        #expect((0..<restore.count).allSatisfy { store.value(restore)[$0] == 0 }, "the residual starts at zero")
        let names = ["reduce", "conv", "restore"].flatMap { ["\($0).weight", "\($0).bias"] }
        try store.load(Dictionary(uniqueKeysWithValues: names.map { ("op.\($0)", fixture[$0]) }), source: "fixture")
        fixture.expectClose(layer.forward(fixture.tensor("x"), training: true).values, "y", "residual bottleneck \(kernels)")
        fixture.expectClose(
            layer.backward(fixture.tensor("dy"), parameterGradients: true).values, "dx", "residual bottleneck \(kernels)")
        for name in names {
            fixture.expectClose(gradients(store, store.parameter(named: "op.\(name)")!), "d\(name)", "residual bottleneck \(kernels)")
        }
    }

    @Test(
        "DepthwiseConv2d forward and backward", arguments: ["depthwise3x3_pad1", "depthwise3x3_stride2"],
        ConvolutionKernels.allCases)
    func depthwise(name: String, kernels: ConvolutionKernels) throws {
        let fixture = try OpCase(name)
        let weightShape = fixture["weight"].shape
        let config = fixture["config"].values.map { Int($0) }
        let store = ParameterStore()
        store.convolutionKernels = kernels
        let layer = DepthwiseConv2d(
            "op", store: store, initializer: DefaultInitializer(random: EngineRandom(seed: 1)),
            channels: weightShape[0], kernel: weightShape[2], stride: config[0], padding: config[1])
        store.seal()
        try fixture.loadParameters(into: store)
        fixture.expectClose(layer.forward(fixture.tensor("x"), training: false).values, "y", "\(name) \(kernels)")
        fixture.expectClose(layer.backward(fixture.tensor("dy"), parameterGradients: true).values, "dx", "\(name) \(kernels)")
        fixture.expectClose(gradients(store, layer.weight), "dweight", "\(name) \(kernels)")
        fixture.expectClose(gradients(store, layer.bias!), "dbias", "\(name) \(kernels)")
    }

    @Test(
        "backbone layers: max pooling with same padding, zero padding, global average, ReLU6",
        arguments: ["maxpool3x3_stride2_same", "zeropad_t0_b1_l2_r1", "global_average", "relu6"])
    func backboneLayers(name: String) throws {
        let fixture = try OpCase(name)
        let (before, after) = MaxPool2d.samePadding(size: 6, kernel: 3, stride: 2)
        let layer: Layer =
            switch name {
            case "maxpool3x3_stride2_same":
                MaxPool2d(kernel: 3, stride: 2, padTop: before, padLeft: before, padBottom: after, padRight: after)
            case "zeropad_t0_b1_l2_r1": ZeroPad2d(top: 0, bottom: 1, left: 2, right: 1)
            case "global_average": GlobalAveragePool()
            default: ReLU6()
            }
        fixture.expectClose(layer.forward(fixture.tensor("x"), training: false).values, "y", name)
        fixture.expectClose(layer.backward(fixture.tensor("dy"), parameterGradients: false).values, "dx", name)
    }

    @Test("binary cross-entropy on logits", arguments: [0, 1])
    func crossEntropy(target: Int) throws {
        let fixture = try OpCase("bce_target\(target)")
        var gradient: Tensor?
        let loss = BinaryCrossEntropy.withLogits(fixture.tensor("x"), target: Float(target), gradient: &gradient)
        fixture.expectClose([loss], "y", "bce")
        fixture.expectClose(gradient!.values, "dx", "bce")
    }

    @Test("two Adam steps match PyTorch's update to 1e-6")
    func adam() throws {
        let url = try #require(Bundle.module.url(forResource: "adam", withExtension: "safetensors", subdirectory: "Fixtures"))
        let arrays = try SafeTensors.read(path: url.path).tensors
        let store = ParameterStore()
        let p = store.make("p", shape: [50]) { $0.update(fromContentsOf: arrays["p0"]!.values) }
        store.seal()
        let optimizer = Adam(store: store)
        for (gradient, expected) in [("g1", "p1"), ("g2", "p2")] {
            arrays[gradient]!.values.withUnsafeBufferPointer { store.gradient(p).update(from: $0.baseAddress!, count: 50) }
            optimizer.update()
            let values = Array(UnsafeBufferPointer(start: store.value(p), count: 50))
            let difference = largestDifference(values, arrays[expected]!.values)
            print("adam \(expected): largest absolute difference \(difference)")
            #expect(difference <= 1e-6)
        }
        #expect(largestDifference(optimizer.firstMoment.values, arrays["m2"]!.values) <= 1e-6)
        #expect(largestDifference(optimizer.secondMoment.values, arrays["v2"]!.values) <= 1e-6)
    }
}
