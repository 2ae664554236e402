import COpenBLAS

/// Geometry shared by im2col and col2im: an image of `channels` x `height` x
/// `width`, a `kernel` x `kernel` window moved by `stride` with `padding`,
/// over `columnsHigh` x `columnsWide` positions.
struct PatchGeometry {
    let channels, height, width, kernel, stride, padding, columnsHigh, columnsWide: Int
    var rows: Int { channels * kernel * kernel }
    var positions: Int { columnsHigh * columnsWide }
}

extension PatchGeometry {
    /// The output columns whose input column ox * stride - padding + kj falls
    /// inside the image: computed once per kernel offset instead of testing
    /// every element.
    @inline(__always)
    func validColumns(kj: Int) -> Range<Int> {
        // ceil((padding - kj) / stride), clamped at 0 (Swift's division
        // truncates toward zero, which is the ceiling for negative numerators).
        let low = max(0, (padding - kj + stride - 1) / stride)
        // floor((width - 1 + padding - kj) / stride) + 1: none when the
        // numerator is negative (the kernel offset reaches past the image).
        let last = width - 1 + padding - kj
        let high = last < 0 ? 0 : min(columnsWide, last / stride + 1)
        return low..<max(low, high)
    }
}

/// Copies the patches of `batch` images into `columns`, laid out as a
/// [channels*kernel*kernel, batch*positions] matrix (row: channel and kernel
/// offset; column: image and output position). Zero outside the image.
func im2col(_ image: UnsafePointer<Float>, batch: Int, _ g: PatchGeometry, into columns: UnsafeMutablePointer<Float>) {
    let rowLength = batch * g.positions
    let plane = g.height * g.width
    parallelChunks(g.rows, minimumPerThread: 1) { rows in
        for row in rows {
            let channel = row / (g.kernel * g.kernel)
            let ki = row / g.kernel % g.kernel, kj = row % g.kernel
            let valid = g.validColumns(kj: kj)
            let firstInput = valid.lowerBound * g.stride - g.padding + kj
            var destination = columns + row * rowLength
            for n in 0..<batch {
                let source = image + (n * g.channels + channel) * plane
                for oy in 0..<g.columnsHigh {
                    let iy = oy * g.stride - g.padding + ki
                    if iy < 0 || iy >= g.height || valid.isEmpty {
                        destination.update(repeating: 0, count: g.columnsWide)
                    } else {
                        destination.update(repeating: 0, count: valid.lowerBound)
                        (destination + valid.upperBound).update(repeating: 0, count: g.columnsWide - valid.upperBound)
                        let line = source + iy * g.width + firstInput
                        let target = destination + valid.lowerBound
                        if g.stride == 1 {
                            target.update(from: line, count: valid.count)
                        } else {
                            for t in 0..<valid.count { target[t] = line[t * g.stride] }
                        }
                    }
                    destination += g.columnsWide
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds every column entry back into the image
/// position it came from. `image` is overwritten. Each image plane is
/// written by one thread.
func col2im(_ columns: UnsafePointer<Float>, batch: Int, _ g: PatchGeometry, into image: UnsafeMutablePointer<Float>) {
    let rowLength = batch * g.positions
    let plane = g.height * g.width
    parallelChunks(batch * g.channels, minimumPerThread: 1) { planes in
        for index in planes {
            let n = index / g.channels, channel = index % g.channels
            let target = image + index * plane
            target.update(repeating: 0, count: plane)
            for k in 0..<(g.kernel * g.kernel) {
                let ki = k / g.kernel, kj = k % g.kernel
                let valid = g.validColumns(kj: kj)
                if valid.isEmpty { continue }
                let firstInput = valid.lowerBound * g.stride - g.padding + kj
                var source = columns + (channel * g.kernel * g.kernel + k) * rowLength + n * g.positions + valid.lowerBound
                for oy in 0..<g.columnsHigh {
                    let iy = oy * g.stride - g.padding + ki
                    if iy >= 0 && iy < g.height {
                        let line = target + iy * g.width + firstInput
                        if g.stride == 1 {
                            for t in 0..<valid.count { line[t] += source[t] }
                        } else {
                            for t in 0..<valid.count { line[t * g.stride] += source[t] }
                        }
                    }
                    source += g.columnsWide
                }
            }
        }
    }
}

/// [N, C, HW] to [C, N*HW] (channel-major), the layout the GEMMs work in.
func channelMajor(_ source: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int, into destination: UnsafeMutablePointer<Float>) {
    parallelChunks(channels, minimumPerThread: 1) { range in
        for c in range {
            for n in 0..<batch {
                (destination + (c * batch + n) * plane).update(from: source + (n * channels + c) * plane, count: plane)
            }
        }
    }
}

/// [C, N*HW] to [N, C, HW], adding `bias[c]` when given.
func batchMajor(
    _ source: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int, bias: UnsafePointer<Float>?,
    into destination: UnsafeMutablePointer<Float>
) {
    parallelChunks(channels, minimumPerThread: 1) { range in
        for c in range {
            let b = bias?[c] ?? 0
            for n in 0..<batch {
                let from = source + (c * batch + n) * plane, to = destination + (n * channels + c) * plane
                for p in 0..<plane { to[p] = from[p] + b }
            }
        }
    }
}

/// Adds the per-channel sums of a tensor into `sums` (bias gradients).
func addChannelSums(_ tensor: Tensor, into sums: UnsafeMutablePointer<Float>) {
    let (n, c, h, w) = tensor.dimensions
    let plane = h * w, lanes = TensorLayout.blockChannels
    if tensor.layout == .channelBlocks {
        parallelChunks(c / lanes, minimumPerThread: 1) { range in
            for block in range {
                var total = SIMD16<Float>(repeating: 0)
                for image in 0..<n {
                    let start = tensor.data + (image * c + block * lanes) * plane
                    var imageTotal = SIMD16<Float>(repeating: 0)
                    for p in 0..<plane { imageTotal += load16(start + p * lanes) }
                    total += imageTotal
                }
                store16(load16(sums + block * lanes) + total, sums + block * lanes)
            }
        }
        return
    }
    parallelChunks(c, minimumPerThread: 1) { range in
        for channel in range {
            var total: Float = 0
            for image in 0..<n { total += sum(tensor.data + (image * c + channel) * plane, plane) }
            sums[channel] += total
        }
    }
}

/// Row-major single-precision GEMM: C = alpha * op(A) op(B) + beta * C.
@inline(__always)
public func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, beta: Float, _ c: UnsafeMutablePointer<Float>
) {
    Profiler.countGEMM(m: m, n: n, k: k)
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
        beta, c, Int32(n))
}

/// Transient matrices of one model's layers (permuted gradients, columns),
/// valid only inside one forward or backward call. Each model owns one, in
/// its parameter store: a model is used by one thread at a time, two models
/// may run at once.
public final class Workspace {
    private var first: Tensor?
    private var second: Tensor?

    public init() {}

    func a(_ count: Int) -> UnsafeMutablePointer<Float> { reuseTensor(&first, [count]).data }
    func b(_ count: Int) -> UnsafeMutablePointer<Float> { reuseTensor(&second, [count]).data }
}

/// 2-D convolution, NCHW, weight [out, in, k, k] (PyTorch's layout), with
/// bias unless `bias: false` (the Keras backbones' convolutions have none).
///
/// Forward: im2col of the whole batch into [in*k*k, N*Ho*Wo], one GEMM with
/// the weight, then back to NCHW with the bias. A 1x1 convolution's im2col is
/// a plain transpose to channel-major order. A 1x1 convolution with stride 1
/// and no padding over planes of at least `pointwisePlane` positions is a
/// plain GEMM per image on the NCHW data, no copies (on smaller planes one
/// GEMM per image would have too few columns to run fast). With at most
/// `directOutputChannels` outputs and stride 1 (the generator's last layer),
/// the GEMM would be a few rows against a huge column matrix, so the layer
/// convolves directly instead: shifted row updates that stay in cache.
public final class Conv2d: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    let store: ParameterStore
    let inChannels, outChannels, kernel, stride, padding: Int
    private var columns: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var inputShape: [Int] = []
    private var geometry: PatchGeometry!
    /// The input, kept by the oneDNN and direct paths for the weight gradient.
    private var input: Tensor?
    /// The engine's own kernels read and write NCHW.
    private var inputConversion = LayoutConversion(), outputConversion = LayoutConversion()
    private var oneDNNConvolutions = OneDNNConvolutionCache()
    /// The oneDNN convolution of the last forward call, nil when it ran on im2col.
    private var oneDNNConvolution: OneDNNConvolution?
    /// Whether the output is in channel blocks (`TensorLayout.channelBlocks`)
    /// when the model's convolutions run on oneDNN and the output channels
    /// allow: for a convolution whose output goes through layers that take
    /// channel blocks to the next convolution.
    let channelBlockedOutput: Bool

    static let directOutputChannels = 4
    var convolvesDirectly: Bool { outChannels <= Self.directOutputChannels && stride == 1 }
    static let pointwisePlane = 256
    private var isPointwise = false

    public init(
        _ name: String, store: ParameterStore, initializer: DefaultInitializer, inChannels: Int, outChannels: Int,
        kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true, channelBlockedOutput: Bool = false
    ) {
        self.store = store
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.channelBlockedOutput = channelBlockedOutput
        let fanIn = inChannels * kernel * kernel
        weight = store.make(
            "\(name).weight", shape: [outChannels, inChannels, kernel, kernel],
            initialize: initializer.uniform(fanIn: fanIn))
        self.bias = bias ? store.make("\(name).bias", shape: [outChannels], initialize: initializer.uniform(fanIn: fanIn)) : nil
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        Profiler.measure("Conv2d", .forward) {
            let (n, c, h, w) = input.dimensions
            precondition(c == inChannels, "Conv2d \(weight.name): input has \(c) channels, expected \(inChannels)")
            let outHeight = (h + 2 * padding - kernel) / stride + 1, outWidth = (w + 2 * padding - kernel) / stride + 1
            geometry = PatchGeometry(
                channels: c, height: h, width: w, kernel: kernel, stride: stride, padding: padding,
                columnsHigh: outHeight, columnsWide: outWidth)
            inputShape = input.shape
            let outputShape = [n, outChannels, outHeight, outWidth]
            let outputLayout = TensorLayout.convolutionOutput(
                channelBlocked: channelBlockedOutput, channels: outChannels, kernels: store.convolutionKernels)
            // The direct path stays for a few output channels: oneDNN's kernels block
            // the output channels by 16 and would compute mostly padding (the
            // generator's last layer, 48 -> 1, ran 1.1 x faster per compact step direct).
            oneDNNConvolution =
                convolvesDirectly
                ? nil
                : oneDNNConvolutions.convolution(
                    kernels: store.convolutionKernels, transposed: false, inputShape: input.shape, inputLayout: input.layout,
                    outChannels: outChannels, outHeight: outHeight, outWidth: outWidth, outputLayout: outputLayout,
                    kernel: kernel, stride: stride, padding: padding, hasBias: bias != nil)
            if let oneDNNConvolution {
                self.input = input
                let y = reuseTensor(&output, outputShape, layout: oneDNNConvolution.outputLayout)
                oneDNNConvolution.forward(input, weight: weight, bias: bias, store: store, into: y)
                return y
            }
            let y = reuseTensor(&output, outputShape)
            ownKernelsForward(inputConversion.forward(input, to: .channelsFirst), into: y)
            return outputConversion.forward(y, to: outputLayout)
        }
    }

    /// The forward pass on im2col and OpenBLAS, or on the pointwise or direct
    /// loops: x and y in NCHW.
    private func ownKernelsForward(_ x: Tensor, into y: Tensor) {
        let n = x.shape[0]
        isPointwise = kernel == 1 && stride == 1 && padding == 0 && geometry.height * geometry.width >= Self.pointwisePlane
        if convolvesDirectly || isPointwise {
            input = x
            if isPointwise { pointwiseForward(x, into: y) } else { directForward(x, into: y) }
            return
        }
        let cols = reuseTensor(&columns, [geometry.rows, n * geometry.positions])
        im2col(x.data, batch: n, geometry, into: cols.data)
        let product = store.workspace.a(outChannels * n * geometry.positions)
        gemm(
            transposeA: false, transposeB: false, m: outChannels, n: n * geometry.positions, k: geometry.rows,
            store.value(weight), cols.data, beta: 0, product)
        batchMajor(
            product, batch: n, channels: outChannels, plane: geometry.positions, bias: bias.map { store.value($0) }, into: y.data)
    }

    public func backward(_ outputGradient: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure("Conv2d", .backward) {
            if let oneDNNConvolution {
                let dx = reuseTensor(&inputGradient, inputShape, layout: oneDNNConvolution.inputLayout)
                oneDNNConvolution.backward(
                    outputGradient, input: input!, weight: weight, bias: bias, store: store, inputGradient: dx,
                    parameterGradients: parameterGradients)
                return dx
            }
            let dy = outputConversion.backward(outputGradient)
            return inputConversion.backward(ownKernelsBackward(dy, parameterGradients: parameterGradients))
        }
    }

    /// The backward pass of `ownKernelsForward`: dy and the returned input gradient in NCHW.
    private func ownKernelsBackward(_ outputGradient: Tensor, parameterGradients: Bool) -> Tensor {
        if isPointwise { return pointwiseBackward(outputGradient, parameterGradients: parameterGradients) }
        if convolvesDirectly { return directBackward(outputGradient, parameterGradients: parameterGradients) }
        let n = inputShape[0], positions = n * geometry.positions
        let dy = store.workspace.a(outChannels * positions)
        channelMajor(outputGradient.data, batch: n, channels: outChannels, plane: geometry.positions, into: dy)
        if parameterGradients {
            gemm(
                transposeA: false, transposeB: true, m: outChannels, n: geometry.rows, k: positions,
                dy, columns!.data, beta: 1, store.gradient(weight))
            if let bias { addChannelSums(outputGradient, into: store.gradient(bias)) }
        }
        let dcols = store.workspace.b(geometry.rows * positions)
        gemm(
            transposeA: true, transposeB: false, m: geometry.rows, n: positions, k: outChannels,
            store.value(weight), dy, beta: 0, dcols)
        let dx = reuseTensor(&inputGradient, inputShape)
        col2im(dcols, batch: n, geometry, into: dx.data)
        return dx
    }
}

extension Conv2d {
    /// Adds the weight and bias gradients of the last forward call, without
    /// the input gradient: for a network's first layer in a step that needs no
    /// gradient with respect to its images (the discriminator's own step).
    public func accumulateParameterGradients(_ outputGradient: Tensor) {
        guard let oneDNNConvolution else {
            _ = backward(outputGradient, parameterGradients: true)
            return
        }
        Profiler.measure("Conv2d", .backward) {
            oneDNNConvolution.backward(
                outputGradient, input: input!, weight: weight, bias: bias, store: store, inputGradient: nil,
                parameterGradients: true)
        }
    }

    /// Y_n [O, HW] = W [O, C] x X_n [C, HW] + bias, per image.
    fileprivate func pointwiseForward(_ x: Tensor, into y: Tensor) {
        let (n, c, h, w) = x.nchw
        let plane = h * w
        let biases = bias.map { store.value($0) }
        for image in 0..<n {
            let target = y.data + image * outChannels * plane
            for o in 0..<outChannels { (target + o * plane).update(repeating: biases?[o] ?? 0, count: plane) }
            gemm(
                transposeA: false, transposeB: false, m: outChannels, n: plane, k: c, store.value(weight),
                x.data + image * c * plane, beta: 1, target)
        }
    }

    /// dW += dY_n x X_nᵀ and dX_n = Wᵀ x dY_n, per image.
    fileprivate func pointwiseBackward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        let x = input!
        let (n, c, h, w) = x.nchw
        let plane = h * w
        let dx = reuseTensor(&inputGradient, inputShape)
        for image in 0..<n {
            let gradient = dy.data + image * outChannels * plane
            if parameterGradients {
                gemm(
                    transposeA: false, transposeB: true, m: outChannels, n: c, k: plane, gradient,
                    x.data + image * c * plane, beta: 1, store.gradient(weight))
            }
            gemm(
                transposeA: true, transposeB: false, m: c, n: plane, k: outChannels, store.value(weight), gradient,
                beta: 0, dx.data + image * c * plane)
        }
        if parameterGradients, let bias { addChannelSums(dy, into: store.gradient(bias)) }
        return dx
    }

    /// Calls `body(ki, kj, valid output columns, first input column)` for
    /// every kernel offset, and within it the caller walks the valid rows.
    @inline(__always)
    private func forEachOffset(_ body: (Int, Int, Range<Int>, Int) -> Void) {
        for ki in 0..<kernel {
            for kj in 0..<kernel {
                let valid = geometry.validColumns(kj: kj)
                if !valid.isEmpty { body(ki, kj, valid, valid.lowerBound - padding + kj) }
            }
        }
    }

    /// Output rows oy whose input row oy - padding + ki is inside the image.
    @inline(__always)
    private func validRows(ki: Int) -> Range<Int> {
        let low = max(0, padding - ki), high = min(geometry.columnsHigh, geometry.height + padding - ki)
        return low..<max(low, high)
    }

    fileprivate func directForward(_ x: Tensor, into y: Tensor) {
        let (n, c, h, w) = x.nchw
        let (outHeight, outWidth) = (geometry.columnsHigh, geometry.columnsWide)
        let weights = store.value(weight), biases = bias.map { store.value($0) }
        parallelChunks(n * outChannels, minimumPerThread: 1) { planes in
            for plane in planes {
                let image = plane / outChannels, o = plane % outChannels
                let target = y.data + plane * outHeight * outWidth
                target.update(repeating: biases?[o] ?? 0, count: outHeight * outWidth)
                for channel in 0..<c {
                    let source = x.data + (image * c + channel) * h * w
                    forEachOffset { ki, kj, valid, firstInput in
                        let value = weights[((o * c + channel) * kernel + ki) * kernel + kj]
                        for oy in validRows(ki: ki) {
                            let out = target + oy * outWidth + valid.lowerBound
                            let inp = source + (oy - padding + ki) * w + firstInput
                            for t in 0..<valid.count { out[t] += value * inp[t] }
                        }
                    }
                }
            }
        }
    }

    fileprivate func directBackward(_ dy: Tensor, parameterGradients: Bool) -> Tensor {
        let x = input!
        let (n, c, h, w) = x.nchw
        let (outHeight, outWidth) = (geometry.columnsHigh, geometry.columnsWide)
        let weights = store.value(weight)
        if parameterGradients {
            let weightGradient = store.gradient(weight)
            parallelChunks(c, minimumPerThread: 1) { channels in
                for channel in channels {
                    for o in 0..<outChannels {
                        forEachOffset { ki, kj, valid, firstInput in
                            var total: Float = 0
                            for image in 0..<n {
                                let gradient = dy.data + (image * outChannels + o) * outHeight * outWidth
                                let source = x.data + (image * c + channel) * h * w
                                for oy in validRows(ki: ki) {
                                    let g = gradient + oy * outWidth + valid.lowerBound
                                    let inp = source + (oy - padding + ki) * w + firstInput
                                    total += dotProduct(g, inp, valid.count)
                                }
                            }
                            weightGradient[((o * c + channel) * kernel + ki) * kernel + kj] += total
                        }
                    }
                }
            }
            if let bias { addChannelSums(dy, into: store.gradient(bias)) }
        }
        let dx = reuseTensor(&inputGradient, inputShape)
        parallelChunks(n * c, minimumPerThread: 1) { planes in
            for plane in planes {
                let image = plane / c, channel = plane % c
                let target = dx.data + plane * h * w
                target.update(repeating: 0, count: h * w)
                for o in 0..<outChannels {
                    let gradient = dy.data + (image * outChannels + o) * outHeight * outWidth
                    forEachOffset { ki, kj, valid, firstInput in
                        let value = weights[((o * c + channel) * kernel + ki) * kernel + kj]
                        for oy in validRows(ki: ki) {
                            let g = gradient + oy * outWidth + valid.lowerBound
                            let out = target + (oy - padding + ki) * w + firstInput
                            for t in 0..<valid.count { out[t] += value * g[t] }
                        }
                    }
                }
            }
        }
        return dx
    }
}

/// 2-D transposed convolution, NCHW, weight [in, out, k, k] (PyTorch's
/// layout), with bias; output size (H-1)*stride - 2*padding + k + outputPadding.
///
/// Forward: one GEMM of the transposed weight with the channel-major input
/// gives [out*k*k, N*H*W] columns, which col2im scatters into the output.
public final class ConvTranspose2d: Layer {
    public let weight: Parameter
    public let bias: Parameter
    let store: ParameterStore
    let inChannels, outChannels, kernel, stride, padding, outputPadding: Int
    private var channelMajorInput: Tensor?
    private var output: Tensor?
    private var inputGradient: Tensor?
    private var inputShape: [Int] = []
    private var geometry: PatchGeometry!
    /// The input, kept by the oneDNN path for the weight gradient.
    private var input: Tensor?
    /// The engine's own kernels read and write NCHW.
    private var inputConversion = LayoutConversion(), outputConversion = LayoutConversion()
    private var oneDNNConvolutions = OneDNNConvolutionCache()
    /// The oneDNN convolution of the last forward call, nil when it ran on im2col.
    private var oneDNNConvolution: OneDNNConvolution?
    /// As `Conv2d.channelBlockedOutput`.
    let channelBlockedOutput: Bool
    /// Whether the layer is 1 x 1 with stride s > 1 and output padding s - 1
    /// (the generator's branch c with transposed upsampling). oneDNN cannot
    /// express it (its padding on the right would be negative), but it is
    /// the 1 x 1 product at stride 1, which oneDNN runs, at the top-left
    /// corner of each s x s output cell, with the bias alone at the cell's
    /// other positions (`ConvTranspose2d+Corners.swift`).
    let spreadsToCorners: Bool
    /// With `spreadsToCorners`: the product [N, O, H, W], then its gradient.
    private var corners: Tensor?

    public init(
        _ name: String, store: ParameterStore, initializer: DefaultInitializer, inChannels: Int, outChannels: Int,
        kernel: Int, stride: Int, padding: Int, outputPadding: Int, channelBlockedOutput: Bool = false
    ) {
        self.channelBlockedOutput = channelBlockedOutput
        self.store = store
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        spreadsToCorners = kernel == 1 && padding == 0 && stride > 1 && outputPadding == stride - 1
        // PyTorch computes fan-in from dimension 1 of the weight: out * k * k.
        let fanIn = outChannels * kernel * kernel
        weight = store.make(
            "\(name).weight", shape: [inChannels, outChannels, kernel, kernel],
            initialize: initializer.uniform(fanIn: fanIn))
        bias = store.make("\(name).bias", shape: [outChannels], initialize: initializer.uniform(fanIn: fanIn))
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        Profiler.measure("ConvTranspose2d", .forward) {
            let (n, c, h, w) = input.dimensions
            precondition(c == inChannels, "ConvTranspose2d \(weight.name): input has \(c) channels, expected \(inChannels)")
            let outHeight = (h - 1) * stride - 2 * padding + kernel + outputPadding
            let outWidth = (w - 1) * stride - 2 * padding + kernel + outputPadding
            geometry = PatchGeometry(
                channels: outChannels, height: outHeight, width: outWidth, kernel: kernel, stride: stride,
                padding: padding, columnsHigh: h, columnsWide: w)
            inputShape = input.shape
            let outputLayout = TensorLayout.convolutionOutput(
                channelBlocked: channelBlockedOutput, channels: outChannels, kernels: store.convolutionKernels)
            oneDNNConvolution = oneDNNConvolutions.convolution(
                kernels: store.convolutionKernels, transposed: true, inputShape: input.shape, inputLayout: input.layout,
                outChannels: outChannels, outHeight: spreadsToCorners ? h : outHeight, outWidth: spreadsToCorners ? w : outWidth,
                outputLayout: outputLayout, kernel: kernel, stride: spreadsToCorners ? 1 : stride, padding: padding, hasBias: true)
            if let oneDNNConvolution {
                self.input = input
                let y = reuseTensor(&output, [n, outChannels, outHeight, outWidth], layout: oneDNNConvolution.outputLayout)
                guard spreadsToCorners else {
                    oneDNNConvolution.forward(input, weight: weight, bias: bias, store: store, into: y)
                    return y
                }
                let product = reuseTensor(&corners, [n, outChannels, h, w], layout: y.layout)
                oneDNNConvolution.forward(input, weight: weight, bias: bias, store: store, into: product)
                Self.spread(product, toCornersOf: y, stride: stride, bias: store.value(bias))
                return y
            }
            let x = reuseTensor(&channelMajorInput, [c, n * h * w])
            channelMajor(inputConversion.forward(input, to: .channelsFirst).data, batch: n, channels: c, plane: h * w, into: x.data)
            let cols = store.workspace.a(geometry.rows * n * h * w)
            gemm(
                transposeA: true, transposeB: false, m: geometry.rows, n: n * h * w, k: inChannels,
                store.value(weight), x.data, beta: 0, cols)
            let y = reuseTensor(&output, [n, outChannels, outHeight, outWidth])
            col2im(cols, batch: n, geometry, into: y.data)
            addBias(y)
            return outputConversion.forward(y, to: outputLayout)
        }
    }

    private func addBias(_ y: Tensor) {
        let (n, c, h, w) = y.nchw
        let bias = store.value(self.bias)
        parallelChunks(n * c, minimumPerThread: 1) { range in
            for plane in range {
                let b = bias[plane % c]
                let start = y.data + plane * h * w
                for p in 0..<(h * w) { start[p] += b }
            }
        }
    }

    public func backward(_ outputGradient: Tensor, parameterGradients: Bool) -> Tensor {
        Profiler.measure("ConvTranspose2d", .backward) {
            if let oneDNNConvolution {
                let dx = reuseTensor(&inputGradient, inputShape, layout: oneDNNConvolution.inputLayout)
                guard spreadsToCorners else {
                    oneDNNConvolution.backward(
                        outputGradient, input: input!, weight: weight, bias: bias, store: store, inputGradient: dx,
                        parameterGradients: parameterGradients)
                    return dx
                }
                // The bias reaches every output position: its gradient sums the whole output gradient.
                if parameterGradients { addChannelSums(outputGradient, into: store.gradient(bias)) }
                let (n, _, h, w) = dx.dimensions
                let productGradient = reuseTensor(&corners, [n, outChannels, h, w], layout: outputGradient.layout)
                Self.gather(productGradient, fromCornersOf: outputGradient, stride: stride)
                oneDNNConvolution.backward(
                    productGradient, input: input!, weight: weight, bias: nil, store: store, inputGradient: dx,
                    parameterGradients: parameterGradients)
                return dx
            }
            let dy = outputConversion.backward(outputGradient)
            let n = inputShape[0], positions = n * geometry.positions
            let dcols = store.workspace.a(geometry.rows * positions)
            im2col(dy.data, batch: n, geometry, into: dcols)
            if parameterGradients {
                gemm(
                    transposeA: false, transposeB: true, m: inChannels, n: geometry.rows, k: positions,
                    channelMajorInput!.data, dcols, beta: 1, store.gradient(weight))
                addChannelSums(dy, into: store.gradient(bias))
            }
            let dxMajor = store.workspace.b(inChannels * positions)
            gemm(
                transposeA: false, transposeB: false, m: inChannels, n: positions, k: geometry.rows,
                store.value(weight), dcols, beta: 0, dxMajor)
            let dx = reuseTensor(&inputGradient, inputShape)
            batchMajor(dxMajor, batch: n, channels: inChannels, plane: geometry.positions, bias: nil, into: dx.data)
            return inputConversion.backward(dx)
        }
    }
}
