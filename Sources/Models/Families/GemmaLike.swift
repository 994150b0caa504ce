import FuseFormats
import FuseTensor

/// What Gemma 2 and Gemma 3 share: embeddings × √hidden, RMSNorm with (1 + w), GeGLU (tanh GELU), norms before
/// and after both attention and MLP, attention scaled by query_pre_attn_scalar^−½, local (sliding) and global layers.
enum GemmaLike {
    static func base(_ r: ConfigReader, family: String, layers: [LayerAttention], rotary: [[Float]]) throws -> TransformerConfig {
        let actKey = r.first(["hidden_activation", "hidden_act"]) ?? "hidden_activation"
        let actName = try r.string(actKey, default: "gelu_pytorch_tanh")
        guard let act = Activation(hfName: actName) else {
            throw r.error(actKey, "\(actName) is not supported (supported: \(Activation.supportedHFNames.joined(separator: ", ")))")
        }
        try r.refuse("attention_bias", unless: { ($0 as? Bool) == false }, "attention biases are not supported for \(family)")
        try r.refuse("use_bidirectional_attention", unless: { ($0 as? Bool) == false }, "bidirectional attention is not a causal LM")
        let heads = try r.int("num_attention_heads"), hidden = try r.int("hidden_size")
        let headDim = try r.int("head_dim", default: heads > 0 ? hidden / heads : 0)
        var c = TransformerConfig(
            family: family, vocabSize: try r.int("vocab_size"), hiddenSize: hidden,
            intermediateSize: try r.int("intermediate_size"), numLayers: try r.layerCount("num_hidden_layers"), numHeads: heads,
            numKVHeads: try r.int("num_key_value_heads", default: heads), headDim: headDim,
            maxPositionEmbeddings: try r.int("max_position_embeddings", default: 8192),
            norm: .rmsUnitOffset(eps: Float(try r.double("rms_norm_eps", default: 1e-6))), mlp: .gated(act),
            rotaryDim: headDim, rotaryFrequencies: rotary, layers: layers,
            attentionScale: Float(1 / (try r.double("query_pre_attn_scalar", default: Double(headDim))).squareRoot()),
            tieWordEmbeddings: try r.bool("tie_word_embeddings", default: true),
            bosTokenID: r.tokenID("bos_token_id"), eosTokenID: r.tokenID("eos_token_id"))
        c.sandwichNorms = true
        c.embeddingScale = Float(Double(hidden).squareRoot())
        c.attentionSoftcap = try r.optionalDouble("attn_logit_softcapping").map(Float.init)
        c.finalSoftcap = try r.optionalDouble("final_logit_softcapping").map(Float.init)
        return c
    }

    /// Layer kinds from `layer_types`, else every `pattern`-th layer (1-based) global, the rest sliding — as
    /// transformers derives them (Gemma 2: pattern 2; Gemma 3: `sliding_window_pattern`, 6).
    static func layerTypes(_ r: ConfigReader, layers: Int, pattern: Int) throws -> [String] {
        if r.has("layer_types") {
            guard let list = r.json["layer_types"] as? [String], list.count == layers,
                  list.allSatisfy({ ["sliding_attention", "full_attention"].contains($0) }) else {
                throw r.error("layer_types", "must list full_attention or sliding_attention for each of the \(layers) layers")
            }
            return list
        }
        return (0..<layers).map { ($0 + 1) % pattern != 0 ? "sliding_attention" : "full_attention" }
    }

    static func layout(_ c: TransformerConfig) -> TensorLayout {
        var t = TensorLayout(layers: c.numLayers)
        let d = c.hiddenSize, f = c.intermediateSize
        t.global.embedding = t.add("model.embed_tokens.weight", [c.vocabSize, d], gguf: "token_embd.weight")
        for i in 0..<c.numLayers {
            let p = "model.layers.\(i).", g = "blk.\(i)."
            t.add(i, \.attnNorm, p + "input_layernorm.weight", [d], gguf: g + "attn_norm.weight", fixup: .subtractOne)
            t.add(i, \.q, p + "self_attn.q_proj.weight", [c.qDim, d], gguf: g + "attn_q.weight")
            t.add(i, \.k, p + "self_attn.k_proj.weight", [c.kvDim, d], gguf: g + "attn_k.weight")
            t.add(i, \.v, p + "self_attn.v_proj.weight", [c.kvDim, d], gguf: g + "attn_v.weight")
            t.add(i, \.o, p + "self_attn.o_proj.weight", [d, c.qDim], gguf: g + "attn_output.weight")
            if c.qkNorm {
                t.add(i, \.qNorm, p + "self_attn.q_norm.weight", [c.headDim], gguf: g + "attn_q_norm.weight", fixup: .subtractOne)
                t.add(i, \.kNorm, p + "self_attn.k_norm.weight", [c.headDim], gguf: g + "attn_k_norm.weight", fixup: .subtractOne)
            }
            t.add(i, \.postAttnNorm, p + "post_attention_layernorm.weight", [d], gguf: g + "post_attention_norm.weight", fixup: .subtractOne)
            t.add(i, \.ffnNorm, p + "pre_feedforward_layernorm.weight", [d], gguf: g + "ffn_norm.weight", fixup: .subtractOne)
            t.add(i, \.postFFNNorm, p + "post_feedforward_layernorm.weight", [d], gguf: g + "post_ffw_norm.weight", fixup: .subtractOne)
            t.add(i, \.gate, p + "mlp.gate_proj.weight", [f, d], gguf: g + "ffn_gate.weight")
            t.add(i, \.up, p + "mlp.up_proj.weight", [f, d], gguf: g + "ffn_up.weight")
            t.add(i, \.down, p + "mlp.down_proj.weight", [d, f], gguf: g + "ffn_down.weight")
        }
        t.global.finalNorm = t.add("model.norm.weight", [d], gguf: "output_norm.weight", fixup: .subtractOne)
        t.global.lmHead = c.tieWordEmbeddings ? t.global.embedding : t.add("lm_head.weight", [c.vocabSize, d], gguf: "output.weight")
        return t
    }

    /// The llama.cpp metadata both write (`gemma2.*`, `gemma3.*`).
    /// `softcaps`: llama.cpp's defaults for the attention and final soft-capping when the file does not state them.
    static func config(gguf g: GGUFMetadataReader, family: String, pattern: Int, localTheta: Double?,
                       softcaps: (Double, Double)? = nil) throws -> TransformerConfig {
        try g.refuseRopeScaling()
        let hidden = try g.int("embedding_length"), heads = try g.int("attention.head_count")
        let headDim = g.optionalInt("attention.key_length") ?? hidden / max(1, heads)
        let layers = try g.layerCount("block_count")
        guard let window = g.optionalInt("attention.sliding_window") else {
            throw g.error("attention.sliding_window", "missing (\(family) has sliding-window layers)")
        }
        let global = RoPE.defaultInverseFrequencies(rotaryDim: headDim, theta: g.optionalDouble("rope.freq_base") ?? 10000)
        let local = localTheta.map { RoPE.defaultInverseFrequencies(rotaryDim: headDim, theta: $0) }
        let kinds = (0..<layers).map { ($0 + 1) % pattern != 0 }   // sliding?
        var c = TransformerConfig(
            family: family, vocabSize: try g.vocabSize, hiddenSize: hidden, intermediateSize: try g.int("feed_forward_length"),
            numLayers: layers, numHeads: heads, numKVHeads: g.optionalInt("attention.head_count_kv") ?? heads, headDim: headDim,
            maxPositionEmbeddings: try g.int("context_length"),
            norm: .rmsUnitOffset(eps: Float(try g.double("attention.layer_norm_rms_epsilon"))), mlp: .gated(.geluTanh),
            rotaryDim: headDim, rotaryFrequencies: local == nil ? [global] : [global, local!],
            layers: kinds.map { LayerAttention(window: $0 ? window : nil, rotary: $0 && local != nil ? 1 : 0) },
            // transformers' default query_pre_attn_scalar for a GGUF: head_dim (llama.cpp: the same for these sizes).
            attentionScale: 1 / Float(headDim).squareRoot(), tieWordEmbeddings: !g.hasOutputTensor,
            bosTokenID: g.bosTokenID, eosTokenID: g.eosTokenID)
        c.sandwichNorms = true
        c.embeddingScale = Float(Double(hidden).squareRoot())
        c.attentionSoftcap = (g.optionalDouble("attn_logit_softcapping") ?? softcaps?.0).map(Float.init)
        c.finalSoftcap = (g.optionalDouble("final_logit_softcapping") ?? softcaps?.1).map(Float.init)
        try c.validate(source: g.file.url.path)
        return c
    }
}
