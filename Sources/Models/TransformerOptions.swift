import FuseTensor

/// The switches in which the source families differ (see DESIGN.md's table); a family states its values and the
/// forward pass in `TransformerModel` is built from shared kernels by them.
public enum NormKind: Equatable, Sendable {
    /// y = w ⊙ x / rms(x) (llama, qwen, mistral, phi3, mixtral).
    case rms(eps: Float)
    /// y = (1 + w) ⊙ x / rms(x) (gemma: the weights are stored as offsets from one).
    case rmsUnitOffset(eps: Float)
    /// y = w ⊙ (x − mean) / std + b (gpt2, gpt_neox).
    case layer(eps: Float)

    public var hasBias: Bool { if case .layer = self { return true } else { return false } }
}

public enum MLPKind: Equatable, Sendable {
    /// down(act(gate(x)) ⊙ up(x)): SwiGLU (silu), GeGLU (gelu tanh).
    case gated(Activation)
    /// down(act(up(x))) (gpt2, gpt_neox), with biases.
    case plain(Activation)
    /// Sparse mixture of gated experts: softmax router, the top `active` of `experts` per token, weights renormalised.
    case mixture(experts: Int, active: Int, Activation)
}

public enum PositionKind: Equatable, Sendable {
    case rotary
    /// Learned absolute position embeddings added to the token embeddings (gpt2).
    case learned
}

/// Per layer: which rotary table it uses and whether it attends within a sliding window.
public struct LayerAttention: Equatable, Sendable {
    public var window: Int?
    /// Index into `TransformerConfig.rotaryFrequencies`.
    public var rotary: Int

    public init(window: Int? = nil, rotary: Int = 0) {
        self.window = window
        self.rotary = rotary
    }
}

/// Which optional tensors exist.
public struct Biases: Equatable, Sendable {
    public var qkv = false
    public var output = false
    public var mlp = false

    public init(qkv: Bool = false, output: Bool = false, mlp: Bool = false) {
        self.qkv = qkv
        self.output = output
        self.mlp = mlp
    }
}
