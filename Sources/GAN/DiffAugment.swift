import Engine

/// Differentiable augmentation (DiffAugment; Zhao, Liu, Lin, Zhu and Han,
/// "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS
/// 2020) with its "color,translation,cutout" policy for grayscale frames:
///
/// - brightness: adds b ~ U(-0.5, 0.5) to every pixel of the image;
/// - contrast: scales the image's deviation from its mean by c ~ U(0.5, 1.5);
/// - translation: shifts by up to 1/8 of the side in each direction, filling with 0;
/// - cutout: sets a square of half the side, centred at a random point, to 0.
///
/// Every image of a batch draws its own parameters. Applied to real and
/// generated batches in both steps, the discriminator never sees an
/// unaugmented image, so it cannot memorise a small training set, while the
/// generator still learns the unaugmented distribution (the augmentation is
/// differentiable, so G's gradient flows through it).
///
/// With `probability` below 1 (adaptive augmentation, `AdaptiveAugmentation`),
/// each image gets each of the three transforms (colour, translation,
/// cutout) only with that probability, as ADA applies its transforms.
///
/// `transforms` keeps some of the three only (DiffAugment's policies, as
/// `--augment-transforms`): the parameters are drawn as for all three, so
/// that those kept are the same draws.
///
/// Input and output [N, C, H, W] in [-1, 1] (the output may leave that
/// range, as the paper's implementation does). With `imageChannels` below C,
/// the channels after the image's are labels drawn with it (heatmaps, masks;
/// -1 is "no label"): translation and cutout move and cut them with the
/// image, filling with -1, and colour leaves them alone, so an augmented
/// frame's labels still fit it.
public final class DiffAugment {
    /// The parameter source of the next `forward`; set it before each use
    /// for reproducible augmentations.
    public var random: EngineRandom
    public let translationRatio: Float = 0.125
    public let cutoutRatio: Float = 0.5
    /// The chance that an image gets each transform: 1 for the fixed
    /// policy (every transform on every image; no draws for it, so the
    /// parameters are those of the fixed policy), below 1 for ADA.
    public var probability: Float = 1
    /// The transforms applied (each with `probability`); the others never are.
    public var transforms = Set(AugmentationTransform.allCases)
    /// The leading channels that are the image (colour's, filled with 0);
    /// nil: every channel. The rest are label channels, filled with -1.
    public var imageChannels: Int?
    /// The value translation and cutout give a label channel's pixels: its background.
    public static let labelFill: Float = -1
    private var brightness: [Float] = []
    private var contrast: [Float] = []
    private var shiftRows: [Int] = [], shiftColumns: [Int] = []
    private var cutoutRow: [Int] = [], cutoutColumn: [Int] = []
    private var cutoutApplies: [Bool] = []
    /// The cutout square's sides for the image size of the last `forward`.
    private var cutoutHeight = 0, cutoutWidth = 0
    private var output: Tensor?
    private var inputGradient: Tensor?

    public init(seed: UInt64) { random = EngineRandom(seed: seed) }

    /// Augments `images` [N, C, H, W]; remembers the parameters for `backward`.
    public func forward(_ images: Tensor) -> Tensor {
        let (n, c, h, w) = images.nchw
        drawParameters(count: n, height: h, width: w)
        let y = reuseTensor(&output, images.shape)
        let plane = h * w, size = c * plane, imageSize = min(imageChannels ?? c, c) * plane
        for sample in 0..<n {
            let x = images.data + sample * size, out = y.data + sample * size
            var sum: Float = 0
            for i in 0..<imageSize { sum += x[i] }
            let mean = sum / Float(imageSize)
            let imageScale = contrast[sample], imageOffset = mean + brightness[sample] - imageScale * mean
            for channel in 0..<c {
                let isImage = channel * plane < imageSize
                let scale = isImage ? imageScale : 1, offset = isImage ? imageOffset : 0, fill = isImage ? 0 : Self.labelFill
                for row in 0..<h {
                    for column in 0..<w {
                        let target = channel * plane + row * w + column
                        if let source = sourceIndex(sample: sample, row: row, column: column, height: h, width: w) {
                            out[target] = scale * x[channel * plane + source] + offset
                        } else {
                            out[target] = fill
                        }
                    }
                }
            }
        }
        return y
    }

    /// The gradient with respect to the input of the last `forward`.
    public func backward(_ outputGradient: Tensor) -> Tensor {
        let (n, c, h, w) = outputGradient.nchw
        let dx = reuseTensor(&inputGradient, outputGradient.shape)
        dx.fill(0)
        let plane = h * w, size = c * plane, imageSize = min(imageChannels ?? c, c) * plane
        for sample in 0..<n {
            let dy = outputGradient.data + sample * size, d = dx.data + sample * size
            for channel in 0..<c {
                for row in 0..<h {
                    for column in 0..<w {
                        if let source = sourceIndex(sample: sample, row: row, column: column, height: h, width: w) {
                            d[channel * plane + source] += dy[channel * plane + row * w + column]
                        }
                    }
                }
            }
            // On the image's channels y = s (x - mean x) + mean x + b, so dx = s g + (1 - s) mean(g);
            // label channels pass g through.
            var sum: Float = 0
            for i in 0..<imageSize { sum += d[i] }
            let scale = contrast[sample], shared = (1 - scale) * sum / Float(imageSize)
            for i in 0..<imageSize { d[i] = scale * d[i] + shared }
        }
        return dx
    }

    /// Where output pixel (row, column) of `sample` comes from in its input
    /// plane, or nil when translation or cutout makes it 0.
    @inline(__always)
    private func sourceIndex(sample: Int, row: Int, column: Int, height: Int, width: Int) -> Int? {
        let cutRow = row - cutoutRow[sample] + cutoutHeight / 2, cutColumn = column - cutoutColumn[sample] + cutoutWidth / 2
        if cutoutApplies[sample], cutRow >= 0, cutRow < cutoutHeight, cutColumn >= 0, cutColumn < cutoutWidth { return nil }
        let sourceRow = row + shiftRows[sample], sourceColumn = column + shiftColumns[sample]
        guard sourceRow >= 0, sourceRow < height, sourceColumn >= 0, sourceColumn < width else { return nil }
        return sourceRow * width + sourceColumn
    }

    /// Draws each image's parameters, in a fixed order, as the reference
    /// implementation's ranges define them; below probability 1, then
    /// draws per image whether each transform applies, and undoes those
    /// that do not.
    private func drawParameters(count: Int, height: Int, width: Int) {
        let maxShiftRows = Int(Float(height) * translationRatio + 0.5), maxShiftColumns = Int(Float(width) * translationRatio + 0.5)
        cutoutHeight = Int(Float(height) * cutoutRatio + 0.5)
        cutoutWidth = Int(Float(width) * cutoutRatio + 0.5)
        brightness = []
        contrast = []
        shiftRows = []
        shiftColumns = []
        cutoutRow = []
        cutoutColumn = []
        for _ in 0..<count {
            brightness.append(random.uniform() - 0.5)
            contrast.append(random.uniform() + 0.5)
            shiftRows.append(integer(in: -maxShiftRows...maxShiftRows))
            shiftColumns.append(integer(in: -maxShiftColumns...maxShiftColumns))
            cutoutRow.append(integer(in: 0...(height - cutoutHeight % 2)))
            cutoutColumn.append(integer(in: 0...(width - cutoutWidth % 2)))
        }
        cutoutApplies = Array(repeating: true, count: count)
        if probability < 1 {
            for sample in 0..<count {
                if random.uniform() >= probability { (brightness[sample], contrast[sample]) = (0, 1) }
                if random.uniform() >= probability { (shiftRows[sample], shiftColumns[sample]) = (0, 0) }
                cutoutApplies[sample] = random.uniform() < probability
            }
        }
        if !transforms.contains(.color) { (brightness, contrast) = (Array(repeating: 0, count: count), Array(repeating: 1, count: count)) }
        if !transforms.contains(.translation) {
            (shiftRows, shiftColumns) = (Array(repeating: 0, count: count), Array(repeating: 0, count: count))
        }
        if !transforms.contains(.cutout) { cutoutApplies = Array(repeating: false, count: count) }
    }

    private func integer(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(random.nextUInt64() % UInt64(range.count))
    }
}

/// DiffAugment's transforms, as `--augment-transforms` names them.
public enum AugmentationTransform: String, CaseIterable, Codable, Sendable {
    /// Brightness and contrast.
    case color
    case translation
    case cutout
}
