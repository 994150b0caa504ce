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
    }

    /// Task-vector methods work on `model − base_model` and need a base.
    public var usesTaskVectors: Bool { ![.linear, .slerp].contains(self) }

    public var sparsification: Sparsification? {
        switch self {
        case .ties: return .magnitude
        case .dareTies, .dareLinear: return .random
        case .breadcrumbs, .breadcrumbsTies: return .magnitudeOutliers
        default: return nil
        }
    }

    /// TIES's sign election ("sum" consensus in mergekit).
    public var electsSign: Bool { [.ties, .dareTies, .breadcrumbsTies].contains(self) }

    /// mergekit's defaults: linear and TIES divide by the summed weights; task arithmetic and DARE do not.
    public var defaultNormalize: Bool { self == .linear || self == .ties }

    /// DARE rescales what survives the drop by 1/density; TIES's trim is not rescaled unless asked.
    public var defaultRescale: Rescale { sparsification == .random ? .inverseDensity : .none }

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
