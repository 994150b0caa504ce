import Foundation

/// Softmax cross-entropy over vocabulary rows, with -1 marking positions that carry no loss.
public enum CrossEntropy {
    public static let ignore: Int32 = -1

    public struct Result {
        /// Sum of −log p(target) over the counted rows.
        public var lossSum: Double
        /// Number of rows with a target.
        public var count: Int
        public var mean: Double { count > 0 ? lossSum / Double(count) : 0 }
        public init(lossSum: Double, count: Int) {
            self.lossSum = lossSum
            self.count = count
        }
    }

    @inline(__always)
    static func logSumExp(_ row: UnsafePointer<Float>, _ n: Int) -> Float {
        let m = VectorMath.max(row, n)
        return m + logf(VectorMath.sumExpShifted(row, n, shift: m))
    }

    /// Loss only (evaluation).
    public static func loss(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, vocab: Int) -> Result {
        var partial = [Double](repeating: 0, count: Parallel.chunkCount(rows, minPerChunk: 4))
        var counts = [Int](repeating: 0, count: partial.count)
        partial.withUnsafeMutableBufferPointer { sums in
            counts.withUnsafeMutableBufferPointer { cnt in
                Parallel.chunks(rows, minPerChunk: 4) { c, range in
                    for r in range where targets[r] != ignore {
                        let row = logits + r * vocab
                        sums[c] += Double(logSumExp(row, vocab) - row[Int(targets[r])])
                        cnt[c] += 1
                    }
                }
            }
        }
        return Result(lossSum: partial.reduce(0, +), count: counts.reduce(0, +))
    }

    /// log p(target) of every row (0 for rows whose target is `ignore`): what an output ensemble averages.
    public static func targetLogProbs(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, vocab: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows)
        out.withUnsafeMutableBufferPointer { lp in
            Parallel.chunks(rows, minPerChunk: 4) { _, range in
                for r in range where targets[r] != ignore {
                    let row = logits + r * vocab
                    lp[r] = Double(row[Int(targets[r])] - logSumExp(row, vocab))
                }
            }
        }
        return out
    }

    /// Loss, and the gradient written over the logits: dlogits = (softmax − onehot) · gradScale
    /// on counted rows, 0 elsewhere. The caller picks gradScale (1/count for a mean loss).
    public static func lossAndGradient(logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>,
                                       rows: Int, vocab: Int, gradScale: Float) -> Result {
        var partial = [Double](repeating: 0, count: Parallel.chunkCount(rows, minPerChunk: 4))
        var counts = [Int](repeating: 0, count: partial.count)
        partial.withUnsafeMutableBufferPointer { sums in
            counts.withUnsafeMutableBufferPointer { cnt in
                Parallel.chunks(rows, minPerChunk: 4) { c, range in
                    for r in range {
                        let row = logits + r * vocab
                        let t = targets[r]
                        if t == ignore { row.update(repeating: 0, count: vocab); continue }
                        // One exp pass: the row becomes exp(x − max), then is scaled to softmax · gradScale.
                        let m = VectorMath.max(row, vocab)
                        let target = row[Int(t)]
                        let sum = VectorMath.expShifted(row, row, vocab, shift: m)
                        sums[c] += Double(m + logf(sum) - target)
                        cnt[c] += 1
                        VectorMath.scale(row, vocab, by: gradScale / sum)
                        row[Int(t)] -= gradScale
                    }
                }
            }
        }
        return Result(lossSum: partial.reduce(0, +), count: counts.reduce(0, +))
    }

    /// Number of rows with a target.
    public static func countTargets(_ targets: UnsafePointer<Int32>, rows: Int) -> Int {
        var n = 0
        for r in 0..<rows where targets[r] != ignore { n += 1 }
        return n
    }
}
