import FuseTensor

/// Activations kept from the forward pass for the backward pass, and the gradient scratch,
/// sized for one (batch, seqLen). Reused across steps: no allocation inside a step.
final class Workspace {
    let batch: Int
    let seqLen: Int
    let isTraining: Bool
    var rows: Int { batch * seqLen }

    let ids: UnsafeMutablePointer<Int32>
    /// residual[l] is the input of layer l; residual[numLayers] feeds the final norm.
    let residual: [FloatBuffer]
    let mid: [FloatBuffer]
    let rstdInput: [FloatBuffer], rstdPost: [FloatBuffer]
    let normedInput: [FloatBuffer], normedPost: [FloatBuffer]
    let q: [FloatBuffer], k: [FloatBuffer], v: [FloatBuffer]
    let lse: [FloatBuffer], attended: [FloatBuffer]
    let gate: [FloatBuffer], up: [FloatBuffer], activated: [FloatBuffer]
    let rstdFinal: FloatBuffer, normedFinal: FloatBuffer
    let logits: FloatBuffer

    let dResidual: FloatBuffer, dNormed: FloatBuffer
    let dq: FloatBuffer, dk: FloatBuffer, dv: FloatBuffer, dAttended: FloatBuffer
    let dGate: FloatBuffer, dUp: FloatBuffer, dActivated: FloatBuffer
    let attentionScratch: FloatBuffer
    let normScratch: FloatBuffer

    init(config c: LlamaConfig, batch: Int, seqLen: Int, training: Bool) {
        self.batch = batch
        self.seqLen = seqLen
        isTraining = training
        let n = batch * seqLen
        let d = c.hiddenSize, qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        let f = c.intermediateSize, layers = c.numLayers
        func many(_ count: Int, _ size: Int) -> [FloatBuffer] {
            (0..<count).map { _ in FloatBuffer(count: size, zeroed: false) }
        }
        // Inference keeps one layer's activations and reuses them; training keeps all layers.
        let kept = training ? layers : 1
        ids = .allocate(capacity: n)
        residual = many(training ? layers + 1 : 2, n * d)
        mid = many(kept, n * d)
        rstdInput = many(kept, n)
        rstdPost = many(kept, n)
        normedInput = many(kept, n * d)
        normedPost = many(kept, n * d)
        q = many(kept, n * qDim)
        k = many(kept, n * kvDim)
        v = many(kept, n * kvDim)
        lse = many(kept, batch * c.numHeads * seqLen)
        attended = many(kept, n * qDim)
        gate = many(kept, n * f)
        up = many(kept, n * f)
        activated = many(kept, n * f)
        rstdFinal = FloatBuffer(count: n, zeroed: false)
        normedFinal = FloatBuffer(count: n * d, zeroed: false)
        logits = FloatBuffer(count: n * c.vocabSize, zeroed: false)
        let g = training ? 1 : 0
        dResidual = FloatBuffer(count: g * n * d, zeroed: false)
        dNormed = FloatBuffer(count: g * n * d, zeroed: false)
        dq = FloatBuffer(count: g * n * qDim, zeroed: false)
        dk = FloatBuffer(count: g * n * kvDim, zeroed: false)
        dv = FloatBuffer(count: g * n * kvDim, zeroed: false)
        dAttended = FloatBuffer(count: g * n * qDim, zeroed: false)
        dGate = FloatBuffer(count: g * n * f, zeroed: false)
        dUp = FloatBuffer(count: g * n * f, zeroed: false)
        dActivated = FloatBuffer(count: g * n * f, zeroed: false)
        let attention = CausalAttention(heads: c.numHeads, kvHeads: c.numKVHeads, headDim: c.headDim)
        attentionScratch = FloatBuffer(count: attention.scratchCount(batch: batch, seqLen: seqLen, backward: training), zeroed: false)
        normScratch = FloatBuffer(count: Parallel.threads * d, zeroed: false)
    }

    deinit { ids.deallocate() }
}
