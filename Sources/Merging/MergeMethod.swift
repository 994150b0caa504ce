/// The merge methods of `fusellm merge`, named as in mergekit. Each task-vector method is one point in
/// mergekit's "generalized task arithmetic": how task vectors are sparsified, whether signs are elected,
/// and the defaults of `normalize` and `rescale`.
public enum MergeMethod: String, CaseIterable, Sendable {
    case linear
    case slerp
    case taskArithmetic = "task_arithmetic"
    case ties
    case dareTies = "dare_ties"
    case dareLinear = "dare_linear"
    case breadcrumbs
    case breadcrumbsTies = "breadcrumbs_ties"
    case della
    case dellaLinear = "della_linear"
    case sce
    case modelStock = "model_stock"

    public enum Sparsification: Sendable {
        /// Keep the `density` fraction of entries with the largest magnitude (TIES's trim step).
        case magnitude
        /// Keep each entry with probability `density` (DARE's drop step).
        case random
        /// Model Breadcrumbs: drop the `gamma` fraction of largest magnitudes (outliers) and the smallest, keeping
        /// the `density` fraction in between.
        case magnitudeOutliers
        /// DELLA's MAGPRUNE (mergekit's della_magprune): keep each entry with a probability that grows with the rank
        /// of its magnitude in its row, from density − ε (smallest) to density + ε (largest).
        case magnitudeRankedRandom
    }

    /// Task-vector methods work on `model − base_model` and need a base.
    public var usesTaskVectors: Bool { ![.linear, .slerp].contains(self) }

    public var sparsification: Sparsification? {
        switch self {
        case .ties: return .magnitude
        case .dareTies, .dareLinear: return .random
        case .breadcrumbs, .breadcrumbsTies: return .magnitudeOutliers
        case .della, .dellaLinear: return .magnitudeRankedRandom
        default: return nil
        }
    }

    /// TIES's sign election ("sum" consensus in mergekit).
    public var electsSign: Bool { [.ties, .dareTies, .breadcrumbsTies, .della].contains(self) }

    /// mergekit's defaults: linear, TIES and DELLA divide by the summed weights; task arithmetic, DARE and linear
    /// DELLA do not.
    public var defaultNormalize: Bool { [.linear, .ties, .della].contains(self) }

    /// DARE rescales what survives the drop by 1/density; DELLA matches the L1 norm (mergekit's `rescale: true`);
    /// TIES's trim is not rescaled unless asked.
    public var defaultRescale: Rescale {
        switch sparsification {
        case .random: return .inverseDensity
        case .magnitudeRankedRandom: return .l1
        default: return .none
        }
    }

    /// Methods that read a per-model `weight` (SCE weighs by the task vectors themselves, Model Stock by their angle).
    public var needsWeights: Bool { ![.slerp, .sce, .modelStock].contains(self) }

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// How a sparsified task vector is scaled back up.
public enum Rescale: String, Sendable {
    case none
    /// DARE's 1/density (the paper's rescale; mergekit before its generic rescaling).
    case inverseDensity = "density"
    /// Scale so the L1 norm of the tensor is unchanged (mergekit's `rescale: true` today).
    case l1
}
