import Llama

/// The trainable target is a causal LM too (eval of a checkpoint while training, the ensemble baseline).
extension LlamaModel: CausalLM {
    public var family: String { "llama" }
    public var vocabSize: Int { config.vocabSize }
    public var maxSequenceLength: Int { config.maxPositionEmbeddings }
    public var bosTokenID: Int? { config.bosTokenId }
    public var eosTokenID: Int? { config.eosTokenId }
    public var parameterCount: Int { layout.totalCount }
}
