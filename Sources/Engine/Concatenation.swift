/// Concatenation of tensors along channels, and its split for backward. In
/// either layout an image's channels are one run of floats, so the parts'
/// runs go side by side; in channel blocks every part has whole blocks.
public enum ChannelConcat {
    /// Whether parts of these channel counts can be joined in channel blocks:
    /// each must fill whole blocks.
    public static func acceptsChannelBlocks(partChannels: [Int]) -> Bool {
        partChannels.allSatisfy { $0 % TensorLayout.blockChannels == 0 }
    }

    /// Writes `parts` (all in one layout) side by side along channels into `output`.
    public static func forward(_ parts: [Tensor], into output: inout Tensor?) -> Tensor {
        let (n, _, h, w) = parts[0].dimensions
        let channels = parts.reduce(0) { $0 + $1.dimensions.c }
        let y = reuseTensor(&output, [n, channels, h, w], layout: parts[0].layout)
        let plane = h * w
        for image in 0..<n {
            var offset = image * channels * plane
            for part in parts {
                let (partImages, c, partHeight, partWidth) = part.dimensions
                precondition(
                    partHeight == h && partWidth == w && partImages == n && part.layout == y.layout,
                    "concatenating \(part.shape) with \(parts[0].shape)")
                (y.data + offset).update(from: part.data + image * c * plane, count: c * plane)
                offset += c * plane
            }
        }
        return y
    }

    /// Copies the slice of `gradient` that belongs to part `index` (of the given channel counts) into `slice`.
    public static func backward(_ gradient: Tensor, channels: [Int], index: Int, into slice: inout Tensor?) -> Tensor {
        let (n, total, h, w) = gradient.dimensions
        let plane = h * w
        let start = channels[..<index].reduce(0, +), c = channels[index]
        let lanes = TensorLayout.blockChannels
        precondition(
            gradient.layout == .channelsFirst || (start % lanes == 0 && c % lanes == 0),
            "a slice of channel blocks needs whole blocks, got channels \(start)..<\(start + c)")
        let part = reuseTensor(&slice, [n, c, h, w], layout: gradient.layout)
        for image in 0..<n {
            (part.data + image * c * plane).update(from: gradient.data + (image * total + start) * plane, count: c * plane)
        }
        return part
    }
}
