import Foundation

/// Causal multi-head attention with grouped-query heads, over row-major activations
/// laid out [batch·seq, heads·headDim]. The backward pass recomputes the probabilities
/// from the saved log-sum-exp instead of storing T×T matrices per head.
public struct CausalAttention {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    /// Multiplies q·kᵀ: 1/√headDim, or Gemma's query_pre_attn_scalar^−½.
    public let scale: Float
    /// The number format of the score and output products (softmax stays Float32), as the model's linear layers.
    public var precision: Precision = .fp32

    public init(heads: Int, kvHeads: Int, headDim: Int, scale: Float? = nil) {
        precondition(heads % kvHeads == 0, "heads must be a multiple of kvHeads")
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
    }

    /// Scratch floats needed per worker for a sequence length: one query tile's scores and their gradient
    /// (tile rows × keys each), plus the tile's row constants.
    static func scratchPerWorker(seqLen T: Int) -> Int { 2 * min(queryTile, T) * T + queryTile }

    /// Scratch floats `forward` (and, with `backward`, `backward`) need for `batch` sequences of `seqLen` with the
    /// current `Parallel.threads`: each worker's tile, and for the backward with grouped kv heads each query head's
    /// own dK and dV, summed into the shared kv head at the end.
    public func scratchCount(batch: Int, seqLen T: Int, backward: Bool = true) -> Int {
        Parallel.threads * Self.scratchPerWorker(seqLen: T) + (backward && heads > kvHeads ? 2 * batch * heads * T * headDim : 0)
    }

    /// Query rows per tile (forward and backward).
    static let queryTile = 128

    /// out = softmax(q kᵀ · scale + causal mask) v, and lse [batch, heads, seq] for the backward.
    /// Sources may restrict each query to the `window` latest keys (itself included: key j is seen from query i when
    /// i − window < j ≤ i, as transformers' sliding-window mask) and soft-cap the scores (cap · tanh(s / cap), Gemma 2);
    /// the backward pass supports neither.
    public func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                        batch: Int, seqLen T: Int, scratch: UnsafeMutablePointer<Float>,
                        window: Int? = nil, softcap: Float? = nil) {
        let ldq = heads * headDim, ldkv = kvHeads * headDim
        let group = heads / kvHeads
        let tasks = batch * heads
        let tiles = (T + Self.queryTile - 1) / Self.queryTile
        let share = 1 / Double(min(Parallel.threads, tasks * tiles))
        // Work items are (query tile, batch, head), last tiles first: a tile only needs the keys up to its last
        // row (causal), so later tiles cost more, and handing out the costliest first keeps the cores evenly
        // busy (9 heads on 2 cores used to leave one idle for a ninth of the attention time).
        Parallel.dynamic(tasks * tiles) { worker, item in
            let tile = tiles - 1 - item / tasks, task = item % tasks
            let s = scratch + worker * Self.scratchPerWorker(seqLen: T)
            let b = task / heads, h = task % heads, kvh = h / group
            let qp = q + b * T * ldq + h * headDim
            let kp = k + b * T * ldkv + kvh * headDim
            let vp = v + b * T * ldkv + kvh * headDim
            let op = out + b * T * ldq + h * headDim
            let l = lse + task * T
            let i0 = tile * Self.queryTile
            let rows = min(Self.queryTile, T - i0)
            // Keys [first, first + keys) are the union of the tile's rows' windows (all earlier keys without one).
            let first = window.map { max(0, i0 - $0 + 1) } ?? 0, keys = i0 + rows - first
            product(transA: false, transB: true, m: rows, n: keys, k: headDim, alpha: scale,
                      a: qp + i0 * ldq, lda: ldq, b: kp + first * ldkv, ldb: ldkv, c: s, ldc: keys, split: false, share: share)
            // Unnormalised probabilities; the 1/sum is applied to the headDim outputs instead of the i+1 scores.
            let inverseSums = s + rows * keys
            for r in 0..<rows {
                let i = i0 + r, row = s + r * keys
                let lo = window.map { max(0, i - $0 + 1) - first } ?? 0, hi = i - first  // seen keys, relative
                if let softcap {
                    for j in lo...hi { row[j] = tanhf(row[j] / softcap) * softcap }
                }
                let m = VectorMath.max(row + lo, hi - lo + 1)
                let sum = VectorMath.expShifted(row + lo, row + lo, hi - lo + 1, shift: m)
                if lo > 0 { row.update(repeating: 0, count: lo) }
                if hi + 1 < keys { (row + hi + 1).update(repeating: 0, count: keys - hi - 1) }
                inverseSums[r] = 1 / sum
                l[i] = m + logf(sum)
            }
            product(transA: false, transB: false, m: rows, n: headDim, k: keys,
                      a: s, lda: keys, b: vp + first * ldkv, ldb: ldkv, c: op + i0 * ldq, ldc: ldq, split: false, share: share)
            for r in 0..<rows { VectorMath.scale(op + (i0 + r) * ldq, headDim, by: inverseSums[r]) }
        }
    }

    /// One product of a work item (already parallel: not split further).
    private func product(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                         a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                         c: UnsafeMutablePointer<Float>, ldc: Int, split: Bool, share: Double) {
        switch precision {
        case .fp32:
            BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                      beta: beta, c: c, ldc: ldc, split: split, share: share)
        case .bf16:
            BF16GEMM.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                          beta: beta, c: c, ldc: ldc, split: split, share: share)
        }
    }

    /// Given dOut, writes dq and (overwriting) dk, dv. Each head is walked in causal query tiles, as in the forward:
    /// a tile's products stop at its last key, so the masked triangle (half the work of five T×T products) is never
    /// computed, and the probabilities are recomputed from the saved log-sum-exp. Work items are (batch, query
    /// head); with grouped kv heads each head writes its own dK and dV, summed per kv head afterwards in a fixed
    /// order (deterministic), so SmolLM2's 3 kv heads no longer split 2:1 over two cores.
    public func backward(dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                         v: UnsafePointer<Float>, out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
                         dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                         batch: Int, seqLen T: Int, scratch: UnsafeMutablePointer<Float>) {
        let ldq = heads * headDim, ldkv = kvHeads * headDim
        let group = heads / kvHeads
        let items = batch * heads
        let share = 1 / Double(min(Parallel.threads, items))
        let perWorker = Self.scratchPerWorker(seqLen: T)
        let headGradients = batch * heads * T * headDim
        let dkHeads = scratch + Parallel.threads * perWorker, dvHeads = dkHeads + headGradients
        let tileRows = min(Self.queryTile, T)
        Parallel.dynamic(items) { worker, item in
            let p = scratch + worker * perWorker      // [rows × keys]: P, then dS over it
            let dp = p + tileRows * T                 // [rows × keys]: dP
            let rowDots = dp + tileRows * T           // [rows]: rowsum(dO ⊙ O)
            let b = item / heads, h = item % heads, kvh = h / group
            let kp = k + b * T * ldkv + kvh * headDim
            let vp = v + b * T * ldkv + kvh * headDim
            // Where this head's dK and dV go: straight into dk/dv when no other head shares its kv head.
            let (dkp, dvp, ldkvGrad) = group == 1
                ? (dk + b * T * ldkv + kvh * headDim, dv + b * T * ldkv + kvh * headDim, ldkv)
                : (dkHeads + item * T * headDim, dvHeads + item * T * headDim, headDim)
            for t in 0..<T {
                (dkp + t * ldkvGrad).update(repeating: 0, count: headDim)
                (dvp + t * ldkvGrad).update(repeating: 0, count: headDim)
            }
            let qoff = b * T * ldq + h * headDim
            let l = lse + item * T
            var i0 = 0
            while i0 < T {
                let rows = min(Self.queryTile, T - i0), keys = i0 + rows
                let qp = q + qoff + i0 * ldq, dop = dOut + qoff + i0 * ldq, op = out + qoff + i0 * ldq
                // P = exp(scale·q kᵀ − lse), zero above the diagonal.
                product(transA: false, transB: true, m: rows, n: keys, k: headDim, alpha: scale,
                          a: qp, lda: ldq, b: kp, ldb: ldkv, c: p, ldc: keys, split: false, share: share)
                for r in 0..<rows {
                    let i = i0 + r, row = p + r * keys
                    _ = VectorMath.expShifted(row, row, i + 1, shift: l[i])
                    if i + 1 < keys { (row + i + 1).update(repeating: 0, count: keys - i - 1) }
                }
                // dV[..keys] += Pᵀ dO ; dP = dO V[..keys]ᵀ
                product(transA: true, transB: false, m: keys, n: headDim, k: rows,
                          a: p, lda: keys, b: dop, ldb: ldq, beta: 1, c: dvp, ldc: ldkvGrad, split: false, share: share)
                product(transA: false, transB: true, m: rows, n: keys, k: headDim,
                          a: dop, lda: ldq, b: vp, ldb: ldkv, c: dp, ldc: keys, split: false, share: share)
                // dS = P ⊙ (dP − rowsum(dO ⊙ O)), written over P (zero above the diagonal, as P is).
                for r in 0..<rows {
                    var d: Float = 0
                    let dor = dop + r * ldq, orow = op + r * ldq
                    for x in 0..<headDim { d += dor[x] * orow[x] }
                    rowDots[r] = d
                }
                for r in 0..<rows {
                    let row = p + r * keys, drow = dp + r * keys, d = rowDots[r]
                    for j in 0...(i0 + r) { row[j] *= drow[j] - d }
                }
                // dQ = scale · dS K[..keys] ; dK[..keys] += scale · dSᵀ Q
                product(transA: false, transB: false, m: rows, n: headDim, k: keys, alpha: scale,
                          a: p, lda: keys, b: kp, ldb: ldkv, c: dq + qoff + i0 * ldq, ldc: ldq,
                          split: false, share: share)
                product(transA: true, transB: false, m: keys, n: headDim, k: rows, alpha: scale,
                          a: p, lda: keys, b: qp, ldb: ldq, beta: 1, c: dkp, ldc: ldkvGrad, split: false, share: share)
                i0 += rows
            }
        }
        guard group > 1 else { return }
        // dk[b, t, kv head] = Σ over its query heads, in head order.
        Parallel.chunks(batch * T, minPerChunk: 16) { _, range in
            for row in range {
                let b = row / T, t = row % T
                for kvh in 0..<kvHeads {
                    let dkRow = dk + row * ldkv + kvh * headDim, dvRow = dv + row * ldkv + kvh * headDim
                    let first = (b * heads + kvh * group) * T + t
                    dkRow.update(from: dkHeads + first * headDim, count: headDim)
                    dvRow.update(from: dvHeads + first * headDim, count: headDim)
                    for g in 1..<group {
                        let src = (first + g * T) * headDim
                        for x in 0..<headDim {
                            dkRow[x] += dkHeads[src + x]
                            dvRow[x] += dvHeads[src + x]
                        }
                    }
                }
            }
        }
    }
}
