import FuseFormats
import FuseTensor

/// What the Llama-shaped families (llama, mistral, mixtral, qwen2, qwen3, phi3) share: RMSNorm, pre-norm
/// sequential residual, gated MLP, RoPE, `model.layers.N.{self_attn,mlp}` tensor names and llama.cpp's `blk.N.*`
/// names. Each family file states only where it differs.
enum LlamaLike {
    struct Options {
        var qkNorm = false
        var biases = Biases()
        /// Per layer: whether it is a sliding-window layer when the config has no `layer_types`.
        var slidingByDefault: (ConfigReader, Int) throws -> Bool = { r, _ in r.has("sliding_window") }
        var mlp: ((ConfigReader, Activation) throws -> MLPKind)? = nil
        var partialRotaryKey: String? = nil
    }

    static func config(_ r: ConfigReader, family: String, _ o: Options) throws -> TransformerConfig {
        let actKey = r.first(["hidden_act", "hidden_activation"]) ?? "hidden_act"
        let actName = try r.string(actKey, default: "silu")
        guard let act = Activation(hfName: actName) else {
            throw r.error(actKey, "\(actName) is not supported (supported: \(Activation.supportedHFNames.joined(separator: ", ")))")
        }
        try r.refuse("mlp_bias", unless: { ($0 as? Bool) == false }, "MLP biases are not supported for \(family)")
        let heads = try r.int("num_attention_heads"), hidden = try r.int("hidden_size")
        let headDim = try r.int("head_dim", default: heads > 0 ? hidden / heads : 0)
        let layers = try r.layerCount("num_hidden_layers")
        var rotaryDim = headDim
        if let key = o.partialRotaryKey, let factor = try r.optionalDouble(key) {
            rotaryDim = try RotaryParameters.rotaryDimensions(headDim: headDim, fraction: factor, key: key, reader: r)
        }
        let params = try RotaryParameters.parameters(r)
        if let factor = params["partial_rotary_factor"] as? Double {
            rotaryDim = try RotaryParameters.rotaryDimensions(headDim: headDim, fraction: factor,
                                                              key: "\(RotaryParameters.key(r)).partial_rotary_factor", reader: r)
        }
        let freqs = try RotaryParameters.inverseFrequencies(params, rotaryDim: rotaryDim, key: RotaryParameters.key(r), reader: r)
        var c = TransformerConfig(
            family: family, vocabSize: try r.int("vocab_size"), hiddenSize: hidden,
            intermediateSize: try r.int("intermediate_size"), numLayers: layers, numHeads: heads,
            numKVHeads: try r.int("num_key_value_heads", default: heads), headDim: headDim,
            maxPositionEmbeddings: try r.int("max_position_embeddings", default: 2048),
            norm: .rms(eps: Float(try r.double("rms_norm_eps", default: 1e-6))),
            mlp: try o.mlp?(r, act) ?? .gated(act), rotaryDim: rotaryDim, rotaryFrequencies: [freqs],
            layers: try layerWindows(r, layers: layers, slidingByDefault: o.slidingByDefault),
            attentionScale: 1 / Float(headDim).squareRoot(),
            tieWordEmbeddings: try r.bool("tie_word_embeddings", default: false),
            bosTokenID: r.tokenID("bos_token_id"), eosTokenID: r.tokenID("eos_token_id"))
        c.qkNorm = o.qkNorm
        c.biases = o.biases
        try c.validate(source: r.source)
        return c
    }

    /// Each layer's window: `layer_types` when the config lists them (transformers ≥ 4.54), else the family's rule.
    static func layerWindows(_ r: ConfigReader, layers: Int, slidingByDefault: (ConfigReader, Int) throws -> Bool) throws -> [LayerAttention] {
        let window = try r.optionalInt("sliding_window")
        let types: [String]
        if r.has("layer_types") {
            guard let list = r.json["layer_types"] as? [String] else { throw r.error("layer_types", "is not a list of strings") }
            types = list
        } else {
            types = try (0..<layers).map { try slidingByDefault(r, $0) ? "sliding_attention" : "full_attention" }
        }
        return try types.map { type in
            switch type {
            case "full_attention": return LayerAttention()
            case "sliding_attention":
                guard let window else { throw r.error("sliding_window", "missing, but layer_types has sliding_attention layers") }
                return LayerAttention(window: window)
            default: throw r.error("layer_types", "\(type) is not supported (full_attention, sliding_attention)")
            }
        }
    }

    /// Config from llama.cpp metadata (the `llama`, `qwen2`, `qwen3` architectures).
    static func config(gguf g: GGUFMetadataReader, family: String, qkNorm: Bool = false, biases: Biases = Biases()) throws -> TransformerConfig {
        try g.refuseRopeScaling()
        let hidden = try g.int("embedding_length"), heads = try g.int("attention.head_count")
        let headDim = g.optionalInt("attention.key_length") ?? (heads > 0 ? hidden / heads : 0)
        if let rotary = g.optionalInt("rope.dimension_count"), rotary != headDim {
            throw g.error("rope.dimension_count", "partial rotary embeddings (\(rotary) of \(headDim) dimensions) are not supported for \(family)")
        }
        let layers = try g.layerCount("block_count")
        let window = g.optionalInt("attention.sliding_window")
        var c = TransformerConfig(
            family: family, vocabSize: try g.vocabSize, hiddenSize: hidden, intermediateSize: try g.int("feed_forward_length"),
            numLayers: layers, numHeads: heads, numKVHeads: g.optionalInt("attention.head_count_kv") ?? heads, headDim: headDim,
            maxPositionEmbeddings: try g.int("context_length"),
            norm: .rms(eps: Float(try g.double("attention.layer_norm_rms_epsilon"))), mlp: .gated(.silu),
            rotaryDim: headDim,
            rotaryFrequencies: [RoPE.defaultInverseFrequencies(rotaryDim: headDim, theta: g.optionalDouble("rope.freq_base") ?? 10000)],
            layers: Array(repeating: LayerAttention(window: window), count: layers),
            attentionScale: 1 / Float(headDim).squareRoot(), tieWordEmbeddings: !g.hasOutputTensor,
            bosTokenID: g.bosTokenID, eosTokenID: g.eosTokenID)
        c.qkNorm = qkNorm
        c.biases = biases
        try c.validate(source: g.file.url.path)
        return c
    }

    /// `model.layers.N.*` names; `permuteQK`: the GGUF q/k rows are in llama.cpp's interleaved rotary order.
    static func layout(_ c: TransformerConfig, permuteQK: Bool = false, fusedQKV: Bool = false, fusedGateUp: Bool = false) -> TensorLayout {
        var t = TensorLayout(layers: c.numLayers)
        let d = c.hiddenSize, f = c.intermediateSize
        t.global.embedding = t.add("model.embed_tokens.weight", [c.vocabSize, d], gguf: "token_embd.weight")
        for i in 0..<c.numLayers {
            let p = "model.layers.\(i).", g = "blk.\(i)."
            t.add(i, \.attnNorm, p + "input_layernorm.weight", [d], gguf: g + "attn_norm.weight")
            if fusedQKV {
                t.addFused(i, [(\.q, c.qDim), (\.k, c.kvDim), (\.v, c.kvDim)], p + "self_attn.qkv_proj.weight", columns: d,
                           gguf: g + "attn_qkv.weight")
            } else {
                t.add(i, \.q, p + "self_attn.q_proj.weight", [c.qDim, d], gguf: g + "attn_q.weight",
                      fixup: permuteQK ? .unpermuteRotary(heads: c.numHeads) : .none)
                t.add(i, \.k, p + "self_attn.k_proj.weight", [c.kvDim, d], gguf: g + "attn_k.weight",
                      fixup: permuteQK ? .unpermuteRotary(heads: c.numKVHeads) : .none)
                t.add(i, \.v, p + "self_attn.v_proj.weight", [c.kvDim, d], gguf: g + "attn_v.weight")
            }
            if c.biases.qkv {
                t.add(i, \.qBias, p + "self_attn.q_proj.bias", [c.qDim], gguf: g + "attn_q.bias")
                t.add(i, \.kBias, p + "self_attn.k_proj.bias", [c.kvDim], gguf: g + "attn_k.bias")
                t.add(i, \.vBias, p + "self_attn.v_proj.bias", [c.kvDim], gguf: g + "attn_v.bias")
            }
            t.add(i, \.o, p + "self_attn.o_proj.weight", [d, c.qDim], gguf: g + "attn_output.weight")
            if c.biases.output { t.add(i, \.oBias, p + "self_attn.o_proj.bias", [d], gguf: g + "attn_output.bias") }
            if c.qkNorm {
                t.add(i, \.qNorm, p + "self_attn.q_norm.weight", [c.headDim], gguf: g + "attn_q_norm.weight")
                t.add(i, \.kNorm, p + "self_attn.k_norm.weight", [c.headDim], gguf: g + "attn_k_norm.weight")
            }
            t.add(i, \.ffnNorm, p + "post_attention_layernorm.weight", [d], gguf: g + "ffn_norm.weight")
            if case .mixture(let experts, _, _) = c.mlp {
                let m = p + "block_sparse_moe."
                t.add(i, \.router, m + "gate.weight", [experts, d])
                for e in 0..<experts {
                    let w1 = t.add(m + "experts.\(e).w1.weight", [f, d])
                    let w2 = t.add(m + "experts.\(e).w2.weight", [d, f])
                    let w3 = t.add(m + "experts.\(e).w3.weight", [f, d])
                    t.layers[i].experts.append(.init(gate: w1, up: w3, down: w2))
                }
            } else if fusedGateUp {
                t.addFused(i, [(\.gate, f), (\.up, f)], p + "mlp.gate_up_proj.weight", columns: d, gguf: g + "ffn_up.weight")
                t.add(i, \.down, p + "mlp.down_proj.weight", [d, f], gguf: g + "ffn_down.weight")
            } else {
                t.add(i, \.gate, p + "mlp.gate_proj.weight", [f, d], gguf: g + "ffn_gate.weight")
                t.add(i, \.up, p + "mlp.up_proj.weight", [f, d], gguf: g + "ffn_up.weight")
                t.add(i, \.down, p + "mlp.down_proj.weight", [d, f], gguf: g + "ffn_down.weight")
            }
        }
        t.global.finalNorm = t.add("model.norm.weight", [d], gguf: "output_norm.weight")
        t.global.lmHead = c.tieWordEmbeddings ? t.global.embedding : t.add("lm_head.weight", [c.vocabSize, d], gguf: "output.weight")
        return t
    }
}
