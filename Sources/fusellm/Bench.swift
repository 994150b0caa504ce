import ArgumentParser
import FuseTensor
import Foundation
import Llama
import Training

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks, reported as ratios against references measured in the same run.",
        subcommands: [BenchTrain.self, BenchInfer.self, BenchTokenize.self, BenchAlign.self, BenchDump.self, BenchDumpEncodings.self])
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training-step throughput, SGEMM share, model FLOPs utilisation and peak memory.")

    @Option var vocab = 8192
    @Option var hidden = 256
    @Option var intermediate = 704
    @Option var layers = 4
    @Option var heads = 8
    @Option var kvHeads = 4
    @Option var seq = 256
    @Option var batch = 4
    @Option(help: "Timed steps.") var steps = 5
    @Option(help: "Untimed warm-up steps.") var warmup = 2
    @Flag(help: "Also run scripts/bench-train-torch.py (PyTorch, same threads) and print the speed ratio.")
    var torch = false
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var precision: PrecisionOption

    func validate() throws {
        guard steps >= 1, warmup >= 0 else { throw ValidationError("--steps must be at least 1 and --warmup at least 0") }
    }

    func run() throws {
        compute.apply()
        let config = LlamaConfig(vocabSize: vocab, hiddenSize: hidden, intermediateSize: intermediate, numLayers: layers,
                                 numHeads: heads, numKVHeads: kvHeads, maxPositionEmbeddings: max(seq, 2048))
        try config.validate(source: "bench options")
        let chosen = try precision.checked()
        let model = LlamaModel.randomlyInitialized(config: config, seed: 1)
        model.precision = chosen
        let optimizer = AdamW(parameterCount: model.layout.totalCount, hyper: .init())
        var rng = SeededRandom(seed: 7)
        let ids = (0..<(batch * seq)).map { _ in Int32(rng.next() % UInt64(vocab)) }
        var targets = ids
        for b in 0..<batch {
            for t in 0..<seq { targets[b * seq + t] = t + 1 < seq ? ids[b * seq + t + 1] : -1 }
        }
        // The step the trainer takes, and the one scripts/bench-train-torch.py times: forward, backward,
        // gradient clipping, AdamW.
        func step() {
            model.zeroGradients()
            _ = model.forwardBackward(ids: ids, targets: targets, batch: batch, seqLen: seq)
            let norm = GradientClipping.norm(model.gradients!)
            optimizer.update(parameters: model.parameters, gradients: model.gradients!, layout: model.layout, lr: 1e-4,
                             gradientScale: GradientClipping.scale(norm: norm, maxNorm: 1.0))
            model.parametersChanged()
        }
        for _ in 0..<warmup { step() }
        // The SGEMM rate is taken before and after the steps (best of both), so a slow spell of a shared
        // machine during one of them does not skew the utilisation.
        let peakBefore = Self.peakSgemmGflops(size: 1024)
        BLAS.resetProfile()
        BLAS.profiling = true
        var stepTimes: [Double] = []
        for _ in 0..<steps {
            let start = DispatchTime.now().uptimeNanoseconds
            step()
            stepTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        BLAS.profiling = false
        let profile = BLAS.currentProfile()
        let meanSeconds = stepTimes.reduce(0, +) / Double(steps)
        // The median step (as the PyTorch script reports, with statistics.median) is robust to one step hit by
        // another process.
        let sorted = stepTimes.sorted()
        let seconds = (sorted[(steps - 1) / 2] + sorted[steps / 2]) / 2

        let tokens = Double(batch * seq)
        let linearParams = Double(model.layout.totalCount - vocab * hidden * (config.tieWordEmbeddings ? 0 : 1)
                                  - (config.numLayers * 2 + 1) * hidden)
        // Training FLOPs = 3 × forward (PaLM's convention: attention counted without the causal saving).
        let forwardFlops = 2 * tokens * linearParams + 4 * Double(batch * heads * seq * seq * config.headDim * layers)
        let modelFlops = 3 * forwardFlops
        let achieved = modelFlops / seconds / 1e9
        let peak = max(peakBefore, Self.peakSgemmGflops(size: 1024))
        let rss = Self.peakResidentMB()
        let lowerBoundMB = Double(model.layout.totalCount * 4 * 4) / 1_048_576  // params + grads + 2 moments

        var result: [String: Any] = [
            "impl": "fusellm", "precision": model.precision.rawValue, "threads": Parallel.threads, "tokens_per_s": tokens / seconds, "step_s": seconds,
            "step_s_mean": meanSeconds,
            "sgemm_share": profile.seconds / Double(steps) / meanSeconds,
            "model_gflops": achieved, "sgemm_peak_gflops": peak, "mfu": achieved / peak,
            "executed_gemm_gflops": profile.flops / Double(steps) / meanSeconds / 1e9,
            "peak_rss_mb": rss, "state_lower_bound_mb": lowerBoundMB,
            "parameters": model.layout.totalCount,
            "config": ["vocab": vocab, "hidden": hidden, "intermediate": intermediate, "layers": layers,
                       "heads": heads, "kv_heads": kvHeads, "seq": seq, "batch": batch],
        ]
        if torch {
            for (key, _, extra) in Self.torchConfigurations {
                guard let reference = Self.runTorch(self, extra) else { continue }
                result["\(key)_tokens_per_s"] = reference
                result["speedup_vs_\(key)"] = tokens / seconds / reference
            }
        }
        if json {
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(String(format: """
            fusellm bench train  (%@, %d threads, %.2fM params, batch %d × seq %d)
              step time (median)   %8.3f s
              tokens/s             %8.0f
              SGEMM share of time  %8.1f %%
              model GFLOP/s        %8.2f
              SGEMM peak GFLOP/s   %8.2f  (OpenBLAS 1024³ in this run)
              MFU vs SGEMM peak    %8.1f %%
              peak RSS             %8.0f MB  (params+grads+AdamW lower bound %.0f MB)
            """, model.precision.rawValue, Parallel.threads, Double(model.layout.totalCount) / 1e6, batch, seq, seconds, tokens / seconds,
            100 * profile.seconds / Double(steps) / meanSeconds, achieved, peak, 100 * achieved / peak, rss, lowerBoundMB))
        for (key, label, _) in Self.torchConfigurations {
            if let t = result["\(key)_tokens_per_s"] as? Double {
                print(String(format: "  %@ tokens/s %8.0f  → fusellm is %.2f×", label.padding(toLength: 28, withPad: " ", startingAt: 0),
                             t, tokens / seconds / t))
            }
        }
    }

    /// The SGEMM rate OpenBLAS reaches on square matrices with the configured threads.
    static func peakSgemmGflops(size n: Int) -> Double {
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        var rng = SeededRandom(seed: 3)
        rng.fillNormal(a.pointer, count: n * n, std: 1)
        rng.fillNormal(b.pointer, count: n * n, std: 1)
        BLAS.gemm(transA: false, transB: false, m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
        var best = 0.0
        for _ in 0..<5 {
            let start = DispatchTime.now().uptimeNanoseconds
            BLAS.gemm(transA: false, transB: false, m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
            let s = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            best = max(best, 2 * Double(n * n * n) / s / 1e9)
        }
        return best
    }

    static func peakResidentMB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }

    /// PyTorch's CPU configurations a user picks (JSON key, label, bench-train-torch.py options): eager fp32 (the
    /// exactness reference), fp32 with sdpa attention, and bf16 autocast with sdpa (its fastest).
    static let torchConfigurations: [(key: String, label: String, options: [String])] = [
        ("torch", "PyTorch eager fp32", []),
        ("torch_sdpa", "PyTorch sdpa fp32", ["--attn", "sdpa"]),
        ("torch_bf16_sdpa", "PyTorch bf16 autocast+sdpa", ["--attn", "sdpa", "--autocast", "bf16"]),
    ]

    static func runTorch(_ b: BenchTrain, _ extra: [String]) -> Double? {
        runPythonReference("scripts/bench-train-torch.py", extra + [
            "--threads", "\(Parallel.threads)", "--steps", "\(b.steps)",
            "--warmup", "\(b.warmup)", "--vocab", "\(b.vocab)", "--hidden", "\(b.hidden)",
            "--intermediate", "\(b.intermediate)", "--layers", "\(b.layers)", "--heads", "\(b.heads)",
            "--kv-heads", "\(b.kvHeads)", "--seq", "\(b.seq)", "--batch", "\(b.batch)"])?["tokens_per_s"] as? Double
    }
}

/// Runs a Python reference script from scripts/ and returns the JSON object on its last stdout line,
/// or nil (with a note on stderr) when it cannot run, e.g. without PyTorch.
func runPythonReference(_ script: String, _ arguments: [String]) -> [String: Any]? {
    guard FileManager.default.fileExists(atPath: script) else {
        FileHandle.standardError.write(Data("bench: \(script) not found (run from the repository root)\n".utf8))
        return nil
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", script] + arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    do { try p.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0,
          let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
          let obj = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
        FileHandle.standardError.write(Data("bench: the reference \(script) did not run (are its Python packages installed?)\n".utf8))
        return nil
    }
    return obj
}
