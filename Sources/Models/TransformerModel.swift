import FuseTensor
import Foundation

/// The forward pass of every source family, built from the shared kernels by the switches of its
/// `TransformerConfig` (the way llama.cpp builds each architecture from build_norm / build_ffn), over one flat
/// parameter buffer laid out by the family (`TensorLayout`). Forward only: the trainable target is `LlamaModel`.
public final class TransformerModel: CausalLM {
    public let config: TransformerConfig
    public let layout: TensorLayout
    public let parameters: FloatBuffer

    let ropes: [RoPE]
    var attention: CausalAttention
    /// Gemma's (1 + w) norm weights, formed once after loading (keyed by the stored weight's offset).
    private var unitOffsetNorms: [Int: FloatBuffer] = [:]
    private var workspace: TransformerWorkspace?
    /// The linear layers' number format; bf16 keeps packed bf16 copies of the weights.
    public private(set) var products = MatrixProducts()

    /// fp32 (the default, exact against transformers) or bf16 matrix products (`Precision`).
    public var precision: Precision {
        get { products.precision }
        set { (products, attention.precision) = (products.with(newValue), newValue) }
    }

    public var family: String { config.family }
    public var vocabSize: Int { config.vocabSize }
    public var maxSequenceLength: Int { config.maxPositionEmbeddings }
    public var bosTokenID: Int? { config.bosTokenID }
    public var eosTokenID: Int? { config.eosTokenID }
    public var parameterCount: Int { layout.totalCount }

    /// RoPE tables cover this many positions at most (a 32k-context model would otherwise hold 64 MB of tables).
    static let rotaryTablePositions = 8192

    public init(config: TransformerConfig, layout: TensorLayout) {
        self.config = config
        self.layout = layout
        parameters = FloatBuffer(count: layout.totalCount)
        let positions = min(config.maxPositionEmbeddings, Self.rotaryTablePositions)
        ropes = config.positions == .rotary
            ? config.rotaryFrequencies.map { RoPE(headDim: config.headDim, rotaryDim: config.rotaryDim, maxPositions: positions, inverseFrequencies: $0) }
            : []
        attention = CausalAttention(heads: config.numHeads, kvHeads: config.numKVHeads, headDim: config.headDim,
                                    scale: config.attentionScale)
        BLAS.useSingleThreadedOpenBLAS()
    }

    /// Call once the parameters are filled: forms what the forward pass derives from them.
    public func parametersLoaded() {
        products.parametersChanged()
        unitOffsetNorms = [:]
        guard case .rmsUnitOffset = config.norm else { return }
        var offsets = [layout.global.finalNorm]
        for l in layout.layers {
            offsets += [l.attnNorm, l.qNorm, l.kNorm, l.postAttnNorm, l.ffnNorm, l.postFFNNorm].compactMap { $0 }
        }
        for offset in offsets {
            let count = normWidth(at: offset)
            let b = FloatBuffer(count: count, zeroed: false)
            for j in 0..<count { b.pointer[j] = 1 + parameters.pointer[offset + j] }
            unitOffsetNorms[offset] = b
        }
    }

    private func normWidth(at offset: Int) -> Int {
        layout.entries.first { $0.offset == offset }!.count
    }

    public func pointer(_ name: String) -> UnsafeMutablePointer<Float>? {
        layout.entry(named: name).map { parameters.pointer + $0.offset }
    }

    private func workspace(batch: Int, seqLen: Int) -> TransformerWorkspace {
        if let w = workspace, w.batch == batch, w.seqLen == seqLen { return w }
        workspace = nil
        let w = TransformerWorkspace(config: config, attention: attention, batch: batch, seqLen: seqLen)
        workspace = w
        return w
    }

    public func forward(ids: [Int32], batch: Int, seqLen: Int) -> UnsafeMutablePointer<Float> {
        let (w, h) = finalHidden(ids: ids, batch: batch, seqLen: seqLen)
        let c = config, n = w.rows, logits = w.fullLogits.pointer
        products.linear(x: h, w: parameters.pointer + layout.global.lmHead, y: logits, rows: n, inFeatures: c.hiddenSize,
                    outFeatures: c.vocabSize)
        if let cap = c.finalSoftcap { SoftCap.apply(logits, count: n * c.vocabSize, cap: cap) }
        return logits
    }

    /// Vocabulary columns per tile of the output projection in `nextTokenSummary`: with Gemma's 262,144 tokens the
    /// full logits of a 2,048-token text would take 2 GB; a tile of them stays in the caches.
    nonisolated(unsafe) public static var vocabularyTile = 8192

    /// Tile by tile over the vocabulary: each tile of logits is produced by one GEMM, soft-capped, and folded into
    /// every row's running top-k, log-sum-exp (rescaled when the maximum grows) and target logit, so memory is
    /// bounded by rows × tile whatever the vocabulary.
    public func nextTokenSummary(ids: [Int32], rows: Range<Int>, k: Int, targets: [Int32]) -> NextTokenSummary {
        precondition(targets.count == rows.count && rows.upperBound <= ids.count && k > 0 && k <= config.vocabSize)
        let (w, hidden) = finalHidden(ids: ids, batch: 1, seqLen: ids.count)
        // Tiles start where the products can start one (bf16: on whole column panels of the packed head).
        let c = config, d = c.hiddenSize, V = c.vocabSize, R = rows.count, multiple = products.tileColumnMultiple
        let tile = max(multiple, Self.vocabularyTile / multiple * multiple)
        let h = hidden + rows.lowerBound * d, head = parameters.pointer + layout.global.lmHead
        let logits = w.tileLogits(rows: R, columns: min(tile, V)).pointer
        var summary = NextTokenSummary(rows: R, k: k)
        var maxima = [Float](repeating: -.infinity, count: R), sums = [Float](repeating: 0, count: R)
        // One accumulator per row, grouped by the fixed chunk of rows that owns it (Parallel.chunks' boundaries).
        let chunks = Parallel.chunkCount(R, minPerChunk: 4)
        var best = (0..<chunks).map { chunk in
            [TopKAccumulator](repeating: TopKAccumulator(k: k), count: R * (chunk + 1) / chunks - R * chunk / chunks)
        }
        maxima.withUnsafeMutableBufferPointer { maxima in
            sums.withUnsafeMutableBufferPointer { sums in
                summary.targetLogits.withUnsafeMutableBufferPointer { targetLogits in
                    best.withUnsafeMutableBufferPointer { best in
                        var start = 0
                        while start < V {
                            let cols = min(tile, V - start)
                            products.linearTile(x: h, w: head, y: logits, rows: R, inFeatures: d, outFeatures: V,
                                                first: start, count: cols)
                            if let cap = c.finalSoftcap { SoftCap.apply(logits, count: R * cols, cap: cap) }
                            let first = start
                            Parallel.chunks(R, minPerChunk: 4) { chunk, range in
                                for r in range {
                                    let row = UnsafePointer(logits + r * cols)
                                    let m = VectorMath.max(row, cols)
                                    if m > maxima[r] {
                                        sums[r] = sums[r] * Foundation.exp(maxima[r] - m) + VectorMath.sumExpShifted(row, cols, shift: m)
                                        maxima[r] = m
                                    } else {
                                        sums[r] += VectorMath.sumExpShifted(row, cols, shift: maxima[r])
                                    }
                                    best[chunk][r - range.lowerBound].add(row, count: cols, firstID: first)
                                    let t = Int(targets[r])
                                    if t >= first && t < first + cols { targetLogits[r] = row[t - first] }
                                }
                            }
                            start += cols
                        }
                    }
                }
            }
        }
        for chunk in 0..<chunks {
            let lo = R * chunk / chunks
            for (i, acc) in best[chunk].enumerated() {
                let r = lo + i
                summary.logZ[r] = maxima[r] + Foundation.log(sums[r])
                summary.topIDs.withUnsafeMutableBufferPointer { ids in
                    summary.topLogProbs.withUnsafeMutableBufferPointer { lp in
                        acc.write(ids: ids.baseAddress! + r * k, logProbs: lp.baseAddress! + r * k, logZ: summary.logZ[r])
                    }
                }
            }
        }
        return summary
    }

    /// Through the tiled summary (k = 1), so that scoring a long text never holds its full logits.
    public func loss(ids: [Int32], targets: [Int32], batch: Int, seqLen: Int) -> CrossEntropy.Result {
        precondition(ids.count == batch * seqLen && targets.count == ids.count)
        var result = CrossEntropy.Result(lossSum: 0, count: 0)
        for b in 0..<batch {
            let range = (b * seqLen)..<((b + 1) * seqLen)
            // CrossEntropy.ignore (−1) is also the summary's "no target".
            let rowTargets = Array(targets[range])
            let s = nextTokenSummary(ids: Array(ids[range]), rows: 0..<seqLen, k: 1, targets: rowTargets)
            for (r, t) in rowTargets.enumerated() where t >= 0 {
                result.lossSum += Double(s.logZ[r] - s.targetLogits[r])
                result.count += 1
            }
        }
        return result
    }

    /// Runs the layers and the final norm; returns the workspace and the normed hidden states [batch·seqLen, hidden].
    private func finalHidden(ids: [Int32], batch: Int, seqLen: Int) -> (TransformerWorkspace, UnsafeMutablePointer<Float>) {
        precondition(ids.count == batch * seqLen)
        precondition(seqLen <= config.maxPositionEmbeddings,
                     "sequence length \(seqLen) exceeds max_position_embeddings \(config.maxPositionEmbeddings)")
        precondition(config.positions != .rotary || seqLen <= Self.rotaryTablePositions,
                     "sequence length \(seqLen) exceeds the rotary tables (\(Self.rotaryTablePositions))")
        let w = workspace(batch: batch, seqLen: seqLen)
        let c = config, n = w.rows, d = c.hiddenSize
        let P = parameters.pointer
        for (i, id) in ids.enumerated() {
            precondition(id >= 0 && Int(id) < c.vocabSize, "token id \(id) outside the vocabulary (\(c.vocabSize))")
            w.ids[i] = id
        }
        var x = w.residual.pointer
        Embedding.forward(ids: w.ids, table: P + layout.global.embedding, out: x, rows: n, dim: d)
        if let scale = c.embeddingScale { VectorMath.scale(x, n * d, by: scale) }
        if let positions = layout.global.positions {
            let table = P + positions
            for r in 0..<n {
                let row = x + r * d, pos = table + (r % seqLen) * d
                for j in 0..<d { row[j] += pos[j] }
            }
        }
        for l in 0..<c.numLayers {
            x = layer(l, x: x, w)
        }
        norm(x, weight: layout.global.finalNorm, bias: layout.global.finalNormBias, out: w.normed.pointer, rows: n, dim: d, w)
        return (w, w.normed.pointer)
    }

    /// One decoder layer; returns where its output lies (the two residual buffers alternate).
    private func layer(_ l: Int, x: UnsafeMutablePointer<Float>, _ w: TransformerWorkspace) -> UnsafeMutablePointer<Float> {
        let c = config, n = w.rows, d = c.hiddenSize, L = layout.layers[l]
        let h = w.normed.pointer, q = w.q.pointer, k = w.k.pointer, v = w.v.pointer, att = w.attended.pointer
        let a = w.branch.pointer
        norm(x, weight: L.attnNorm!, bias: L.attnNormBias, out: h, rows: n, dim: d, w)
        linear(h, L.q!, L.qBias, q, rows: n, in: d, out: c.qDim)
        linear(h, L.k!, L.kBias, k, rows: n, in: d, out: c.kvDim)
        linear(h, L.v!, L.vBias, v, rows: n, in: d, out: c.kvDim)
        if c.qkNorm {
            norm(q, weight: L.qNorm!, bias: nil, out: q, rows: n * c.numHeads, dim: c.headDim, w)
            norm(k, weight: L.kNorm!, bias: nil, out: k, rows: n * c.numKVHeads, dim: c.headDim, w)
        }
        let spec = c.layers[l]
        if c.positions == .rotary {
            ropes[spec.rotary].apply(q, rows: n, heads: c.numHeads, seqLen: w.seqLen)
            ropes[spec.rotary].apply(k, rows: n, heads: c.numKVHeads, seqLen: w.seqLen)
        }
        attention.forward(q: q, k: k, v: v, out: att, lse: w.lse.pointer, batch: w.batch, seqLen: w.seqLen,
                          scratch: w.attentionScratch.pointer,
                          window: spec.window.flatMap { $0 < w.seqLen ? $0 : nil }, softcap: c.attentionSoftcap)
        linear(att, L.o!, L.oBias, a, rows: n, in: c.qDim, out: d)
        if c.sandwichNorms { norm(a, weight: L.postAttnNorm!, bias: nil, out: a, rows: n, dim: d, w) }

        let next = x == w.residual.pointer ? w.residualOther.pointer : w.residual.pointer
        if c.parallelResidual {
            // next = x + attn(ln₁(x)) + mlp(ln₂(x))
            norm(x, weight: L.ffnNorm!, bias: L.ffnNormBias, out: h, rows: n, dim: d, w)
            mlp(l, h, out: next, w)
            for i in 0..<(n * d) { next[i] += a[i] + x[i] }
            return next
        }
        for i in 0..<(n * d) { x[i] += a[i] }            // x is now the mid-layer residual
        norm(x, weight: L.ffnNorm!, bias: L.ffnNormBias, out: h, rows: n, dim: d, w)
        mlp(l, h, out: next, w)
        if c.sandwichNorms { norm(next, weight: L.postFFNNorm!, bias: nil, out: next, rows: n, dim: d, w) }
        for i in 0..<(n * d) { next[i] += x[i] }
        return next
    }

    /// out = MLP(h) (not accumulated).
    private func mlp(_ l: Int, _ h: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, _ w: TransformerWorkspace) {
        let c = config, n = w.rows, d = c.hiddenSize, f = c.intermediateSize, L = layout.layers[l], P = parameters.pointer
        switch c.mlp {
        case .gated(let act):
            linear(h, L.gate!, nil, w.gate.pointer, rows: n, in: d, out: f)
            linear(h, L.up!, L.upBias, w.up.pointer, rows: n, in: d, out: f)
            act.gated(gate: w.gate.pointer, up: w.up.pointer, out: w.gate.pointer, count: n * f)
            linear(w.gate.pointer, L.down!, L.downBias, out, rows: n, in: f, out: d)
        case .plain(let act):
            linear(h, L.up!, L.upBias, w.up.pointer, rows: n, in: d, out: f)
            act.forward(w.up.pointer, count: n * f)
            linear(w.up.pointer, L.down!, L.downBias, out, rows: n, in: f, out: d)
        case .mixture(let experts, let active, let act):
            MixtureOfExperts.forward(h: h, out: out, rows: n, hidden: d, intermediate: f, router: P + L.router!,
                                     expertWeights: L.experts.map { (UnsafePointer(P + $0.gate), UnsafePointer(P + $0.up), UnsafePointer(P + $0.down)) },
                                     experts: experts, active: active, activation: act, scratch: w,
                                     products: products)
        }
    }

    private func linear(_ x: UnsafePointer<Float>, _ weight: Int, _ bias: Int?, _ y: UnsafeMutablePointer<Float>,
                        rows: Int, in inFeatures: Int, out outFeatures: Int) {
        let P = parameters.pointer
        products.linear(x: x, w: P + weight, y: y, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        if let bias { Bias.add(y, P + bias, rows: rows, columns: outFeatures) }
    }

    /// The family's norm; `out` may be `x` (q/k norms and Gemma's post-norms run in place).
    private func norm(_ x: UnsafeMutablePointer<Float>, weight: Int, bias: Int?, out: UnsafeMutablePointer<Float>,
                      rows: Int, dim: Int, _ w: TransformerWorkspace) {
        let P = parameters.pointer
        switch config.norm {
        case .rms(let eps):
            RMSNorm.forward(x: x, weight: P + weight, y: out, rstd: w.rstd.pointer, rows: rows, dim: dim, eps: eps)
        case .rmsUnitOffset(let eps):
            RMSNorm.forward(x: x, weight: unitOffsetNorms[weight]!.pointer, y: out, rstd: w.rstd.pointer, rows: rows,
                            dim: dim, eps: eps)
        case .layer(let eps):
            LayerNorm.forward(x: x, weight: P + weight, bias: bias.map { UnsafePointer(P + $0) }, y: out, rows: rows,
                              dim: dim, eps: eps)
        }
    }
}
