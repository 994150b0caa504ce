import FuseFormats
import Foundation

/// An ablation as written in its YAML file (docs/ablation.md): what every arm shares (the prepared blocks, the
/// target to continue, the dumps, training and evaluation settings), the grid and single arms to train, and the
/// baselines to evaluate. Every key is checked, so a typo is an error naming the file and the key.
public struct AblationConfig {
    /// Where arms, results.csv, results.md and the plots go.
    public var output: String
    public var prepared: String
    public var initFrom: String
    /// The target's own dump: a source of every fusion arm (the reference's base distribution).
    public var targetDump: String
    /// Source name → dump directory, in the file's order.
    public var sources: [(name: String, dump: String)]
    public var alignCache: String?
    /// `fusellm train` options every arm shares (long option name → value), e.g. steps, batch_size, lr.
    public var train: [(option: String, value: Any)]
    public var eval: EvalSettings
    public var seeds: [UInt64]
    public var grid: Grid
    /// Arms listed one by one; a setting left out takes the grid's first value.
    public var arms: [ArmSpec]
    public var baselines: [Baseline]
    /// The arm other arms are compared with in results.md (default: the first trained arm).
    public var compareTo: String?
    /// Delete a finished run's checkpoint-*/ directories once its result is written (final/ stays): a grid of
    /// runs otherwise keeps a full training state (weights + AdamW moments) per run.
    public var pruneCheckpoints = true
    public let source: String

    public struct EvalSettings {
        public var data: [String]
        public var blockSize: Int = 512
        public var textField: String?
        public var domainField: String?
    }

    /// The values each setting takes; every combination is one arm.
    public struct Grid {
        public var fusion: [String] = ["mince"]
        public var vocabMap: [String] = ["mined"]
        public var lambda: [Double] = [0.9]
        /// nil: all of each dump's top-k.
        public var topK: [Int?] = [nil]
        public var sources: [[String]] = []
        public var fusionMetric: [String] = ["ce"]
        public var alignment: [String] = ["dtw"]
    }

    public struct ArmSpec {
        public var name: String?
        public var fusion: String?
        public var vocabMap: String?
        public var lambda: Double?
        public var topK: Int?
        public var sources: [String]?
        public var fusionMetric: String?
        public var alignment: String?
    }

    public enum Baseline {
        /// An output ensemble of models sharing the target's tokenizer, evaluated by perplexity.
        case ensemble(name: String, models: [String])
        /// A weight merge from a `fusellm merge` recipe, evaluated by perplexity.
        case merge(name: String, recipe: String)
        /// A checkpoint evaluated as it is (the target before continual training, a source, …).
        case model(name: String, path: String)

        public var name: String {
            switch self {
            case .ensemble(let n, _), .merge(let n, _), .model(let n, _): return n
            }
        }
    }

    static let topLevelKeys = ["output", "prepared", "init_from", "target_dump", "sources", "align_cache", "train", "eval",
                               "seeds", "grid", "arms", "baselines", "compare_to", "prune_checkpoints"]
    static let gridKeys = ["fusion", "vocab_map", "lambda", "top_k", "sources", "fusion_metric", "alignment"]
    static let armKeys = ["name"] + gridKeys
    static let evalKeys = ["data", "block_size", "text_field", "domain_field"]
    /// Options an arm sets itself; the shared `train:` block may not set them.
    static let armOwnedTrainOptions = ["init_from", "prepared", "output", "seed", "teachers", "fusion", "lambda", "vocab_map",
                                       "top_k", "fusion_metric", "alignment", "resume", "data", "align_cache", "config"]

    public static func load(path: String) throws -> AblationConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FormatError(file: path, "cannot read the ablation config (\(FormatError.reason(error)))")
        }
        return try parse(yaml: text, source: path)
    }

    public static func parse(yaml text: String, source: String) throws -> AblationConfig {
        let reader = YAMLFields(source: source)
        let loaded = try SafeYAML.load(text, source: source)
        let top = try reader.mapping(loaded, item: nil, allowed: topLevelKeys)

        let sourceList = try reader.orderedMapping(in: text, key: "sources", value: top["sources"])
        var config = AblationConfig(
            output: try reader.string(top["output"], item: "output"),
            prepared: try reader.string(top["prepared"], item: "prepared"),
            initFrom: try reader.string(top["init_from"], item: "init_from"),
            targetDump: try reader.string(top["target_dump"], item: "target_dump"),
            sources: sourceList,
            alignCache: try top["align_cache"].map { try reader.string($0, item: "align_cache") },
            train: [], eval: EvalSettings(data: []), seeds: [42], grid: Grid(), arms: [], baselines: [],
            compareTo: try top["compare_to"].map { try reader.string($0, item: "compare_to") }, source: source)
        if let prune = top["prune_checkpoints"] {
            guard let flag = prune as? Bool else { throw reader.fail("prune_checkpoints", "expected true or false") }
            config.pruneCheckpoints = flag
        }
        let sourceNames = Set(sourceList.map(\.name))
        guard sourceNames.count == sourceList.count else { throw reader.fail("sources", "a source name appears twice") }

        let train = try reader.mapping(top["train"] ?? [String: Any](), item: "train", allowed: nil)
        for key in train.keys.sorted() {
            let option = key.replacingOccurrences(of: "-", with: "_")
            guard !armOwnedTrainOptions.contains(option) else {
                throw reader.fail("train.\(key)", "is set by the ablation for each arm (see docs/ablation.md)")
            }
            config.train.append((key, train[key]!))
        }

        let eval = try reader.mapping(top["eval"], item: "eval", allowed: evalKeys)
        config.eval.data = try reader.strings(eval["data"], item: "eval.data")
        config.eval.blockSize = try eval["block_size"].map { try reader.positiveInt($0, item: "eval.block_size") } ?? 512
        config.eval.textField = try eval["text_field"].map { try reader.string($0, item: "eval.text_field") }
        config.eval.domainField = try eval["domain_field"].map { try reader.string($0, item: "eval.domain_field") }

        if let seeds = top["seeds"] {
            config.seeds = try reader.list(seeds, item: "seeds").enumerated().map { i, v in
                UInt64(try reader.positiveInt(v, item: "seeds[\(i)]", allowZero: true))
            }
            guard !config.seeds.isEmpty, Set(config.seeds).count == config.seeds.count else {
                throw reader.fail("seeds", "must list at least one seed, each once")
            }
        }

        if let gridValue = top["grid"] {
            let grid = try reader.mapping(gridValue, item: "grid", allowed: gridKeys)
            if let v = grid["fusion"] { config.grid.fusion = try reader.strings(v, item: "grid.fusion") }
            if let v = grid["vocab_map"] { config.grid.vocabMap = try reader.strings(v, item: "grid.vocab_map") }
            if let v = grid["lambda"] {
                config.grid.lambda = try reader.list(v, item: "grid.lambda").enumerated().map { try reader.number($1, item: "grid.lambda[\($0)]") }
            }
            if let v = grid["top_k"] {
                config.grid.topK = try reader.list(v, item: "grid.top_k").enumerated().map { i, k in
                    if let s = k as? String, s == "all" { return nil }
                    return try reader.positiveInt(k, item: "grid.top_k[\(i)]")
                }
            }
            if let v = grid["fusion_metric"] { config.grid.fusionMetric = try reader.strings(v, item: "grid.fusion_metric") }
            if let v = grid["alignment"] { config.grid.alignment = try reader.strings(v, item: "grid.alignment") }
            if let v = grid["sources"] {
                config.grid.sources = try reader.list(v, item: "grid.sources").enumerated().map { i, set in
                    try reader.strings(set, item: "grid.sources[\(i)]")
                }
            }
            for (name, values) in [("fusion", config.grid.fusion.count), ("vocab_map", config.grid.vocabMap.count),
                                   ("lambda", config.grid.lambda.count), ("top_k", config.grid.topK.count),
                                   ("fusion_metric", config.grid.fusionMetric.count),
                                   ("alignment", config.grid.alignment.count)] where values == 0 {
                throw reader.fail("grid.\(name)", "is empty")
            }
        }
        if config.grid.sources.isEmpty { config.grid.sources = [sourceList.map(\.name)] }

        for (i, value) in try reader.list(top["arms"] ?? [Any](), item: "arms").enumerated() {
            let item = "arms[\(i)]"
            let arm = try reader.mapping(value, item: item, allowed: armKeys)
            config.arms.append(ArmSpec(
                name: try arm["name"].map { try reader.string($0, item: "\(item).name") },
                fusion: try arm["fusion"].map { try reader.string($0, item: "\(item).fusion") },
                vocabMap: try arm["vocab_map"].map { try reader.string($0, item: "\(item).vocab_map") },
                lambda: try arm["lambda"].map { try reader.number($0, item: "\(item).lambda") },
                topK: try arm["top_k"].map { try reader.positiveInt($0, item: "\(item).top_k") },
                sources: try arm["sources"].map { try reader.strings($0, item: "\(item).sources") },
                fusionMetric: try arm["fusion_metric"].map { try reader.string($0, item: "\(item).fusion_metric") },
                alignment: try arm["alignment"].map { try reader.string($0, item: "\(item).alignment") }))
        }

        for (i, value) in try reader.list(top["baselines"] ?? [Any](), item: "baselines").enumerated() {
            let item = "baselines[\(i)]"
            let b = try reader.mapping(value, item: item, allowed: ["name", "ensemble", "merge", "model"])
            let name = try reader.string(b["name"], item: "\(item).name")
            let kinds = ["ensemble", "merge", "model"].filter { b[$0] != nil }
            guard kinds.count == 1 else { throw reader.fail(item, "needs exactly one of ensemble: [MODELS], merge: RECIPE, model: PATH") }
            switch kinds[0] {
            case "ensemble":
                let models = try reader.strings(b["ensemble"], item: "\(item).ensemble")
                guard models.count >= 2 else { throw reader.fail("\(item).ensemble", "an ensemble needs at least two models") }
                config.baselines.append(.ensemble(name: name, models: models))
            case "merge": config.baselines.append(.merge(name: name, recipe: try reader.string(b["merge"], item: "\(item).merge")))
            default: config.baselines.append(.model(name: name, path: try reader.string(b["model"], item: "\(item).model")))
            }
        }

        // Every source an arm names must be declared; names must be unique and usable as directory names.
        let arms = try config.expandArms()
        for arm in arms {
            for s in arm.sources where !sourceNames.contains(s) {
                throw reader.fail(arm.name, "names source \(s), which sources: does not declare (declared: \(sourceList.map(\.name).joined(separator: ", ")))")
            }
        }
        let names = arms.map(\.name) + config.baselines.map(\.name)
        for name in names {
            guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."), names.filter({ $0 == name }).count == 1 else {
                throw reader.fail(name, "arm and baseline names must be unique, non-empty and without '/' or a leading '.'")
            }
        }
        if let compareTo = config.compareTo, !names.contains(compareTo) {
            throw reader.fail("compare_to", "\(compareTo) is not an arm or baseline of this ablation")
        }
        return config
    }

    /// Dump directory of a source name (the target's own dump is `target_dump`).
    public func dump(of name: String) -> String? { sources.first { $0.name == name }?.dump }
}
