import FuseFormats
import Foundation

/// Everything that defines a training run. Saved in every checkpoint so `--resume` can refuse a
/// run whose settings changed.
public struct TrainConfig: Codable, Equatable, Sendable {
    public var learningRate: Double = 1e-5
    public var warmupRatio: Double = 0.008
    public var minLRRatio: Double = 0
    public var adam = AdamWHyperparameters()
    public var maxGradNorm: Double = 1.0
    public var batchSize: Int = 1
    public var gradAccumulation: Int = 1
    public var blockSize: Int = 2048
    public var totalSteps: Int = 100
    public var seed: UInt64 = 42
    public var checkpointEvery: Int = 50
    public var keepCheckpoints: Int = 2
    public var saveDtype: String = "f32"
    public var logEvery: Int = 1
    /// λ of λ·CLM + (1 − λ)·fusion loss (the paper's 0.9); 1 is plain causal-LM training.
    public var fusionLambda: Double = 1
    /// Which fusion function made the soft targets ("none" without teachers); recorded so a resume cannot switch.
    public var fusion: String = "none"
    /// A step whose loss or gradient is not finite is skipped (reported, no update) instead of stopping the run.
    public var skipNonFinite = false

    public init() {}

    public var tokensPerStep: Int { batchSize * gradAccumulation * blockSize }

    public var schedule: LearningRateSchedule {
        LearningRateSchedule(peak: learningRate,
                             warmupSteps: LearningRateSchedule.warmupSteps(ratio: warmupRatio, totalSteps: totalSteps),
                             totalSteps: totalSteps, minRatio: minLRRatio)
    }

    public func validate() throws {
        func bad(_ field: String, _ why: String) -> FormatError { FormatError(file: "train options", item: field, why) }
        if !(learningRate >= 0) { throw bad("lr", "must be non-negative") }
        if batchSize < 1 { throw bad("batch-size", "must be at least 1") }
        if gradAccumulation < 1 { throw bad("grad-accum", "must be at least 1") }
        if blockSize < 2 { throw bad("block-size", "must be at least 2") }
        if totalSteps < 1 { throw bad("steps", "must be at least 1") }
        if checkpointEvery < 1 { throw bad("checkpoint-every", "must be at least 1") }
        if !(0...1).contains(warmupRatio) { throw bad("warmup-ratio", "must be in [0, 1]") }
        if !(0...1).contains(minLRRatio) { throw bad("min-lr-ratio", "must be in [0, 1]") }
        if !(0...1).contains(fusionLambda) { throw bad("lambda", "must be in [0, 1]") }
        if DType(userName: saveDtype) == nil { throw bad("save-dtype", "\(saveDtype) is not f32, f16 or bf16") }
    }
}
