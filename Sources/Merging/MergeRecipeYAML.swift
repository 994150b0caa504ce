import FuseFormats
import Foundation

/// Reads a recipe in the YAML schema of docs/merging.md (a subset of mergekit's): every key is checked,
/// so a typo or a mergekit feature we do not have is an error rather than silently ignored.
extension MergeRecipe {
    static let topLevelKeys = ["merge_method", "base_model", "models", "parameters", "seed", "dtype"]
    static let globalParameters = ["normalize", "t", "lambda", "rescale", "weight", "density", "gamma", "epsilon",
                                   "select_topk", "filter_wise"]
    static let modelParameters = ["weight", "density", "gamma", "epsilon"]

    public static func load(path: String) throws -> MergeRecipe {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw FormatError(file: path, "cannot read the recipe (\(FormatError.reason(error)))")
        }
        return try parse(yaml: text, source: path)
    }

    /// Parses and validates.
    public static func parse(yaml text: String, source: String) throws -> MergeRecipe {
        func fail(_ item: String?, _ problem: String) -> FormatError { FormatError(file: source, item: item, problem) }
        let loaded = try SafeYAML.load(text, source: source)
        guard let top = loaded as? [String: Any] else { throw fail(nil, "expected a mapping (merge_method, models, …) at the top level") }
        for key in top.keys.sorted() where !topLevelKeys.contains(key) {
            throw fail(key, "unknown key (known: \(topLevelKeys.joined(separator: ", ")))")
        }

        guard let methodName = top["merge_method"] else { throw fail("merge_method", "missing (one of \(MergeMethod.names))") }
        guard let methodText = methodName as? String, let method = MergeMethod(rawValue: methodText) else {
            throw fail("merge_method", "unknown method \(methodName) (known: \(MergeMethod.names))")
        }
        var recipe = MergeRecipe(method: method, models: [], source: source)
        if let base = top["base_model"] {
            guard let path = base as? String else { throw fail("base_model", "must be a path") }
            recipe.baseModel = path
        }

        let global = try mapping(top["parameters"], item: "parameters", allowed: globalParameters, source: source)
        recipe.normalize = try global["normalize"].map { try bool($0, item: "parameters.normalize", source: source) }
        recipe.t = try global["t"].map { try number($0, item: "parameters.t", source: source) }
        recipe.lambda = try global["lambda"].map { try number($0, item: "parameters.lambda", source: source) }
        recipe.rescale = try global["rescale"].map { try rescale($0, source: source) }
        let defaultWeight = try global["weight"].map { try number($0, item: "parameters.weight", source: source) }
        let defaultDensity = try global["density"].map { try number($0, item: "parameters.density", source: source) }
        let defaultGamma = try global["gamma"].map { try number($0, item: "parameters.gamma", source: source) }
        let defaultEpsilon = try global["epsilon"].map { try number($0, item: "parameters.epsilon", source: source) }
        recipe.selectTopK = try global["select_topk"].map { try number($0, item: "parameters.select_topk", source: source) }
        recipe.filterWise = try global["filter_wise"].map { try bool($0, item: "parameters.filter_wise", source: source) }

        guard let list = top["models"] else { throw fail("models", "missing: list the models to merge") }
        guard let entries = list as? [Any] else { throw fail("models", "must be a list of {model: PATH, parameters: {...}}") }
        for (i, entry) in entries.enumerated() {
            let item = "models[\(i)]"
            var model: MergeRecipe.Model
            switch entry {
            case let path as String:
                model = Model(path: path)
            case let map as [String: Any]:
                for key in map.keys.sorted() where key != "model" && key != "parameters" {
                    throw fail("\(item).\(key)", "unknown key (known: model, parameters)")
                }
                guard let path = map["model"] as? String else { throw fail(item, "needs model: PATH") }
                model = Model(path: path)
                let p = try mapping(map["parameters"], item: "\(item).parameters", allowed: modelParameters, source: source)
                model.weight = try p["weight"].map { try number($0, item: "\(item).parameters.weight", source: source) }
                model.density = try p["density"].map { try number($0, item: "\(item).parameters.density", source: source) }
                model.gamma = try p["gamma"].map { try number($0, item: "\(item).parameters.gamma", source: source) }
                model.epsilon = try p["epsilon"].map { try number($0, item: "\(item).parameters.epsilon", source: source) }
            default:
                throw fail(item, "must be a path or {model: PATH, parameters: {...}}")
            }
            model.weight = model.weight ?? defaultWeight
            model.density = model.density ?? defaultDensity
            model.gamma = model.gamma ?? defaultGamma
            model.epsilon = model.epsilon ?? defaultEpsilon
            recipe.models.append(model)
        }

        if let seed = top["seed"] {
            guard let n = seed as? Int, !(seed is Bool), n >= 0 else { throw fail("seed", "must be a non-negative integer") }
            recipe.seed = UInt64(n)
        }
        if let dtype = top["dtype"] {
            guard let name = dtype as? String, let value = DType(userName: name) else {
                throw fail("dtype", "must be f32, f16 or bf16, got \(dtype)")
            }
            recipe.dtype = value
        }
        try recipe.validate()
        return recipe
    }

    private static func mapping(_ value: Any?, item: String, allowed: [String], source: String) throws -> [String: Any] {
        guard let value, !(value is NSNull) else { return [:] }
        guard let map = value as? [String: Any] else { throw FormatError(file: source, item: item, "must be a mapping") }
        for key in map.keys.sorted() where !allowed.contains(key) {
            throw FormatError(file: source, item: "\(item).\(key)", "unknown parameter (known: \(allowed.joined(separator: ", ")))")
        }
        return map
    }

    private static func number(_ value: Any, item: String, source: String) throws -> Double {
        if value is Bool { throw FormatError(file: source, item: item, "must be a number, got \(value)") }
        if let n = value as? Int { return Double(n) }
        if let x = value as? Double { return x }
        // mergekit's per-layer gradients and tensor filters would arrive here as lists or mappings.
        throw FormatError(file: source, item: item, "must be a number (per-layer lists and filters are not supported), got \(value)")
    }

    private static func bool(_ value: Any, item: String, source: String) throws -> Bool {
        guard let b = value as? Bool else { throw FormatError(file: source, item: item, "must be true or false, got \(value)") }
        return b
    }

    private static func rescale(_ value: Any, source: String) throws -> Rescale {
        if let b = value as? Bool { return b ? .inverseDensity : .none }
        if let s = value as? String, let r = Rescale(rawValue: s) { return r }
        throw FormatError(file: source, item: "parameters.rescale", "must be true (1/density), false, density or l1, got \(value)")
    }
}
