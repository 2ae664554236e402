import COneDNN

/// Which kernels a model's `Conv2d`, `ConvTranspose2d` and `DepthwiseConv2d`
/// layers run on (`ParameterStore.convolutionKernels`).
public enum ConvolutionKernels: String, CaseIterable, Sendable {
    /// oneDNN's direct convolutions (the library PyTorch's CPU convolutions
    /// run on), 2-2.6 x faster per layer than im2col + OpenBLAS on this
    /// machine (docs/performance.md); im2col where oneDNN has no kernel.
    case oneDNN = "onednn"
    /// im2col (or a direct loop for few output channels) and OpenBLAS GEMMs:
    /// the engine's own kernels, kept to compare against and as the fallback.
    case im2col
}

/// One convolution or transposed convolution at one input shape and layout
/// on oneDNN: owns the primitives (freed in `deinit`), reorders our NCHW
/// tensors into oneDNN's blocked layouts and back in the model's workspace
/// (tensors already in channel blocks need no reorder).
final class OneDNNConvolution {
    /// The input shape [N, C, H, W] the primitives were made for.
    let inputShape: [Int]
    /// The layouts of the input and of the output (and of their gradients).
    let inputLayout: TensorLayout, outputLayout: TensorLayout
    /// Floats of workspace a forward or backward call needs.
    private let scratchCount: Int
    private let handle: OpaquePointer
    /// The matrix product each pass is equivalent to (im2col's), for the
    /// profiler's operation count: m x k times k x n.
    private let equivalentGEMM: (m: Int, n: Int, k: Int)

    /// Nil when oneDNN has no kernel for the shape (the caller falls back to
    /// im2col).
    /// `groups` equal to the channels makes a depthwise convolution.
    init?(
        transposed: Bool, groups: Int = 1, inputShape: [Int], inputLayout: TensorLayout, outChannels: Int, outHeight: Int,
        outWidth: Int, outputLayout: TensorLayout, kernel: Int, stride: Int, padding: Int, hasBias: Bool
    ) {
        var shape = ms_convolution_shape(
            transposed: transposed ? 1 : 0, groups: Int32(groups), batch: Int32(inputShape[0]), in_channels: Int32(inputShape[1]),
            in_height: Int32(inputShape[2]), in_width: Int32(inputShape[3]), out_channels: Int32(outChannels),
            out_height: Int32(outHeight), out_width: Int32(outWidth), kernel: Int32(kernel), stride: Int32(stride),
            padding: Int32(padding), has_bias: hasBias ? 1 : 0, blocked_input: inputLayout == .channelBlocks ? 1 : 0,
            blocked_output: outputLayout == .channelBlocks ? 1 : 0)
        var error = [CChar](repeating: 0, count: 256)
        guard let handle = ms_convolution_create(&shape, &error, error.count) else { return nil }
        self.handle = handle
        self.inputShape = inputShape
        self.inputLayout = inputLayout
        self.outputLayout = outputLayout
        let (batch, inChannels, height, width) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        equivalentGEMM =
            transposed
            ? (outChannels * kernel * kernel, batch * height * width, inChannels)
            : (outChannels, batch * outHeight * outWidth, inChannels / groups * kernel * kernel)
        scratchCount = (ms_convolution_scratch_bytes(handle) + 3) / 4
    }

    deinit { ms_convolution_destroy(handle) }

    /// y [N, O, Ho, Wo] = conv(x [N, C, H, W], weight) + bias, with the
    /// layer's parameters from `store` and its workspace as the scratch.
    func forward(_ x: Tensor, weight: Parameter, bias: Parameter?, store: ParameterStore, into y: Tensor) {
        precondition(x.layout == inputLayout && y.layout == outputLayout, "oneDNN convolution called with other layouts")
        Profiler.countGEMM(m: equivalentGEMM.m, n: equivalentGEMM.n, k: equivalentGEMM.k)
        let status = ms_convolution_forward(
            handle, x.data, store.value(weight), bias.map { store.value($0) }, y.data, store.workspace.a(scratchCount))
        precondition(status == 0, "oneDNN convolution forward failed for input \(inputShape)")
    }

    /// dx = the input gradient (overwritten) when given; with
    /// `parameterGradients`, the weight and bias gradients are added into the
    /// store's.
    func backward(
        _ dy: Tensor, input x: Tensor, weight: Parameter, bias: Parameter?, store: ParameterStore, inputGradient dx: Tensor?,
        parameterGradients: Bool
    ) {
        precondition(
            dy.layout == outputLayout && x.layout == inputLayout && (dx?.layout ?? inputLayout) == inputLayout,
            "oneDNN convolution called with other layouts")
        let passes = (parameterGradients ? 1 : 0) + (dx == nil ? 0 : 1)
        for _ in 0..<passes { Profiler.countGEMM(m: equivalentGEMM.m, n: equivalentGEMM.n, k: equivalentGEMM.k) }
        let status = ms_convolution_backward(
            handle, x.data, store.value(weight), dy.data, dx?.data, parameterGradients ? store.gradient(weight) : nil,
            parameterGradients ? bias.map { store.gradient($0) } : nil, store.workspace.a(scratchCount))
        precondition(status == 0, "oneDNN convolution backward failed for input \(inputShape)")
    }
}
