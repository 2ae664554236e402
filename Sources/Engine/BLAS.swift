import COpenBLAS

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
