import Engine
import Foundation
import TestSupport
import Testing

@Suite("Gradient checks")
struct GradientCheckTests {
    init() { EngineThreads.configure(2) }

    func layerCheck(
        _ label: String, _ shape: [Int], kernels: ConvolutionKernels = .oneDNN, build: (ParameterStore, DefaultInitializer) -> Layer
    ) {
        let store = ParameterStore()
        store.convolutionKernels = kernels
        let layer = build(store, DefaultInitializer(random: EngineRandom(seed: 5)))
        store.seal()
        GradientCheck.check(
            label, input: GradientCheck.input(shape, seed: 3), store: store.count > 0 ? store : nil,
            run: { layer.forward($0, training: true) },
            backward: { layer.backward($0, parameterGradients: true) })
    }

    @Test("Conv2d 3x3 pad 1, 1x1, 4x4 stride 2", arguments: ConvolutionKernels.allCases)
    func convolutions(kernels: ConvolutionKernels) {
        layerCheck("conv3x3 \(kernels)", [2, 3, 5, 5], kernels: kernels) {
            Conv2d("c", store: $0, initializer: $1, inChannels: 3, outChannels: 4, kernel: 3, padding: 1)
        }
        layerCheck("conv3x3 one output (direct) \(kernels)", [2, 3, 5, 5], kernels: kernels) {
            Conv2d("c", store: $0, initializer: $1, inChannels: 3, outChannels: 1, kernel: 3, padding: 1)
        }
        layerCheck("conv1x1 \(kernels)", [2, 3, 4, 4], kernels: kernels) {
            Conv2d("c", store: $0, initializer: $1, inChannels: 3, outChannels: 2, kernel: 1)
        }
        layerCheck("conv1x1 pointwise no bias \(kernels)", [2, 3, 16, 16], kernels: kernels) {
            Conv2d("c", store: $0, initializer: $1, inChannels: 3, outChannels: 5, kernel: 1, bias: false)
        }
        layerCheck("conv3x3 stride 2 no bias \(kernels)", [2, 3, 7, 7], kernels: kernels) {
            Conv2d("c", store: $0, initializer: $1, inChannels: 3, outChannels: 6, kernel: 3, stride: 2, bias: false)
        }
        layerCheck("conv3x3 direct no bias \(kernels)", [2, 3, 5, 5], kernels: kernels) {
            Conv2d("c", store: $0, initializer: $1, inChannels: 3, outChannels: 1, kernel: 3, padding: 1, bias: false)
        }
        layerCheck("conv4x4s2 \(kernels)", [2, 2, 8, 8], kernels: kernels) {
            Conv2d("c", store: $0, initializer: $1, inChannels: 2, outChannels: 3, kernel: 4, stride: 2, padding: 1)
        }
    }

    @Test("ConvTranspose2d 3x3 stride 2 and 1x1 stride 2, with output padding", arguments: ConvolutionKernels.allCases)
    func transposedConvolutions(kernels: ConvolutionKernels) {
        layerCheck("convT3x3 \(kernels)", [2, 3, 3, 3], kernels: kernels) {
            ConvTranspose2d(
                "t", store: $0, initializer: $1, inChannels: 3, outChannels: 2, kernel: 3, stride: 2, padding: 1, outputPadding: 1)
        }
        layerCheck("convT1x1 \(kernels)", [2, 3, 3, 3], kernels: kernels) {
            ConvTranspose2d(
                "t", store: $0, initializer: $1, inChannels: 3, outChannels: 2, kernel: 1, stride: 2, padding: 0, outputPadding: 1)
        }
    }

    @Test("Linear, BatchNorm2d, activations, upsampling, minibatch standard deviation")
    func others() {
        layerCheck("linear", [3, 6]) { Linear("l", store: $0, initializer: $1, inFeatures: 6, outFeatures: 4) }
        layerCheck("batchnorm", [3, 2, 3, 3]) { store, _ in BatchNorm2d("b", store: store, channels: 2) }
        layerCheck("leaky_relu", [2, 2, 3, 3]) { _, _ in LeakyReLU(slope: 0.2) }
        layerCheck("tanh", [2, 2, 3, 3]) { _, _ in Tanh() }
        layerCheck("sigmoid", [2, 2, 3, 3]) { _, _ in Sigmoid() }
        layerCheck("upsample", [2, 2, 3, 3]) { _, _ in Upsample2x() }
        layerCheck("minibatch standard deviation", [3, 2, 2, 2]) { _, _ in MinibatchStandardDeviation() }
    }

    /// A finite difference would cross the activation's kink at the normalised
    /// values near 0, so the fused layer is held to the two layers it replaces,
    /// which are checked above; so is the fused layer in place.
    @Test(
        "BatchNorm2d with a fused LeakyReLU, and in place, equals BatchNorm2d then LeakyReLU",
        arguments: [true, false])
    func fusedActivation(training: Bool) {
        let input = GradientCheck.input([3, 4, 5, 5], seed: 3)
        var random = EngineRandom(seed: 4)
        let outputGradient = Tensor(shape: input.shape, values: (0..<input.count).map { _ in random.uniform(-1, 1) })
        func run(fused: Bool, inPlace: Bool = false) -> (output: [Float], inputGradient: [Float], parameterGradients: [Float]) {
            let store = ParameterStore()
            let norm = BatchNorm2d(
                "b", store: store, channels: 4, activationSlope: fused ? 0.2 : nil, inPlace: inPlace)
            let activation = LeakyReLU(slope: 0.2)
            store.seal()
            // Away from gamma 1 and beta 0, so that both move the output across the kink.
            for i in 0..<store.count { store.values[i] = 0.5 + 0.1 * Float(i % 5) - (i >= 4 ? 0.3 : 0) }
            let normalized = norm.forward(Tensor(shape: input.shape, values: input.values), training: training)
            let output = fused ? normalized : activation.forward(normalized, training: training)
            let values = output.values
            // A copy: in place, the layer writes its input gradient over it.
            let ownGradient = Tensor(shape: outputGradient.shape, values: outputGradient.values)
            let dNormalized = fused ? ownGradient : activation.backward(ownGradient, parameterGradients: true)
            let inputGradient = norm.backward(dNormalized, parameterGradients: true).values
            return (values, inputGradient, Array(UnsafeBufferPointer(start: store.gradients, count: store.count)))
        }
        let separate = run(fused: false)
        for (label, variant) in [("fused", run(fused: true)), ("fused, in place", run(fused: true, inPlace: true))] {
            let differences = [
                largestDifference(variant.output, separate.output), largestDifference(variant.inputGradient, separate.inputGradient),
                largestDifference(variant.parameterGradients, separate.parameterGradients),
            ]
            print("BatchNorm2d+LeakyReLU \(label) (training \(training)): largest differences \(differences)")
            #expect(differences.allSatisfy { $0 <= 1e-5 }, "\(label)")
            #expect(variant.output.contains { $0 < 0 } && variant.output.contains { $0 > 0 })
        }
    }

    /// The noise is the op's second input and stays fixed; the scale starts
    /// at 0 and is set away from it, so that the check sees it scale the noise.
    @Test("noise injection")
    func noiseInjection() {
        let store = ParameterStore()
        let layer = NoiseInjection("n", store: store, channels: 2)
        store.seal()
        store.value(layer.scale).update(from: [0.7, -1.3], count: 2)
        let noise = GradientCheck.input([3, 1, 3, 4], seed: 8)
        GradientCheck.check(
            "noise injection", input: GradientCheck.input([3, 2, 3, 4], seed: 7), store: store,
            run: { layer.forward($0, noise: noise) }, backward: { layer.backward($0, parameterGradients: true) })
    }

    @Test("backbone layers: depthwise convolutions, max pooling, zero padding, global average, ReLU6")
    func backboneLayers() {
        for kernels in ConvolutionKernels.allCases {
            layerCheck("depthwise3x3 \(kernels)", [2, 3, 5, 5], kernels: kernels) {
                DepthwiseConv2d("d", store: $0, initializer: $1, channels: 3, kernel: 3, padding: 1)
            }
            layerCheck("depthwise3x3 stride 2 no bias \(kernels)", [2, 3, 7, 7], kernels: kernels) {
                DepthwiseConv2d("d", store: $0, initializer: $1, channels: 3, kernel: 3, stride: 2, bias: false)
            }
        }
        // Distinct values 0.05 apart, so that the finite-difference step never changes a window's winner.
        var random = EngineRandom(seed: 6)
        let spaced = Tensor(shape: [2, 2, 6, 6], values: random.shuffled(Array(0..<144)).map { Float($0) * 0.05 - 3.6 })
        let pool = MaxPool2d(kernel: 3, stride: 2, padBottom: 1, padRight: 1)
        GradientCheck.check(
            "maxpool3x3s2 same", input: spaced, store: nil, run: { pool.forward($0, training: false) },
            backward: { pool.backward($0, parameterGradients: false) })
        let oddSpaced = Tensor(shape: [2, 2, 7, 7], values: random.shuffled(Array(0..<196)).map { Float($0) * 0.05 - 4.9 })
        let samePool = MaxPool2d(sameWithKernel: 3, stride: 2)
        GradientCheck.check(
            "maxpool3x3s2 same on 7x7 (padding 1 and 1)", input: oddSpaced, store: nil,
            run: { samePool.forward($0, training: false) }, backward: { samePool.backward($0, parameterGradients: false) })
        #expect(samePool.forward(oddSpaced, training: false).shape == [2, 2, 4, 4])
        // A window of only NaN or -inf (a diverging generator) has an in-bounds winner: NaN is passed
        // on, and backward sends each gradient to a pixel of its own window.
        let diverged = Tensor(shape: [1, 1, 2, 2], values: [.nan, .nan, -.infinity, -.infinity])
        let rowPool = MaxPool2d(kernel: 1, stride: 1)
        let pooled = rowPool.forward(diverged, training: false).values
        #expect(pooled[0].isNaN && pooled[1].isNaN && pooled[2] == -.infinity && pooled[3] == -.infinity)
        #expect(rowPool.backward(Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4]), parameterGradients: false).values == [1, 2, 3, 4])
        let windowPool = MaxPool2d(kernel: 2, stride: 2)
        #expect(
            windowPool.forward(Tensor(shape: [1, 1, 2, 2], values: Array(repeating: -.infinity, count: 4)), training: false).values == [
                -.infinity
            ])
        #expect(windowPool.backward(Tensor(shape: [1, 1, 1, 1], values: [5]), parameterGradients: false).values == [5, 0, 0, 0])
        layerCheck("zeropad same 3x3 stride 2", [2, 2, 6, 5]) { _, _ in ZeroPad2d(sameFor: 3, stride: 2) }
        layerCheck("zeropad", [2, 2, 3, 4]) { _, _ in ZeroPad2d(top: 1, bottom: 0, left: 0, right: 2) }
        layerCheck("global average", [2, 3, 3, 4]) { _, _ in GlobalAveragePool() }
        layerCheck("relu6", [2, 2, 3, 3]) { _, _ in ReLU6() }
        layerCheck("soft-argmax", [2, 3, 4, 5]) { _, _ in SoftArgmax2d() }
    }

    @Test("binary cross-entropy gradient")
    func crossEntropy() {
        let logits = GradientCheck.input([5, 1], seed: 8)
        var gradient: Tensor?
        _ = BinaryCrossEntropy.withLogits(logits, target: 1, gradient: &gradient)
        for i in 0..<5 {
            let saved = logits.data[i]
            var scratch: Tensor?
            logits.data[i] = saved + 1e-2
            let plus = BinaryCrossEntropy.withLogits(logits, target: 1, gradient: &scratch)
            logits.data[i] = saved - 1e-2
            let minus = BinaryCrossEntropy.withLogits(logits, target: 1, gradient: &scratch)
            logits.data[i] = saved
            #expect(abs((plus - minus) / 2e-2 - gradient!.data[i]) < 1e-3)
        }
    }
}

@Suite("Tensor files")
struct TensorFileTests {
    @Test("safetensors and .npy round trips, and clear errors")
    func roundTrips() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let a = NamedArray(shape: [2, 3], values: [1, -2, 3.5, 0, 1e-7, 6])
        let b = NamedArray(shape: [4], values: [9, 8, 7, 6])
        try SafeTensors.write([("a", a), ("b.weight", b)], metadata: ["preset": "compact"], to: folder.file("x.safetensors"))
        let read = try SafeTensors.read(path: folder.file("x.safetensors"))
        #expect(read.tensors["a"]?.values == a.values && read.tensors["a"]?.shape == a.shape)
        #expect(read.tensors["b.weight"]?.values == b.values)
        #expect(read.metadata == ["preset": "compact"])
        try NumpyFile.write(a, to: folder.file("x.npy"))
        let npy = try NumpyFile.read(path: folder.file("x.npy"))
        #expect(npy.shape == [2, 3] && npy.values == a.values)
        try Data("not a tensor file".utf8).write(to: URL(fileURLWithPath: folder.file("bad")))
        #expect(throws: TensorFileError.self) { _ = try SafeTensors.read(path: folder.file("bad")) }
        #expect(throws: TensorFileError.self) { _ = try NumpyFile.read(path: folder.file("bad")) }
    }

    @Test("a store refuses a checkpoint with missing or misshapen tensors, naming them")
    func loadErrors() throws {
        let store = ParameterStore()
        _ = store.make("w", shape: [2, 2]) { $0.update(repeating: 0) }
        _ = store.make("b", shape: [2]) { $0.update(repeating: 0) }
        store.seal()
        let error = #expect(throws: TensorFileError.self) {
            try store.load(["w": NamedArray(shape: [4], values: [1, 2, 3, 4])], source: "ckpt")
        }
        #expect(error?.reason.contains("w has shape [4], expected [2, 2]") == true)
        #expect(error?.reason.contains("missing b") == true)
    }
}
