import FuseTensor

/// mergekit's generalized task arithmetic, which covers task_arithmetic, ties, dare_linear, dare_ties, breadcrumbs,
/// breadcrumbs_ties, della and della_linear:
///
///     δᵢ = xᵢ − base                     (Float32, as mergekit forms them in the model's dtype)
///     δᵢ ← sparsify(δᵢ, densityᵢ)         trim to the largest |δ| (ties), drop at random (dare), drop the
///                                        outliers and the smallest (breadcrumbs) or drop at random with
///                                        magnitude-ranked odds (della), then rescale
///     τᵢ = wᵢ·δᵢ
///     sign election (ties, dare_ties):   s = sign(Σᵢ τᵢ) (0 counts as +);  mᵢ = [sign(τᵢ) = s]
///                                        merged = Σ mᵢτᵢ, divisor = Σ mᵢwᵢ (1 where 0)
///     otherwise:                         merged = Σ τᵢ,   divisor = Σ wᵢ (1 where |Σ wᵢ| < 1e-8)
///     out = base + λ · (normalize ? merged / divisor : merged)
///
/// A density of 1 leaves a task vector untouched (no draws, no rescale), as in mergekit.
public final class TaskVectorMerger: TensorMerger {
    public struct Term: Sendable {
        public let input: Int
        public let weight: Double
        public let density: Double
        /// The model's position in the recipe's `models` list: names its DARE stream.
        public let streamIndex: Int
        /// Breadcrumbs' outlier fraction.
        public let gamma: Double
        /// DELLA's spread of keep probabilities around the density.
        public let epsilon: Double

        public init(input: Int, weight: Double, density: Double, streamIndex: Int, gamma: Double = 0.01, epsilon: Double = 0.15) {
            self.input = input
            self.weight = weight
            self.density = density
            self.streamIndex = streamIndex
            self.gamma = gamma
            self.epsilon = epsilon
        }
    }

    public let method: MergeMethod
    public let base: Int
    public let terms: [Term]
    public let normalize: Bool
    public let lambda: Double
    public let rescale: Rescale
    public let seed: UInt64
    /// Task vectors of the tensor being merged, one row per term; grown to the largest tensor.
    private var deltas = FloatBuffer(count: 0)

    public init(method: MergeMethod, base: Int, terms: [Term], normalize: Bool, lambda: Double, rescale: Rescale, seed: UInt64) {
        precondition(method.usesTaskVectors && !terms.isEmpty)
        self.method = method
        self.base = base
        self.terms = terms
        self.normalize = normalize
        self.lambda = lambda
        self.rescale = rescale
        self.seed = seed
    }

    public func merge(tensor name: String, shape: [Int], inputs: [UnsafePointer<Float>], count: Int, into output: UnsafeMutablePointer<Float>) {
        if deltas.count < terms.count * count { deltas = FloatBuffer(count: terms.count * count, zeroed: false) }
        let b = inputs[base]
        for (k, term) in terms.enumerated() {
            let d = deltas.pointer + k * count, x = inputs[term.input]
            for i in 0..<count { d[i] = x[i] - b[i] }
            sparsify(d, count: count, term: term, tensor: name, shape: shape)
        }
        combine(base: b, count: count, into: output)
    }

    private func sparsify(_ d: UnsafeMutablePointer<Float>, count: Int, term: Term, tensor: String, shape: [Int]) {
        guard let sparsification = method.sparsification, term.density < 1 else { return }
        let before = rescale == .l1 ? l1(d, count) : 0
        switch sparsification {
        case .magnitude:
            MagnitudeTrim.apply(d, count: count, keep: MagnitudeTrim.keptCount(density: term.density, count: count))
        case .random:
            DropStream.drop(d, count: count, density: term.density, seed: seed, modelIndex: term.streamIndex, tensor: tensor)
        case .magnitudeOutliers:
            OutlierTrim.apply(d, count: count, density: term.density, gamma: term.gamma)
        case .magnitudeRankedRandom:
            MagnitudePrune.apply(d, count: count, rowLength: rowLength(ofShape: shape, count: count), density: term.density,
                                 epsilon: term.epsilon, seed: seed, modelIndex: term.streamIndex, tensor: tensor)
        }
        var scale = 1.0
        switch rescale {
        case .none: return
        case .inverseDensity: scale = 1 / term.density
        case .l1:
            // mergekit leaves the masked tensor as is when either norm is below 1e-7.
            let after = l1(d, count)
            guard before >= 1e-7 && after >= 1e-7 else { return }
            scale = before / after
        }
        for i in 0..<count { d[i] = Float(Double(d[i]) * scale) }
    }

    private func l1(_ d: UnsafePointer<Float>, _ count: Int) -> Double {
        var s = 0.0
        for i in 0..<count { s += Double(abs(d[i])) }
        return s
    }

    private func combine(base b: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>) {
        let weights = terms.map(\.weight), rows = terms.indices.map { deltas.pointer + $0 * count }
        let electsSign = method.electsSign, normalize = normalize, lambda = lambda
        var plainDivisor = weights.reduce(0, +)
        if abs(plainDivisor) < 1e-8 { plainDivisor = 1 }
        Parallel.chunks(count, minPerChunk: 1 << 15) { _, range in
            for i in range {
                var merged = 0.0, divisor = plainDivisor
                if electsSign {
                    var total = 0.0
                    for k in rows.indices { total += weights[k] * Double(rows[k][i]) }
                    let elected: Double = total >= 0 ? 1 : -1
                    divisor = 0
                    for k in rows.indices {
                        let tau = weights[k] * Double(rows[k][i])
                        // sign(0) is 0 and never agrees: trimmed or dropped entries take no part.
                        if tau * elected > 0 { merged += tau; divisor += weights[k] }
                    }
                    if divisor == 0 { divisor = 1 }
                } else {
                    for k in rows.indices { merged += weights[k] * Double(rows[k][i]) }
                }
                if normalize { merged /= divisor }
                output[i] = Float(Double(b[i]) + lambda * merged)
            }
        }
    }
}
