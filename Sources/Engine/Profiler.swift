import Dispatch
import Foundation

/// Time per layer type, forward and backward (`medsynth bench --profile`),
/// and the floating-point operations of every matrix product. Off by
/// default: then a measurement costs one branch.
public enum Profiler {
    public enum Pass: String, Sendable { case forward, backward }

    nonisolated(unsafe) public static var enabled = false
    nonisolated(unsafe) private static var seconds: [String: Double] = [:]
    nonisolated(unsafe) private static var operations: Double = 0

    @inline(__always)
    static func measure<T>(_ layer: @autoclosure () -> String, _ pass: Pass, _ body: () -> T) -> T {
        guard enabled else { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = body()
        seconds["\(layer()) \(pass.rawValue)", default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return result
    }

    /// Counts 2 m n k for a GEMM (always on: it is one addition).
    @inline(__always)
    static func countGEMM(m: Int, n: Int, k: Int) { operations += 2 * Double(m) * Double(n) * Double(k) }

    /// Seconds by "Layer pass", and GEMM FLOP since the last reset.
    public static var report: (seconds: [String: Double], gemmOperations: Double) { (seconds, operations) }

    public static func reset() {
        seconds = [:]
        operations = 0
    }
}

/// GFLOP/s of OpenBLAS SGEMM on square matrices of `size`, best of
/// `repetitions` after one warm-up: the ceiling the engine's matrix products
/// are compared with.
public func sgemmRate(size: Int, repetitions: Int) -> Double {
    let a = Tensor(shape: [size, size]), b = Tensor(shape: [size, size]), c = Tensor(shape: [size, size])
    var random = EngineRandom(seed: 1)
    for i in 0..<a.count {
        a.data[i] = random.uniform(-1, 1)
        b.data[i] = random.uniform(-1, 1)
    }
    var best = Double.infinity
    for repetition in 0...repetitions {
        let start = DispatchTime.now().uptimeNanoseconds
        gemm(transposeA: false, transposeB: false, m: size, n: size, k: size, a.data, b.data, beta: 0, c.data)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if repetition > 0 { best = min(best, seconds) }
    }
    return 2 * Double(size * size * size) / best / 1e9
}
