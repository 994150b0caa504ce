import FuseFormats
import FuseText
import Foundation

/// A model with the tokenizer it was trained with, from an HF checkpoint directory
/// (config.json, safetensors, tokenizer.json or tokenizer.model) or a single GGUF file.
public struct PretrainedModel {
    public let model: LlamaModel
    public let tokenizer: BPETokenizer
    /// Where it came from, for messages and manifests.
    public let source: String
    /// Whether the model expects BOS before a sequence (tokenizer_config.json `add_bos_token`, GGUF `tokenizer.ggml.add_bos_token`).
    public let addsBOS: Bool

    public init(model: LlamaModel, tokenizer: BPETokenizer, source: String, addsBOS: Bool) {
        self.model = model
        self.tokenizer = tokenizer
        self.source = source
        self.addsBOS = addsBOS
    }

    public static func load(path: String) throws -> PretrainedModel {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError(url: url, "no such file or directory")
        }
        if isDirectory.boolValue {
            let model = try LlamaModel.load(directory: url)
            let tokenizer = try BPETokenizer.load(directory: url)
            try checkVocabulary(tokenizer, model, source: url)
            return PretrainedModel(model: model, tokenizer: tokenizer, source: url.path,
                                   addsBOS: readAddBOS(url.appendingPathComponent("tokenizer_config.json")))
        }
        guard url.pathExtension.lowercased() == "gguf" else {
            throw FormatError(url: url, "not a checkpoint directory or a .gguf file")
        }
        let file = try GGUFFile(url: url)
        let model = try LlamaModel.load(gguf: url)
        let tokenizer = try ggufTokenizer(file)
        try checkVocabulary(tokenizer, model, source: url)
        let addsBOS = file.metadata["tokenizer.ggml.add_bos_token"].flatMap { v -> Bool? in
            if case .bool(let b) = v { return b }
            return nil
        } ?? ((try? file.string("tokenizer.ggml.model")) == "llama")
        return PretrainedModel(model: model, tokenizer: tokenizer, source: url.path, addsBOS: addsBOS)
    }

    /// The tokenizer a GGUF describes in its `tokenizer.ggml.*` metadata.
    public static func ggufTokenizer(_ file: GGUFFile) throws -> BPETokenizer {
        let m = file.metadata
        do {
            return try BPETokenizer.fromGGUF(
                model: try file.string("tokenizer.ggml.model"),
                pre: m["tokenizer.ggml.pre"]?.stringValue,
                tokens: try file.strings("tokenizer.ggml.tokens"),
                merges: m["tokenizer.ggml.merges"] == nil ? nil : try file.strings("tokenizer.ggml.merges"),
                scores: m["tokenizer.ggml.scores"] == nil ? nil : try file.doubles("tokenizer.ggml.scores").map { Float($0) },
                tokenTypes: m["tokenizer.ggml.token_type"] == nil ? nil : try file.ints("tokenizer.ggml.token_type"),
                bosID: m["tokenizer.ggml.bos_token_id"]?.intValue,
                eosID: m["tokenizer.ggml.eos_token_id"]?.intValue,
                unknownID: m["tokenizer.ggml.unknown_token_id"]?.intValue,
                addSpacePrefix: m["tokenizer.ggml.add_space_prefix"].flatMap { v -> Bool? in
                    if case .bool(let b) = v { return b }
                    return nil
                })
        } catch let e as FormatError {
            throw e
        } catch {
            throw FormatError(url: file.url, item: "tokenizer.ggml", "\(error)")
        }
    }

    /// tokenizer.json and tokenizer_config.json: what transformers needs next to the weights to rebuild this tokenizer.
    public func tokenizerFiles() throws -> [String: Data] {
        try Self.tokenizerFiles(tokenizer, addsBOS: addsBOS, maxLength: model.config.maxPositionEmbeddings)
    }

    public static func tokenizerFiles(_ tokenizer: BPETokenizer, addsBOS: Bool, maxLength: Int) throws -> [String: Data] {
        var config: [String: Any] = [
            "tokenizer_class": "PreTrainedTokenizerFast",
            "add_bos_token": addsBOS,
            "add_eos_token": false,
            "model_max_length": maxLength,
            "clean_up_tokenization_spaces": false,
        ]
        if let id = tokenizer.bosTokenID, let s = tokenizer.tokenString(id) { config["bos_token"] = s }
        if let id = tokenizer.eosTokenID, let s = tokenizer.tokenString(id) { config["eos_token"] = s }
        return [
            "tokenizer.json": try tokenizer.tokenizerJSON(),
            "tokenizer_config.json": try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]),
        ]
    }

    static func checkVocabulary(_ tokenizer: BPETokenizer, _ model: LlamaModel, source: URL) throws {
        guard tokenizer.vocabSize <= model.config.vocabSize else {
            throw FormatError(url: source, item: "tokenizer",
                              "has \(tokenizer.vocabSize) tokens but the model's vocab_size is \(model.config.vocabSize)")
        }
    }

    static func readAddBOS(_ url: URL) -> Bool {
        guard let data = try? Data(contentsOf: url),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return false }
        return (json["add_bos_token"] as? Bool) ?? false
    }
}
