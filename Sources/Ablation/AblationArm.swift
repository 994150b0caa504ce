import FuseFormats
import Foundation

/// One trained arm of an ablation: a fusion setting, continued from the same target on the same prepared blocks
/// (run once per seed).
public struct AblationArm: Equatable, Sendable {
    public var name: String
    public var fusion: String
    public var vocabMap: String
    public var lambda: Double
    /// nil: every entry each dump holds.
    public var topK: Int?
    /// Source names (the target's own dump comes on top of them in every fusion arm).
    public var sources: [String]
    /// How MinCE/AvgCE score a source: ce (the reference) or bits-per-byte.
    public var fusionMetric: String = "ce"
    /// How source positions are paired with the target's: dtw (the reference) or offsets.
    public var alignment: String = "dtw"

    /// CLM-only continual training: no teachers at all.
    public var isCLMOnly: Bool { ["clm", "none"].contains(fusion.lowercased()) }

    /// FuseChat's pairwise fuse-then-merge (`pairwise-METHOD`): one fused copy of the target per source (MinCE
    /// between the target and that source), then the copies merged by METHOD (sce, ties, linear, …) from the target.
    public var pairwiseMerge: String? {
        let f = fusion.lowercased()
        return f.hasPrefix("pairwise-") ? String(f.dropFirst("pairwise-".count)) : nil
    }

    /// The fused copy of a pairwise arm for one source: an ordinary MinCE arm of that source alone.
    public func pairCopy(source: String) -> AblationArm {
        var copy = self
        copy.fusion = "mince"
        copy.sources = [source]
        copy.name = "\(name)-pair-\(source)"
        return copy
    }

    /// The settings as results.csv columns (empty where the arm does not use them).
    public var settings: [(String, String)] {
        if isCLMOnly { return [("fusion", "clm"), ("vocab_map", ""), ("lambda", "1"), ("top_k", ""), ("sources", ""), ("fusion_metric", ""), ("alignment", "")] }
        return [("fusion", fusion), ("vocab_map", vocabMap), ("lambda", Self.format(lambda)),
                ("top_k", topK.map(String.init) ?? "all"), ("sources", sources.joined(separator: "+")), ("fusion_metric", fusionMetric),
                ("alignment", alignment)]
    }

    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e6 ? String(Int(x)) : String(x)
    }

    /// The tool's defaults: a name leaves out the settings that keep them, so adding a value to a grid
    /// dimension later names only the new arms differently and finished arms keep their runs.
    static let defaultParts = ["vocab_map": "mined", "lambda": "l0.9", "top_k": "kall", "fusion_metric": "ce", "alignment": "dtw"]

    /// The fusion function, then each setting that differs from the defaults (and the sources when asked).
    func defaultName(showSources: Bool) -> String {
        if isCLMOnly { return "clm" }
        var parts = [namePart("fusion")]
        for setting in ["vocab_map", "lambda", "top_k", "fusion_metric", "alignment"] where namePart(setting) != Self.defaultParts[setting] {
            parts.append(namePart(setting))
        }
        if showSources { parts.append(namePart("sources")) }
        return parts.joined(separator: "-")
    }

    /// Name parts for each setting, used to name arms by what sets them apart.
    func namePart(_ setting: String) -> String {
        switch setting {
        case "vocab_map": return vocabMap.lowercased()
        case "lambda": return "l\(Self.format(lambda))"
        case "top_k": return "k\(topK.map(String.init) ?? "all")"
        case "sources": return sources.joined(separator: "+")
        case "fusion_metric": return fusionMetric == "bits-per-byte" ? "bpb" : fusionMetric
        case "alignment": return alignment
        default: return isCLMOnly ? "clm" : fusion.lowercased().replacingOccurrences(of: ":", with: "-")
        }
    }
}

extension AblationConfig {
    /// The grid's arms (every combination) followed by the single arms; see `defaultName` for their names.
    public func expandArms() throws -> [AblationArm] {
        var arms: [AblationArm] = []
        for fusion in grid.fusion {
            for vocabMap in grid.vocabMap {
                for lambda in grid.lambda {
                    for topK in grid.topK {
                        for sources in grid.sources {
                            for metric in grid.fusionMetric {
                                for alignment in grid.alignment {
                                    arms.append(AblationArm(name: "", fusion: fusion, vocabMap: vocabMap, lambda: lambda,
                                                            topK: topK, sources: sources, fusionMetric: metric, alignment: alignment))
                                }
                            }
                        }
                    }
                }
            }
        }
        for i in arms.indices { arms[i].name = arms[i].defaultName(showSources: grid.sources.count > 1) }
        // A CLM-only arm does not depend on the other settings: the grid trains it once.
        var seen = Set<String>()
        arms = arms.filter { seen.insert($0.name).inserted }

        let defaults = AblationArm(name: "", fusion: grid.fusion[0], vocabMap: grid.vocabMap[0], lambda: grid.lambda[0],
                                   topK: grid.topK[0], sources: grid.sources[0], fusionMetric: grid.fusionMetric[0],
                                   alignment: grid.alignment[0])
        for spec in self.arms {
            var arm = defaults
            if let v = spec.fusion { arm.fusion = v }
            if let v = spec.vocabMap { arm.vocabMap = v }
            if let v = spec.lambda { arm.lambda = v }
            if let v = spec.topK { arm.topK = v }
            if let v = spec.sources { arm.sources = v }
            if let v = spec.fusionMetric { arm.fusionMetric = v }
            if let v = spec.alignment { arm.alignment = v }
            arm.name = spec.name ?? arm.defaultName(showSources: arm.sources != grid.sources[0])
            arms.append(arm)
        }
        for arm in arms where !arm.isCLMOnly {
            guard (0...1).contains(arm.lambda) else {
                throw FormatError(file: source, item: arm.name, "lambda \(arm.lambda) is outside [0, 1]")
            }
            if arm.fusion.lowercased().hasPrefix("single:") {
                let teacher = String(arm.fusion.dropFirst("single:".count))
                guard teacher == "target" || arm.sources.contains(teacher) else {
                    throw FormatError(file: source, item: arm.name, "distils \(teacher), which is not among its sources (\(arm.sources.joined(separator: ", ")))")
                }
            }
            guard ["ce", "bits-per-byte"].contains(arm.fusionMetric) else {
                throw FormatError(file: source, item: arm.name, "fusion_metric \(arm.fusionMetric) is not ce or bits-per-byte")
            }
            if let method = arm.pairwiseMerge {
                let known = ["linear", "task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs", "breadcrumbs_ties",
                             "della", "della_linear", "sce", "model_stock"]
                guard known.contains(method) else {
                    throw FormatError(file: source, item: arm.name, "pairwise-\(method): the copies are merged by one of \(known.joined(separator: ", "))")
                }
                guard method != "model_stock" || arm.sources.count >= 2 else {
                    throw FormatError(file: source, item: arm.name, "pairwise-model_stock needs at least two sources (it averages the angles between the copies)")
                }
            }
            guard ["dtw", "offsets"].contains(arm.alignment) else {
                throw FormatError(file: source, item: arm.name, "alignment \(arm.alignment) is not dtw or offsets")
            }
            guard !arm.sources.isEmpty || arm.fusion.lowercased().hasPrefix("single:") else {
                throw FormatError(file: source, item: arm.name, "a fusion arm needs at least one source")
            }
        }
        return arms
    }

    /// `fusellm train` arguments of one arm and seed, writing into `directory`.
    public func trainArguments(_ arm: AblationArm, seed: UInt64, directory: String, resume: Bool) -> [String] {
        var args = ["train", "--init-from", initFrom, "--prepared", prepared, "--output", directory, "--seed", String(seed)]
        for (option, value) in train {
            let flag = "--" + option.replacingOccurrences(of: "_", with: "-")
            switch value {
            case let b as Bool: if b { args.append(flag) }
            case let list as [Any]: args.append(flag); args += list.map { "\($0)" }
            default: args += [flag, "\(value)"]
            }
        }
        if !arm.isCLMOnly {
            args += ["--fusion", teacherSpec(arm.fusion), "--lambda", String(arm.lambda), "--vocab-map", arm.vocabMap, "--teachers", targetDump]
            args += arm.sources.compactMap { dump(of: $0) }
            if let k = arm.topK { args += ["--top-k", String(k)] }
            if arm.fusionMetric != "ce" { args += ["--fusion-metric", arm.fusionMetric] }
            if arm.alignment != "dtw" { args += ["--alignment", arm.alignment] }
            if let alignCache { args += ["--align-cache", alignCache] }
        }
        if resume { args.append("--resume") }
        return args
    }

    /// The `fusellm merge` recipe of a pairwise arm: its fused copies merged from the target it started from, with
    /// equal weights where the method takes weights (SCE and Model Stock weigh the copies themselves).
    public func pairwiseRecipe(_ arm: AblationArm, copies: [String]) -> String {
        let method = arm.pairwiseMerge ?? "sce"
        let weighted = !["sce", "model_stock"].contains(method)
        var lines = ["merge_method: \(method)", "base_model: \(Self.quoted(initFrom))", "models:"]
        for copy in copies {
            lines.append("  - model: \(Self.quoted(copy))" + (weighted ? "\n    parameters: {weight: \(1 / Double(copies.count))}" : ""))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func quoted(_ path: String) -> String { "\"" + path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }

    /// `single:NAME` names a source of this file; train knows teachers by their dump directory's name.
    func teacherSpec(_ fusion: String) -> String {
        guard fusion.lowercased().hasPrefix("single:") else { return fusion }
        let name = String(fusion.dropFirst("single:".count))
        guard let path = name == "target" ? targetDump : dump(of: name) else { return fusion }
        return "single:" + URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
    }

    /// `fusellm eval` arguments scoring `models` (one, or an ensemble) per domain into `jsonOutput`.
    public func evalArguments(models: [String], jsonOutput: String) -> [String] {
        var args = ["eval"]
        for m in models { args += ["--model", m] }
        if models.count > 1 { args.append("--ensemble") }
        args += ["--data"] + eval.data + ["--by-domain", "--block-size", String(eval.blockSize), "--json-output", jsonOutput]
        if let f = eval.textField { args += ["--text-field", f] }
        if let f = eval.domainField { args += ["--domain-field", f] }
        return args
    }
}
