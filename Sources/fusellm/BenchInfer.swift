import Models
import ArgumentParser
import FuseTensor
import FuseText
import Foundation
import Llama

struct BenchInfer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Inference throughput (forward pass, tokens/s) of a real model on one block of real text.")

    @Option(help: "HF checkpoint directory or .gguf file.") var model = "checkpoints/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(help: "Text to cut the block from.") var text = "data/sample/python-reference.txt"
    @Option(help: "Tokens in the block.") var seq = 512
    @Option(help: "Timed forward passes.") var repeats = 5
    @Flag(help: "Also run scripts/bench-infer-torch.py (transformers, same GGUF, same threads) and print the ratio.")
    var torch = false
    @Flag(name: .customLong("llama-cpp"),
          help: "Also run scripts/bench-infer-llamacpp.py (llama.cpp through llama-cpp-python, same GGUF, same threads, every position's logits) when it is installed.")
    var llamaCpp = false
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var precision: PrecisionOption

    func run() throws {
        compute.apply()
        do { try bench() } catch { throw CleanExit(error) }
    }

    private func bench() throws {
        let chosen = try precision.checked()
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let pretrained = try PretrainedModel.load(path: model)
        pretrained.model.precision = chosen
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) * 1e-9
        let docs = try TokenBlocks.readDocuments([URL(fileURLWithPath: text)])
        let ids = Array(pretrained.tokenizer.encode(docs[0]).prefix(seq))
        guard ids.count == seq else { throw ValidationError("\(text) has fewer than \(seq) tokens") }
        let m = pretrained.model
        _ = m.forward(ids: ids, batch: 1, seqLen: seq)  // warm-up: allocates the workspace
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            m.forward(ids: ids, batch: 1, seqLen: seq)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        var result: [String: Any] = [
            "impl": "fusellm", "model": pretrained.source, "threads": Parallel.threads, "seq": seq,
            "forward_s": best, "tokens_per_s": Double(seq) / best, "load_s": loadSeconds,
            "peak_rss_mb": BenchTrain.peakResidentMB(),
        ]
        if torch, let ref = runPythonReference("scripts/bench-infer-torch.py", [
            "--model", model, "--threads", "\(Parallel.threads)", "--repeats", "\(repeats)",
            "--ids", ids.map(String.init).joined(separator: ","),
        ]), let tps = ref["tokens_per_s"] as? Double {
            result["torch_tokens_per_s"] = tps
            result["speedup_vs_torch"] = Double(seq) / best / tps
        }
        if llamaCpp, model.lowercased().hasSuffix(".gguf"), let ref = runPythonReference("scripts/bench-infer-llamacpp.py", [
            "--model", model, "--threads", "\(Parallel.threads)", "--repeats", "\(repeats)",
            "--ids", ids.map(String.init).joined(separator: ","),
        ]), let tps = ref["tokens_per_s"] as? Double {
            result["llamacpp_tokens_per_s"] = tps
            result["speedup_vs_llamacpp"] = Double(seq) / best / tps
        }
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
            return
        }
        print(String(format: """
            fusellm bench infer  (%d threads, %@, 1 × %d tokens)
              load time            %8.2f s
              forward time         %8.3f s (best of %d)
              tokens/s             %8.0f
              peak RSS             %8.0f MB
            """, Parallel.threads, (pretrained.source as NSString).lastPathComponent, seq, loadSeconds, best, repeats,
            Double(seq) / best, BenchTrain.peakResidentMB()))
        if let t = result["torch_tokens_per_s"] as? Double {
            print(String(format: "  transformers tok/s  %8.0f  → fusellm is %.2f× transformers", t, Double(seq) / best / t))
        }
        if let t = result["llamacpp_tokens_per_s"] as? Double {
            print(String(format: "  llama.cpp tok/s     %8.0f  → fusellm is %.2f× llama.cpp", t, Double(seq) / best / t))
        }
    }
}
