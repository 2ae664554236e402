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

    /// The im2col run takes the channel-blocked input through NCHW and gives
    /// its input gradient back in channel blocks.
    @Test("Conv2d from and to channel blocks equals its NCHW run", arguments: ConvolutionKernels.allCases)
    func convolution(kernels: ConvolutionKernels) {
        let input = GradientCheck.input([2, 16, 8, 8], seed: 21)
        var random = EngineRandom(seed: 22)
        let outputGradient = Tensor(shape: [2, 32, 4, 4], values: (0..<1024).map { _ in random.uniform(-1, 1) })
        func run(_ layout: TensorLayout) -> [[Float]] {
            let store = ParameterStore()
            store.convolutionKernels = kernels
            let convolution = Conv2d(
                "c", store: store, initializer: DefaultInitializer(random: EngineRandom(seed: 23)), inChannels: 16,
                outChannels: 32, kernel: 4, stride: 2, padding: 1, channelBlockedOutput: layout == .channelBlocks)
            store.seal()
            let output = convolution.forward(Self.converted(input, to: layout), training: true)
            #expect(output.layout == (kernels == .oneDNN ? layout : .channelsFirst))
            let values = Self.channelsFirstValues(output)
            let inputGradient = convolution.backward(
                Self.converted(outputGradient, to: output.layout), parameterGradients: true)
            #expect(inputGradient.layout == layout)
            return [
                values, Self.channelsFirstValues(inputGradient), Array(UnsafeBufferPointer(start: store.gradients, count: store.count)),
            ]
        }
        let channelsFirst = run(.channelsFirst), blocked = run(.channelBlocks)
        let differences = zip(channelsFirst, blocked).map { largestDifference($0, $1) }
        print("Conv2d on channel blocks (\(kernels.rawValue)): largest differences \(differences)")
        #expect(differences.allSatisfy { $0 <= 1e-5 })
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
