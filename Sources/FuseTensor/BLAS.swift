import CBLAS
import Foundation

/// Row-major SGEMM through OpenBLAS, with a profile of how much time and how many FLOPs
/// went through it (for `fusellm bench`).
public enum BLAS {
    public struct Profile {
        public var seconds: Double = 0
        public var flops: Double = 0
        public var calls: Int = 0
    }

    nonisolated(unsafe) public static var profiling = false
    nonisolated(unsafe) private static var profile = Profile()
    private static let lock = NSLock()

    public static func resetProfile() { lock.lock(); profile = Profile(); lock.unlock() }
    public static func currentProfile() -> Profile { lock.lock(); defer { lock.unlock() }; return profile }

    /// Threads OpenBLAS uses for one call. Calls made from inside `Parallel.chunks` must run
    /// single-threaded; see `withSingleThreadedCalls`.
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// Runs `body` with OpenBLAS limited to one thread, for regions that parallelise across
    /// independent small GEMMs themselves (attention heads).
    public static func withSingleThreadedCalls<R>(_ body: () throws -> R) rethrows -> R {
        setThreads(1)
        defer { setThreads(Parallel.threads) }
        return try body()
    }

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, all row-major with explicit leading dimensions.
    /// `share` scales the recorded time when several calls run at once on different cores.
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                            share: Double = 1) {
        if m == 0 || n == 0 { return }
        let start = profiling ? DispatchTime.now().uptimeNanoseconds : 0
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        if profiling {
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            lock.lock()
            profile.seconds += elapsed * share
            profile.flops += 2 * Double(m) * Double(n) * Double(k)
            profile.calls += 1
            lock.unlock()
        }
    }

    /// y[N×out] = x[N×in] · Wᵀ, with W stored [out×in] as in PyTorch's nn.Linear.
    public static func linear(x: UnsafePointer<Float>, w: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                              rows: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool = false) {
        gemm(transA: false, transB: true, m: rows, n: outFeatures, k: inFeatures,
             a: x, lda: inFeatures, b: w, ldb: inFeatures, beta: accumulate ? 1 : 0, c: y, ldc: outFeatures)
    }

    /// Backward of `linear`: dW += dyᵀ·x, and dx = dy·W (or += when `accumulateInput`).
    public static func linearBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                                      dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                                      rows: Int, inFeatures: Int, outFeatures: Int, accumulateInput: Bool = false) {
        gemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: rows,
             a: dy, lda: outFeatures, b: x, ldb: inFeatures, beta: 1, c: dw, ldc: inFeatures)
        if let dx {
            gemm(transA: false, transB: false, m: rows, n: inFeatures, k: outFeatures,
                 a: dy, lda: outFeatures, b: w, ldb: inFeatures, beta: accumulateInput ? 1 : 0, c: dx, ldc: inFeatures)
        }
    }
}
