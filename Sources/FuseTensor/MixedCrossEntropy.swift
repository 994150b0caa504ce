import Foundation

/// The FuseLLM training loss on one set of logit rows, in one pass over each row:
///
///     L = hardWeight · Σ_r CE(z_r, onehot(t_r))  +  softWeight · Σ_r CE(z_r, p_r)
///
/// with CE(z, p) = −Σ_v p_v log softmax(z)_v = (Σp)·logsumexp(z) − Σ_v p_v z_v evaluated on p's sparse support.
/// The gradient written over the logits is softmax(z)·(hardWeight·[t≠ignore] + softWeight·Σp)
/// − hardWeight·onehot(t) − softWeight·p, so a dense vocab-sized target is never built.
/// Callers fold λ and the 1/count of each mean into the two weights.
public enum MixedCrossEntropy {
    public struct Result {
        /// Σ over rows with a hard target of −log p(target), and their number.
        public var hard = CrossEntropy.Result(lossSum: 0, count: 0)
        /// Σ over rows with soft entries of CE(z, p), and their number.
        public var soft = CrossEntropy.Result(lossSum: 0, count: 0)
    }

    public static func lossAndGradient(logits: UnsafeMutablePointer<Float>, rows: Int, vocab: Int,
                                       hardTargets: UnsafePointer<Int32>, hardWeight: Float,
                                       soft: SparseTargets, softWeight: Float) -> Result {
        precondition(soft.rows == rows, "soft targets have \(soft.rows) rows, logits \(rows)")
        let chunks = Parallel.chunkCount(rows, minPerChunk: 4)
        var partial = [Result](repeating: Result(), count: chunks)
        partial.withUnsafeMutableBufferPointer { results in
            soft.rowStart.withUnsafeBufferPointer { starts in
                soft.ids.withUnsafeBufferPointer { ids in
                    soft.probs.withUnsafeBufferPointer { probs in
                        Parallel.chunks(rows, minPerChunk: 4) { c, range in
                            var local = Result()
                            for r in range {
                                let row = logits + r * vocab
                                let t = hardTargets[r]
                                let lo = Int(starts[r]), hi = Int(starts[r + 1])
                                if t == CrossEntropy.ignore && lo == hi {
                                    row.update(repeating: 0, count: vocab)
                                    continue
                                }
                                // Read every logit the loss needs before the row is overwritten by exp.
                                let m = VectorMath.max(row, vocab)
                                let hardLogit = t == CrossEntropy.ignore ? 0 : row[Int(t)]
                                var mass: Float = 0, dot: Double = 0
                                for e in lo..<hi {
                                    mass += probs[e]
                                    dot += Double(probs[e]) * Double(row[Int(ids[e])])
                                }
                                let sum = VectorMath.expShifted(row, row, vocab, shift: m)
                                let lse = Double(m) + Foundation.log(Double(sum))
                                var a: Float = 0
                                if t != CrossEntropy.ignore {
                                    local.hard.lossSum += lse - Double(hardLogit)
                                    local.hard.count += 1
                                    a = hardWeight
                                }
                                if hi > lo {
                                    local.soft.lossSum += Double(mass) * lse - dot
                                    local.soft.count += 1
                                }
                                VectorMath.scale(row, vocab, by: (a + softWeight * mass) / sum)
                                if t != CrossEntropy.ignore { row[Int(t)] -= a }
                                for e in lo..<hi { row[Int(ids[e])] -= softWeight * probs[e] }
                            }
                            results[c] = local
                        }
                    }
                }
            }
        }
        var total = Result()
        for p in partial {
            total.hard.lossSum += p.hard.lossSum
            total.hard.count += p.hard.count
            total.soft.lossSum += p.soft.lossSum
            total.soft.count += p.soft.count
        }
        return total
    }
}
