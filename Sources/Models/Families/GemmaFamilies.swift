import FuseFormats
import FuseTensor

/// Gemma 2: attention and final-logit soft-capping, sliding-window and global layers alternating (layer 0 sliding).
public enum Gemma2Family: ModelFamily {
    public static let modelTypes = ["gemma2"]
    public static let ggufArchitectures = ["gemma2"]

    public static func config(_ r: ConfigReader) throws -> TransformerConfig {
        let layers = try r.layerCount("num_hidden_layers")
        let types = try GemmaLike.layerTypes(r, layers: layers, pattern: 2)
        let window = try r.int("sliding_window", default: 4096)
        let params = try RotaryParameters.parameters(r)
        let headDim = try r.int("head_dim", default: try r.int("hidden_size") / max(1, try r.int("num_attention_heads")))
        let freqs = try RotaryParameters.inverseFrequencies(params, rotaryDim: headDim, key: RotaryParameters.key(r), reader: r)
        let c = try GemmaLike.base(r, family: "gemma2", layers: types.map { LayerAttention(window: $0 == "sliding_attention" ? window : nil) },
                                   rotary: [freqs])
        try c.validate(source: r.source)
        return c
    }

    public static func config(gguf g: GGUFMetadataReader) throws -> TransformerConfig {
        try GemmaLike.config(gguf: g, family: "gemma2", pattern: 2, localTheta: nil, softcaps: (50, 30))
    }

    public static func layout(_ c: TransformerConfig) -> TensorLayout { GemmaLike.layout(c) }
}

/// Gemma 3 (text): Gemma 2 without soft-capping by default, with q/k norms, five sliding-window layers to one global
/// (`sliding_window_pattern`, or `layer_types`), and local layers on their own RoPE base (`rope_local_base_freq`,
/// or `rope_parameters.sliding_attention`); RoPE scaling applies to the global layers.
public enum Gemma3Family: ModelFamily {
    public static let modelTypes = ["gemma3_text", "gemma3"]
    public static let ggufArchitectures = ["gemma3"]

    public static func config(_ r: ConfigReader) throws -> TransformerConfig {
        if r.has("text_config") {
            throw r.error("text_config", "a multimodal Gemma 3 checkpoint; give its text model (Gemma3ForCausalLM, model_type gemma3_text)")
        }
        let layers = try r.layerCount("num_hidden_layers")
        let pattern = try r.int("sliding_window_pattern", default: 6)
        guard pattern >= 1 else { throw r.error("sliding_window_pattern", "must be at least 1") }
        let types = try GemmaLike.layerTypes(r, layers: layers, pattern: pattern)
        let window = try r.int("sliding_window", default: 4096)
        let headDim = try r.int("head_dim", default: 256)
        let key = RotaryParameters.key(r)
        let global: [Float], local: [Float]
        if let perType = r.json["rope_parameters"] as? [String: Any], perType["full_attention"] != nil {
            global = try RotaryParameters.inverseFrequencies(RotaryParameters.parameters(r, layerType: "full_attention"),
                                                             rotaryDim: headDim, key: "rope_parameters.full_attention", reader: r)
            local = try RotaryParameters.inverseFrequencies(RotaryParameters.parameters(r, layerType: "sliding_attention"),
                                                            rotaryDim: headDim, key: "rope_parameters.sliding_attention", reader: r)
        } else {
            global = try RotaryParameters.inverseFrequencies(RotaryParameters.parameters(r, defaultTheta: 1_000_000),
                                                             rotaryDim: headDim, key: key, reader: r)
            local = RoPE.defaultInverseFrequencies(rotaryDim: headDim, theta: try r.double("rope_local_base_freq", default: 10000))
        }
        var c = try GemmaLike.base(r, family: "gemma3", layers: types.map {
            $0 == "sliding_attention" ? LayerAttention(window: window, rotary: 1) : LayerAttention(rotary: 0)
        }, rotary: [global, local])
        c.qkNorm = true
        try c.validate(source: r.source)
        return c
    }

    public static func config(gguf g: GGUFMetadataReader) throws -> TransformerConfig {
        var c = try GemmaLike.config(gguf: g, family: "gemma3", pattern: 6, localTheta: 10000)
        c.qkNorm = true
        return c
    }

    public static func layout(_ c: TransformerConfig) -> TensorLayout { GemmaLike.layout(c) }
}
