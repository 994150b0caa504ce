import FuseTensor

/// One layer's activations for a forward pass of one (batch, seqLen), reused by every layer and every call.
final class TransformerWorkspace {
    let batch: Int
    let seqLen: Int
    var rows: Int { batch * seqLen }

    let ids: UnsafeMutablePointer<Int32>
    /// The layer input and output alternate between these two.
    let residual: FloatBuffer, residualOther: FloatBuffer
    let normed: FloatBuffer, branch: FloatBuffer
    let rstd: FloatBuffer
    let q: FloatBuffer, k: FloatBuffer, v: FloatBuffer, attended: FloatBuffer, lse: FloatBuffer
    let gate: FloatBuffer, up: FloatBuffer
    /// Mixture of experts: the rows routed to one expert, gathered, and their output.
    let gathered: FloatBuffer, expertOut: FloatBuffer
    let attentionScratch: FloatBuffer
    private let vocabSize: Int
    /// Logits of every row, allocated by the first full forward pass only (a dump's tiled head never needs them).
    lazy var fullLogits = FloatBuffer(count: rows * vocabSize, zeroed: false)
    private var tile: FloatBuffer?

    /// Scratch for one vocabulary tile of logits.
    func tileLogits(rows: Int, columns: Int) -> FloatBuffer {
        if let t = tile, t.count >= rows * columns { return t }
        tile = nil
        let t = FloatBuffer(count: rows * columns, zeroed: false)
        tile = t
        return t
    }

    init(config c: TransformerConfig, attention: CausalAttention, batch: Int, seqLen: Int) {
        self.batch = batch
        self.seqLen = seqLen
        let n = batch * seqLen, d = c.hiddenSize, f = c.intermediateSize
        func buffer(_ count: Int) -> FloatBuffer { FloatBuffer(count: count, zeroed: false) }
        ids = .allocate(capacity: n)
        residual = buffer(n * d)
        residualOther = buffer(n * d)
        normed = buffer(n * d)
        branch = buffer(n * d)
        rstd = buffer(n * max(c.numHeads, c.numKVHeads, 1))
        q = buffer(n * c.qDim)
        k = buffer(n * c.kvDim)
        v = buffer(n * c.kvDim)
        attended = buffer(n * c.qDim)
        lse = buffer(batch * c.numHeads * seqLen)
        gate = buffer(n * f)
        up = buffer(n * f)
        let moe: Bool
        if case .mixture = c.mlp { moe = true } else { moe = false }
        gathered = buffer(moe ? n * d : 0)
        expertOut = buffer(moe ? n * d : 0)
        attentionScratch = buffer(attention.scratchCount(batch: batch, seqLen: seqLen, backward: false))
        vocabSize = c.vocabSize
    }

    deinit { ids.deallocate() }
}
