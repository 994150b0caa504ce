import FuseTensor

/// What every source model offers, whatever its family: a forward pass from token ids to next-token logits.
/// The trainable target (`LlamaModel`, with its backward pass) conforms too.
public protocol CausalLM: AnyObject {
    /// HF `model_type` of the family (llama, gemma3, …).
    var family: String { get }
    var vocabSize: Int { get }
    /// The longest sequence one forward pass takes.
    var maxSequenceLength: Int { get }
    var bosTokenID: Int? { get }
    var eosTokenID: Int? { get }
    /// Parameters, for messages.
    var parameterCount: Int { get }
    /// fp32 or bf16 matrix products.
    var precision: Precision { get set }
    /// Logits [batch·seqLen, vocab] for `ids` ([batch, seqLen], row-major), valid until the next call.
    func forward(ids: [Int32], batch: Int, seqLen: Int) -> UnsafeMutablePointer<Float>
    /// Σ −log p(target) and the count over one batch (`targets`: `CrossEntropy.ignore` where nothing is scored).
    func loss(ids: [Int32], targets: [Int32], batch: Int, seqLen: Int) -> CrossEntropy.Result
    /// What a dump keeps of one sequence's forward pass, for the positions `rows`: see `NextTokenSummary`.
    /// `targets[i]` is the token whose logit row `rows.lowerBound + i` reports (−1: none).
    func nextTokenSummary(ids: [Int32], rows: Range<Int>, k: Int, targets: [Int32]) -> NextTokenSummary
}

/// Per position: the k most likely next tokens (highest first) with their log-probabilities, the log-normaliser
/// log Σ exp(logits), and the logit of a given target token (NaN where none was asked for).
public struct NextTokenSummary {
    public var topIDs: [Int32]
    public var topLogProbs: [Float]
    public var logZ: [Float]
    public var targetLogits: [Float]

    public init(rows: Int, k: Int) {
        topIDs = [Int32](repeating: 0, count: rows * k)
        topLogProbs = [Float](repeating: 0, count: rows * k)
        logZ = [Float](repeating: 0, count: rows)
        targetLogits = [Float](repeating: .nan, count: rows)
    }
}

extension CausalLM {
    public func loss(ids: [Int32], targets: [Int32], batch: Int, seqLen: Int) -> CrossEntropy.Result {
        precondition(targets.count == batch * seqLen)
        let logits = forward(ids: ids, batch: batch, seqLen: seqLen)
        return targets.withUnsafeBufferPointer {
            CrossEntropy.loss(logits: logits, targets: $0.baseAddress!, rows: batch * seqLen, vocab: vocabSize)
        }
    }

    /// From the full logits (the default; `TransformerModel` computes it tile by tile over the vocabulary instead).
    public func nextTokenSummary(ids: [Int32], rows: Range<Int>, k: Int, targets: [Int32]) -> NextTokenSummary {
        precondition(targets.count == rows.count && rows.upperBound <= ids.count)
        let vocab = vocabSize
        let logits = forward(ids: ids, batch: 1, seqLen: ids.count) + rows.lowerBound * vocab
        var s = NextTokenSummary(rows: rows.count, k: k)
        s.topIDs.withUnsafeMutableBufferPointer { i in
            s.topLogProbs.withUnsafeMutableBufferPointer { l in
                s.logZ.withUnsafeMutableBufferPointer { z in
                    TopK.extract(logits: logits, rows: rows.count, vocab: vocab, k: k, ids: i.baseAddress!,
                                 logProbs: l.baseAddress!, logZ: z.baseAddress!)
                }
            }
        }
        for (r, t) in targets.enumerated() where t >= 0 { s.targetLogits[r] = logits[r * vocab + Int(t)] }
        return s
    }
}
