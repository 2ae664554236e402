import COneDNN
import COpenBLAS
import Dispatch

/// How many threads the engine uses: OpenBLAS's, oneDNN's and its own
/// element-wise, im2col and reduction loops.
public enum EngineThreads {
    nonisolated(unsafe) private(set) static var count = 1

    /// Sets the thread count for OpenBLAS, oneDNN and the engine's own loops.
    public static func configure(_ threads: Int) {
        count = max(1, threads)
        openblas_set_num_threads(Int32(count))
        ms_onednn_set_threads(Int32(count))
    }
}

/// Splits `0..<total` into one contiguous chunk per engine thread and runs
/// `body` on each; small ranges run on the calling thread.
@inline(__always)
func parallelChunks(_ total: Int, minimumPerThread: Int = 16_384, _ body: (Range<Int>) -> Void) {
    let threads = min(EngineThreads.count, max(1, total / minimumPerThread))
    if threads <= 1 {
        body(0..<total)
        return
    }
    DispatchQueue.concurrentPerform(iterations: threads) { index in
        let start = total * index / threads, end = total * (index + 1) / threads
        body(start..<end)
    }
}

/// Sums `term(i)` for i in 0..<count in eight lanes: the compiler does not
/// vectorise a plain floating-point reduction, since that would change the
/// order of the additions. `lanes(i)` gives the terms i..<i+8 at once.
@inline(__always)
func laneSum(_ count: Int, lanes: (Int) -> SIMD8<Float>, term: (Int) -> Float) -> Float {
    let sums = laneSums(count, lanes: { (lanes($0), SIMD8<Float>()) }, term: { (term($0), 0) })
    return sums.first
}

/// `laneSum` of two sequences of terms in one pass over their inputs.
@inline(__always)
func laneSums(
    _ count: Int, lanes: (Int) -> (SIMD8<Float>, SIMD8<Float>), term: (Int) -> (Float, Float)
) -> (first: Float, second: Float) {
    var first = SIMD8<Float>(repeating: 0), second = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= count {
        let terms = lanes(i)
        first += terms.0
        second += terms.1
        i += 8
    }
    var firstTotal = first.sum(), secondTotal = second.sum()
    while i < count {
        let terms = term(i)
        firstTotal += terms.0
        secondTotal += terms.1
        i += 1
    }
    return (firstTotal, secondTotal)
}

@inline(__always)
func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self) }

/// One channel block's 16 floats (`TensorLayout.channelBlocks`).
@inline(__always)
func load16(_ pointer: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(pointer).loadUnaligned(as: SIMD16<Float>.self) }

@inline(__always)
func store16(_ value: SIMD16<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD16<Float>.self)
}

/// Sum of a[i] * b[i].
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    laneSum(count, lanes: { load8(a + $0) * load8(b + $0) }, term: { a[$0] * b[$0] })
}

/// Sum of a[i].
@inline(__always)
func sum(_ a: UnsafePointer<Float>, _ count: Int) -> Float {
    laneSum(count, lanes: { load8(a + $0) }, term: { a[$0] })
}
