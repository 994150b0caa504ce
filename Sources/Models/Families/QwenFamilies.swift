import FuseFormats
/// Qwen 2 / 2.5: Llama with q/k/v biases; sliding windows only when `use_sliding_window` (layers from
/// `max_window_layers` on), usually off.
public enum Qwen2Family: ModelFamily {
    public static let modelTypes = ["qwen2"]
    public static let ggufArchitectures = ["qwen2"]

    static func sliding(_ r: ConfigReader, _ layer: Int) throws -> Bool {
        try r.bool("use_sliding_window", default: false) && layer >= (try r.int("max_window_layers", default: 0))
    }

    public static func config(_ r: ConfigReader) throws -> TransformerConfig {
        try LlamaLike.config(r, family: "qwen2", .init(biases: Biases(qkv: true), slidingByDefault: sliding))
    }

    public static func config(gguf g: GGUFMetadataReader) throws -> TransformerConfig {
        try LlamaLike.config(gguf: g, family: "qwen2", biases: Biases(qkv: true))
    }

    public static func layout(_ c: TransformerConfig) -> TensorLayout { LlamaLike.layout(c) }
}

/// Qwen 3: Qwen 2 without the biases (unless `attention_bias`), with per-head RMSNorm of q and k before RoPE.
public enum Qwen3Family: ModelFamily {
    public static let modelTypes = ["qwen3"]
    public static let ggufArchitectures = ["qwen3"]

    public static func config(_ r: ConfigReader) throws -> TransformerConfig {
        let bias = try r.bool("attention_bias", default: false)
        return try LlamaLike.config(r, family: "qwen3", .init(qkNorm: true, biases: Biases(qkv: bias, output: bias),
                                                             slidingByDefault: Qwen2Family.sliding))
    }

    public static func config(gguf g: GGUFMetadataReader) throws -> TransformerConfig {
        try LlamaLike.config(gguf: g, family: "qwen3", qkNorm: true)
    }

    public static func layout(_ c: TransformerConfig) -> TensorLayout { LlamaLike.layout(c) }
}

/// Phi-3 / Phi-3.5 / Phi-4-mini: Llama with fused `qkv_proj` and `gate_up_proj`, optional partial rotary
/// (`partial_rotary_factor`) and a sliding window on every layer when `sliding_window` is set.
public enum Phi3Family: ModelFamily {
    public static let modelTypes = ["phi3"]

    public static func config(_ r: ConfigReader) throws -> TransformerConfig {
        try LlamaLike.config(r, family: "phi3", .init(partialRotaryKey: "partial_rotary_factor"))
    }

    public static func layout(_ c: TransformerConfig) -> TensorLayout { LlamaLike.layout(c, fusedQKV: true, fusedGateUp: true) }
}
