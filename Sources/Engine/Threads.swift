import COpenBLAS
import Dispatch

/// How many threads the engine uses: OpenBLAS's and its own element-wise,
/// im2col and reduction loops.
public enum EngineThreads {
    nonisolated(unsafe) private(set) static var count = 1

    /// Sets the thread count for OpenBLAS and the engine's own loops.
    public static func configure(_ threads: Int) {
        count = max(1, threads)
        openblas_set_num_threads(Int32(count))
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
