import Models
import ArgumentParser
import FuseFormats
import FuseText
import Foundation
import Llama

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write any loadable model (HF directory or GGUF) as an HF checkpoint: safetensors, config.json, tokenizer.json.")

    @Option(help: "HF checkpoint directory or .gguf file.") var model: String
    @Option(help: "New directory to write (must not exist).") var output: String
    @Option(help: "dtype of written weights: f32, f16, bf16.") var dtype: String = "f32"
    @Option(help: "Largest safetensors shard, e.g. 500MB or 2GB (default: one file).") var maxShardSize: String?

    func run() throws {
        do {
            try convert()
        } catch {
            throw CleanExit(error)
        }
    }

    private func convert() throws {
        guard let dtype = DType(userName: dtype) else {
            throw ValidationError("--dtype must be f32, f16 or bf16")
        }
        let shardBytes = try maxShardSize.map(parseByteSize)
        let out = URL(fileURLWithPath: output).standardizedFileURL
        guard !FileManager.default.fileExists(atPath: out.path) else {
            throw FormatError(url: out, "already exists; remove it or choose another --output")
        }
        let pretrained = try Pretrained<LlamaModel>.load(path: model)
        // Everything is written into a hidden sibling and renamed at the end, so a killed
        // conversion never leaves a directory that looks complete.
        let staging = out.deletingLastPathComponent()
            .appendingPathComponent(".\(out.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: staging)
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        do {
            try pretrained.model.save(to: staging, dtype: dtype, maxShardBytes: shardBytes)
            for (name, data) in try pretrained.tokenizerFiles() {
                try AtomicFile.write(data, to: staging.appendingPathComponent(name))
            }
            try FileManager.default.moveItem(at: staging, to: out)
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw error
        }
        let json = try JSONSerialization.data(withJSONObject: [
            "output": out.path, "source": pretrained.source, "dtype": dtype.rawValue,
            "parameters": pretrained.model.layout.totalCount, "vocab_size": pretrained.tokenizer.vocabSize,
        ], options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: json, as: UTF8.self))
    }

}

/// "500MB", "2GB", "1.5G", "1048576" → bytes (decimal units, as transformers' max_shard_size).
func parseByteSize(_ text: String) throws -> Int {
    let units: [(String, Double)] = [("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("G", 1e9), ("M", 1e6), ("K", 1e3), ("B", 1)]
    let upper = text.uppercased().trimmingCharacters(in: .whitespaces)
    for (suffix, scale) in units where upper.hasSuffix(suffix) {
        if let n = Double(upper.dropLast(suffix.count)), n > 0 { return Int(n * scale) }
    }
    if let n = Int(upper), n > 0 { return n }
    throw ValidationError("cannot read the size \(text) (use e.g. 500MB or 2GB)")
}
