import FuseTensor
import Foundation

/// Mixtral's sparse MLP: router logits → softmax (Float32) → the top `active` experts per token, their weights
/// renormalised to sum to one → the weighted sum of those experts' gated MLPs. Each expert runs one GEMM chain over
/// the rows routed to it; outputs are added in ascending expert order, as transformers' index_add does.
enum MixtureOfExperts {
    static func forward(h: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, rows n: Int, hidden d: Int,
                        intermediate f: Int, router: UnsafePointer<Float>,
                        expertWeights weights: [(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, down: UnsafePointer<Float>)],
                        experts count: Int, active: Int, activation: Activation, scratch w: TransformerWorkspace,
                        products: MatrixProducts) {
        var logits = [Float](repeating: 0, count: n * count)
        // The router stays Float32 in any precision (as Switch Transformer's "selective precision" does): it is a
        // sliver of the work, and bf16 router logits flip near-tied expert choices, which moves whole outputs.
        logits.withUnsafeMutableBufferPointer {
            BLAS.linear(x: h, w: router, y: $0.baseAddress!, rows: n, inFeatures: d, outFeatures: count)
        }
        // routed[e] = (row, weight) pairs, rows ascending.
        var routed = [[(Int, Float)]](repeating: [], count: count)
        for r in 0..<n {
            let row = Array(logits[(r * count)..<((r + 1) * count)])
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let total = e.reduce(0, +)
            let probs = e.map { $0 / total }
            // Highest probabilities first; ties to the lower expert index.
            let top = probs.indices.sorted { probs[$0] != probs[$1] ? probs[$0] > probs[$1] : $0 < $1 }.prefix(active)
            let sum = top.reduce(Float(0)) { $0 + probs[$1] }
            for i in top { routed[i].append((r, probs[i] / sum)) }
        }
        out.update(repeating: 0, count: n * d)
        let g = w.gathered.pointer, y = w.expertOut.pointer, gate = w.gate.pointer, up = w.up.pointer
        for (e, assignments) in routed.enumerated() where !assignments.isEmpty {
            let m = assignments.count
            for (i, (r, _)) in assignments.enumerated() { (g + i * d).update(from: h + r * d, count: d) }
            products.linear(x: g, w: weights[e].gate, y: gate, rows: m, inFeatures: d, outFeatures: f)
            products.linear(x: g, w: weights[e].up, y: up, rows: m, inFeatures: d, outFeatures: f)
            activation.gated(gate: gate, up: up, out: gate, count: m * f)
            products.linear(x: gate, w: weights[e].down, y: y, rows: m, inFeatures: f, outFeatures: d)
            for (i, (r, weight)) in assignments.enumerated() {
                let dst = out + r * d, src = y + i * d
                for j in 0..<d { dst[j] += src[j] * weight }
            }
        }
    }
}
