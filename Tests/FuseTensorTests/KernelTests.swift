import FuseTensor
import XCTest

final class KernelTests: XCTestCase {
    func random(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SeededRandom(seed: seed)
        var out = [Float](repeating: 0, count: n)
        out.withUnsafeMutableBufferPointer { rng.fillNormal($0.baseAddress!, count: n, std: 1) }
        return out
    }

    func testGemmTransposesAndLeadingDimensions() {
        let (m, n, k) = (5, 7, 3)
        let a = random(m * k, seed: 1), b = random(k * n, seed: 2)
        var expected = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { expected[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        // Aᵀ and Bᵀ stored explicitly, exercising every transpose flag.
        var at = [Float](repeating: 0, count: m * k), bt = [Float](repeating: 0, count: k * n)
        for i in 0..<m { for p in 0..<k { at[p * m + i] = a[i * k + p] } }
        for p in 0..<k { for j in 0..<n { bt[j * k + p] = b[p * n + j] } }
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            var c = [Float](repeating: 0, count: m * n)
            BLAS.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: ta ? at : a, lda: ta ? m : k,
                      b: tb ? bt : b, ldb: tb ? k : n, c: &c, ldc: n)
            for i in 0..<(m * n) { XCTAssertEqual(c[i], expected[i], accuracy: 1e-5) }
        }
    }

    /// Attention against a direct O(T²) implementation, per head, with GQA sharing.
    func testCausalAttentionMatchesNaive() { checkAttentionAgainstNaive(B: 2, T: 6, H: 4, KV: 2, D: 8) }

    /// Sequences longer than one query tile, and not a multiple of it.
    func testCausalAttentionAcrossQueryTiles() { checkAttentionAgainstNaive(B: 1, T: 300, H: 2, KV: 1, D: 8) }

    func checkAttentionAgainstNaive(B: Int, T: Int, H: Int, KV: Int, D: Int) {
        let q = random(B * T * H * D, seed: 3), k = random(B * T * KV * D, seed: 4), v = random(B * T * KV * D, seed: 5)
        let att = CausalAttention(heads: H, kvHeads: KV, headDim: D)
        var out = [Float](repeating: 0, count: B * T * H * D), lse = [Float](repeating: 0, count: B * H * T)
        let scratch = FloatBuffer(count: att.scratchCount(batch: B, seqLen: T))
        att.forward(q: q, k: k, v: v, out: &out, lse: &lse, batch: B, seqLen: T, scratch: scratch.pointer)
        let scale = 1 / Float(D).squareRoot()
        for b in 0..<B { for h in 0..<H { for i in 0..<T {
            let kvh = h / (H / KV)
            var scores = [Float]()
            for j in 0...i {
                var s: Float = 0
                for d in 0..<D { s += q[((b * T + i) * H + h) * D + d] * k[((b * T + j) * KV + kvh) * D + d] }
                scores.append(s * scale)
            }
            let m = scores.max()!
            let e = scores.map { expf($0 - m) }, z = e.reduce(0, +)
            for d in 0..<D {
                var o: Float = 0
                for j in 0...i { o += e[j] / z * v[((b * T + j) * KV + kvh) * D + d] }
                XCTAssertEqual(out[((b * T + i) * H + h) * D + d], o, accuracy: 1e-5)
            }
            XCTAssertEqual(lse[(b * H + h) * T + i], m + logf(z), accuracy: 1e-5)
        } } }
    }

    /// The backward against gradients derived directly from the definition (in Double), across several query
    /// tiles, with three query heads per kv head (per-head dK/dV summed afterwards) and with one (written directly).
    func testCausalAttentionBackwardMatchesNaive() {
        checkAttentionBackwardAgainstNaive(B: 2, T: 300, H: 6, KV: 2, D: 8)
        checkAttentionBackwardAgainstNaive(B: 1, T: 140, H: 2, KV: 2, D: 8)
    }

    func checkAttentionBackwardAgainstNaive(B: Int, T: Int, H: Int, KV: Int, D: Int) {
        let group = H / KV
        let q = random(B * T * H * D, seed: 13), k = random(B * T * KV * D, seed: 14), v = random(B * T * KV * D, seed: 15)
        let dOut = random(B * T * H * D, seed: 16)
        let att = CausalAttention(heads: H, kvHeads: KV, headDim: D)
        var out = [Float](repeating: 0, count: B * T * H * D), lse = [Float](repeating: 0, count: B * H * T)
        let scratch = FloatBuffer(count: att.scratchCount(batch: B, seqLen: T))
        att.forward(q: q, k: k, v: v, out: &out, lse: &lse, batch: B, seqLen: T, scratch: scratch.pointer)
        var dq = [Float](repeating: .nan, count: q.count), dk = [Float](repeating: .nan, count: k.count)
        var dv = [Float](repeating: .nan, count: v.count)
        att.backward(dOut: dOut, q: q, k: k, v: v, out: out, lse: lse, dq: &dq, dk: &dk, dv: &dv,
                     batch: B, seqLen: T, scratch: scratch.pointer)

        let scale = 1 / Double(D).squareRoot()
        var rq = [Double](repeating: 0, count: q.count), rk = [Double](repeating: 0, count: k.count)
        var rv = [Double](repeating: 0, count: v.count)
        func qi(_ b: Int, _ t: Int, _ h: Int) -> Int { ((b * T + t) * H + h) * D }
        func ki(_ b: Int, _ t: Int, _ h: Int) -> Int { ((b * T + t) * KV + h) * D }
        for b in 0..<B { for h in 0..<H { for i in 0..<T {
            let kvh = h / group
            var s = [Double](repeating: 0, count: i + 1)
            for j in 0...i { for d in 0..<D { s[j] += Double(q[qi(b, i, h) + d]) * Double(k[ki(b, j, kvh) + d]) }; s[j] *= scale }
            let m = s.max()!, e = s.map { Foundation.exp($0 - m) }, z = e.reduce(0, +), prob = e.map { $0 / z }
            var dp = [Double](repeating: 0, count: i + 1)
            for j in 0...i { for d in 0..<D { dp[j] += Double(dOut[qi(b, i, h) + d]) * Double(v[ki(b, j, kvh) + d]) } }
            let expected = zip(prob, dp).reduce(0) { $0 + $1.0 * $1.1 }
            for j in 0...i {
                let ds = prob[j] * (dp[j] - expected)
                for d in 0..<D {
                    rv[ki(b, j, kvh) + d] += prob[j] * Double(dOut[qi(b, i, h) + d])
                    rq[qi(b, i, h) + d] += scale * ds * Double(k[ki(b, j, kvh) + d])
                    rk[ki(b, j, kvh) + d] += scale * ds * Double(q[qi(b, i, h) + d])
                }
            }
        } } }
        for (name, got, want) in [("dq", dq, rq), ("dk", dk, rk), ("dv", dv, rv)] {
            let worst = zip(got, want).map { abs(Double($0) - $1) }.max()!
            XCTAssertLessThan(worst, 2e-5, "\(name) (H \(H), KV \(KV)): max abs error \(worst)")
        }
    }

    /// Results do not depend on how many threads split the work.
    func testThreadCountDoesNotChangeResults() {
        let rows = 64, dim = 48
        let x = random(rows * dim, seed: 6), w = random(dim, seed: 7), dy = random(rows * dim, seed: 8)
        func run(threads: Int) -> ([Float], [Float]) {
            let saved = Parallel.threads
            Parallel.threads = threads
            defer { Parallel.threads = saved }
            var y = [Float](repeating: 0, count: rows * dim), r = [Float](repeating: 0, count: rows)
            RMSNorm.forward(x: x, weight: w, y: &y, rstd: &r, rows: rows, dim: dim, eps: 1e-6)
            var dx = [Float](repeating: 0, count: rows * dim), dw = [Float](repeating: 0, count: dim)
            let scratch = FloatBuffer(count: threads * dim)
            RMSNorm.backward(dy: dy, x: x, weight: w, rstd: r, dx: &dx, dweight: &dw, scratch: scratch.pointer, rows: rows, dim: dim)
            return (y + dx, dw)
        }
        let one = run(threads: 1), two = run(threads: 2)
        XCTAssertEqual(one.0, two.0)
        for (a, b) in zip(one.1, two.1) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    /// Cross-entropy gradient against central finite differences.
    func testCrossEntropyGradient() {
        let rows = 3, vocab = 7
        var logits = random(rows * vocab, seed: 9)
        let targets: [Int32] = [2, CrossEntropy.ignore, 6]
        var grad = logits
        let r = CrossEntropy.lossAndGradient(logits: &grad, targets: targets, rows: rows, vocab: vocab, gradScale: 0.5)
        XCTAssertEqual(r.count, 2)
        for i in 0..<(rows * vocab) {
            let saved = logits[i]
            logits[i] = saved + 1e-2
            let up = CrossEntropy.loss(logits: logits, targets: targets, rows: rows, vocab: vocab).mean
            logits[i] = saved - 1e-2
            let down = CrossEntropy.loss(logits: logits, targets: targets, rows: rows, vocab: vocab).mean
            logits[i] = saved
            XCTAssertEqual(grad[i], Float((up - down) / 2e-2), accuracy: 2e-3, "element \(i)")
        }
    }
}
