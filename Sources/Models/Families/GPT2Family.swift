import FuseFormats
import FuseTensor

/// GPT-2 (and DistilGPT-2): learned absolute positions, LayerNorm with bias, tanh GELU, fused `c_attn`, and
/// Conv1D weights stored [in, out]. Checkpoints name tensors with or without the `transformer.` prefix.
public enum GPT2Family: ModelFamily {
    public static let modelTypes = ["gpt2"]

    public static func config(_ r: ConfigReader) throws -> TransformerConfig {
        let actName = try r.string("activation_function", default: "gelu_new")
        guard let act = Activation(hfName: actName) else {
            throw r.error("activation_function", "\(actName) is not supported (supported: \(Activation.supportedHFNames.joined(separator: ", ")))")
        }
        for key in ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"] {
            try r.refuse(key, unless: { ($0 as? Bool) == false }, "is not supported")
        }
        try r.refuse("scale_attn_weights", unless: { ($0 as? Bool) == true }, "unscaled attention is not supported")
        let hidden = try r.int("n_embd"), heads = try r.int("n_head"), layers = try r.layerCount("n_layer")
        let headDim = heads > 0 ? hidden / heads : 0
        var c = TransformerConfig(
            family: "gpt2", vocabSize: try r.int("vocab_size"), hiddenSize: hidden,
            intermediateSize: try r.int("n_inner", default: 4 * hidden), numLayers: layers, numHeads: heads,
            numKVHeads: heads, headDim: headDim, maxPositionEmbeddings: try r.int("n_positions", default: 1024),
            norm: .layer(eps: Float(try r.double("layer_norm_epsilon", default: 1e-5))), mlp: .plain(act),
            rotaryDim: 0, rotaryFrequencies: [], layers: Array(repeating: LayerAttention(), count: layers),
            attentionScale: 1 / Float(headDim).squareRoot(), tieWordEmbeddings: true,
            bosTokenID: r.tokenID("bos_token_id"), eosTokenID: r.tokenID("eos_token_id"))
        c.positions = .learned
        c.biases = Biases(qkv: true, output: true, mlp: true)
        try c.validate(source: r.source)
        return c
    }

    public static func layout(_ c: TransformerConfig) -> TensorLayout {
        var t = TensorLayout(layers: c.numLayers)
        let d = c.hiddenSize, f = c.intermediateSize
        func add(_ name: String, _ shape: [Int], stored: StoredLayout = .canonical) -> Int {
            t.add("transformer." + name, shape, aliases: [name], stored: stored)
        }
        t.global.embedding = add("wte.weight", [c.vocabSize, d])
        t.global.positions = add("wpe.weight", [c.maxPositionEmbeddings, d])
        for i in 0..<c.numLayers {
            let p = "h.\(i)."
            t.layers[i].attnNorm = add(p + "ln_1.weight", [d])
            t.layers[i].attnNormBias = add(p + "ln_1.bias", [d])
            t.addFused(i, [(\.q, d), (\.k, d), (\.v, d)], "transformer." + p + "attn.c_attn.weight", columns: d,
                       aliases: [p + "attn.c_attn.weight"], stored: .transposed)
            t.addFused(i, [(\.qBias, d), (\.kBias, d), (\.vBias, d)], "transformer." + p + "attn.c_attn.bias", columns: 1,
                       aliases: [p + "attn.c_attn.bias"])
            t.layers[i].o = add(p + "attn.c_proj.weight", [d, d], stored: .transposed)
            t.layers[i].oBias = add(p + "attn.c_proj.bias", [d])
            t.layers[i].ffnNorm = add(p + "ln_2.weight", [d])
            t.layers[i].ffnNormBias = add(p + "ln_2.bias", [d])
            t.layers[i].up = add(p + "mlp.c_fc.weight", [f, d], stored: .transposed)
            t.layers[i].upBias = add(p + "mlp.c_fc.bias", [f])
            t.layers[i].down = add(p + "mlp.c_proj.weight", [d, f], stored: .transposed)
            t.layers[i].downBias = add(p + "mlp.c_proj.bias", [d])
        }
        t.global.finalNorm = add("ln_f.weight", [d])
        t.global.finalNormBias = add("ln_f.bias", [d])
        t.global.lmHead = t.global.embedding
        return t
    }
}
