import FuseTensor

/// Model soup: Σ wᵢ·xᵢ, divided by Σ wᵢ when normalizing (mergekit's default for linear).
public struct LinearMerger: TensorMerger {
    public let terms: [(input: Int, weight: Double)]
    public let normalize: Bool

    public init(terms: [(input: Int, weight: Double)], normalize: Bool) {
        self.terms = terms
        self.normalize = normalize
    }

    public func merge(tensor name: String, shape: [Int], inputs: [UnsafePointer<Float>], count: Int, into output: UnsafeMutablePointer<Float>) {
        let sources = terms.map { inputs[$0.input] }, weights = terms.map(\.weight)
        let scale = normalize ? 1 / weights.reduce(0, +) : 1
        Parallel.chunks(count, minPerChunk: 1 << 16) { _, range in
            for i in range {
                var sum = 0.0
                for k in sources.indices { sum += weights[k] * Double(sources[k][i]) }
                output[i] = Float(sum * scale)
            }
        }
    }
}
