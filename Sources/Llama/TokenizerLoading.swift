import FuseFormats
import FuseText
import Foundation

extension PretrainedModel {
    /// The tokenizer of whatever a user points at: a checkpoint directory (tokenizer.json or tokenizer.model),
    /// a tokenizer.json, a SentencePiece tokenizer.model, or a GGUF (its `tokenizer.ggml.*` metadata only;
    /// the weights are not read).
    public static func loadTokenizer(path: String) throws -> BPETokenizer {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FormatError(url: url, "no such file or directory")
        }
        if isDirectory.boolValue { return try BPETokenizer.load(directory: url) }
        switch url.pathExtension.lowercased() {
        case "gguf": return try ggufTokenizer(GGUFFile(url: url))
        case "json": return try BPETokenizer.load(tokenizerJSON: url)
        case "model": return try BPETokenizer.load(sentencePieceModel: url)
        default:
            throw FormatError(url: url, "not a tokenizer: expected a directory, tokenizer.json, tokenizer.model or .gguf")
        }
    }
}
