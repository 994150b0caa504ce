import FuseFormats
import FuseTensor

/// Everything that defines a source model's computation, whatever the family wrote in its config.json or GGUF
/// metadata. Families fill it (`ModelFamily.config`); `TransformerModel` runs it.
public struct TransformerConfig: Equatable, Sendable {
    public var family: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var maxPositionEmbeddings: Int

    public var norm: NormKind
    /// Gemma 2/3: a norm after attention and after the MLP as well as before each.
    public var sandwichNorms = false
    /// Qwen3, Gemma 3: per-head RMSNorm of q and k before RoPE.
    public var qkNorm = false
    public var mlp: MLPKind
    /// GPT-NeoX: x + attn(ln₁(x)) + mlp(ln₂(x)) instead of two residual steps.
    public var parallelResidual = false
    public var positions: PositionKind = .rotary
    /// Dimensions of each head that RoPE rotates (partial rotary: fewer than headDim).
    public var rotaryDim: Int
    /// Inverse frequencies of each distinct rotary table (one per layer type: Gemma 3's local and global layers differ).
    public var rotaryFrequencies: [[Float]]
    public var layers: [LayerAttention]
    public var attentionScale: Float
    public var attentionSoftcap: Float?
    public var finalSoftcap: Float?
    /// Gemma: embeddings × √hidden (rounded to Float32 as transformers does).
    public var embeddingScale: Float?
    public var biases = Biases()
    public var tieWordEmbeddings: Bool
    public var bosTokenID: Int?
    public var eosTokenID: Int?

    public init(family: String, vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int,
                numHeads: Int, numKVHeads: Int, headDim: Int, maxPositionEmbeddings: Int,
                norm: NormKind, mlp: MLPKind, rotaryDim: Int, rotaryFrequencies: [[Float]], layers: [LayerAttention],
                attentionScale: Float, tieWordEmbeddings: Bool, bosTokenID: Int?, eosTokenID: Int?) {
        self.family = family
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.norm = norm
        self.mlp = mlp
        self.rotaryDim = rotaryDim
        self.rotaryFrequencies = rotaryFrequencies
        self.layers = layers
        self.attentionScale = attentionScale
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
    }

    /// Bounds that keep every size computation in range for input that lies (fuzzed or corrupt configs).
    public static let maxLayers = ConfigReader.maxLayers
    public static let maxDimension = ConfigReader.maxSize
    static let maxParameters = 1e12

    public var qDim: Int { numHeads * headDim }
    public var kvDim: Int { numKVHeads * headDim }

    /// The invariants the kernels rely on; `source` names the file in the error.
    public func validate(source: String) throws {
        func fail(_ field: String, _ why: String) -> FormatError { FormatError(file: source, item: field, why) }
        for (field, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                               ("num_hidden_layers", numLayers), ("num_attention_heads", numHeads),
                               ("num_key_value_heads", numKVHeads), ("head_dim", headDim),
                               ("max_position_embeddings", maxPositionEmbeddings)] where value <= 0 {
            throw fail(field, "must be positive, got \(value)")
        }
        for (field, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                               ("num_attention_heads", numHeads), ("num_key_value_heads", numKVHeads), ("head_dim", headDim),
                               ("max_position_embeddings", maxPositionEmbeddings)] where value > Self.maxDimension {
            throw fail(field, "\(value) is not a plausible size (at most \(Self.maxDimension))")
        }
        var experts = 1.0
        if case .mixture(let n, _, _) = mlp {
            guard (1...Self.maxLayers).contains(n) else { throw fail("num_local_experts", "\(n) is not a plausible expert count") }
            experts = Double(n)
        }
        let perLayer = Double(hiddenSize) * (Double(numHeads + 2 * numKVHeads) * Double(headDim) * 2
                                             + experts * 3 * Double(intermediateSize))
        let total = Double(numLayers) * perLayer + 2 * Double(vocabSize) * Double(hiddenSize)
            + Double(maxPositionEmbeddings) * Double(hiddenSize)
        if total > Self.maxParameters {
            throw fail("config", "describes \(String(format: "%.3g", total)) parameters, more than any model this tool loads (\(Self.maxParameters))")
        }
        if layers.count > Self.maxLayers { throw fail("num_hidden_layers", "\(layers.count) layers is not plausible") }
        if numHeads % numKVHeads != 0 {
            throw fail("num_key_value_heads", "\(numKVHeads) does not divide num_attention_heads \(numHeads)")
        }
        if positions == .rotary {
            if rotaryDim % 2 != 0 || rotaryDim <= 0 || rotaryDim > headDim {
                throw fail("rotary dimensions", "\(rotaryDim) must be even and at most head_dim \(headDim)")
            }
            if rotaryFrequencies.contains(where: { $0.count != rotaryDim / 2 }) {
                throw fail("rotary dimensions", "frequency tables do not match \(rotaryDim) rotary dimensions")
            }
        }
        if layers.count != numLayers { throw fail("layer_types", "\(layers.count) layers listed, num_hidden_layers is \(numLayers)") }
        for (i, layer) in layers.enumerated() {
            if let w = layer.window, w <= 0 { throw fail("sliding_window", "must be positive, got \(w) (layer \(i))") }
            if layer.rotary >= max(1, rotaryFrequencies.count) { throw fail("rope", "layer \(i) names a missing rotary table") }
        }
        if case .mixture(let experts, let active, _) = mlp, !(1...experts).contains(active) {
            throw fail("num_experts_per_tok", "\(active) is not between 1 and num_local_experts \(experts)")
        }
        for (field, cap) in [("attn_logit_softcapping", attentionSoftcap), ("final_logit_softcapping", finalSoftcap)] {
            if let cap, !(cap > 0) { throw fail(field, "must be positive, got \(cap)") }
        }
    }
}
