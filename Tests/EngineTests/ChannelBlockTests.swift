import Engine
import TestSupport
import Testing

/// The layers that pass oneDNN's channel blocks (`TensorLayout.channelBlocks`)
/// are held to their NCHW runs, which the gradient checks and the numpy
/// references cover: the same values, in the other order.
struct ChannelBlockTests {
    /// A copy of `tensor` in `layout`.
    static func converted(_ tensor: Tensor, to layout: TensorLayout) -> Tensor {
        let copy = Tensor(shape: tensor.shape)
        copy.layout = layout
        convertLayout(tensor, into: copy)
        return copy
    }

    /// The values of `tensor` in NCHW order.
    static func channelsFirstValues(_ tensor: Tensor) -> [Float] { converted(tensor, to: .channelsFirst).values }

    @Test("element (n, c, h, w) of a channel-blocked tensor is at ((n * C/16 + c/16) * H * W + h * W + w) * 16 + c % 16")
    func placement() {
        let (n, c, h, w) = (2, 32, 3, 5)
        let tensor = Tensor(shape: [n, c, h, w], values: (0..<(n * c * h * w)).map(Float.init))
        let blocked = Self.converted(tensor, to: .channelBlocks)
        for (image, channel, row, column) in [(0, 0, 0, 0), (1, 17, 2, 4), (0, 15, 1, 3), (1, 31, 0, 1)] {
            let expected = tensor.data[((image * c + channel) * h + row) * w + column]
            let index = ((image * c / 16 + channel / 16) * h * w + row * w + column) * 16 + channel % 16
            #expect(blocked.data[index] == expected)
        }
        #expect(Self.channelsFirstValues(blocked) == tensor.values)
    }

    @Test("BatchNorm2d (with LeakyReLU, in place) on channel blocks equals its NCHW run", arguments: [true, false])
    func batchNorm(training: Bool) {
        let input = GradientCheck.input([3, 32, 3, 5], seed: 11)
        var random = EngineRandom(seed: 12)
        let outputGradient = Tensor(shape: input.shape, values: (0..<input.count).map { _ in random.uniform(-1, 1) })
        func run(_ layout: TensorLayout) -> [[Float]] {
            let store = ParameterStore()
            let norm = BatchNorm2d("b", store: store, channels: 32, activationSlope: 0.2, inPlace: true)
            store.seal()
            for i in 0..<store.count { store.values[i] = 0.5 + 0.1 * Float(i % 7) - (i >= 32 ? 0.4 : 0) }
            // Running estimates away from 0 and 1, for the inference run.
            for channel in 0..<32 {
                norm.runningMean.data[channel] = 0.1 * Float(channel % 5)
                norm.runningVariance.data[channel] = 0.5 + 0.05 * Float(channel)
            }
            let output = norm.forward(Self.converted(input, to: layout), training: training)
            #expect(output.layout == layout)
            let values = Self.channelsFirstValues(output)
            let inputGradient = norm.backward(Self.converted(outputGradient, to: layout), parameterGradients: true)
            #expect(inputGradient.layout == layout)
            return [
                values, Self.channelsFirstValues(inputGradient), Array(UnsafeBufferPointer(start: store.gradients, count: store.count)),
                norm.runningMean.values + norm.runningVariance.values,
            ]
        }
        let channelsFirst = run(.channelsFirst), blocked = run(.channelBlocks)
        let differences = zip(channelsFirst, blocked).map { largestDifference($0, $1) }
        print("BatchNorm2d+LeakyReLU on channel blocks (training \(training)): largest differences \(differences)")
        #expect(differences.allSatisfy { $0 <= 1e-5 })
        #expect(channelsFirst[0].contains { $0 < 0 } && channelsFirst[0].contains { $0 > 0 })
    }

    /// Conv2d 4 x 4 stride 2 (the discriminator's), and ConvTranspose2d 3 x 3
    /// and 1 x 1 with stride 2 and output padding 1 (the generator's branches b
    /// and c; on oneDNN the 1 x 1 one spreads a stride-1 product to the output
    /// cells' corners). The im2col runs take a channel-blocked input through
    /// NCHW and give the input gradient back in channel blocks.
    @Test("convolutions from and to channel blocks equal their NCHW runs", arguments: ConvolutionKernels.allCases)
    func convolutions(kernels: ConvolutionKernels) {
        typealias Make = (ParameterStore, DefaultInitializer) -> any ChannelBlockProducer
        let layers: [(String, Make, [Int])] = [
            (
                "Conv2d 4x4/2",
                {
                    Conv2d(
                        "c", store: $0, initializer: $1, inChannels: 16, outChannels: 32, kernel: 4, stride: 2, padding: 1)
                }, [2, 32, 4, 4]
            ),
            (
                "ConvTranspose2d 3x3/2",
                {
                    ConvTranspose2d(
                        "t", store: $0, initializer: $1, inChannels: 16, outChannels: 32, kernel: 3, stride: 2, padding: 1,
                        outputPadding: 1)
                }, [2, 32, 16, 16]
            ),
            (
                "ConvTranspose2d 1x1/2",
                {
                    ConvTranspose2d(
                        "t", store: $0, initializer: $1, inChannels: 16, outChannels: 32, kernel: 1, stride: 2, padding: 0,
                        outputPadding: 1)
                }, [2, 32, 16, 16]
            ),
        ]
        let input = GradientCheck.input([2, 16, 8, 8], seed: 21)
        for (label, make, outputShape) in layers {
            var random = EngineRandom(seed: 22)
            let count = outputShape.reduce(1, *)
            let outputGradient = Tensor(shape: outputShape, values: (0..<count).map { _ in random.uniform(-1, 1) })
            func run(_ layout: TensorLayout) -> [[Float]] {
                let store = ParameterStore()
                store.convolutionKernels = kernels
                let layer = make(store, DefaultInitializer(random: EngineRandom(seed: 23)))
                layer.producesChannelBlocks = layout == .channelBlocks
                store.seal()
                let output = layer.forward(Self.converted(input, to: layout), training: true)
                #expect(output.shape == outputShape && output.layout == (kernels == .oneDNN ? layout : .channelsFirst), "\(label)")
                let values = Self.channelsFirstValues(output)
                let inputGradient = layer.backward(Self.converted(outputGradient, to: output.layout), parameterGradients: true)
                #expect(inputGradient.layout == layout, "\(label)")
                return [
                    values, Self.channelsFirstValues(inputGradient), Array(UnsafeBufferPointer(start: store.gradients, count: store.count)),
                ]
            }
            let channelsFirst = run(.channelsFirst), blocked = run(.channelBlocks)
            let differences = zip(channelsFirst, blocked).map { largestDifference($0, $1) }
            print("\(label) on channel blocks (\(kernels.rawValue)): largest differences \(differences)")
            // Sums over the batch (the bias gradient of 512 positions per channel) round by their size.
            let bounds = channelsFirst.map { 1e-6 * (1 + ($0.map(abs).max() ?? 0)) }
            #expect(zip(differences, bounds).allSatisfy { $0 <= $1 }, "\(label): \(differences) against \(bounds)")
        }
    }

    @Test("ChannelsFirst hands on NCHW and takes the gradient back to the input's layout")
    func channelsFirstLayer() {
        let input = GradientCheck.input([2, 16, 2, 3], seed: 31)
        let layer = ChannelsFirst()
        let output = layer.forward(Self.converted(input, to: .channelBlocks), training: true)
        #expect(output.layout == .channelsFirst && output.values == input.values)
        let gradient = layer.backward(input, parameterGradients: true)
        #expect(gradient.layout == .channelBlocks && Self.channelsFirstValues(gradient) == input.values)
        #expect(layer.forward(input, training: true) === input)
    }
}
