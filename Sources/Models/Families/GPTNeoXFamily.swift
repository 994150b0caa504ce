import FuseFormats
import FuseTensor

/// GPT-NeoX (Pythia, GPT-NeoX-20B): LayerNorm with bias, parallel residual (x + attn(ln₁ x) + mlp(ln₂ x)) unless
/// `use_parallel_residual` is false, partial rotary (`rotary_pct` / `partial_rotary_factor`), a plain GELU MLP with
/// biases, and a fused `query_key_value` that interleaves q, k, v per head.
public enum GPTNeoXFamily: ModelFamily {
    public static let modelTypes = ["gpt_neox"]

    public static func config(_ r: ConfigReader) throws -> TransformerConfig {
        let actName = try r.string("hidden_act", default: "gelu")
        guard let act = Activation(hfName: actName) else {
            throw r.error("hidden_act", "\(actName) is not supported (supported: \(Activation.supportedHFNames.joined(separator: ", ")))")
        }
        let heads = try r.int("num_attention_heads"), hidden = try r.int("hidden_size")
        let headDim = heads > 0 ? hidden / heads : 0
        var params = try RotaryParameters.parameters(r, defaultTheta: try r.double("rotary_emb_base", default: 10000))
        let fraction = try (params["partial_rotary_factor"] as? Double) ?? r.double("rotary_pct", default: 1)
        params["partial_rotary_factor"] = nil
        let rotaryDim = try RotaryParameters.rotaryDimensions(headDim: headDim, fraction: fraction, key: "rotary_pct", reader: r)
        let layers = try r.layerCount("num_hidden_layers")
        let bias = try r.bool("attention_bias", default: true)
        var c = TransformerConfig(
            family: "gpt_neox", vocabSize: try r.int("vocab_size"), hiddenSize: hidden,
            intermediateSize: try r.int("intermediate_size"), numLayers: layers, numHeads: heads, numKVHeads: heads,
            headDim: headDim, maxPositionEmbeddings: try r.int("max_position_embeddings", default: 2048),
            norm: .layer(eps: Float(try r.double("layer_norm_eps", default: 1e-5))), mlp: .plain(act),
            rotaryDim: rotaryDim,
            rotaryFrequencies: [try RotaryParameters.inverseFrequencies(params, rotaryDim: rotaryDim, key: RotaryParameters.key(r), reader: r)],
            layers: Array(repeating: LayerAttention(), count: layers), attentionScale: 1 / Float(headDim).squareRoot(),
            tieWordEmbeddings: try r.bool("tie_word_embeddings", default: false),
            bosTokenID: r.tokenID("bos_token_id"), eosTokenID: r.tokenID("eos_token_id"))
        c.parallelResidual = try r.bool("use_parallel_residual", default: true)
        c.biases = Biases(qkv: bias, output: bias, mlp: true)
        try c.validate(source: r.source)
        return c
    }

    public static func layout(_ c: TransformerConfig) -> TensorLayout {
        var t = TensorLayout(layers: c.numLayers)
        let d = c.hiddenSize, f = c.intermediateSize
        let interleaved = StoredLayout.interleavedQKV(heads: c.numHeads, headDim: c.headDim)
        t.global.embedding = t.add("gpt_neox.embed_in.weight", [c.vocabSize, d])
        for i in 0..<c.numLayers {
            let p = "gpt_neox.layers.\(i)."
            t.add(i, \.attnNorm, p + "input_layernorm.weight", [d])
            t.add(i, \.attnNormBias, p + "input_layernorm.bias", [d])
            t.addFused(i, [(\.q, d), (\.k, d), (\.v, d)], p + "attention.query_key_value.weight", columns: d, stored: interleaved)
            if c.biases.qkv {
                t.addFused(i, [(\.qBias, d), (\.kBias, d), (\.vBias, d)], p + "attention.query_key_value.bias", columns: 1, stored: interleaved)
            }
            t.add(i, \.o, p + "attention.dense.weight", [d, d])
            if c.biases.output { t.add(i, \.oBias, p + "attention.dense.bias", [d]) }
            t.add(i, \.ffnNorm, p + "post_attention_layernorm.weight", [d])
            t.add(i, \.ffnNormBias, p + "post_attention_layernorm.bias", [d])
            t.add(i, \.up, p + "mlp.dense_h_to_4h.weight", [f, d])
            t.add(i, \.upBias, p + "mlp.dense_h_to_4h.bias", [f])
            t.add(i, \.down, p + "mlp.dense_4h_to_h.weight", [d, f])
            t.add(i, \.downBias, p + "mlp.dense_4h_to_h.bias", [d])
        }
        t.global.finalNorm = t.add("gpt_neox.final_layer_norm.weight", [d])
        t.global.finalNormBias = t.add("gpt_neox.final_layer_norm.bias", [d])
        t.global.lmHead = c.tieWordEmbeddings ? t.global.embedding : t.add("embed_out.weight", [c.vocabSize, d], aliases: ["lm_head.weight"])
        return t
    }
}
