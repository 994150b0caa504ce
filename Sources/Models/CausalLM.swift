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
    /// Logits [batch·seqLen, vocab] for `ids` ([batch, seqLen], row-major), valid until the next call.
    func forward(ids: [Int32], batch: Int, seqLen: Int) -> UnsafeMutablePointer<Float>
}

extension CausalLM {
    /// Σ −log p(target) and the count over one batch (`targets`: `CrossEntropy.ignore` where nothing is scored).
    public func loss(ids: [Int32], targets: [Int32], batch: Int, seqLen: Int) -> CrossEntropy.Result {
        precondition(targets.count == batch * seqLen)
        let logits = forward(ids: ids, batch: batch, seqLen: seqLen)
        return targets.withUnsafeBufferPointer {
            CrossEntropy.loss(logits: logits, targets: $0.baseAddress!, rows: batch * seqLen, vocab: vocabSize)
        }
    }
}
