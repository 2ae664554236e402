/// What an op does with the layout of the tensors it is given
/// (`TensorLayout`). Every layer declares it; the layouts a network's tensors
/// take follow from these declarations (`ChannelBlockPlan`), not from flags
/// set by hand.
public enum LayoutHandling: Sendable, Equatable {
    /// Reads NCHW only (its loops index NCHW) and gives NCHW: what comes
    /// before it must give NCHW.
    case channelsFirstOnly
    /// Reads either layout and gives its input's out: element-wise layers,
    /// BatchNorm, upsampling.
    case preserves
    /// Reads either layout as it is and gives the layout the network chose
    /// for it (`ChannelBlockProducer.producesChannelBlocks`): the
    /// convolutions that run on oneDNN.
    case convolution
    /// Reads either layout and gives NCHW (`ChannelsFirst`): where a run of
    /// channel blocks ends.
    case convertsToChannelsFirst
}

/// An op that declares its `LayoutHandling`: every `Layer`, and the ops
/// called with more than one input (`NoiseInjection`).
public protocol LayoutDeclaring {
    var layoutHandling: LayoutHandling { get }
}

/// A layer whose output layout the network chooses: the convolutions.
public protocol ChannelBlockProducer: Layer {
    /// Whether the output is in channel blocks (`TensorLayout.channelBlocks`)
    /// when the model's convolutions run on oneDNN and the output channels
    /// fill whole blocks (`ConvolutionPlan.choose`); set by `ChannelBlockPlan`.
    var producesChannelBlocks: Bool { get set }
}

/// Chooses which convolutions give channel blocks: a convolution's output
/// is in blocks when every op it reaches before the next convolution, or
/// before the op that ends the blocks, reads them as they are. Then no
/// reorder runs between convolutions (docs/engine.md, "Channel blocks").
public enum ChannelBlockPlan {
    /// Whether a tensor in channel blocks can enter `chain` (nested
    /// `Sequential`s are looked into): true when its ops pass the layout on
    /// up to a convolution or a `ChannelsFirst`; `thenAccepted` when they all
    /// pass it on, for what follows the chain.
    public static func accepts(_ chain: [LayoutDeclaring], thenAccepted: Bool) -> Bool {
        for op in flattened(chain) {
            switch op.layoutHandling {
            case .preserves: continue
            case .convolution, .convertsToChannelsFirst: return true
            case .channelsFirstOnly: return false
            }
        }
        return thenAccepted
    }

    /// Sets `producesChannelBlocks` of every convolution in `chain` from what
    /// follows it in the chain and, at its end, `thenAccepted`.
    public static func plan(_ chain: [LayoutDeclaring], thenAccepted: Bool) {
        let ops = flattened(chain)
        for (index, op) in ops.enumerated() {
            guard let producer = op as? any ChannelBlockProducer, producer.layoutHandling == .convolution else { continue }
            producer.producesChannelBlocks = accepts(Array(ops[(index + 1)...]), thenAccepted: thenAccepted)
        }
    }

    private static func flattened(_ chain: [LayoutDeclaring]) -> [LayoutDeclaring] {
        chain.flatMap { op -> [LayoutDeclaring] in
            guard let sequence = op as? Sequential else { return [op] }
            return flattened(sequence.layers)
        }
    }
}
