import Foundation

/// A float32 tensor in NCHW order, contiguous, owning 64-byte aligned storage.
/// A 4-D tensor may instead hold its elements in channel blocks
/// (`TensorLayout.channelBlocks`); its shape is [N, C, H, W] either way.
///
/// Layers keep their outputs and gradients as tensors that live across
/// training steps: `reshape(to:)` reuses the storage whenever it is large
/// enough, so a training loop allocates nothing after its first step.
public final class Tensor {
    public private(set) var shape: [Int]
    public private(set) var count: Int
    public private(set) var data: UnsafeMutablePointer<Float>
    /// Set by the layer that writes the tensor.
    public var layout = TensorLayout.channelsFirst
    private var capacity: Int

    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "tensor shape \(shape) has a negative dimension")
        self.shape = shape
        count = shape.reduce(1, *)
        capacity = max(count, 1)
        data = Tensor.allocate(capacity)
        data.initialize(repeating: 0, count: capacity)
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for a tensor of shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit {
        free(data)
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, count * MemoryLayout<Float>.stride) == 0, let raw else {
            fatalError("cannot allocate \(count * 4) bytes for a tensor")
        }
        return raw.bindMemory(to: Float.self, capacity: count)
    }

    /// Gives the tensor `shape`, keeping the storage when it is large enough.
    /// The contents are unspecified afterwards.
    public func reshape(to shape: [Int]) {
        let needed = shape.reduce(1, *)
        if needed > capacity {
            free(data)
            capacity = needed
            data = Tensor.allocate(capacity)
        }
        self.shape = shape
        count = needed
    }

    /// Same element count, other shape (a view change, no copy).
    public func view(as shape: [Int]) {
        precondition(shape.reduce(1, *) == count, "cannot view \(self.shape) as \(shape)")
        self.shape = shape
    }

    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// Dimensions of an NCHW tensor, checked: rank 4 and in NCHW order, for
    /// the layers that read no other layout.
    public var nchw: (n: Int, c: Int, h: Int, w: Int) {
        precondition(layout == .channelsFirst, "expected an NCHW tensor, got one in channel blocks")
        return dimensions
    }

    /// [N, C, H, W] of a 4-D tensor in either layout, checked.
    public var dimensions: (n: Int, c: Int, h: Int, w: Int) {
        precondition(shape.count == 4, "expected an NCHW tensor, got shape \(shape)")
        return (shape[0], shape[1], shape[2], shape[3])
    }
}

/// Returns `tensor` reshaped to `shape` and given `layout`, creating it on
/// first use: the pattern every layer uses for its outputs and gradients.
@inline(__always)
public func reuseTensor(_ tensor: inout Tensor?, _ shape: [Int], layout: TensorLayout = .channelsFirst) -> Tensor {
    if let existing = tensor {
        if existing.shape != shape { existing.reshape(to: shape) }
        existing.layout = layout
        return existing
    }
    let made = Tensor(shape: shape)
    made.layout = layout
    tensor = made
    return made
}

/// The tensor a layer's forward pass kept for its backward pass. A backward
/// call before any forward call is a programming error, named here.
@inline(__always)
func kept(_ tensor: Tensor?, by layer: @autoclosure () -> String) -> Tensor {
    guard let tensor else { preconditionFailure("\(layer()): backward before forward") }
    return tensor
}

extension Array {
    /// Calls `body` with the array's storage, for loops that write disjoint
    /// ranges of it from several threads (`parallelChunks`). Not for an empty array.
    @inline(__always)
    mutating func withStorage<Result>(_ body: (UnsafeMutablePointer<Element>) -> Result) -> Result {
        withUnsafeMutableBufferPointer { buffer in
            guard let start = buffer.baseAddress else { preconditionFailure("storage of an empty array") }
            return body(start)
        }
    }
}
