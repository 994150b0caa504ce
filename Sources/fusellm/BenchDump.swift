import Models
import ArgumentParser
import FuseCorpus
import FuseTensor
import Foundation
import Fusion
import Llama

struct BenchDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Teacher-dump throughput (tokens/s), bytes per token on disk per encoding, and the encodings' error.")

    @Option(help: "HF checkpoint directory or .gguf file.") var model = "checkpoints/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(help: "Corpus the texts come from.") var data = "data/sample/minipile/validation-00000-of-00001.parquet"
    @Option(help: "Documents to prepare (each cut into texts of at most --max-text-tokens).") var documents = 2
    @Option(help: "Longest text, in tokens.") var maxTextTokens = 512
    @Option(help: "Entries kept per position.") var k = 10
    @Flag(inversion: .prefixedNo, help: "Run scripts/bench-dump-torch.py (transformers, same texts and threads) when PyTorch is installed.")
    var torch = true
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var precision: PrecisionOption

    func run() throws {
        compute.apply()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fusellm-bench-dump-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        do { try bench(scratch) } catch { throw CleanExit(error) }
    }

    private func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }

    private func bench(_ scratch: URL) throws {
        let chosen = try precision.checked()
        let pretrained = try PretrainedModel.load(path: model)
        pretrained.model.precision = chosen
        var prep = PrepareOptions()
        prep.maxTextTokens = maxTextTokens
        prep.limitDocuments = documents
        prep.blockSize = 128
        let preparedURL = scratch.appendingPathComponent("prepared")
        try PreparedCorpusWriter(corpus: Corpus(paths: [data]), target: pretrained.tokenizer, targetSource: model, also: [],
                                 options: prep, output: preparedURL).run()
        let prepared = try PreparedCorpus(directory: preparedURL)
        var options = DumpOptions()
        options.k = k
        options.encoding = .f32
        options.textsPerShard = prepared.textCount
        let runner = try DumpRunner(prepared: prepared, model: pretrained, sourceName: model,
                                    output: scratch.appendingPathComponent("dump"), options: options)
        let ids = try (0..<prepared.textCount).map { try runner.sourceTokens(ofText: $0) }
        let tokens = ids.reduce(0) { $0 + $1.count }
        _ = try runner.teacherBlock(text: prepared.textCount - 1)  // warm-up (allocates a workspace)

        // Compute only (forward + top-k + ce), the part the PyTorch reference also does; then the whole dump.
        var start = DispatchTime.now().uptimeNanoseconds
        let exact = try (0..<prepared.textCount).map { try runner.teacherBlock(text: $0) }
        let computeSeconds = seconds(since: start)
        start = DispatchTime.now().uptimeNanoseconds
        try runner.run()
        let dumpSeconds = seconds(since: start)

        var encodings: [[String: Any]] = []
        for encoding in ValueEncoding.allCases {
            let url = scratch.appendingPathComponent("bench-\(encoding.rawValue).fzst")
            try TeacherShard.write(exact, encoding: encoding, to: url)
            let reader = try TeacherShard.Reader(url: url)
            let bytes = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
            var worst: Float = 0
            for (i, e) in exact.enumerated() {
                let b = try reader.block(at: i, encoding: encoding)
                worst = max(worst, Self.maxError(b, e))
            }
            encodings.append(["encoding": encoding.rawValue, "bytes": bytes,
                              "bytes_per_token": Double(bytes) / Double(tokens), "bytes_per_entry": Double(bytes) / Double(tokens * k),
                              "max_logprob_error": Double(worst)])
        }
        let vocab = pretrained.model.vocabSize
        var result: [String: Any] = [
            "impl": "fusellm", "model": pretrained.source, "threads": Parallel.threads, "k": k, "texts": prepared.textCount,
            "tokens": tokens, "compute_tokens_per_s": Double(tokens) / computeSeconds,
            "dump_tokens_per_s": Double(tokens) / dumpSeconds, "encodings": encodings,
            "naive_topk_f32_bytes_per_token": 8 * k, "dense_f32_bytes_per_token": 4 * vocab,
        ]
        // A model that wants BOS (Gemma) sees it on both sides; the reference drops BOS's row as the dump does.
        let bos = pretrained.prependedBOS
        if torch, let ref = runTorch(ids.map { text in bos.map { [$0] + text } ?? text }, dropFirst: bos != nil, scratch: scratch) {
            let tps = ref["tokens_per_s"] as? Double ?? .nan
            result["torch_tokens_per_s"] = tps
            result["speedup_vs_torch"] = Double(tokens) / computeSeconds / tps
            if let topIDs = ref["top_ids"] as? [[[Int]]], let topLP = ref["top_logprobs"] as? [[[Double]]] {
                result["max_logprob_diff_vs_torch"] = Self.maxDifference(exact, topIDs, topLP)
            }
        }
        if json {
            print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
            return
        }
        print(String(format: """
            fusellm bench dump  (%d threads, %@, k = %d, %d texts, %d tokens)
              forward + top-k + ce   %8.1f tokens/s
              whole dump (f32)       %8.1f tokens/s  (+ encode, zstd, write, read-back check)
            """, Parallel.threads, (pretrained.source as NSString).lastPathComponent, k, prepared.textCount, tokens,
            Double(tokens) / computeSeconds, Double(tokens) / dumpSeconds))
        if let t = result["torch_tokens_per_s"] as? Double {
            print(String(format: "  transformers            %8.1f tokens/s  → fusellm is %.2f× transformers", t, Double(tokens) / computeSeconds / t))
        }
        if let d = result["max_logprob_diff_vs_torch"] as? Double {
            print(String(format: "  max |Δ log p| vs transformers (f32, shared top-k ids)  %.2e", d))
        }
        print("  bytes per token on disk (per kept entry):")
        for e in encodings {
            print(String(format: "    %-4@  %7.2f  (%5.2f)   max |Δ log p| %.2e", e["encoding"] as! String, e["bytes_per_token"] as! Double,
                         e["bytes_per_entry"] as! Double, e["max_logprob_error"] as! Double))
        }
        print(String(format: "    naive top-k (k int32 ids + k float32)  %d\n    dense float32 logits (vocab %d)        %d",
                     8 * k, vocab, 4 * vocab))
    }

    /// Largest |Δ log p| between two decodings of the same block, entry by entry (same ids, matched by id).
    static func maxError(_ a: TeacherText, _ b: TeacherText) -> Float {
        var worst: Float = 0
        for p in 0..<a.tokens.count {
            for j in 0..<a.k {
                let id = a.topIDs[p * a.k + j]
                guard let m = (0..<b.k).first(where: { b.topIDs[p * b.k + $0] == id }) else { return .infinity }
                worst = max(worst, abs(a.topLogProbs[p * a.k + j] - b.topLogProbs[p * b.k + m]))
            }
        }
        return worst
    }

    /// Largest |Δ log p| against the reference's top-k, over the ids both kept at a position.
    static func maxDifference(_ blocks: [TeacherText], _ ids: [[[Int]]], _ values: [[[Double]]]) -> Double {
        var worst = 0.0
        for (t, b) in blocks.enumerated() where t < ids.count {
            for p in 0..<min(b.tokens.count, ids[t].count) {
                for (j, id) in ids[t][p].enumerated() {
                    if let m = (0..<b.k).first(where: { Int(b.topIDs[p * b.k + $0]) == id }) {
                        worst = max(worst, abs(Double(b.topLogProbs[p * b.k + m]) - values[t][p][j]))
                    }
                }
            }
        }
        return worst
    }

    private func runTorch(_ ids: [[Int32]], dropFirst: Bool, scratch: URL) -> [String: Any]? {
        let file = scratch.appendingPathComponent("ids.json")
        guard let data = try? JSONSerialization.data(withJSONObject: ids.map { $0.map(Int.init) }), (try? data.write(to: file)) != nil else { return nil }
        return runPythonReference("scripts/bench-dump-torch.py", [
            "--model", model, "--ids-file", file.path, "--threads", "\(Parallel.threads)", "--k", "\(k)"]
            + (dropFirst ? ["--bos-first"] : []))
    }
}
