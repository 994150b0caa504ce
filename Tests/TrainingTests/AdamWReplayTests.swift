import FuseFormats
import FuseTensor
import Llama
import Training
import XCTest
import TestSupport

/// Replays three optimizer steps of torch.optim.AdamW + clip_grad_norm_ + transformers'
/// cosine-with-min-lr schedule, and compares every parameter afterwards.
final class AdamWReplayTests: XCTestCase {
    struct Hyper: Decodable {
        let lr, beta1, beta2, eps, weight_decay, min_lr_rate, max_grad_norm: Double
        let warmup_steps, total_steps, steps: Int
    }

    func replay(_ name: String) throws {
        let dir = Fixtures.llama(name)
        let h = try JSONDecoder().decode(Hyper.self, from: Data(contentsOf: dir.appendingPathComponent("train.json")))
        let ref = try SafetensorsFile(url: dir.appendingPathComponent("reference.safetensors"))
        let model = try LlamaModel.load(directory: dir)
        let shape = try ref.info("train.input_ids").shape
        let (S, B, T) = (shape[0], shape[1], shape[2])
        XCTAssertEqual(S, h.steps)
        let allIds = try ref.integers("train.input_ids").map { Int32($0) }
        let refLoss = try ref.floats("train.loss"), refNorm = try ref.floats("train.grad_norm"), refLR = try ref.floats("train.lr")
        let schedule = LearningRateSchedule(peak: h.lr, warmupSteps: h.warmup_steps, totalSteps: h.total_steps, minRatio: h.min_lr_rate)
        let adam = AdamW(parameterCount: model.layout.totalCount,
                         hyper: AdamWHyperparameters(beta1: h.beta1, beta2: h.beta2, eps: h.eps, weightDecay: h.weight_decay))
        for s in 0..<S {
            let ids = Array(allIds[(s * B * T)..<((s + 1) * B * T)])
            var targets = ids
            for b in 0..<B { for t in 0..<T { targets[b * T + t] = t + 1 < T ? ids[b * T + t + 1] : CrossEntropy.ignore } }
            model.zeroGradients()
            let loss = model.forwardBackward(ids: ids, targets: targets, batch: B, seqLen: T).mean
            XCTAssertEqual(Float(loss), refLoss[s], accuracy: 1e-5, "\(name) step \(s + 1) loss")
            let norm = GradientClipping.clip(model.gradients!, maxNorm: h.max_grad_norm)
            XCTAssertEqual(Float(norm), refNorm[s], accuracy: 1e-5 * max(1, refNorm[s]), "\(name) step \(s + 1) grad norm")
            let lr = schedule.rate(at: s)
            XCTAssertEqual(Float(lr), refLR[s], accuracy: 1e-9, "\(name) step \(s + 1) lr")
            adam.update(parameters: model.parameters, gradients: model.gradients!, layout: model.layout, lr: lr)
        }
        var worst: Float = 0
        for e in model.layout.entries {
            let after = try ref.floats("after." + e.name)
            let err = Reduce.maxAbsDiff(model.parameters.pointer + e.offset, after, e.count)
            XCTAssertLessThan(err, 1e-5, "\(name): \(e.name) after \(S) AdamW steps")
            worst = max(worst, err)
        }
        print("\(name): parameters after \(S) AdamW steps, max abs error \(worst)")
    }

    func testGQAUntiedAdamWSteps() throws { try replay("gqa_untied") }
    func testTiedAdamWSteps() throws { try replay("tied") }

    func testScheduleShape() {
        let s = LearningRateSchedule(peak: 1, warmupSteps: 4, totalSteps: 104, minRatio: 0.1)
        XCTAssertEqual(s.rate(at: 0), 0)
        XCTAssertEqual(s.rate(at: 2), 0.5)
        XCTAssertEqual(s.rate(at: 4), 1)
        XCTAssertEqual(s.rate(at: 54), 0.55, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 104), 0.1, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule.warmupSteps(ratio: 0.008, totalSteps: 1000), 8)
    }
}
