/// Model Stock (Jang et al. 2024; mergekit's `model_stock`): with the task vectors τᵢ = wᵢ − w₀ of N fine-tuned
/// models, the mean cosine over pairs i < j of τᵢ and τⱼ (each cos = τᵢ·τⱼ / max(‖τᵢ‖‖τⱼ‖, 1e-6), clamped to
/// [−1, 1]) gives the interpolation ratio t = N·cos / (1 + (N − 1)·cos), and
///
///     out = t · mean(wᵢ) + (1 − t) · w₀
///
/// over the whole tensor, or with `filterWise` one t per row (the last axis of a 2-D tensor; a 1-D tensor is one
/// row). t is not clamped, as in mergekit; where |1 + (N − 1)·cos| < 1e-6 there is no finite ratio and the base is
/// kept (t = 0), as mergekit does.
public final class ModelStockMerger: TensorMerger {
    public let base: Int
    public let models: [Int]
    public let filterWise: Bool

    public init(base: Int, models: [Int], filterWise: Bool = false) {
        precondition(models.count >= 2)
        self.base = base
        self.models = models
        self.filterWise = filterWise
    }

    public func merge(tensor name: String, shape: [Int], inputs: [UnsafePointer<Float>], count: Int, into output: UnsafeMutablePointer<Float>) {
        let rowLength = filterWise ? Merging.rowLength(ofShape: shape, count: count) : count
        for start in stride(from: 0, to: count, by: max(rowLength, 1)) {
            mergeRow(inputs.map { $0 + start }, count: rowLength, into: output + start)
        }
    }

    private func mergeRow(_ inputs: [UnsafePointer<Float>], count: Int, into output: UnsafeMutablePointer<Float>) {
        let w0 = inputs[base], ws = models.map { inputs[$0] }
        let n = ws.count
        func offset(_ k: Int, _ i: Int) -> Double { Double(ws[k][i] - w0[i]) }
        var norms = [Double](repeating: 0, count: n)
        for k in 0..<n { for i in 0..<count { norms[k] += offset(k, i) * offset(k, i) } }
        norms = norms.map { $0.squareRoot() }
        var cosines: [Double] = []
        for a in 0..<n {
            for b in (a + 1)..<n {
                var dot = 0.0
                for i in 0..<count { dot += offset(a, i) * offset(b, i) }
                cosines.append(min(1, max(-1, dot / max(norms[a] * norms[b], 1e-6))))
            }
        }
        let cos = cosines.reduce(0, +) / Double(cosines.count)
        let denominator = 1 + Double(n - 1) * cos
        let t = abs(denominator) < 1e-6 ? 0 : Double(n) * cos / denominator
        for i in 0..<count {
            var mean = 0.0
            for k in 0..<n { mean += Double(ws[k][i]) }
            mean /= Double(n)
            output[i] = Float(t * mean + (1 - t) * Double(w0[i]))
        }
    }
}
