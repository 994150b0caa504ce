import Foundation

/// Causal multi-head attention with grouped-query heads, over row-major activations
/// laid out [batch·seq, heads·headDim]. The backward pass recomputes the probabilities
/// from the saved log-sum-exp instead of storing T×T matrices per head.
public struct CausalAttention {
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int

    public init(heads: Int, kvHeads: Int, headDim: Int) {
        precondition(heads % kvHeads == 0, "heads must be a multiple of kvHeads")
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
    }

    /// Scratch floats needed per worker for a sequence length.
    public static func scratchPerWorker(seqLen: Int) -> Int { 2 * seqLen * seqLen }

    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// Query rows per forward tile.
    static let queryTile = 128

    /// out = softmax(q kᵀ · scale + causal mask) v, and lse [batch, heads, seq] for the backward.
    public func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                        out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                        batch: Int, seqLen T: Int, scratch: UnsafeMutablePointer<Float>) {
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
            let rows = min(Self.queryTile, T - i0), keys = i0 + rows
            BLAS.gemm(transA: false, transB: true, m: rows, n: keys, k: headDim, alpha: scale,
                      a: qp + i0 * ldq, lda: ldq, b: kp, ldb: ldkv, c: s, ldc: keys, split: false, share: share)
            // Unnormalised probabilities; the 1/sum is applied to the headDim outputs instead of the i+1 scores.
            let inverseSums = s + rows * keys
            for r in 0..<rows {
                let i = i0 + r, row = s + r * keys
                let m = VectorMath.max(row, i + 1)
                let sum = VectorMath.expShifted(row, row, i + 1, shift: m)
                if i + 1 < keys { (row + i + 1).update(repeating: 0, count: keys - i - 1) }
                inverseSums[r] = 1 / sum
                l[i] = m + logf(sum)
            }
            BLAS.gemm(transA: false, transB: false, m: rows, n: headDim, k: keys,
                      a: s, lda: keys, b: vp, ldb: ldkv, c: op + i0 * ldq, ldc: ldq, split: false, share: share)
            for r in 0..<rows { VectorMath.scale(op + (i0 + r) * ldq, headDim, by: inverseSums[r]) }
        }
    }

    /// Given dOut, writes dq and (overwriting) dk, dv. Work is split by (batch, kv head) so the
    /// query heads that share a kv head add into it from one worker.
    public func backward(dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                         v: UnsafePointer<Float>, out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
                         dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                         batch: Int, seqLen T: Int, scratch: UnsafeMutablePointer<Float>) {
        let ldq = heads * headDim, ldkv = kvHeads * headDim
        let group = heads / kvHeads
        let tasks = batch * kvHeads
        let share = 1 / Double(Parallel.chunkCount(tasks))
        do {
            Parallel.chunks(tasks) { c, range in
                let p = scratch + c * Self.scratchPerWorker(seqLen: T)
                let dp = p + T * T
                for task in range {
                    let b = task / kvHeads, kvh = task % kvHeads
                    let kp = k + b * T * ldkv + kvh * headDim
                    let vp = v + b * T * ldkv + kvh * headDim
                    let dkp = dk + b * T * ldkv + kvh * headDim
                    let dvp = dv + b * T * ldkv + kvh * headDim
                    for t in 0..<T {
                        (dkp + t * ldkv).update(repeating: 0, count: headDim)
                        (dvp + t * ldkv).update(repeating: 0, count: headDim)
                    }
                    for h in (kvh * group)..<((kvh + 1) * group) {
                        let qoff = b * T * ldq + h * headDim
                        let qp = q + qoff, dop = dOut + qoff, op = out + qoff
                        let l = lse + (b * heads + h) * T
                        // P = exp(scale·q kᵀ − lse), causal.
                        BLAS.gemm(transA: false, transB: true, m: T, n: T, k: headDim, alpha: scale,
                                  a: qp, lda: ldq, b: kp, ldb: ldkv, c: p, ldc: T, split: false, share: share)
                        for i in 0..<T {
                            let row = p + i * T
                            _ = VectorMath.expShifted(row, row, i + 1, shift: l[i])
                            if i + 1 < T { (row + i + 1).update(repeating: 0, count: T - i - 1) }
                        }
                        // dV += Pᵀ dO ; dP = dO Vᵀ
                        BLAS.gemm(transA: true, transB: false, m: T, n: headDim, k: T,
                                  a: p, lda: T, b: dop, ldb: ldq, beta: 1, c: dvp, ldc: ldkv, split: false, share: share)
                        BLAS.gemm(transA: false, transB: true, m: T, n: T, k: headDim,
                                  a: dop, lda: ldq, b: vp, ldb: ldkv, c: dp, ldc: T, split: false, share: share)
                        // dS = P ⊙ (dP − rowsum(dO ⊙ O)), written over P.
                        for i in 0..<T {
                            var d: Float = 0
                            let dor = dop + i * ldq, orow = op + i * ldq
                            for x in 0..<headDim { d += dor[x] * orow[x] }
                            let row = p + i * T, drow = dp + i * T
                            for j in 0...i { row[j] *= drow[j] - d }
                        }
                        // dQ = scale · dS K ; dK += scale · dSᵀ Q
                        BLAS.gemm(transA: false, transB: false, m: T, n: headDim, k: T, alpha: scale,
                                  a: p, lda: T, b: kp, ldb: ldkv, c: dq + qoff, ldc: ldq, split: false, share: share)
                        BLAS.gemm(transA: true, transB: false, m: T, n: headDim, k: T, alpha: scale,
                                  a: p, lda: T, b: qp, ldb: ldq, beta: 1, c: dkp, ldc: ldkv, split: false, share: share)
                    }
                }
            }
        }
    }
}
