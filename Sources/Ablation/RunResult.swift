import FuseFormats
import Foundation

/// What one finished run (an arm at one seed, or a baseline) leaves in its `result.json`: its settings, held-out
/// perplexity overall and per domain, and its training curve. A run with a result.json is not run again.
public struct RunResult: Codable, Equatable, Sendable {
    public var name: String
    /// "trained", "ensemble", "merge" or "model".
    public var kind: String
    public var seed: UInt64?
    /// results.csv's setting columns (fusion, vocab_map, lambda, top_k, sources).
    public var settings: [String: String]
    /// What produced it (the train or eval arguments); a different signature under the same name is refused.
    public var signature: String
    public var perplexity: Double
    public var bitsPerByte: Double
    public var tokens: Int
    public var domainPerplexity: [String: Double]
    public var domainBitsPerByte: [String: Double]
    /// Training steps and (step, CLM loss) per logged step; empty for baselines.
    public var steps: Int?
    public var clmLossCurve: [[Double]]
    public var seconds: Double
    /// Per-source fusion statistics of a fused run (nil for CLM-only runs, baselines and older results).
    public var fusion: [FusionSourceSummary]?

    public var finalCLMLoss: Double? { clmLossCurve.last?[1] }

    public init(name: String, kind: String, seed: UInt64?, settings: [String: String], signature: String, perplexity: Double,
                bitsPerByte: Double, tokens: Int, domainPerplexity: [String: Double], domainBitsPerByte: [String: Double],
                steps: Int?, clmLossCurve: [[Double]], seconds: Double, fusion: [FusionSourceSummary]? = nil) {
        self.name = name
        self.kind = kind
        self.seed = seed
        self.settings = settings
        self.signature = signature
        self.perplexity = perplexity
        self.bitsPerByte = bitsPerByte
        self.tokens = tokens
        self.domainPerplexity = domainPerplexity
        self.domainBitsPerByte = domainBitsPerByte
        self.steps = steps
        self.clmLossCurve = clmLossCurve
        self.seconds = seconds
        self.fusion = fusion
    }

    public static func read(_ url: URL) throws -> RunResult {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FormatError(url: url, "cannot read (\(FormatError.reason(error)))")
        }
        do { return try JSONDecoder().decode(RunResult.self, from: data) } catch {
            throw FormatError(url: url, "not a run result (\(error)); delete it to run this arm again")
        }
    }

    public func write(_ url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: url, options: .atomic)
    }
}

/// Reads what `fusellm eval --json-output` and `fusellm train` (metrics.jsonl) wrote.
enum RunFiles {
    struct Evaluation {
        var perplexity: Double, bitsPerByte: Double, tokens: Int
        var domainPerplexity: [String: Double] = [:], domainBitsPerByte: [String: Double] = [:]
    }

    static func evaluation(_ url: URL) throws -> Evaluation {
        guard let data = try? Data(contentsOf: url),
              let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = (top["models"] as? [[String: Any]])?.first,
              let ppl = model["perplexity"] as? Double, let bpb = model["bits_per_byte"] as? Double,
              let tokens = model["tokens"] as? Int else {
            throw FormatError(url: url, "not an evaluation written by fusellm eval --json-output")
        }
        var e = Evaluation(perplexity: ppl, bitsPerByte: bpb, tokens: tokens)
        for (domain, value) in model["domains"] as? [String: [String: Any]] ?? [:] {
            e.domainPerplexity[domain] = value["perplexity"] as? Double
            e.domainBitsPerByte[domain] = value["bits_per_byte"] as? Double
        }
        return e
    }

    /// (step, CLM loss) of every logged, non-skipped step: `clm_loss` in fused runs, `loss` in CLM-only ones.
    static func clmLossCurve(_ url: URL) throws -> [[Double]] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw FormatError(url: url, "cannot read the training metrics")
        }
        var curve: [[Double]] = []
        for line in text.split(separator: "\n") {
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  record["skipped"] == nil, let step = record["step"] as? Int,
                  let loss = (record["clm_loss"] ?? record["loss"]) as? Double else { continue }
            curve.append([Double(step), loss])
        }
        return curve
    }
}
