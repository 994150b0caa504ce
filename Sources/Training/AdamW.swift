import Foundation
import FuseTensor
import Llama

/// AdamW with decoupled weight decay, computed exactly as torch.optim.AdamW (single-tensor path):
/// p ← p·(1 − lr·wd); m ← lerp(m, g, 1 − β1); v ← β2·v + (1 − β2)·g²;
/// p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps).
public struct AdamWHyperparameters: Codable, Equatable, Sendable {
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    public var eps: Double = 1e-8
    public var weightDecay: Double = 0.1

    public init(beta1: Double = 0.9, beta2: Double = 0.95, eps: Double = 1e-8, weightDecay: Double = 0.1) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }
}

public final class AdamW {
    public let hyper: AdamWHyperparameters
    public let exp_avg: FloatBuffer
    public let exp_avg_sq: FloatBuffer
    /// Number of updates applied so far.
    public var step: Int = 0

    public init(parameterCount: Int, hyper: AdamWHyperparameters) {
        self.hyper = hyper
        exp_avg = FloatBuffer(count: parameterCount)
        exp_avg_sq = FloatBuffer(count: parameterCount)
    }

    /// One update of every tensor in `layout`. Norm weights (1-D) get no weight decay.
    public func update(parameters: FloatBuffer, gradients: FloatBuffer, layout: ParameterLayout, lr: Double) {
        step += 1
        let b1 = Float(hyper.beta1), b2 = Float(hyper.beta2), eps = Float(hyper.eps)
        // Scalars in Double, then rounded once to Float, as torch does with Python floats.
        let stepSize = Float(lr / (1 - pow(hyper.beta1, Double(step))))
        let bc2Sqrt = Float((1 - pow(hyper.beta2, Double(step))).squareRoot())
        let P = parameters.pointer, G = gradients.pointer, M = exp_avg.pointer, V = exp_avg_sq.pointer
        for e in layout.entries {
            let decay: Float = e.decays ? Float(1 - lr * hyper.weightDecay) : 1
            let base = e.offset
            Parallel.chunks(e.count, minPerChunk: 1 << 14) { _, range in
                for j in range {
                    let i = base + j
                    let g = G[i]
                    var p = P[i] * decay
                    let m = M[i] + (1 - b1) * (g - M[i])
                    let v = V[i] * b2 + (1 - b2) * g * g
                    M[i] = m
                    V[i] = v
                    p -= stepSize * (m / (v.squareRoot() / bc2Sqrt + eps))
                    P[i] = p
                }
            }
        }
    }
}
