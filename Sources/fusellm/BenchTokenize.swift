import ArgumentParser
import FuseFormats
import FuseText
import Foundation
import Llama

struct BenchTokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encoding throughput (MB/s, one thread) of a model's tokenizer, against HF tokenizers on the same text.")

    @Option(help: "Tokenizer source: .gguf file, checkpoint directory, tokenizer.json or tokenizer.model.")
    var tokenizer = "checkpoints/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(help: "UTF-8 text to encode.") var text = "data/sample/python-reference.txt"
    @Option(help: "Timed encodes of the whole text (after one warm-up).") var repeats = 5
    @Flag(help: "Also run scripts/bench-tokenize-hf.py (HF tokenizers, one thread) on the same tokenizer and text.")
    var hf = false
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() throws {
        do { try bench() } catch { throw CleanExit(error) }
    }

    private func load() throws -> BPETokenizer {
        let url = URL(fileURLWithPath: tokenizer)
        switch url.pathExtension.lowercased() {
        case "gguf": return try BPETokenizer.load(gguf: GGUFFile(url: url))
        case "json": return try BPETokenizer.load(tokenizerJSON: url)
        case "model": return try BPETokenizer.load(sentencePieceModel: url)
        default: return try BPETokenizer.load(directory: url)
        }
    }

    private func bench() throws {
        let tok = try load()
        let input = try TokenBlocks.readDocuments([URL(fileURLWithPath: text)])[0]
        let tokens = tok.encode(input).count
        let ours = measureEncodeThroughput(tokenizer: tok, text: input, repeats: repeats)
        var result: [String: Any] = ["impl": "fusellm", "tokenizer": tokenizer, "text": text, "bytes": input.utf8.count,
                                     "tokens": tokens, "mb_per_s": ours]
        if hf {
            // The reference reads a tokenizer.json: ours, written from whatever we loaded (GGUF included).
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fusellm-bench-tok-\(getpid())")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let json = dir.appendingPathComponent("tokenizer.json")
            try tok.tokenizerJSON().write(to: json)
            if let ref = runPythonReference("scripts/bench-tokenize-hf.py", ["--tokenizer", json.path, "--text", text,
                                                                              "--repeats", "\(repeats)"]),
               let mbs = ref["mb_per_s"] as? Double {
                result["hf_mb_per_s"] = mbs
                result["hf_tokens"] = ref["tokens"]
                result["speedup_vs_hf"] = ours / mbs
            }
        }
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .withoutEscapingSlashes]),
                         as: UTF8.self))
            return
        }
        print(String(format: """
            fusellm bench tokenize  (%@, %d bytes → %d tokens, 1 thread)
              fusellm              %8.2f MB/s
            """, (tokenizer as NSString).lastPathComponent, input.utf8.count, tokens, ours))
        if let h = result["hf_mb_per_s"] as? Double {
            print(String(format: "  HF tokenizers        %8.2f MB/s (%@ tokens)  → fusellm is %.2f× HF", h,
                         "\(result["hf_tokens"] ?? "?")", ours / h))
        }
    }
}
