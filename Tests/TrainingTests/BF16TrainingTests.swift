import FuseTensor
import Llama
import Training
import XCTest
import TestSupport

/// Training with bf16 matrix products: the loss curve tracks fp32's, and checkpoints resume exactly (the packed
/// bf16 weights are remade from the loaded parameters).
final class BF16TrainingTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(BF16GEMM.isAvailable, "this CPU has no AVX512-BF16")
    }

    func train(_ precision: Precision, steps: Int, output: URL, resume: Bool = false, stopAfter: Int? = nil) throws -> [StepRecord] {
        let model = LlamaModel.randomlyInitialized(config: TrainerTests.modelConfig, seed: 5)
        model.precision = precision
        var config = TrainerTests.makeConfig(steps: steps)
        config.checkpointEvery = 20
        let trainer = try Trainer(model: model, data: TrainerTests.makeData(), config: config, output: output)
        trainer.quiet = true
        return try trainer.run(resume: resume, stopAfter: stopAfter)
    }

    /// 50 steps: every bf16 loss within 0.5% of the fp32 run's at the same step (the runs drift apart by the bf16
    /// rounding of each step's products, compounded; measured 0.03%), and the same descent.
    func testFiftyStepsTrackFP32() throws {
        let exact = try train(.fp32, steps: 50, output: temporaryDirectory("fp32"))
        let mixed = try train(.bf16, steps: 50, output: temporaryDirectory("bf16"))
        let gaps = zip(exact, mixed).map { abs($1.loss - $0.loss) / $0.loss }
        print(String(format: "bf16 vs fp32 over 50 steps: largest relative loss gap %.4f (step %d), final loss %.4f vs %.4f",
                     gaps.max()!, gaps.firstIndex(of: gaps.max()!)! + 1, mixed.last!.loss, exact.last!.loss))
        XCTAssertGreaterThan(gaps.max()!, 0, "bf16 and fp32 runs are identical: did bf16 run?")
        XCTAssertLessThanOrEqual(gaps.max()!, 0.005)
        XCTAssertLessThan(mixed.last!.loss, mixed.first!.loss - 1)
    }

    /// Stop at step 25 (checkpoint at 20), resume: the same losses as an uninterrupted bf16 run.
    func testResumeIsExact() throws {
        let straight = try train(.bf16, steps: 30, output: temporaryDirectory("straight"))
        let out = temporaryDirectory("resumed")
        _ = try train(.bf16, steps: 30, output: out, stopAfter: 25)
        let resumed = try train(.bf16, steps: 30, output: out, resume: true)
        XCTAssertEqual(resumed.map(\.loss), straight.suffix(10).map(\.loss))
    }
}
