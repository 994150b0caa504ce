import Foundation

/// Linear warmup then cosine decay to `minRatio · peak`, as transformers'
/// get_cosine_with_min_lr_schedule_with_warmup (min_lr_rate). Step 0 is the first update,
/// so with warmup its rate is 0, as in the HF Trainer.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public var peak: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minRatio: Double

    public init(peak: Double, warmupSteps: Int, totalSteps: Int, minRatio: Double = 0) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minRatio = minRatio
    }

    /// The warmup length for a ratio of the total (the paper's 0.008), rounded up as HF does.
    public static func warmupSteps(ratio: Double, totalSteps: Int) -> Int {
        Int((ratio * Double(totalSteps)).rounded(.up))
    }

    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step) / Double(max(1, warmupSteps)) }
        let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
        let cosine = max(0, 0.5 * (1 + cos(Double.pi * progress)))
        return peak * (cosine * (1 - minRatio) + minRatio)
    }
}
