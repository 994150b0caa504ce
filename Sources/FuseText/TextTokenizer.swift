/// What every tokenizer gives the pipeline: text ↔ ids, and the string of each vocabulary entry
/// (vocabulary alignment compares those strings).
public protocol TextTokenizer: Sendable {
    /// Number of ids, added tokens included.
    var vocabSize: Int { get }
    /// Ids of `text`, without BOS/EOS (callers add them where the model wants them).
    func encode(_ text: String) -> [Int32]
    /// Text of `ids`, as the Python library decodes it (special tokens included).
    func decode(_ ids: [Int32]) -> String
    /// The vocabulary entry of `id` as the tokenizer spells it ("Ġthe", "▁the", "<0x0A>", "<|endoftext|>").
    func tokenString(_ id: Int32) -> String?
    var bosTokenID: Int32? { get }
    var eosTokenID: Int32? { get }
}
