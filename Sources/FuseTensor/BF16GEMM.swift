import CBF16
import Foundation

/// C = alpha · op(A) · op(B) + beta · C with both operands rounded to bf16 and products accumulated in Float32
/// (AVX512-BF16, `CBF16`): what PyTorch's bf16 autocast computes for a matmul, except that C stays Float32.
/// Weights are packed once (`BF16Panels`, kept by `MatrixProducts`); the other operand is packed per call.
public enum BF16GEMM {
    /// Whether this CPU executes AVX512-BF16.
    public static let isAvailable: Bool = fuse_bf16_available() != 0

    static let rowsPerPanel = Int(FUSE_BF16_MR)
    static let columnsPerPanel = Int(FUSE_BF16_NR)

    /// An empty operand B of `columns` columns and depth `depth`, to `pack` later.
    public static func panelsForB(columns: Int, depth: Int) -> BF16Panels {
        BF16Panels(rows: columns, depth: depth, width: columnsPerPanel)
    }

    /// C[m×n] = alpha · op(A)·B + beta · C where B is packed (`panelsForB`); `firstColumn` (a multiple of 32)
    /// selects columns firstColumn..<firstColumn+n of B. A is row-major [m×k] (or [k×m] when `transA`).
    public static func gemm(transA: Bool, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: BF16Panels, firstColumn: Int = 0, beta: Float = 0,
                            c: UnsafeMutablePointer<Float>, ldc: Int, split: Bool = true, share: Double = 1) {
        if m == 0 || n == 0 { return }
        let start = BLAS.profiling ? DispatchTime.now().uptimeNanoseconds : 0
        let packedA = packA(transA: transA, m: m, k: b.depth, a: a, lda: lda, split: split)
        defer { ScratchPanels.give(packedA) }
        gemm(m: m, n: n, alpha: alpha, a: packedA, b: b, firstColumn: firstColumn, beta: beta, c: c, ldc: ldc, split: split)
        if BLAS.profiling { BLAS.record(since: start, flops: 2 * Double(m) * Double(n) * Double(b.depth), share: share) }
    }

    /// op(A) packed into a scratch operand; hand it back with `ScratchPanels.give` (or use it through `gemm`).
    static func packA(transA: Bool, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, split: Bool = true) -> BF16Panels {
        let packed = ScratchPanels.take(rows: m, depth: k, width: rowsPerPanel)
        packed.pack(from: a, rowStride: transA ? 1 : lda, depthStride: transA ? lda : 1, split: split)
        return packed
    }

    /// C[m×n] = alpha · A·B + beta · C with both operands packed.
    static func gemm(m: Int, n: Int, alpha: Float = 1, a: BF16Panels, b: BF16Panels, firstColumn: Int = 0, beta: Float = 0,
                     c: UnsafeMutablePointer<Float>, ldc: Int, split: Bool = true) {
        precondition(firstColumn % columnsPerPanel == 0 && firstColumn + n <= b.rows && a.depth == b.depth && a.rows >= m)
        multiply(m: m, n: n, alpha: alpha, a: a, b: b, firstPanel: firstColumn / columnsPerPanel, beta: beta,
                 c: c, ldc: ldc, split: split)
    }

    /// The general product: both operands Float32, packed here (B is [k×n], or [n×k] when `transB`).
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                            c: UnsafeMutablePointer<Float>, ldc: Int, split: Bool = true, share: Double = 1) {
        if m == 0 || n == 0 { return }
        let packedB = packB(transB: transB, n: n, k: k, b: b, ldb: ldb, split: split)
        defer { ScratchPanels.give(packedB) }
        gemm(transA: transA, m: m, n: n, alpha: alpha, a: a, lda: lda, b: packedB, beta: beta, c: c, ldc: ldc,
             split: split, share: share)
    }

    /// op(B) packed into a scratch operand; hand it back with `ScratchPanels.give`.
    static func packB(transB: Bool, n: Int, k: Int, b: UnsafePointer<Float>, ldb: Int, split: Bool = true) -> BF16Panels {
        let packed = ScratchPanels.take(rows: n, depth: k, width: columnsPerPanel)
        packed.pack(from: b, rowStride: transB ? ldb : 1, depthStride: transB ? 1 : ldb, split: split)
        return packed
    }

    /// Splits C between cores: by column panels when there are enough of them (each core streams its own part of
    /// B), else by row panels.
    static func multiply(m: Int, n: Int, alpha: Float, a: BF16Panels, b: BF16Panels, firstPanel: Int, beta: Float,
                         c: UnsafeMutablePointer<Float>, ldc: Int, split: Bool) {
        let columnPanels = (n + columnsPerPanel - 1) / columnsPerPanel, rowPanels = (m + rowsPerPanel - 1) / rowsPerPanel
        let pairs = Int32(a.pairs)
        let threads = split && 2 * m * n * a.depth >= 1 << 21 ? Parallel.threads : 1
        if threads > 1 && columnPanels >= 2 * threads {
            Parallel.chunks(columnPanels) { _, panels in
                let n0 = panels.lowerBound * columnsPerPanel, n1 = min(n, panels.upperBound * columnsPerPanel)
                fuse_bf16_gemm(Int32(m), Int32(n1 - n0), pairs, alpha, a.panel(0), b.panel(firstPanel + panels.lowerBound),
                               beta, c + n0, ldc)
            }
        } else if threads > 1 && rowPanels >= 2 {
            Parallel.chunks(rowPanels) { _, panels in
                let m0 = panels.lowerBound * rowsPerPanel, m1 = min(m, panels.upperBound * rowsPerPanel)
                fuse_bf16_gemm(Int32(m1 - m0), Int32(n), pairs, alpha, a.panel(panels.lowerBound), b.panel(firstPanel),
                               beta, c + m0 * ldc, ldc)
            }
        } else {
            fuse_bf16_gemm(Int32(m), Int32(n), pairs, alpha, a.panel(0), b.panel(firstPanel), beta, c, ldc)
        }
    }
}

/// Reusable buffers for the operands packed per call: a fresh allocation of megabytes per product would page-fault
/// on every call.
enum ScratchPanels {
    nonisolated(unsafe) private static var free: [BF16Panels] = []
    private static let lock = NSLock()

    static func take(rows: Int, depth: Int, width: Int) -> BF16Panels {
        let need = BF16Panels.words(rows: rows, depth: depth, width: width)
        lock.lock()
        defer { lock.unlock() }
        if let i = free.firstIndex(where: { $0.width == width && $0.capacity >= need }) {
            let spare = free.remove(at: i)
            spare.reshape(rows: rows, depth: depth)
            return spare
        }
        return BF16Panels(rows: rows, depth: depth, width: width)
    }

    static func give(_ panels: BF16Panels) {
        lock.lock()
        free.append(panels)
        if free.count > 8 { free.removeFirst() }
        lock.unlock()
    }
}
