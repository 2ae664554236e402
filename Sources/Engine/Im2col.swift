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

    /// The output rows oy whose input row oy - padding + ki is inside the
    /// image, at stride 1 (the direct convolution's).
    @inline(__always)
    func validRows(ki: Int) -> Range<Int> {
        let low = max(0, padding - ki), high = min(columnsHigh, height + padding - ki)
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
