import FuseTensor
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
            var heapIDs = [Int32](repeating: 0, count: k), heapValues = [Float](repeating: 0, count: k)
            for r in range {
                let row = logits + r * vocab
                let m = VectorMath.max(row, vocab)
                let logZ = m + Foundation.log(VectorMath.sumExpShifted(row, vocab, shift: m))
                normalisers?[r] = logZ
                // Keep the k largest in a small sorted array (descending); most entries fail the first test.
                var filled = 0
                for v in 0..<vocab {
                    let x = row[v]
                    if filled == k && x <= heapValues[k - 1] { continue }
                    var j = filled < k ? filled : k - 1
                    if filled < k { filled += 1 }
                    while j > 0 && heapValues[j - 1] < x {
                        heapValues[j] = heapValues[j - 1]
                        heapIDs[j] = heapIDs[j - 1]
                        j -= 1
                    }
                    heapValues[j] = x
                    heapIDs[j] = Int32(v)
                }
                for j in 0..<k {
                    ids[r * k + j] = heapIDs[j]
                    logProbs[r * k + j] = heapValues[j] - logZ
                }
            }
        }
    }
}
