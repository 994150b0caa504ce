import FuseFormats

/// What to merge and how: the contents of a recipe file (docs/merging.md), after per-model parameters
/// have been given the recipe-wide defaults. Build one in code or with `MergeRecipe.parse(yaml:source:)`;
/// `validate()` gives the same errors either way.
public struct MergeRecipe: Sendable {
    public struct Model: Sendable, Equatable {
        /// An HF checkpoint directory or a .gguf file (relative paths are taken from the working directory).
        public var path: String
        public var weight: Double?
        public var density: Double?
        /// Breadcrumbs: the fraction of largest-magnitude entries dropped as outliers (mergekit's default 0.01).
        public var gamma: Double?
        /// DELLA: keep probabilities spread from density − ε to density + ε by magnitude rank (mergekit's default 0.15).
        public var epsilon: Double?

        public init(path: String, weight: Double? = nil, density: Double? = nil, gamma: Double? = nil, epsilon: Double? = nil) {
            self.path = path
            self.weight = weight
            self.density = density
            self.gamma = gamma
            self.epsilon = epsilon
        }
    }

    public var method: MergeMethod
    public var baseModel: String?
    public var models: [Model]
    /// nil: the method's default (`MergeMethod.defaultNormalize`).
    public var normalize: Bool?
    /// SLERP's interpolation factor: 0 gives the base (or first) model, 1 the other.
    public var t: Double?
    /// Scale of the merged task vector.
    public var lambda: Double?
    /// nil: the method's default (`MergeMethod.defaultRescale`).
    public var rescale: Rescale?
    /// SCE: the fraction of entries (those with the largest variance across the task vectors) kept; 1 keeps all.
    public var selectTopK: Double?
    /// Model Stock: one interpolation ratio per row instead of per tensor (mergekit's `filter_wise`).
    public var filterWise: Bool?
    /// Seeds DARE's drop masks (see `DropStream`).
    public var seed: UInt64
    /// dtype of the written weights.
    public var dtype: DType
    /// Where the recipe came from, for error messages.
    public var source: String

    public init(method: MergeMethod, baseModel: String? = nil, models: [Model], normalize: Bool? = nil,
                t: Double? = nil, lambda: Double? = nil, rescale: Rescale? = nil, seed: UInt64 = 0,
                dtype: DType = .F32, source: String = "merge recipe") {
        self.method = method
        self.baseModel = baseModel
        self.models = models
        self.normalize = normalize
        self.t = t
        self.lambda = lambda
        self.rescale = rescale
        self.seed = seed
        self.dtype = dtype
        self.source = source
    }

    public var normalizes: Bool { normalize ?? method.defaultNormalize }
    public var rescaling: Rescale { rescale ?? method.defaultRescale }

    /// The distinct models to load, the base (or, without one, the first model) first: the output takes
    /// its config.json and tokenizer.
    public var inputs: [String] {
        var seen = Set<String>(), order: [String] = []
        for path in (baseModel.map { [$0] } ?? []) + models.map(\.path) where seen.insert(path).inserted {
            order.append(path)
        }
        return order
    }

    /// The models whose task vectors are merged (task-vector methods): every listed model but the base,
    /// with its position in `models` (which seeds its DARE stream).
    public var taskModels: [(index: Int, model: Model)] {
        models.enumerated().filter { $0.element.path != baseModel }.map { ($0.offset, $0.element) }
    }

    private func fail(_ item: String?, _ problem: String) -> FormatError {
        FormatError(file: source, item: item, problem)
    }

    private func label(_ i: Int) -> String { "models[\(i)] (\(models[i].path))" }

    /// Checks everything that can be checked without loading a model.
    public func validate() throws {
        let name = method.rawValue
        guard !models.isEmpty else { throw fail("models", "is empty: list the models to merge") }
        var seen = Set<String>()
        for (i, m) in models.enumerated() {
            guard !m.path.isEmpty else { throw fail(label(i), "model path is empty") }
            guard seen.insert(m.path).inserted else { throw fail(label(i), "is listed twice") }
            if let w = m.weight, !w.isFinite { throw fail(label(i), "weight must be a finite number") }
            if let d = m.density {
                guard d > 0 && d <= 1 else { throw fail(label(i), "density must be in (0, 1], got \(d)") }
                guard method.sparsification != nil else {
                    throw fail(label(i), "density has no effect with \(name) (only ties, dare_*, breadcrumbs*, della* sparsify)")
                }
            }
            if let g = m.gamma {
                guard g >= 0 && g < 1 else { throw fail(label(i), "gamma must be in [0, 1), got \(g)") }
                guard method.sparsification == .magnitudeOutliers else {
                    throw fail(label(i), "gamma is Breadcrumbs' outlier fraction: it has no effect with \(name)")
                }
            }
            if let e = m.epsilon {
                guard method.sparsification == .magnitudeRankedRandom else {
                    throw fail(label(i), "epsilon is DELLA's spread of keep probabilities: it has no effect with \(name)")
                }
                let d = m.density ?? 1
                guard e >= 0, d >= 1 || (d - e > 0 && d + e < 1) else {
                    throw fail(label(i), "epsilon \(e) with density \(d): density ± epsilon must lie in (0, 1)")
                }
            } else if method.sparsification == .magnitudeRankedRandom, let d = m.density, d < 1, !(d - 0.15 > 0 && d + 0.15 < 1) {
                throw fail(label(i), "density \(d) with the default epsilon 0.15: density ± epsilon must lie in (0, 1); set epsilon")
            }
            if m.weight != nil && !method.needsWeights {
                throw fail(label(i), "weight has no effect with \(name)" + (method == .slerp ? " (give parameters.t)" : ""))
            }
        }
        if let lambda, !lambda.isFinite { throw fail("parameters.lambda", "must be a finite number") }
        if lambda != nil && !method.usesTaskVectors {
            throw fail("parameters.lambda", "scales task vectors: it has no effect with \(name)")
        }
        if t != nil && method != .slerp { throw fail("parameters.t", "is SLERP's factor: it has no effect with \(name)") }
        if normalize != nil && [.slerp, .sce, .modelStock].contains(method) {
            throw fail("parameters.normalize", "has no effect with \(name)")
        }
        if lambda != nil && [.sce, .modelStock].contains(method) { throw fail("parameters.lambda", "has no effect with \(name)") }
        if let k = selectTopK {
            guard method == .sce else { throw fail("parameters.select_topk", "is SCE's selection fraction: it has no effect with \(name)") }
            guard k > 0 && k <= 1 else { throw fail("parameters.select_topk", "must be in (0, 1], got \(k)") }
        }
        if filterWise != nil && method != .modelStock {
            throw fail("parameters.filter_wise", "is Model Stock's per-row ratio: it has no effect with \(name)")
        }
        if rescale != nil && method.sparsification == nil {
            throw fail("parameters.rescale", "applies to sparsified task vectors: it has no effect with \(name)")
        }
        switch method {
        case .linear: try validateLinear()
        case .slerp: try validateSlerp()
        default: try validateTaskVectors()
        }
    }

    private func validateLinear() throws {
        if let baseModel, !models.contains(where: { $0.path == baseModel }) {
            throw fail("base_model", "linear merges only the listed models: list \(baseModel) under models too, or leave base_model out")
        }
        for i in models.indices where models[i].weight == nil {
            throw fail(label(i), "weight is required for linear")
        }
        if normalizes, models.reduce(0, { $0 + $1.weight! }) == 0 {
            throw fail("models", "the weights sum to 0, so they cannot be normalized (set parameters.normalize: false)")
        }
    }

    private func validateSlerp() throws {
        guard inputs.count == 2 else {
            throw fail("models", "slerp merges exactly two models; this recipe names \(inputs.count) (\(inputs.joined(separator: ", ")))")
        }
        guard let t else { throw fail("parameters.t", "is required for slerp (0 gives \(inputs[0]), 1 gives \(inputs[1]))") }
        guard t >= 0 && t <= 1 else { throw fail("parameters.t", "must be in [0, 1], got \(t)") }
    }

    private func validateTaskVectors() throws {
        let name = method.rawValue
        guard baseModel != nil else {
            throw fail("base_model", "is required for \(name): task vectors are differences from the base model")
        }
        guard !taskModels.isEmpty else { throw fail("models", "lists only the base model: nothing to merge into it") }
        for (i, _) in taskModels where models[i].weight == nil && method.needsWeights {
            throw fail(label(i), "weight is required for \(name)")
        }
        if method == .modelStock && taskModels.count < 2 {
            throw fail("models", "model_stock needs at least two models besides the base (it averages the angles between their task vectors)")
        }
    }
}
