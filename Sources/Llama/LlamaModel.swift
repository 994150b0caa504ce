import FuseFormats
import FuseTensor
import Foundation

/// A Llama-2-architecture causal LM with an explicit forward and backward pass over one flat
/// parameter buffer. Matches HF transformers' LlamaForCausalLM in Float32.
public final class LlamaModel {
    public let config: LlamaConfig
    public let layout: ParameterLayout
    public let parameters: FloatBuffer
    /// Gradient accumulator, same layout as `parameters`; allocated on first backward pass.
    public private(set) var gradients: FloatBuffer?

    let rope: RoPE
    var attention: CausalAttention
    private var workspace: Workspace?
    /// The linear layers' number format; bf16 keeps packed bf16 copies of the weights.
    public private(set) var products = MatrixProducts()

    /// fp32 (the default, exact against PyTorch) or bf16 matrix products (`Precision`).
    public var precision: Precision {
        get { products.precision }
        set { (products, attention.precision) = (products.with(newValue), newValue) }
    }

    /// Call after changing `parameters` (an optimizer step, a load) so bf16 repacks its weight copies.
    public func parametersChanged() { products.parametersChanged() }

    public init(config: LlamaConfig) {
        self.config = config
        layout = ParameterLayout(config: config)
        parameters = FloatBuffer(count: layout.totalCount)
        rope = RoPE(headDim: config.headDim, maxPositions: config.maxPositionEmbeddings, theta: config.ropeTheta)
        attention = CausalAttention(heads: config.numHeads, kvHeads: config.numKVHeads, headDim: config.headDim)
        BLAS.useSingleThreadedOpenBLAS()
    }

    /// HF's initialisation: N(0, initializer_range²) for matrices and embeddings, ones for norms.
    public static func randomlyInitialized(config: LlamaConfig, seed: UInt64) -> LlamaModel {
        let model = LlamaModel(config: config)
        var rng = SeededRandom(seed: seed)
        for e in model.layout.entries {
            let p = model.parameters.pointer + e.offset
            if e.shape.count == 1 {
                p.update(repeating: 1, count: e.count)
            } else {
                rng.fillNormal(p, count: e.count, std: Float(config.initializerRange))
            }
        }
        return model
    }

    public func pointer(_ name: String) -> UnsafeMutablePointer<Float>? {
        layout.entry(named: name).map { parameters.pointer + $0.offset }
    }

    public func zeroGradients() {
        if gradients == nil { gradients = FloatBuffer(count: layout.totalCount) } else { gradients!.zero() }
    }

    private func workspace(batch: Int, seqLen: Int, training: Bool) -> Workspace {
        precondition(seqLen <= config.maxPositionEmbeddings,
                     "sequence length \(seqLen) exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        // A training workspace also serves inference, so alternating eval and train does not reallocate.
        if let w = workspace, w.batch == batch, w.seqLen == seqLen, w.isTraining || !training {
            return w
        }
        workspace = nil  // free the old one before allocating the new one
        let w = Workspace(config: config, batch: batch, seqLen: seqLen, training: training)
        workspace = w
        return w
    }

    /// Runs the model over `ids` ([batch, seqLen], row-major) and returns the logits
    /// [batch·seqLen, vocab], valid until the next call.
    @discardableResult
    public func forward(ids: [Int32], batch: Int, seqLen: Int) -> UnsafeMutablePointer<Float> {
        let w = workspace(batch: batch, seqLen: seqLen, training: false)
        runForward(ids: ids, w, training: w.isTraining)
        return w.logits.pointer
    }

    /// Mean next-token cross-entropy over positions whose target is not `CrossEntropy.ignore`.
    public func loss(ids: [Int32], targets: [Int32], batch: Int, seqLen: Int) -> CrossEntropy.Result {
        precondition(targets.count == batch * seqLen)
        let logits = forward(ids: ids, batch: batch, seqLen: seqLen)
        return targets.withUnsafeBufferPointer {
            CrossEntropy.loss(logits: logits, targets: $0.baseAddress!, rows: batch * seqLen, vocab: config.vocabSize)
        }
    }

    /// Forward and backward: adds the gradient of `gradScale · Σ CE` to `gradients`.
    /// `gradScale` defaults to 1/(number of targets), the gradient of the mean loss.
    public func forwardBackward(ids: [Int32], targets: [Int32], batch: Int, seqLen: Int,
                                gradScale: Float? = nil) -> CrossEntropy.Result {
        precondition(targets.count == batch * seqLen)
        return forwardBackward(ids: ids, batch: batch, seqLen: seqLen) { logits, rows, vocab in
            targets.withUnsafeBufferPointer { t -> CrossEntropy.Result in
                let count = CrossEntropy.countTargets(t.baseAddress!, rows: rows)
                let scale = gradScale ?? (count > 0 ? 1 / Float(count) : 0)
                return CrossEntropy.lossAndGradient(logits: logits, targets: t.baseAddress!, rows: rows,
                                                    vocab: vocab, gradScale: scale)
            }
        }
    }

    /// Forward and backward with any loss on the logits: `lossGradient` receives the logits
    /// [rows × vocab] and must overwrite them with ∂L/∂logits; every parameter gradient is then added
    /// into `gradients`.
    public func forwardBackward<R>(ids: [Int32], batch: Int, seqLen: Int,
                                   lossGradient: (UnsafeMutablePointer<Float>, _ rows: Int, _ vocab: Int) throws -> R) rethrows -> R {
        precondition(ids.count == batch * seqLen)
        if gradients == nil { zeroGradients() }
        let w = workspace(batch: batch, seqLen: seqLen, training: true)
        runForward(ids: ids, w, training: true)
        let result = try lossGradient(w.logits.pointer, batch * seqLen, config.vocabSize)
        runBackward(w)
        return result
    }

    // MARK: - Forward

    private func runForward(ids: [Int32], _ w: Workspace, training: Bool) {
        let c = config, n = w.rows, d = c.hiddenSize
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim, f = c.intermediateSize
        let eps = Float(c.rmsNormEps)
        let P = parameters.pointer
        for (i, id) in ids.enumerated() {
            precondition(id >= 0 && Int(id) < c.vocabSize, "token id \(id) outside the vocabulary (\(c.vocabSize))")
            w.ids[i] = id
        }
        Embedding.forward(ids: w.ids, table: P + layout.embedding, out: w.residual[0].pointer, rows: n, dim: d)
        for l in 0..<c.numLayers {
            let L = layout.layers[l]
            let s = training ? l : 0
            let x = w.residual[training ? l : l % 2].pointer
            let next = w.residual[training ? l + 1 : (l + 1) % 2].pointer
            let h1 = w.normedInput[s].pointer, mid = w.mid[s].pointer, h2 = w.normedPost[s].pointer
            let q = w.q[s].pointer, k = w.k[s].pointer, v = w.v[s].pointer, att = w.attended[s].pointer
            let g = w.gate[s].pointer, u = w.up[s].pointer, a = w.activated[s].pointer

            RMSNorm.forward(x: x, weight: P + L.inputNorm, y: h1, rstd: w.rstdInput[s].pointer, rows: n, dim: d, eps: eps)
            products.linears(x: h1, rows: n, inFeatures: d, [
                LinearLayer(w: P + L.q, y: q, outFeatures: qDim), LinearLayer(w: P + L.k, y: k, outFeatures: kvDim),
                LinearLayer(w: P + L.v, y: v, outFeatures: kvDim),
            ])
            rope.apply(q, rows: n, heads: c.numHeads, seqLen: w.seqLen)
            rope.apply(k, rows: n, heads: c.numKVHeads, seqLen: w.seqLen)
            attention.forward(q: q, k: k, v: v, out: att, lse: w.lse[s].pointer, batch: w.batch, seqLen: w.seqLen,
                              scratch: w.attentionScratch.pointer)
            mid.update(from: x, count: n * d)
            products.linear(x: att, w: P + L.o, y: mid, rows: n, inFeatures: qDim, outFeatures: d, accumulate: true)

            RMSNorm.forward(x: mid, weight: P + L.postNorm, y: h2, rstd: w.rstdPost[s].pointer, rows: n, dim: d, eps: eps)
            products.linears(x: h2, rows: n, inFeatures: d, [
                LinearLayer(w: P + L.gate, y: g, outFeatures: f), LinearLayer(w: P + L.up, y: u, outFeatures: f),
            ])
            SwiGLU.forward(gate: g, up: u, out: a, count: n * f)
            next.update(from: mid, count: n * d)
            products.linear(x: a, w: P + L.down, y: next, rows: n, inFeatures: f, outFeatures: d, accumulate: true)
        }
        let last = w.residual[training ? c.numLayers : c.numLayers % 2].pointer
        RMSNorm.forward(x: last, weight: P + layout.finalNorm, y: w.normedFinal.pointer, rstd: w.rstdFinal.pointer,
                        rows: n, dim: d, eps: eps)
        products.linear(x: w.normedFinal.pointer, w: P + layout.lmHead, y: w.logits.pointer,
                    rows: n, inFeatures: d, outFeatures: c.vocabSize)
    }

    // MARK: - Backward

    /// Expects ∂L/∂logits in `w.logits`; adds every parameter gradient into `gradients`.
    private func runBackward(_ w: Workspace) {
        let c = config, n = w.rows, d = c.hiddenSize
        let qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim, f = c.intermediateSize
        let P = parameters.pointer, G = gradients!.pointer
        let dx = w.dResidual.pointer, dh = w.dNormed.pointer
        let normScratch = w.normScratch.pointer

        products.linearBackward(dy: w.logits.pointer, x: w.normedFinal.pointer, w: P + layout.lmHead, dx: dh,
                            dw: G + layout.lmHead, rows: n, inFeatures: d, outFeatures: c.vocabSize)
        dx.update(repeating: 0, count: n * d)
        RMSNorm.backward(dy: dh, x: w.residual[c.numLayers].pointer, weight: P + layout.finalNorm,
                         rstd: w.rstdFinal.pointer, dx: dx, dweight: G + layout.finalNorm, scratch: normScratch,
                         rows: n, dim: d)

        for l in stride(from: c.numLayers - 1, through: 0, by: -1) {
            let L = layout.layers[l]
            // MLP block: residual[l+1] = mid + down(silu(gate(h2)) ⊙ up(h2)), h2 = norm(mid)
            products.linearBackward(dy: dx, x: w.activated[l].pointer, w: P + L.down, dx: w.dActivated.pointer,
                                dw: G + L.down, rows: n, inFeatures: f, outFeatures: d)
            SwiGLU.backward(dOut: w.dActivated.pointer, gate: w.gate[l].pointer, up: w.up[l].pointer,
                            dGate: w.dGate.pointer, dUp: w.dUp.pointer, count: n * f)
            products.linearsBackward(x: w.normedPost[l].pointer, rows: n, inFeatures: d, dx: dh,
                                     [LinearLayer(w: P + L.gate, y: w.dGate.pointer, dw: G + L.gate, outFeatures: f),
                                      LinearLayer(w: P + L.up, y: w.dUp.pointer, dw: G + L.up, outFeatures: f)])
            RMSNorm.backward(dy: dh, x: w.mid[l].pointer, weight: P + L.postNorm, rstd: w.rstdPost[l].pointer,
                             dx: dx, dweight: G + L.postNorm, scratch: normScratch, rows: n, dim: d)

            // Attention block: mid = residual[l] + o(attn(rope(q(h1)), rope(k(h1)), v(h1))), h1 = norm(residual[l])
            products.linearBackward(dy: dx, x: w.attended[l].pointer, w: P + L.o, dx: w.dAttended.pointer,
                                dw: G + L.o, rows: n, inFeatures: qDim, outFeatures: d)
            attention.backward(dOut: w.dAttended.pointer, q: w.q[l].pointer, k: w.k[l].pointer, v: w.v[l].pointer,
                               out: w.attended[l].pointer, lse: w.lse[l].pointer,
                               dq: w.dq.pointer, dk: w.dk.pointer, dv: w.dv.pointer,
                               batch: w.batch, seqLen: w.seqLen, scratch: w.attentionScratch.pointer)
            rope.apply(w.dq.pointer, rows: n, heads: c.numHeads, seqLen: w.seqLen, inverse: true)
            rope.apply(w.dk.pointer, rows: n, heads: c.numKVHeads, seqLen: w.seqLen, inverse: true)
            let h1 = w.normedInput[l].pointer
            products.linearsBackward(x: h1, rows: n, inFeatures: d, dx: dh,
                                     [LinearLayer(w: P + L.q, y: w.dq.pointer, dw: G + L.q, outFeatures: qDim),
                                      LinearLayer(w: P + L.k, y: w.dk.pointer, dw: G + L.k, outFeatures: kvDim),
                                      LinearLayer(w: P + L.v, y: w.dv.pointer, dw: G + L.v, outFeatures: kvDim)])
            RMSNorm.backward(dy: dh, x: w.residual[l].pointer, weight: P + L.inputNorm, rstd: w.rstdInput[l].pointer,
                             dx: dx, dweight: G + L.inputNorm, scratch: normScratch, rows: n, dim: d)
        }
        Embedding.backward(ids: w.ids, dOut: dx, dTable: G + layout.embedding, rows: n, dim: d)
    }
}
