import Foundation

/// All parameters of a Llama model live in one flat Float32 buffer (as in llm.c); this table says
/// where each HF-named tensor sits. Gradients and AdamW moments use the same layout.
public struct ParameterLayout: Sendable {
    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
        /// Matrices decay; norm weights do not (HF Trainer's grouping for Llama).
        public var decays: Bool { shape.count >= 2 }
    }

    public struct LayerOffsets: Sendable {
        public let inputNorm, q, k, v, o, postNorm, gate, up, down: Int
    }

    public let entries: [Entry]
    public let totalCount: Int
    public let embedding: Int
    public let finalNorm: Int
    /// Offset of the LM head; equals `embedding` when the embeddings are tied.
    public let lmHead: Int
    public let layers: [LayerOffsets]
    private let index: [String: Int]

    public init(config c: LlamaConfig) {
        var entries: [Entry] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int]) -> Int {
            let e = Entry(name: name, shape: shape, offset: offset)
            entries.append(e)
            offset += e.count
            return e.offset
        }
        let d = c.hiddenSize, qDim = c.numHeads * c.headDim, kvDim = c.numKVHeads * c.headDim
        embedding = add("model.embed_tokens.weight", [c.vocabSize, d])
        var layers: [LayerOffsets] = []
        for i in 0..<c.numLayers {
            let p = "model.layers.\(i)."
            let inputNorm = add(p + "input_layernorm.weight", [d])
            let q = add(p + "self_attn.q_proj.weight", [qDim, d])
            let k = add(p + "self_attn.k_proj.weight", [kvDim, d])
            let v = add(p + "self_attn.v_proj.weight", [kvDim, d])
            let o = add(p + "self_attn.o_proj.weight", [d, qDim])
            let postNorm = add(p + "post_attention_layernorm.weight", [d])
            let gate = add(p + "mlp.gate_proj.weight", [c.intermediateSize, d])
            let up = add(p + "mlp.up_proj.weight", [c.intermediateSize, d])
            let down = add(p + "mlp.down_proj.weight", [d, c.intermediateSize])
            layers.append(LayerOffsets(inputNorm: inputNorm, q: q, k: k, v: v, o: o, postNorm: postNorm,
                                       gate: gate, up: up, down: down))
        }
        finalNorm = add("model.norm.weight", [d])
        lmHead = c.tieWordEmbeddings ? embedding : add("lm_head.weight", [c.vocabSize, d])
        self.layers = layers
        self.entries = entries
        totalCount = offset
        index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    public func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }
}
