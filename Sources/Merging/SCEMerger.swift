import FuseTensor

/// FuseChat's SCE merge (mergekit's `sce`), per tensor, on the task vectors τᵢ = xᵢ − base:
///
///     Select:    with select_topk < 1, keep the ⌊select_topk · (entries of nonzero variance)⌋ entries whose
///                variance across the τᵢ (population variance) is largest; zero the rest in every τᵢ
///     Calculate: wᵢ = mean(τᵢ²), normalised to sum 1 (uniform 1/n when the sum is below 1e-6)
///     Erase:     per entry, the elected sign is that of Σᵢ τᵢ (0 counts as +); τᵢ of the other sign (or 0) is erased
///     out = base + Σᵢ wᵢ·mᵢ·τᵢ / max(Σᵢ wᵢ·mᵢ, 1e-6)
///
/// No per-model weights (the τᵢ weigh themselves). Float32 task vectors, Float64 sums.
public final class SCEMerger: TensorMerger {
    public let base: Int
    public let models: [Int]
    public let selectTopK: Double

    public init(base: Int, models: [Int], selectTopK: Double) {
        precondition(!models.isEmpty)
        self.base = base
        self.models = models
        self.selectTopK = selectTopK
    }

    public func merge(tensor name: String, shape: [Int], inputs: [UnsafePointer<Float>], count: Int, into output: UnsafeMutablePointer<Float>) {
        let b = inputs[base], n = models.count
        var tau = [Float](repeating: 0, count: n * count)
        for (k, m) in models.enumerated() {
            let x = inputs[m]
            for i in 0..<count { tau[k * count + i] = x[i] - b[i] }
        }
        if selectTopK < 1 { select(&tau, n: n, count: count) }
        var weights = (0..<n).map { k in
            (0..<count).reduce(0.0) { $0 + Double(tau[k * count + $1]) * Double(tau[k * count + $1]) } / Double(max(count, 1))
        }
        let total = weights.reduce(0, +)
        weights = abs(total) < 1e-6 ? Array(repeating: 1 / Double(n), count: n) : weights.map { $0 / total }
        for i in 0..<count {
            var sum = 0.0
            for k in 0..<n { sum += Double(tau[k * count + i]) }
            let elected: Double = sum >= 0 ? 1 : -1
            var merged = 0.0, divisor = 0.0
            for k in 0..<n {
                let t = Double(tau[k * count + i])
                guard t * elected > 0 else { continue }
                merged += weights[k] * t
                divisor += weights[k]
            }
            output[i] = Float(Double(b[i]) + merged / max(divisor, 1e-6))
        }
    }

    /// Zeroes, in every task vector, the entries outside the top-variance selection.
    private func select(_ tau: inout [Float], n: Int, count: Int) {
        var variance = [Float](repeating: 0, count: count)
        for i in 0..<count {
            var mean = 0.0
            for k in 0..<n { mean += Double(tau[k * count + i]) }
            mean /= Double(n)
            var v = 0.0
            for k in 0..<n { let d = Double(tau[k * count + i]) - mean; v += d * d }
            variance[i] = Float(v / Double(n))
        }
        let nonzero = variance.lazy.filter { $0 != 0 }.count
        let keep = Int((Double(nonzero) * selectTopK).rounded(.down))
        if keep > 0 {
            variance.withUnsafeMutableBufferPointer { MagnitudeTrim.apply($0.baseAddress!, count: count, keep: keep) }
        }
        for i in 0..<count where keep == 0 || variance[i] == 0 {
            for k in 0..<n { tau[k * count + i] = 0 }
        }
    }
}
