import Foundation
import FuseTensor
import Llama

/// AdamW with decoupled weight decay, computed exactly as torch.optim.AdamW (single-tensor path):
/// p ← p·(1 − lr·wd); m ← lerp(m, g, 1 − β1); v ← β2·v + (1 − β2)·g²;
/// p ← p + (−lr/(1 − β1ᵗ) · m) / (√v / √(1 − β2ᵗ) + eps)  (addcdiv's order: scalar·m first, then the division).
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

    /// One update of every tensor in `layout`. Norm weights (1-D) get no weight decay. `gradientScale` is gradient
    /// clipping's coefficient (GradientClipping.scale), folded into this pass; the gradients are left unscaled.
    public func update(parameters: FloatBuffer, gradients: FloatBuffer, layout: ParameterLayout, lr: Double,
                       gradientScale: Float = 1) {
        step += 1
        // Scalars in Double, then rounded once to Float, as torch does with Python floats.
        var constants = AdamWKernel.Constants(
            decay: 1, oneMinusBeta1: Float(1 - hyper.beta1), beta2: Float(hyper.beta2), oneMinusBeta2: Float(1 - hyper.beta2),
            negStepSize: Float(-lr / (1 - pow(hyper.beta1, Double(step)))),
            bias2Sqrt: Float((1 - pow(hyper.beta2, Double(step))).squareRoot()), eps: Float(hyper.eps),
            gradientScale: gradientScale)
        for e in layout.entries {
            constants.decay = e.decays ? Float(1 - lr * hyper.weightDecay) : 1
            AdamWKernel.update(parameters: parameters.pointer + e.offset, gradients: gradients.pointer + e.offset,
                               firstMoment: exp_avg.pointer + e.offset, secondMoment: exp_avg_sq.pointer + e.offset,
                               count: e.count, constants)
        }
    }
}
