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

    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int, numHeads: Int,
                numKVHeads: Int? = nil, headDim: Int? = nil, rmsNormEps: Double = 1e-5, ropeTheta: Double = 10000,
                tieWordEmbeddings: Bool = false, maxPositionEmbeddings: Int = 2048,
                bosTokenId: Int? = nil, eosTokenId: Int? = nil, initializerRange: Double = 0.02) {
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
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FormatError(url: url, "cannot read config (\(FormatError.reason(error)))")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw FormatError(url: url, "not a JSON object")
        }
        return try LlamaConfig(json: json, source: url.path)
    }

    public init(json: [String: Any], source: String) throws {
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            if let n = JSONNumber.number(json[key]), n.doubleValue == n.doubleValue.rounded() { return n.intValue }
            if json[key] == nil || json[key] is NSNull, let value { return value }
            throw FormatError(file: source, item: key, json[key] == nil ? "missing" : "is not an integer")
        }
        func double(_ key: String, default value: Double) throws -> Double {
            if json[key] == nil || json[key] is NSNull { return value }
            if let n = JSONNumber.number(json[key]) { return n.doubleValue }
            throw FormatError(file: source, item: key, "is not a number")
        }
        if let type = json["model_type"] as? String, !["llama", "mistral"].contains(type) {
            throw FormatError(file: source, item: "model_type", LlamaConfig.notTrainable(type))
        }
        if let act = json["hidden_act"] as? String, act != "silu" {
            throw FormatError(file: source, item: "hidden_act", "\(act) is not supported (Llama uses silu)")
        }
        for key in ["attention_bias", "mlp_bias"] where (json[key] as? Bool) == true {
            throw FormatError(file: source, item: key, "biases are not supported")
        }
        // transformers < 5 writes rope_theta (+ rope_scaling); 5.x writes rope_parameters {rope_type, rope_theta}.
        var ropeTheta = try double("rope_theta", default: 10000)
        for key in ["rope_scaling", "rope_parameters"] {
            guard let value = json[key], !(value is NSNull) else { continue }
            guard let params = value as? [String: Any] else {
                throw FormatError(file: source, item: key, "is not an object")
            }
            let type = (params["rope_type"] ?? params["type"]) as? String ?? "default"
            guard type == "default" else {
                throw FormatError(file: source, item: key, "RoPE type \(type) is not supported (only default)")
            }
            if let theta = params["rope_theta"] as? NSNumber { ropeTheta = theta.doubleValue }
        }
        let heads = try int("num_attention_heads")
        let hidden = try int("hidden_size")
        func optionalInt(_ key: String) -> Int? {
            if let n = json[key] as? NSNumber { return n.intValue }
            if let list = json[key] as? [NSNumber] { return list.first?.intValue }
            return nil
        }
        self.init(vocabSize: try int("vocab_size"), hiddenSize: hidden,
                  intermediateSize: try int("intermediate_size"), numLayers: try int("num_hidden_layers"),
                  numHeads: heads, numKVHeads: try int("num_key_value_heads", default: heads),
                  headDim: try int("head_dim", default: heads > 0 ? hidden / heads : 0),
                  rmsNormEps: try double("rms_norm_eps", default: 1e-6), ropeTheta: ropeTheta,
                  tieWordEmbeddings: (json["tie_word_embeddings"] as? Bool) ?? false,
                  maxPositionEmbeddings: try int("max_position_embeddings", default: 2048),
                  bosTokenId: optionalInt("bos_token_id"), eosTokenId: optionalInt("eos_token_id"),
                  initializerRange: try double("initializer_range", default: 0.02))
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
