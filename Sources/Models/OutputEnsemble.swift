import FuseTensor
import Foundation

/// The output ensemble baseline: the mean of several models' next-token distributions over one vocabulary.
public enum OutputEnsemble {
    /// Σ −log( (1/M) Σₘ pₘ(target) ) and the count over one sequence (`targets`: −1 where nothing is scored).
    /// Averaged in log space (log-sum-exp over the models) so tiny probabilities keep their precision.
    public static func loss(models: [any CausalLM], ids: [Int32], targets: [Int32]) -> CrossEntropy.Result {
        precondition(!models.isEmpty && ids.count == targets.count)
        let perModel = models.map { m in
            let logits = m.forward(ids: ids, batch: 1, seqLen: ids.count)
            return targets.withUnsafeBufferPointer {
                CrossEntropy.targetLogProbs(logits: logits, targets: $0.baseAddress!, rows: ids.count, vocab: m.vocabSize)
            }
        }
        let logM = Foundation.log(Double(models.count))
        var result = CrossEntropy.Result(lossSum: 0, count: 0)
        for r in targets.indices where targets[r] != CrossEntropy.ignore {
            let top = perModel.map { $0[r] }.max()!
            result.lossSum -= top + Foundation.log(perModel.reduce(0) { $0 + Foundation.exp($1[r] - top) }) - logM
            result.count += 1
        }
        return result
    }
}
