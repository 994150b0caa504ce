import FuseFormats
import Foundation

/// One source's fusion statistics over a whole training run, summed from the `fusion` entries of its
/// metrics.jsonl (written per logged step by fusellm train; docs/fusion.md).
public struct FusionSourceSummary: Codable, Equatable, Sendable {
    public var name: String
    /// Blocks fused, and those on which this source had the largest weight (MinCE: the blocks it was chosen on).
    public var blocks: Int
    public var chosen: Int
    /// Mean weight over blocks (MinCE: the share of blocks it was chosen on; AvgCE: its mean softmax weight).
    public var weight: Double
    /// Mean block ce (nats per token, the source's own tokens), what MinCE and AvgCE rank sources by.
    public var ce: Double
    /// Share of target rows that took this source's row (DTW one-to-one with a matching token).
    public var oneToOne: Double
    /// Shares of this source's top-k entries on those rows mapped by exact match, by edit distance, or dropped.
    public var exact: Double
    public var edited: Double
    public var dropped: Double

    public init(name: String, blocks: Int, chosen: Int, weight: Double, ce: Double, oneToOne: Double, exact: Double,
                edited: Double, dropped: Double) {
        self.name = name
        self.blocks = blocks
        self.chosen = chosen
        self.weight = weight
        self.ce = ce
        self.oneToOne = oneToOne
        self.exact = exact
        self.edited = edited
        self.dropped = dropped
    }

    public var chosenShare: Double { blocks > 0 ? Double(chosen) / Double(blocks) : 0 }
}

public enum FusionSummary {
    /// The run's per-source summary, in source order (the target's own first); nil when the run fused nothing
    /// (CLM-only, or metrics written before fusion statistics existed).
    public static func read(metrics url: URL) throws -> [FusionSourceSummary]? {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw FormatError(url: url, "cannot read the training metrics")
        }
        struct Sums { var blocks = 0, chosen = 0, weight = 0.0, ce = 0.0, rows = 0.0, oneToOne = 0.0,
                      entries = 0.0, exact = 0.0, edited = 0.0, dropped = 0.0 }
        var names: [String] = [], sums: [String: Sums] = [:]
        for (i, line) in text.split(separator: "\n").enumerated() {
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let fusion = record["fusion"] as? [String: Any] else { continue }
            guard let blocks = fusion["blocks"] as? Int, let sources = fusion["sources"] as? [[String: Any]] else {
                throw FormatError(url: url, item: "line \(i + 1)", "a fusion entry without blocks and sources")
            }
            guard blocks > 0 else { continue }
            for s in sources {
                guard let name = s["name"] as? String else {
                    throw FormatError(url: url, item: "line \(i + 1)", "a fusion source without a name")
                }
                func number(_ key: String) throws -> Double {
                    guard let v = s[key] as? Double ?? (s[key] as? Int).map(Double.init) else {
                        throw FormatError(url: url, item: "line \(i + 1)", "fusion source \(name) has no number \(key)")
                    }
                    return v
                }
                if sums[name] == nil { names.append(name) }
                var t = sums[name] ?? Sums()
                let b = Double(blocks), rows = try number("rows"), entries = try number("entries")
                t.blocks += blocks
                t.chosen += Int(try number("chosen"))
                t.weight += try number("weight") * b
                t.ce += try number("ce") * b
                t.rows += rows
                t.oneToOne += try number("one_to_one") * rows
                t.entries += entries
                t.exact += try number("exact") * entries
                t.edited += try number("edited") * entries
                t.dropped += try number("dropped") * entries
                sums[name] = t
            }
        }
        guard !names.isEmpty else { return nil }
        return names.map { name in
            let t = sums[name]!
            func share(_ a: Double, _ b: Double) -> Double { b > 0 ? a / b : 0 }
            return FusionSourceSummary(name: name, blocks: t.blocks, chosen: t.chosen, weight: share(t.weight, Double(t.blocks)),
                                       ce: share(t.ce, Double(t.blocks)), oneToOne: share(t.oneToOne, t.rows),
                                       exact: share(t.exact, t.entries), edited: share(t.edited, t.entries),
                                       dropped: share(t.dropped, t.entries))
        }
    }

    /// A Markdown table of one run's (or an arm's, averaged over seeds) per-source statistics.
    public static func markdownTable(_ rows: [(run: String, sources: [FusionSourceSummary])]) -> String {
        var out = "| run | source | chosen (blocks) | mean weight | mean block ce | rows one-to-one | entries exact | by edit distance | dropped |\n"
        out += "|---|---|---|---|---|---|---|---|---|\n"
        for (run, sources) in rows {
            for s in sources {
                out += "| \(run) | \(s.name) | " + String(format: "%.1f%% (%d)", 100 * s.chosenShare, s.chosen)
                    + String(format: " | %.3f | %.3f | %.1f%% | %.1f%% | %.1f%% | %.1f%% |\n", s.weight, s.ce, 100 * s.oneToOne,
                             100 * s.exact, 100 * s.edited, 100 * s.dropped)
            }
        }
        return out
    }

    /// The mean over several runs of the same arm (seeds), source by source (sources matched by name).
    public static func mean(_ runs: [[FusionSourceSummary]]) -> [FusionSourceSummary] {
        guard let first = runs.first else { return [] }
        return first.map { s in
            let same = runs.compactMap { $0.first { $0.name == s.name } }
            let n = Double(same.count)
            func avg(_ k: KeyPath<FusionSourceSummary, Double>) -> Double { same.reduce(0) { $0 + $1[keyPath: k] } / n }
            return FusionSourceSummary(name: s.name, blocks: same.reduce(0) { $0 + $1.blocks }, chosen: same.reduce(0) { $0 + $1.chosen },
                                       weight: avg(\.weight), ce: avg(\.ce), oneToOne: avg(\.oneToOne), exact: avg(\.exact),
                                       edited: avg(\.edited), dropped: avg(\.dropped))
        }
    }
}
