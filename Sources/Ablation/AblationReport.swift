import Foundation

/// results.csv (one row per run), results.md (arms aggregated over seeds) and the two plots.
public struct AblationReport {
    public let results: [RunResult]
    /// Runs grouped by name, in the order they first appear.
    public let groups: [(name: String, runs: [RunResult])]
    public let domains: [String]
    public let reference: String?

    public init(results: [RunResult], compareTo: String?) {
        self.results = results
        var order: [String] = [], byName: [String: [RunResult]] = [:]
        for r in results {
            if byName[r.name] == nil { order.append(r.name) }
            byName[r.name, default: []].append(r)
        }
        groups = order.map { ($0, byName[$0]!) }
        domains = Set(results.flatMap(\.domainPerplexity.keys)).sorted()
        reference = compareTo ?? groups.first { $0.runs.first?.kind == "trained" }?.name ?? groups.first?.name
    }

    /// Mean and sample standard deviation (0 for one value).
    public struct Summary {
        public let mean: Double, sd: Double, n: Int
        public init(_ values: [Double]) {
            let n = values.count, mean = values.reduce(0, +) / Double(max(values.count, 1))
            self.n = n
            self.mean = mean
            sd = n > 1 ? (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)).squareRoot() : 0
        }
        /// Standard error of the mean.
        public var se: Double { sd / Double(max(n, 1)).squareRoot() }
        public func text(_ format: String = "%.2f") -> String {
            n > 1 ? String(format: "\(format) ± \(format)", mean, sd) : String(format: format, mean)
        }
    }

    public func perplexity(_ runs: [RunResult], domain: String? = nil) -> Summary {
        Summary(runs.compactMap { domain == nil ? $0.perplexity : $0.domainPerplexity[domain!] })
    }

    // MARK: CSV

    static let settingColumns = ["fusion", "vocab_map", "lambda", "top_k", "sources", "fusion_metric", "alignment"]

    public func csv() -> String {
        var header = ["name", "kind", "seed"] + Self.settingColumns + ["steps", "final_clm_loss", "perplexity", "bits_per_byte", "tokens"]
        header += domains.map { "perplexity:\($0)" }
        var lines = [header.map(Self.csvField).joined(separator: ",")]
        for r in results {
            var row = [r.name, r.kind, r.seed.map(String.init) ?? ""]
            row += Self.settingColumns.map { r.settings[$0] ?? "" }
            row += [r.steps.map(String.init) ?? "", r.finalCLMLoss.map { String(format: "%.6f", $0) } ?? "",
                    String(format: "%.6f", r.perplexity), String(format: "%.6f", r.bitsPerByte), String(r.tokens)]
            row += domains.map { d in r.domainPerplexity[d].map { String(format: "%.6f", $0) } ?? "" }
            lines.append(row.map(Self.csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    // MARK: Markdown

    public func markdown() -> String {
        var out = "# Ablation results\n\n"
        out += "Held-out perplexity (lower is better): mean ± sample standard deviation over seeds (n = runs). "
        if let reference {
            out += "Δ compares with **\(reference)**. Runs with the same seed see the blocks in the same order, so where "
                + "both have seeds Δ is paired: the mean ± sd over seeds of each seed's relative change, and \"beyond noise\" "
                + "means |mean| > 2·sd/√n. Otherwise (a baseline evaluated once) Δ is the change of the means and \"beyond "
                + "noise\" means it exceeds twice the standard error √(sd²/n + sd_ref²/n_ref). A model with another tokenizer "
                + "has no Δ: compare bits per byte.\n\n"
        }
        out += "| run | kind | fusion | vocab map | λ | k | sources | metric | alignment | n | final CLM loss | perplexity | Δ | beyond noise | bits/byte |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        let refRuns = referenceRuns
        let ref = refRuns.map { perplexity($0) }
        for g in groups {
            let first = g.runs[0]
            let ppl = perplexity(g.runs)
            let loss = Summary(g.runs.compactMap(\.finalCLMLoss))
            var delta = "", noise = ""
            if let ref, let refRuns, g.name != reference {
                if !sharesReferenceTokenizer(g.runs) {
                    delta = "(other tokenizer)"
                } else if let paired = Self.pairedChange(g.runs, against: refRuns) {
                    delta = paired.n > 1 ? String(format: "%+.2f%% ± %.2f", paired.mean, paired.sd) : String(format: "%+.2f%%", paired.mean)
                    noise = paired.n > 1 ? (abs(paired.mean) > 2 * paired.se ? "yes" : "no") : ""
                } else {
                    delta = String(format: "%+.2f%%", (ppl.mean / ref.mean - 1) * 100)
                    let se = (ppl.se * ppl.se + ref.se * ref.se).squareRoot()
                    noise = ppl.n > 1 || ref.n > 1 ? (abs(ppl.mean - ref.mean) > 2 * se ? "yes" : "no") : ""
                }
            }
            let cells = [g.name, first.kind] + Self.settingColumns.map { first.settings[$0] ?? "" }
                + [String(g.runs.count), loss.n > 0 ? loss.text("%.4f") : "", ppl.text("%.3f"), delta, noise,
                   Summary(g.runs.map(\.bitsPerByte)).text("%.4f")]
            out += "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |\n"
        }
        if !domains.isEmpty {
            out += "\n## Perplexity per domain\n\n| run | " + domains.joined(separator: " | ") + " |\n"
            out += "|---|" + String(repeating: "---|", count: domains.count) + "\n"
            for g in groups {
                out += "| \(g.name) | " + domains.map { perplexity(g.runs, domain: $0).text("%.2f") }.joined(separator: " | ") + " |\n"
            }
        }
        let fused = groups.compactMap { g -> (run: String, sources: [FusionSourceSummary])? in
            let runs = g.runs.compactMap(\.fusion)
            return runs.isEmpty ? nil : (g.name, FusionSummary.mean(runs))
        }
        if !fused.isEmpty {
            out += "\n## What the fusion did\n\nPer fused arm (mean over seeds) and source, the target's own first: the blocks on "
                + "which the source had the largest weight (MinCE: was chosen) and its mean weight; its mean ce on the blocks "
                + "(nats per own token); the share of target positions DTW paired one-to-one with a matching source token; "
                + "of its top-k entries there, the shares mapped to the target vocabulary by exact match, by edit distance "
                + "(MinED), or dropped (no target token under EM, or a target id already in the row).\n\n"
            out += FusionSummary.markdownTable(fused)
        }
        out += "\nPlots: [loss curves](loss-curves.svg), [perplexity per domain](perplexity-by-domain.svg). "
        out += "Every run: results.csv.\n"
        return out
    }

    /// Per-seed relative change in % (runs matched by seed), when both sides have at least one seed in common.
    public static func pairedChange(_ runs: [RunResult], against reference: [RunResult]) -> Summary? {
        let bySeed = Dictionary(reference.compactMap { r in r.seed.map { ($0, r.perplexity) } }, uniquingKeysWith: { a, _ in a })
        let changes = runs.compactMap { r in r.seed.flatMap { bySeed[$0] }.map { (r.perplexity / $0 - 1) * 100 } }
        return changes.isEmpty ? nil : Summary(changes)
    }

    // MARK: plots

    /// CLM loss against step for every trained arm (the mean over its seeds, smoothed over 10 steps); below it, the
    /// same curves minus the reference arm's, where arms that overlap on the first chart come apart.
    public func lossCurvesSVG() -> String {
        let series: [SVGChart.Series] = groups.compactMap { g in
            let seeds = g.runs.filter { !$0.clmLossCurve.isEmpty }.count
            guard seeds > 0 else { return nil }
            return SVGChart.Series(name: "\(g.name) (\(seeds) seed\(seeds == 1 ? "" : "s"))",
                                   points: Self.smoothedMean(g.runs.flatMap { $0.clmLossCurve.map { ($0[0], $0[1]) } }))
        }
        var charts = [SVGChart.LineChart(title: "Training CLM loss (mean over seeds, 10-step moving average)",
                                         yLabel: "CLM loss", series: series)]
        if let reference, let refRuns = referenceRuns {
            // Paired by seed, as in results.md: each seed's curve minus the reference's curve at that seed.
            let refCurve = Dictionary(refRuns.compactMap { r in r.seed.map { ($0, Dictionary(r.clmLossCurve.map { ($0[0], $0[1]) }, uniquingKeysWith: { a, _ in a })) } },
                                      uniquingKeysWith: { a, _ in a })
            let differences: [SVGChart.Series] = groups.compactMap { g in
                let points = g.runs.flatMap { r -> [(Double, Double)] in
                    guard let seed = r.seed, let base = refCurve[seed] else { return [] }
                    return r.clmLossCurve.compactMap { p in base[p[0]].map { (p[0], p[1] - $0) } }
                }
                return points.isEmpty ? nil : SVGChart.Series(name: g.name, points: Self.smoothedMean(points))
            }
            charts.append(SVGChart.LineChart(title: "CLM loss minus \(reference)'s at the same seed (below 0: lower than \(reference))",
                                             yLabel: "Δ CLM loss", series: differences))
        }
        return SVGChart.lines(charts, xLabel: "step")
    }

    /// The mean of the values logged at each step (over seeds), smoothed over 10 steps.
    static func smoothedMean(_ points: [(Double, Double)]) -> [(Double, Double)] {
        var byStep: [Double: [Double]] = [:]
        for (step, value) in points { byStep[step, default: []].append(value) }
        let steps = byStep.keys.sorted()
        let mean = steps.map { byStep[$0]!.reduce(0, +) / Double(byStep[$0]!.count) }
        return Array(zip(steps, SVGChart.movingAverage(mean, window: 10)))
    }

    var referenceRuns: [RunResult]? { reference.flatMap { name in groups.first { $0.name == name }?.runs } }

    /// Another tokenizer cuts the same text into another number of tokens: perplexities do not compare with the
    /// reference's (bits per byte do).
    func sharesReferenceTokenizer(_ runs: [RunResult]) -> Bool {
        guard let ref = referenceRuns?.first, let first = runs.first else { return true }
        return first.tokens == ref.tokens
    }

    /// One panel per domain (and all data): each run's mean perplexity, with its seed spread as an error bar.
    public func perplexityByDomainSVG() -> String {
        // Runs with another tokenizer are left out; results.md lists their bits per byte.
        let comparable = groups.filter { sharesReferenceTokenizer($0.runs) }
        let panels = (["all"] + domains).map { d in
            SVGChart.BarPanel(title: d, bars: comparable.map { g in
                let s = perplexity(g.runs, domain: d == "all" ? nil : d)
                return (g.name, s.mean, s.sd)
            }.filter { $0.1.isFinite && $0.1 > 0 })
        }
        let left = groups.count - comparable.count
        return SVGChart.barPanels(panels, title: "Held-out perplexity per domain (mean ± sd over seeds; axes do not start at 0"
                                    + (left > 0 ? "; \(left) run\(left == 1 ? "" : "s") with another tokenizer left out)" : ")"))
    }
}
