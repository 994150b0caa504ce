import FuseFormats
import Foundation

/// The LlamaForCausalLM fields of an HF `config.json` that define the computation.
public struct LlamaConfig: Equatable, Sendable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var tieWordEmbeddings: Bool
    public var maxPositionEmbeddings: Int
    public var bosTokenId: Int?
    public var eosTokenId: Int?
    public var initializerRange: Double
    /// Mistral's `sliding_window`: LlamaModel attends to every earlier token, which equals the window only on
    /// sequences no longer than it (the trainer refuses longer blocks).
    public var slidingWindow: Int?

    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int, numHeads: Int,
                numKVHeads: Int? = nil, headDim: Int? = nil, rmsNormEps: Double = 1e-5, ropeTheta: Double = 10000,
                tieWordEmbeddings: Bool = false, maxPositionEmbeddings: Int = 2048,
                bosTokenId: Int? = nil, eosTokenId: Int? = nil, initializerRange: Double = 0.02, slidingWindow: Int? = nil) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads ?? numHeads
        self.headDim = headDim ?? hiddenSize / numHeads
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.initializerRange = initializerRange
        self.slidingWindow = slidingWindow
    }

    /// Checks the invariants the kernels rely on; `source` names the file in the error.
    public func validate(source: String) throws {
        func fail(_ field: String, _ why: String) -> FormatError { FormatError(file: source, item: field, why) }
        for (field, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize),
                               ("intermediate_size", intermediateSize), ("num_hidden_layers", numLayers),
                               ("num_attention_heads", numHeads), ("num_key_value_heads", numKVHeads),
                               ("head_dim", headDim), ("max_position_embeddings", maxPositionEmbeddings)] where value <= 0 {
            throw fail(field, "must be positive, got \(value)")
        }
        if numHeads % numKVHeads != 0 {
            throw fail("num_key_value_heads", "\(numKVHeads) does not divide num_attention_heads \(numHeads)")
        }
        if headDim % 2 != 0 { throw fail("head_dim", "must be even for rotary embeddings, got \(headDim)") }
        if !(rmsNormEps > 0) { throw fail("rms_norm_eps", "must be positive") }
        if !(ropeTheta > 0) { throw fail("rope_theta", "must be positive") }
    }
}

extension LlamaConfig {
    /// Why a model of another family cannot be trained or merged (it can still be a source).
    public static func notTrainable(_ family: String) -> String {
        "\(family) is not a Llama-architecture model: train, merge and convert need one (\(family) models are sources: dump, eval, bench infer|dump)"
    }

    /// Reads `config.json`. Fields that would change the computation in ways not implemented
    /// (biases, rope scaling, other activations) are refused rather than silently ignored.
    public static func load(from url: URL) throws -> LlamaConfig {
        let reader = try ConfigReader.load(url)
        return try LlamaConfig(json: reader.json, source: reader.source)
    }

    public init(json: [String: Any], source: String) throws {
        let r = ConfigReader(json: json, source: source)
        if let type = json["model_type"] as? String, !["llama", "mistral"].contains(type) {
            throw r.error("model_type", LlamaConfig.notTrainable(type))
        }
        if let act = json["hidden_act"] as? String, act != "silu" {
            throw r.error("hidden_act", "\(act) is not supported (Llama uses silu)")
        }
        for key in ["attention_bias", "mlp_bias"] where (json[key] as? Bool) == true {
            throw r.error(key, "biases are not supported")
        }
        // transformers < 5 writes rope_theta (+ rope_scaling); 5.x writes rope_parameters {rope_type, rope_theta}.
        var ropeTheta = try r.double("rope_theta", default: 10000)
        for key in ["rope_scaling", "rope_parameters"] where r.has(key) {
            guard let params = json[key] as? [String: Any] else { throw r.error(key, "is not an object") }
            let type = (params["rope_type"] ?? params["type"]) as? String ?? "default"
            guard type == "default" else {
                throw r.error(key, "RoPE type \(type) is not supported for training (only default; sources take linear and llama3)")
            }
            if let theta = JSONNumber.number(params["rope_theta"]) { ropeTheta = theta.doubleValue }
        }
        let heads = try r.int("num_attention_heads")
        let hidden = try r.int("hidden_size")
        self.init(vocabSize: try r.int("vocab_size"), hiddenSize: hidden,
                  intermediateSize: try r.int("intermediate_size"), numLayers: try r.layerCount("num_hidden_layers"),
                  numHeads: heads, numKVHeads: try r.int("num_key_value_heads", default: heads),
                  headDim: try r.int("head_dim", default: heads > 0 ? hidden / heads : 0),
                  rmsNormEps: try r.double("rms_norm_eps", default: 1e-6), ropeTheta: ropeTheta,
                  tieWordEmbeddings: (json["tie_word_embeddings"] as? Bool) ?? false,
                  maxPositionEmbeddings: try r.int("max_position_embeddings", default: 2048),
                  bosTokenId: r.tokenID("bos_token_id"), eosTokenId: r.tokenID("eos_token_id"),
                  initializerRange: try r.double("initializer_range", default: 0.02),
                  slidingWindow: try r.optionalInt("sliding_window"))
        try validate(source: source)
    }

    /// The config.json that transformers needs to load a checkpoint we write.
    public func jsonObject(dtype: DType) -> [String: Any] {
        let dtypeName = dtype == .BF16 ? "bfloat16" : dtype == .F16 ? "float16" : "float32"
        var json: [String: Any] = [
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": vocabSize,
            "hidden_size": hiddenSize,
            "intermediate_size": intermediateSize,
            "num_hidden_layers": numLayers,
            "num_attention_heads": numHeads,
            "num_key_value_heads": numKVHeads,
            "head_dim": headDim,
            "hidden_act": "silu",
            "rms_norm_eps": rmsNormEps,
            "rope_theta": ropeTheta,
            "rope_scaling": NSNull(),
            "rope_parameters": ["rope_type": "default", "rope_theta": ropeTheta] as [String: Any],
            "attention_bias": false,
            "attention_dropout": 0.0,
            "mlp_bias": false,
            "pretraining_tp": 1,
            "tie_word_embeddings": tieWordEmbeddings,
            "max_position_embeddings": maxPositionEmbeddings,
            "initializer_range": initializerRange,
            "use_cache": true,
            "torch_dtype": dtypeName,
            "dtype": dtypeName,
        ]
        if let bosTokenId { json["bos_token_id"] = bosTokenId }
        if let eosTokenId { json["eos_token_id"] = eosTokenId }
        return json
    }

    public func write(to url: URL, dtype: DType) throws {
        let data = try JSONSerialization.data(withJSONObject: jsonObject(dtype: dtype), options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(data, to: url)
    }
}
