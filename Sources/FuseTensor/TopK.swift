import Foundation

/// The part of a model's next-token distributions a dump keeps: per row of logits, the k most likely
/// tokens with their log-probabilities (log-softmax over the whole vocabulary), highest first.
public enum TopK {
    /// Fills `ids` and `logProbs` ([rows × k]) from `logits` ([rows × vocab]); rows run on all cores.
    /// `logZ`, when given ([rows]), receives each row's log-normaliser (a dump's ce reuses it: one exp pass per row).
    public static func extract(logits: UnsafePointer<Float>, rows: Int, vocab: Int, k: Int,
                               ids: UnsafeMutablePointer<Int32>, logProbs: UnsafeMutablePointer<Float>,
                               logZ: UnsafeMutablePointer<Float>? = nil) {
        precondition(k > 0 && k <= vocab)
        let normalisers = logZ
        Parallel.chunks(rows, minPerChunk: 4) { _, range in
            var best = TopKAccumulator(k: k)
            for r in range {
                let row = logits + r * vocab
                let m = VectorMath.max(row, vocab)
                let logZ = m + Foundation.log(VectorMath.sumExpShifted(row, vocab, shift: m))
                normalisers?[r] = logZ
                best.reset()
                best.add(row, count: vocab, firstID: 0)
                best.write(ids: ids + r * k, logProbs: logProbs + r * k, logZ: logZ)
            }
        }
    }
}

/// The k largest values seen so far in one row, with their ids, in a small sorted array (descending; ties keep the
/// earlier id first). Rows can be fed in vocabulary tiles, lowest ids first.
public struct TopKAccumulator {
    public let k: Int
    private var ids: [Int32]
    private var values: [Float]
    private var filled = 0

    public init(k: Int) {
        self.k = k
        ids = [Int32](repeating: 0, count: k)
        values = [Float](repeating: 0, count: k)
    }

    public mutating func reset() { filled = 0 }

    /// Offers `row[0..<count]`, whose ids start at `firstID`.
    public mutating func add(_ row: UnsafePointer<Float>, count: Int, firstID: Int) {
        let k = self.k
        var filled = self.filled
        ids.withUnsafeMutableBufferPointer { ids in
            values.withUnsafeMutableBufferPointer { values in
                // Most entries fail the first test.
                for v in 0..<count {
                    let x = row[v]
                    if filled == k && x <= values[k - 1] { continue }
                    var j = filled < k ? filled : k - 1
                    if filled < k { filled += 1 }
                    while j > 0 && values[j - 1] < x {
                        values[j] = values[j - 1]
                        ids[j] = ids[j - 1]
                        j -= 1
                    }
                    values[j] = x
                    ids[j] = Int32(firstID + v)
                }
            }
        }
        self.filled = filled
    }

    /// The ids and log-probabilities (value − logZ), highest first.
    public func write(ids out: UnsafeMutablePointer<Int32>, logProbs: UnsafeMutablePointer<Float>, logZ: Float) {
        for j in 0..<k {
            out[j] = ids[j]
            logProbs[j] = values[j] - logZ
        }
    }
}
