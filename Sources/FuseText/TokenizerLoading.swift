import FuseFormats
import Foundation

/// Loading a tokenizer from whatever a user points at, in one place: a checkpoint directory (tokenizer.json or
/// tokenizer.model), a tokenizer.json, a SentencePiece tokenizer.model, or a GGUF (its `tokenizer.ggml.*`
/// metadata only; the weights are not read).
extension BPETokenizer {
    public static func load(path: String) throws -> BPETokenizer {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError(url: url, "no such file or directory")
        }
        if isDirectory.boolValue { return try load(directory: url) }
        switch url.pathExtension.lowercased() {
        case "gguf": return try load(gguf: GGUFFile(url: url))
        case "json": return try load(tokenizerJSON: url)
        case "model": return try load(sentencePieceModel: url)
        default:
            throw FormatError(url: url, "not a tokenizer: expected a directory, tokenizer.json, tokenizer.model or .gguf")
        }
    }

    /// The tokenizer a GGUF describes in its `tokenizer.ggml.*` metadata.
    public static func load(gguf file: GGUFFile) throws -> BPETokenizer {
        let m = file.metadata
        do {
            return try fromGGUF(
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
                },
                paddingID: m["tokenizer.ggml.padding_token_id"]?.intValue,
                architecture: m["general.architecture"]?.stringValue)
        } catch let e as FormatError {
            throw e
        } catch {
            throw FormatError(url: file.url, item: "tokenizer.ggml", "\(error)")
        }
    }

    /// Whether the model expects BOS before a sequence: GGUF `tokenizer.ggml.add_bos_token` (SentencePiece "llama"
    /// vocabularies default to yes, as llama.cpp does).
    public static func addsBOS(gguf file: GGUFFile) -> Bool {
        file.metadata["tokenizer.ggml.add_bos_token"].flatMap { v -> Bool? in
            if case .bool(let b) = v { return b }
            return nil
        } ?? ((try? file.string("tokenizer.ggml.model")) == "llama")
    }

    /// Whether a checkpoint directory's tokenizer_config.json asks for BOS (`add_bos_token`; absent: no).
    public static func addsBOS(directory: URL) -> Bool {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("tokenizer_config.json")),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return false }
        return (json["add_bos_token"] as? Bool) ?? false
    }

    /// tokenizer.json and tokenizer_config.json: what transformers needs next to the weights to rebuild this tokenizer.
    public func hfTokenizerFiles(addsBOS: Bool, maxLength: Int) throws -> [String: Data] {
        var config: [String: Any] = [
            "tokenizer_class": "PreTrainedTokenizerFast",
            "add_bos_token": addsBOS,
            "add_eos_token": false,
            "model_max_length": maxLength,
            "clean_up_tokenization_spaces": false,
        ]
        if let id = bosTokenID, let s = tokenString(id) { config["bos_token"] = s }
        if let id = eosTokenID, let s = tokenString(id) { config["eos_token"] = s }
        return [
            "tokenizer.json": try tokenizerJSON(),
            "tokenizer_config.json": try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]),
        ]
    }
}
