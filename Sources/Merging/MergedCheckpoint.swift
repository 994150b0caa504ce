import FuseFormats
import Foundation
import Llama

/// Writes a merged model as an HF checkpoint directory: config.json, safetensors, the tokenizer files of
/// the reference model and the recipe. Everything goes into a hidden sibling renamed at the end, so an
/// interrupted merge never leaves a directory that looks complete.
enum MergedCheckpoint {
    /// What transformers needs to rebuild a tokenizer, copied byte for byte from an HF directory.
    static let tokenizerFileNames = ["tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json"]

    static func write(_ model: LlamaModel, dtype: DType, maxShardBytes: Int?, tokenizerFiles: [String: Data],
                      recipeText: String?, to output: URL) throws {
        try AtomicFile.publishDirectory(output, what: "the output directory") { staging in
            try model.save(to: staging, dtype: dtype, maxShardBytes: maxShardBytes)
            for (name, data) in tokenizerFiles {
                try AtomicFile.write(data, to: staging.appendingPathComponent(name))
            }
            if let recipeText {
                try AtomicFile.write(Data(recipeText.utf8), to: staging.appendingPathComponent("merge-recipe.yaml"))
            }
        }
    }

    /// The tokenizer files of an HF directory; empty when it has none.
    static func tokenizerFiles(ofDirectory directory: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in tokenizerFileNames {
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            do { files[name] = try Data(contentsOf: url) } catch {
                throw FormatError(url: url, "cannot read (\(FormatError.reason(error)))")
            }
        }
        return files
    }
}
