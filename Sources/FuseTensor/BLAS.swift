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

    /// OpenBLAS runs single-threaded; `gemm` splits large products across `Parallel.threads` itself.
    /// OpenBLAS's own pool busy-waits (sched_yield) between calls, which on two cores steals time
    /// from every non-GEMM kernel; splitting ourselves also keeps results independent of its scheduling.
    public static func useSingleThreadedOpenBLAS() { openblas_set_num_threads(1) }

    /// The kernels OpenBLAS chose for this CPU at load time (e.g. "SkylakeX", "Zen", "Haswell").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// OpenBLAS picks its kernels by CPU model; a model newer than it knows (Debian 12's 0.3.21 on Emerald Rapids,
    /// family 6 model 207) falls back to Prescott's SSE3 kernels, ~4× slower than the AVX-512 ones the CPU runs.
    /// Returns the OPENBLAS_CORETYPE to ask for instead (SKYLAKEX or HASWELL by the CPU's features) when OpenBLAS
    /// chose a pre-AVX2 core on a CPU with AVX2 or AVX-512, else nil. OpenBLAS reads the variable when it loads,
    /// so the fusellm command re-executes itself with it set.
    public static func coreTypeForMisdetectedCPU() -> String? {
        let preAVX2 = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine",
                       "northwood", "banias", "sandybridge", "unknown"]
        guard preAVX2.contains(coreName.lowercased()), let family = fuse_cpu_kernel_family() else { return nil }
        return String(cString: family)
    }

    /// C[m×n] = alpha · op(A) · op(B) + beta · C, all row-major with explicit leading dimensions.
    /// Large products are split by rows of C across cores (`split: false` inside regions that are
    /// already parallel). `share` scales the recorded time when several calls run at once.
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                            split: Bool = true, share: Double = 1) {
        if m == 0 || n == 0 { return }
        let start = profiling ? DispatchTime.now().uptimeNanoseconds : 0
        let parts = split && 2 * m * n * k >= 1 << 21 ? Parallel.chunkCount(m, minPerChunk: 16) : 1
        if parts <= 1 {
            sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        } else {
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                // Rows [m0, m1) of C come from rows of op(A): row m0 of A, or column m0 when A is transposed.
                let m0 = m * p / parts, m1 = m * (p + 1) / parts
                sgemm(transA, transB, m1 - m0, n, k, alpha, a + (transA ? m0 : m0 * lda), lda, b, ldb,
                      beta, c + m0 * ldc, ldc)
            }
        }
        if profiling { record(since: start, flops: 2 * Double(m) * Double(n) * Double(k), share: share) }
    }

    /// Adds one product (or group of products) timed from `start` to the profile.
    static func record(since start: UInt64, flops: Double, share: Double = 1) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        lock.lock()
        profile.seconds += elapsed * share
        profile.flops += flops
        profile.calls += 1
        lock.unlock()
    }

    @inline(__always)
    static func sgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                      _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                      _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
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
