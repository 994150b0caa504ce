import Models
import FuseFormats
import FuseText
import Foundation
import Llama

/// The source's tokenizer kept next to its dump, so aligning the dump later needs nothing but the dump.
public enum DumpTokenizerFile {
    /// The checkpoint's own tokenizer.json / tokenizer.model copied as is, or (GGUF, or a model built in memory)
    /// the tokenizer.json we write, checked to read back as the same tokenizer.
    public static func keep(of pretrained: PretrainedModel, modelPath: String?, in out: URL) throws {
        try keep(pretrained.tokenizer, from: modelPath, addsBOS: pretrained.addsBOS, in: out)
    }

    /// The same for a tokenizer alone (`dump import`): its files copied from `path` (a checkpoint directory) when
    /// there are any, else written; `addsBOS` is whether the dump's texts were seen after a BOS.
    public static func keep(_ tokenizer: BPETokenizer, from path: String?, addsBOS: Bool, in out: URL) throws {
        try keepTokenizer(tokenizer, from: path, in: out)
        // BOS and EOS by name too: a tokenizer.json alone falls back to well-known names, which may not be the
        // checkpoint's own (SmolLM2-Instruct ends documents with <|im_end|>, not <|endoftext|>).
        var config: [String: Any] = ["add_bos_token": addsBOS]
        if let id = tokenizer.eosTokenID, let name = tokenizer.tokenString(id) { config["eos_token"] = name }
        if let id = tokenizer.bosTokenID, let name = tokenizer.tokenString(id) { config["bos_token"] = name }
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]),
                             to: out.appendingPathComponent(configName))
    }

    static let configName = "tokenizer_config.json"

    private static func keepTokenizer(_ tokenizer: BPETokenizer, from modelPath: String?, in out: URL) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if let modelPath, fm.fileExists(atPath: modelPath, isDirectory: &isDirectory), isDirectory.boolValue {
            for name in ["tokenizer.json", "tokenizer.model"] {
                let from = URL(fileURLWithPath: modelPath).appendingPathComponent(name)
                guard fm.fileExists(atPath: from.path) else { continue }
                let data: Data
                do { data = try Data(contentsOf: from) } catch {
                    throw FormatError(url: from, "cannot read (\(FormatError.reason(error)))")
                }
                try AtomicFile.write(data, to: out.appendingPathComponent(name))
                return
            }
        }
        let url = out.appendingPathComponent("tokenizer.json")
        try AtomicFile.write(try tokenizer.tokenizerJSON(), to: url)
        guard try BPETokenizer.load(path: url.path).fingerprint == tokenizer.fingerprint else {
            throw FormatError(url: url, "the written tokenizer does not read back as the model's tokenizer")
        }
    }

    /// Whether the dump's source asks for BOS before a sequence, as kept beside the dump; nil for dumps made before
    /// fusellm kept it.
    public static func addsBOS(_ directory: URL) throws -> Bool? {
        let url = directory.appendingPathComponent(configName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = try? Data(contentsOf: url),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let flag = json["add_bos_token"] as? Bool else {
            throw FormatError(url: url, item: "add_bos_token", "is not a JSON object with a true/false add_bos_token")
        }
        return flag
    }

    /// Whether the dump names its source's EOS (dumps made before fusellm kept it beside the tokenizer do not).
    public static func namesEOS(_ directory: URL) -> Bool {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent(configName)),
              let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return false }
        return json["eos_token"] != nil
    }

    /// The tokenizer a dump was made with.
    public static func load(_ directory: URL) throws -> BPETokenizer {
        for name in ["tokenizer.json", "tokenizer.model"] {
            let url = directory.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path) { return try BPETokenizer.load(path: url.path) }
        }
        throw FormatError(url: directory, "no tokenizer.json or tokenizer.model next to the dump (fusellm dump writes one)")
    }
}
