import FuseFormats
import FuseText
import Llama
import Foundation

/// A model with the tokenizer it was trained with, from an HF checkpoint directory (config.json, safetensors,
/// tokenizer.json or tokenizer.model) or a single GGUF file. `Pretrained<any CausalLM>` (`PretrainedModel`) is a
/// source of any registered family; `Pretrained<LlamaModel>` is a trainable target.
public struct Pretrained<Model> {
    public let model: Model
    public let tokenizer: BPETokenizer
    /// Where it came from, for messages and manifests.
    public let source: String
    /// Whether the model expects BOS before a sequence (tokenizer_config.json `add_bos_token`, GGUF `tokenizer.ggml.add_bos_token`).
    public let addsBOS: Bool

    /// The token to put before every sequence: the tokenizer's BOS when the model asks for one, else nil.
    public var prependedBOS: Int32? { addsBOS ? tokenizer.bosTokenID.map { Int32($0) } : nil }

    public init(model: Model, tokenizer: BPETokenizer, source: String, addsBOS: Bool) {
        self.model = model
        self.tokenizer = tokenizer
        self.source = source
        self.addsBOS = addsBOS
    }
}

public typealias PretrainedModel = Pretrained<any CausalLM>

extension Pretrained where Model == any CausalLM {
    /// A source model of any registered family.
    public static func load(path: String) throws -> PretrainedModel {
        switch try ModelPath.resolve(path) {
        case .directory(let url):
            let model = try TransformerModel.load(directory: url)
            let tokenizer = try BPETokenizer.load(directory: url)
            try checkVocabulary(tokenizer, vocabSize: model.vocabSize, source: url)
            return PretrainedModel(model: model, tokenizer: tokenizer, source: url.path, addsBOS: BPETokenizer.addsBOS(directory: url))
        case .gguf(let url):
            let file = try GGUFFile(url: url)
            let model = try TransformerModel.load(gguf: file)
            let tokenizer = try BPETokenizer.load(gguf: file)
            try checkVocabulary(tokenizer, vocabSize: model.vocabSize, source: url)
            return PretrainedModel(model: model, tokenizer: tokenizer, source: url.path, addsBOS: BPETokenizer.addsBOS(gguf: file))
        }
    }
}

extension Pretrained where Model == LlamaModel {
    /// A Llama-architecture model to train or merge (the families other than llama are forward-only sources).
    public static func load(path: String) throws -> Pretrained<LlamaModel> {
        let location = try ModelPath.resolve(path)
        let model = try LlamaModel.load(path: path)
        let tokenizer: BPETokenizer, addsBOS: Bool
        switch location {
        case .directory(let url):
            tokenizer = try BPETokenizer.load(directory: url)
            addsBOS = BPETokenizer.addsBOS(directory: url)
        case .gguf(let url):
            let file = try GGUFFile(url: url)
            tokenizer = try BPETokenizer.load(gguf: file)
            addsBOS = BPETokenizer.addsBOS(gguf: file)
        }
        try checkVocabulary(tokenizer, vocabSize: model.config.vocabSize, source: location.url)
        return Pretrained(model: model, tokenizer: tokenizer, source: location.url.path, addsBOS: addsBOS)
    }

    /// tokenizer.json and tokenizer_config.json for the checkpoints written from this model.
    public func tokenizerFiles() throws -> [String: Data] {
        try tokenizer.hfTokenizerFiles(addsBOS: addsBOS, maxLength: model.config.maxPositionEmbeddings)
    }
}

extension Pretrained {
    static func checkVocabulary(_ tokenizer: BPETokenizer, vocabSize: Int, source: URL) throws {
        guard tokenizer.vocabSize <= vocabSize else {
            throw FormatError(url: source, item: "tokenizer", "has \(tokenizer.vocabSize) tokens but the model's vocab_size is \(vocabSize)")
        }
    }
}
