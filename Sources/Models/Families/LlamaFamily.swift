import FuseFormats
/// Llama 1/2/3.x (and SmolLM2, TinyLlama, OpenLLaMA): the reference shape. Llama 3.x adds `rope_scaling` of type
/// llama3; `attention_bias` adds q/k/v/o biases.
public enum LlamaFamily: ModelFamily {
    public static let modelTypes = ["llama"]
    public static let ggufArchitectures = ["llama"]

    public static func config(_ r: ConfigReader) throws -> TransformerConfig {
        let bias = try r.bool("attention_bias", default: false)
        return try LlamaLike.config(r, family: "llama", .init(biases: Biases(qkv: bias, output: bias), slidingByDefault: { _, _ in false }))
    }

    public static func config(gguf g: GGUFMetadataReader) throws -> TransformerConfig {
        var c = try LlamaLike.config(gguf: g, family: "llama")
        c.layers = c.layers.map { _ in LayerAttention() }
        return c
    }

    public static func layout(_ c: TransformerConfig) -> TensorLayout { LlamaLike.layout(c, permuteQK: true) }
}

/// Mistral: Llama with sliding-window attention on every layer (`sliding_window`, null for none).
public enum MistralFamily: ModelFamily {
    public static let modelTypes = ["mistral"]

    public static func config(_ r: ConfigReader) throws -> TransformerConfig {
        try LlamaLike.config(r, family: "mistral", .init())
    }

    public static func layout(_ c: TransformerConfig) -> TensorLayout { LlamaLike.layout(c, permuteQK: true) }
}

/// Mixtral: Mistral with a sparse mixture of experts (`num_local_experts`, top `num_experts_per_tok`) as the MLP,
/// in the Hub's `block_sparse_moe.experts.N.w1/w2/w3` layout.
public enum MixtralFamily: ModelFamily {
    public static let modelTypes = ["mixtral"]

    public static func config(_ r: ConfigReader) throws -> TransformerConfig {
        try LlamaLike.config(r, family: "mixtral", .init(mlp: { r, act in
            .mixture(experts: try r.int("num_local_experts"), active: try r.int("num_experts_per_tok"), act)
        }))
    }

    public static func layout(_ c: TransformerConfig) -> TensorLayout { LlamaLike.layout(c) }
}
