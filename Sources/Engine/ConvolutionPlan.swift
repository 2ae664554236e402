/// The fixed hyperparameters of a convolution layer, one value instead of
/// loose integers: `inChannels` -> `outChannels` through a `kernel` x
/// `kernel` window moved by `stride` with symmetric `padding`; a transposed
/// convolution adds `outputPadding` rows and columns at the bottom and
/// right; `groups` equal to the channels makes a depthwise convolution.
struct ConvolutionShape: Equatable, Sendable {
    let inChannels, outChannels, kernel, stride, padding: Int
    var outputPadding = 0
    var groups = 1
    var transposed = false

    /// [Ho, Wo] for an input plane of `height` x `width`: (H + 2p - k) / s + 1,
    /// or (H - 1) s - 2p + k + output padding when transposed.
    func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        transposed
            ? ((height - 1) * stride - 2 * padding + kernel + outputPadding, (width - 1) * stride - 2 * padding + kernel + outputPadding)
            : ((height + 2 * padding - kernel) / stride + 1, (width + 2 * padding - kernel) / stride + 1)
    }

    /// At most `ConvolutionPlan.directOutputChannels` outputs at stride 1, not
    /// transposed nor grouped (the generator's last layer): never on oneDNN,
    /// but on the direct loop (or the pointwise GEMM when 1 x 1), on NCHW.
    var runsDirectly: Bool {
        !transposed && groups == 1 && outChannels <= ConvolutionPlan.directOutputChannels && stride == 1
    }

    /// A transposed 1 x 1 convolution with stride s > 1 and output padding
    /// s - 1 (the generator's branch c with transposed upsampling): oneDNN
    /// cannot express it (its right padding would be negative), but it is the
    /// 1 x 1 product at stride 1 placed at the top-left corner of each s x s
    /// output cell, with the bias alone at the cell's other positions
    /// (`ConvTranspose2d+Corners.swift`).
    var spreadsToCorners: Bool {
        transposed && kernel == 1 && padding == 0 && stride > 1 && outputPadding == stride - 1
    }
}

/// How a convolution layer computes at one input shape and layout: the one
/// place where a layer's kernel is chosen (`ConvolutionPlan.choose`). Each
/// layer's `backward` switches on the path its `forward` took.
enum ConvolutionPath {
    /// oneDNN's direct convolution primitives (the library PyTorch's CPU
    /// convolutions run on), reading and writing the plan's layouts.
    case oneDNN(OneDNNConvolution)
    /// `ConvolutionShape.spreadsToCorners`: oneDNN's stride-1 1 x 1 product,
    /// spread to the corners of the output's cells.
    case cornerSpread(OneDNNConvolution)
    /// im2col (col2im when transposed) and OpenBLAS GEMMs over the whole batch, on NCHW.
    case im2col(PatchGeometry)
    /// A 1 x 1 convolution with stride 1 and no padding over planes of at
    /// least `ConvolutionPlan.pointwisePlane` positions: one GEMM per image on
    /// the NCHW data, no copies.
    case pointwise
    /// At most `ConvolutionPlan.directOutputChannels` outputs at stride 1
    /// (the generator's last layer): shifted row updates that stay in cache,
    /// where a GEMM would be a few rows against a huge column matrix.
    case direct(PatchGeometry)
    /// The depthwise convolution's own per-plane loops, on NCHW.
    case depthwiseLoops

    /// The path's name, as `bench --profile` prints it.
    var name: String {
        switch self {
        case .oneDNN: "onednn"
        case .cornerSpread: "onednn corner spread"
        case .im2col: "im2col + gemm"
        case .pointwise: "pointwise gemm"
        case .direct: "direct loop"
        case .depthwiseLoops: "depthwise loops"
        }
    }
}

/// A convolution layer's path at one input shape and layout, with the
/// output's shape and the layout the layer gives out.
struct ConvolutionPlan {
    let inputShape: [Int]
    let inputLayout: TensorLayout
    let outputShape: [Int]
    let outputLayout: TensorLayout
    let path: ConvolutionPath

    /// Output channels up to which a stride-1 convolution runs on the direct
    /// loop: oneDNN's kernels block the output channels by 16 and would
    /// compute mostly padding (the generator's last layer, 48 -> 1, ran 1.1 x
    /// faster per compact step direct).
    static let directOutputChannels = 4
    /// Smallest plane on which a 1 x 1 convolution runs pointwise: on smaller
    /// planes one GEMM per image would have too few columns to run fast.
    static let pointwisePlane = 256

    /// Chooses the path of a layer of `shape` for an input of `inputShape`
    /// [N, C, H, W] in `inputLayout`, on the store's `kernels`. With
    /// `channelBlockedOutput` the output is in channel blocks when the
    /// convolutions run on oneDNN and the output channels fill whole blocks,
    /// whichever path the layer itself takes (a shape oneDNN refuses converts
    /// the engine's NCHW result), so that its neighbours see one layout.
    /// `refused` holds the input shapes oneDNN has no kernel for, so that
    /// they are not tried again.
    static func choose(
        for shape: ConvolutionShape, inputShape: [Int], inputLayout: TensorLayout, kernels: ConvolutionKernels,
        channelBlockedOutput: Bool, hasBias: Bool, refused: inout Set<[Int]>
    ) -> ConvolutionPlan {
        let (n, _, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (outHeight, outWidth) = shape.outputSize(height: h, width: w)
        let outputShape = [n, shape.outChannels, outHeight, outWidth]
        let blocked =
            channelBlockedOutput && kernels == .oneDNN && shape.outChannels % TensorLayout.blockChannels == 0
        let outputLayout: TensorLayout = blocked ? .channelBlocks : .channelsFirst
        func plan(_ path: ConvolutionPath) -> ConvolutionPlan {
            ConvolutionPlan(
                inputShape: inputShape, inputLayout: inputLayout, outputShape: outputShape, outputLayout: outputLayout, path: path)
        }
        let direct = shape.runsDirectly
        if kernels == .oneDNN, !direct, !refused.contains(inputShape) {
            let corners = shape.spreadsToCorners
            let made = OneDNNConvolution(
                transposed: shape.transposed, groups: shape.groups, inputShape: inputShape, inputLayout: inputLayout,
                outChannels: shape.outChannels, outHeight: corners ? h : outHeight, outWidth: corners ? w : outWidth,
                outputLayout: outputLayout, kernel: shape.kernel, stride: corners ? 1 : shape.stride, padding: shape.padding,
                hasBias: hasBias)
            if let made { return plan(corners ? .cornerSpread(made) : .oneDNN(made)) }
            refused.insert(inputShape)
        }
        if shape.groups > 1 { return plan(.depthwiseLoops) }
        let geometry =
            shape.transposed
            ? PatchGeometry(
                channels: shape.outChannels, height: outHeight, width: outWidth, kernel: shape.kernel, stride: shape.stride,
                padding: shape.padding, columnsHigh: h, columnsWide: w)
            : PatchGeometry(
                channels: shape.inChannels, height: h, width: w, kernel: shape.kernel, stride: shape.stride, padding: shape.padding,
                columnsHigh: outHeight, columnsWide: outWidth)
        if !shape.transposed, shape.kernel == 1, shape.stride == 1, shape.padding == 0, h * w >= pointwisePlane {
            return plan(.pointwise)
        }
        return plan(direct ? .direct(geometry) : .im2col(geometry))
    }

    /// One line for `bench --profile`: the layer, its input and output, the path.
    func describe(layer name: String) -> String {
        func text(_ shape: [Int], _ layout: TensorLayout) -> String {
            "[\(shape.map(String.init).joined(separator: ", "))]" + (layout == .channelBlocks ? " blocks" : "")
        }
        return "\(name): \(text(inputShape, inputLayout)) -> \(text(outputShape, outputLayout)), \(path.name)"
    }
}

/// A layer's plan for the latest input shape and layout, chosen again when
/// either changes, the store switches kernels or the network changes the
/// layer's output layout (`producesChannelBlocks`); the shapes oneDNN refused
/// are not tried again. Each new plan is recorded in the store, under the
/// layer's name, for `bench --profile`.
struct ConvolutionPlanCache {
    /// The layer's name, as the store records its plans.
    let layer: String
    private var latest: (plan: ConvolutionPlan, kernels: ConvolutionKernels, channelBlockedOutput: Bool)?
    private var refused: Set<[Int]> = []

    init(layer: String) { self.layer = layer }

    mutating func plan(
        for input: Tensor, shape: ConvolutionShape, store: ParameterStore, channelBlockedOutput: Bool = false, hasBias: Bool
    ) -> ConvolutionPlan {
        if let latest, latest.plan.inputShape == input.shape, latest.plan.inputLayout == input.layout,
            latest.kernels == store.convolutionKernels, latest.channelBlockedOutput == channelBlockedOutput
        {
            return latest.plan
        }
        let plan = ConvolutionPlan.choose(
            for: shape, inputShape: input.shape, inputLayout: input.layout, kernels: store.convolutionKernels,
            channelBlockedOutput: channelBlockedOutput, hasBias: hasBias, refused: &refused)
        latest = (plan, store.convolutionKernels, channelBlockedOutput)
        store.record(convolutionPlan: plan.describe(layer: layer), layer: layer)
        return plan
    }
}
