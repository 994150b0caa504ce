import FuseFormats
import FuseTensor
import Foundation

/// Loading Llama-architecture GGUF files (llama.cpp's format) as a `LlamaModel`.
///
/// Tensor names follow llama.cpp (`blk.N.attn_q.weight`, …). GGUF dimensions list the fastest-varying
/// axis first, so a `[in, out]` GGUF matrix is HF's row-major `[out, in]` with no transpose. llama.cpp's
/// converter interleaves the rotary halves of each Q/K head (`permute` in convert_hf_to_gguf.py); HF's
/// RoPE (`rotate_half`) wants them contiguous, so those rows are un-permuted on load.
extension LlamaConfig {
    public init(gguf file: GGUFFile) throws {
        let arch = try file.string("general.architecture")
        guard arch == "llama" else {
            throw FormatError(url: file.url, item: "general.architecture", LlamaConfig.notTrainable(arch))
        }
        func key(_ name: String) -> String { "\(arch).\(name)" }
        if let scaling = file.metadata[key("rope.scaling.type")]?.stringValue, scaling != "none" {
            throw FormatError(url: file.url, item: key("rope.scaling.type"), "RoPE scaling \(scaling) is not supported")
        }
        let hidden = try file.int(key("embedding_length"))
        let heads = try file.int(key("attention.head_count"))
        let vocab: Int
        if let v = file.metadata[key("vocab_size")]?.intValue {
            vocab = v
        } else if let tokens = file.metadata["tokenizer.ggml.tokens"]?.arrayValue {
            vocab = tokens.count
        } else {
            vocab = try file.tensor("token_embd.weight").dimensions.last ?? 0
        }
        let headDim = file.metadata[key("attention.key_length")]?.intValue ?? (heads > 0 ? hidden / heads : 0)
        if let rotary = file.metadata[key("rope.dimension_count")]?.intValue, rotary != headDim {
            throw FormatError(url: file.url, item: key("rope.dimension_count"),
                              "partial rotary embeddings (\(rotary) of \(headDim) dimensions) are not supported")
        }
        self.init(vocabSize: vocab, hiddenSize: hidden, intermediateSize: try file.int(key("feed_forward_length")),
                  numLayers: try file.int(key("block_count")), numHeads: heads,
                  numKVHeads: file.metadata[key("attention.head_count_kv")]?.intValue ?? heads, headDim: headDim,
                  rmsNormEps: try file.double(key("attention.layer_norm_rms_epsilon")),
                  ropeTheta: file.metadata[key("rope.freq_base")]?.doubleValue ?? 10000,
                  tieWordEmbeddings: file.tensors.allSatisfy { $0.name != "output.weight" },
                  maxPositionEmbeddings: try file.int(key("context_length")),
                  bosTokenId: file.metadata["tokenizer.ggml.bos_token_id"]?.intValue,
                  eosTokenId: file.metadata["tokenizer.ggml.eos_token_id"]?.intValue)
        try validate(source: file.url.path)
    }
}

extension LlamaModel {
    /// The llama.cpp name of each HF parameter name.
    static func ggufName(_ hfName: String) -> String {
        switch hfName {
        case "model.embed_tokens.weight": return "token_embd.weight"
        case "model.norm.weight": return "output_norm.weight"
        case "lm_head.weight": return "output.weight"
        default: break
        }
        let parts = hfName.split(separator: ".")  // model.layers.N.<module>.<proj>.weight
        guard parts.count >= 5, parts[1] == "layers" else { return hfName }
        let suffix = parts[3...].joined(separator: ".")
        let names = [
            "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
            "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
            "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
            "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
            "mlp.down_proj.weight": "ffn_down.weight",
        ]
        return "blk.\(parts[2]).\(names[suffix] ?? suffix)"
    }

    /// Loads a Llama GGUF: config from the metadata, every tensor dequantized to Float32.
    public static func load(gguf url: URL) throws -> LlamaModel {
        let file = try GGUFFile(url: url)
        let config = try LlamaConfig(gguf: file)
        let model = LlamaModel(config: config)
        for e in model.layout.entries {
            let name = ggufName(e.name)
            let info = try file.tensor(name)
            guard Array(info.dimensions.reversed()) == e.shape else {
                throw FormatError(url: url, item: "tensor \(name)",
                                  "dimensions \(info.dimensions) do not match the metadata (expected \(Array(e.shape.reversed())))")
            }
            let p = model.parameters.pointer + e.offset
            try file.dequantize(info, into: p)
            guard Reduce.allFinite(p, e.count) else {
                throw FormatError(url: url, item: "tensor \(name)", "contains NaN or infinity")
            }
            if name.hasSuffix("attn_q.weight") {
                GGUFRotaryRows.unpermute(p, heads: config.numHeads, headDim: config.headDim, columns: config.hiddenSize)
            } else if name.hasSuffix("attn_k.weight") {
                GGUFRotaryRows.unpermute(p, heads: config.numKVHeads, headDim: config.headDim, columns: config.hiddenSize)
            }
        }
        return model
    }

    /// Loads a model from an HF checkpoint directory or a `.gguf` file.
    public static func load(path: String) throws -> LlamaModel {
        switch try ModelPath.resolve(path) {
        case .directory(let url): return try load(directory: url)
        case .gguf(let url): return try load(gguf: url)
        }
    }
}
