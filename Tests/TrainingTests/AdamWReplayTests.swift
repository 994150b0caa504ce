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
            // The trainer's path: the clipping coefficient is folded into the AdamW pass.
            let norm = GradientClipping.norm(model.gradients!)
            XCTAssertEqual(Float(norm), refNorm[s], accuracy: 1e-5 * max(1, refNorm[s]), "\(name) step \(s + 1) grad norm")
            let lr = schedule.rate(at: s)
            XCTAssertEqual(Float(lr), refLR[s], accuracy: 1e-9, "\(name) step \(s + 1) lr")
            adam.update(parameters: model.parameters, gradients: model.gradients!, layout: model.layout, lr: lr,
                        gradientScale: GradientClipping.scale(norm: norm, maxNorm: h.max_grad_norm))
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

    /// Folding clipping into AdamW gives the same bits as clipping in place first (torch's order), in the
    /// eight-lane body and the scalar tail alike.
    func testFoldedClippingMatchesClipThenUpdate() throws {
        let model = try LlamaModel.load(directory: Fixtures.llama("gqa_untied"))
        let n = model.layout.totalCount
        var rng = SeededRandom(seed: 11)
        let gradients = FloatBuffer(count: n)
        rng.fillNormal(gradients.pointer, count: n, std: 0.5)
        let start = FloatBuffer(Array(UnsafeBufferPointer(start: model.parameters.pointer, count: n)))
        func run(folded: Bool) -> [Float] {
            let params = FloatBuffer(Array(UnsafeBufferPointer(start: start.pointer, count: n)))
            let adam = AdamW(parameterCount: n, hyper: .init())
            for step in 0..<3 {
                let g = FloatBuffer(Array(UnsafeBufferPointer(start: gradients.pointer, count: n)))
                VectorMath.scale(g.pointer, n, by: Float(step + 1))
                if folded {
                    let norm = GradientClipping.norm(g)
                    adam.update(parameters: params, gradients: g, layout: model.layout, lr: 1e-3,
                                gradientScale: GradientClipping.scale(norm: norm, maxNorm: 1))
                } else {
                    GradientClipping.clip(g, maxNorm: 1)
                    adam.update(parameters: params, gradients: g, layout: model.layout, lr: 1e-3)
                }
            }
            return Array(UnsafeBufferPointer(start: params.pointer, count: n))
        }
        let folded = run(folded: true), inPlace = run(folded: false)
        XCTAssertNotEqual(folded, Array(UnsafeBufferPointer(start: start.pointer, count: n)))
        XCTAssertEqual(folded.map(\.bitPattern), inPlace.map(\.bitPattern))
    }

    /// The eight-lane body and the zero-padded tail of the kernel round identically: one call over 1,003 values
    /// equals 1,003 one-value calls (all tail).
    func testKernelLanesMatchScalarTail() {
        let n = 1003
        var rng = SeededRandom(seed: 5)
        func buffers() -> [FloatBuffer] {
            (0..<4).map { _ in let b = FloatBuffer(count: n); rng.fillNormal(b.pointer, count: n, std: 0.3); return b }
        }
        let a = buffers()
        rng = SeededRandom(seed: 5)
        let b = buffers()
        for v in [a[3], b[3]] { for i in 0..<n { v.pointer[i] = abs(v.pointer[i]) } }  // second moments are ≥ 0
        let c = AdamWKernel.Constants(decay: 0.999, oneMinusBeta1: 0.1, beta2: 0.95, oneMinusBeta2: 0.05,
                                      negStepSize: -1e-3, bias2Sqrt: 0.3, eps: 1e-8, gradientScale: 0.7)
        AdamWKernel.update(parameters: a[0].pointer, gradients: a[1].pointer, firstMoment: a[2].pointer,
                           secondMoment: a[3].pointer, count: n, c)
        for i in 0..<n {
            AdamWKernel.update(parameters: b[0].pointer + i, gradients: b[1].pointer + i, firstMoment: b[2].pointer + i,
                               secondMoment: b[3].pointer + i, count: 1, c)
        }
        for k in [0, 2, 3] {
            XCTAssertEqual(Array(UnsafeBufferPointer(start: a[k].pointer, count: n)).map(\.bitPattern),
                           Array(UnsafeBufferPointer(start: b[k].pointer, count: n)).map(\.bitPattern))
        }
    }

    func testNormIsNotFiniteWhenAnyGradientIsNot() {
        for bad in [Float.nan, .infinity, -.infinity] {
            let g = FloatBuffer(count: 1001)
            g.pointer[1000] = bad
            XCTAssertFalse(GradientClipping.norm(g).isFinite)
        }
        let big = FloatBuffer(count: 3)
        big.pointer[0] = .greatestFiniteMagnitude
        XCTAssertTrue(GradientClipping.norm(big).isFinite)
    }

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
