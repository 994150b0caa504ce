import FuseFormats
import FuseTensor
import FuseText
import Foundation
import Llama
import Training
import XCTest
import TestSupport

/// The trainer with a fusion term: λ·CLM + (1 − λ)·CE(student, soft targets).
final class FusedTrainingTests: XCTestCase {
    /// A made-up teacher: at each position, most mass on the true next byte and the rest on its neighbour.
    func teacher(_ data: TokenBlocks) -> (Int) throws -> SparseTargets? {
        { block in
            let tokens = Array(data.block(block))
            var t = SparseTargets()
            for i in tokens.indices {
                let next = i + 1 < tokens.count ? tokens[i + 1] : tokens[i]
                t.appendRow(ids: [next, (next + 1) % 256], probs: [0.7, 0.3])
            }
            return t
        }
    }

    func run(lambda: Double, steps: Int, output: URL, resume: Bool = false, stopAfter: Int? = nil,
             soft: ((TokenBlocks) -> (Int) throws -> SparseTargets?)? = nil,
             stepMetrics: (() -> [String: Any])? = nil) throws -> [StepRecord] {
        let model = LlamaModel.randomlyInitialized(config: TrainerTests.modelConfig, seed: 5)
        var config = TrainerTests.makeConfig(steps: steps)
        config.fusionLambda = lambda
        config.fusion = "test-teacher"
        let data = TrainerTests.makeData()
        let trainer = try Trainer(model: model, data: data, config: config, output: output)
        trainer.quiet = true
        trainer.softTargets = (soft ?? teacher)(data)
        trainer.stepMetrics = stepMetrics.map { metrics in { _ in metrics() } }
        return try trainer.run(resume: resume, stopAfter: stopAfter)
    }

    func testFusedTrainingLowersTheLossAndLogsBothTerms() throws {
        let out = temporaryDirectory("fused")
        let records = try run(lambda: 0.5, steps: 8, output: out)
        XCTAssertLessThan(records.last!.loss, records.first!.loss - 0.5, "\(records.map(\.loss))")
        let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let last = try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as! [String: Any]
        let clm = try XCTUnwrap(last["clm_loss"] as? Double), fusion = try XCTUnwrap(last["fusion_loss"] as? Double)
        XCTAssertEqual(0.5 * clm + 0.5 * fusion, records.last!.loss, accuracy: 1e-9)
        // The soft targets put 0.3 on a wrong byte: their CE can never fall below their entropy.
        let entropy = -(0.7 * log(0.7) + 0.3 * log(0.3))
        XCTAssertGreaterThan(fusion, entropy)
    }

    /// Each metrics line carries what `stepMetrics` says about the steps since the previous line (fusion statistics),
    /// without overriding the trainer's own fields.
    func testStepMetricsJoinEveryLine() throws {
        let out = temporaryDirectory("step-metrics")
        var calls = 0
        _ = try run(lambda: 0.5, steps: 3, output: out, stepMetrics: {
            calls += 1
            return ["fusion": ["blocks": calls], "step": -1]
        })
        let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let records = try lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(records.map { $0["step"] as? Int }, [1, 2, 3])
        XCTAssertEqual(records.map { ($0["fusion"] as? [String: Any])?["blocks"] as? Int }, [1, 2, 3])
    }

    /// λ = 1 ignores the teachers: the same losses as plain causal-LM training.
    func testLambdaOneIsPlainCLM() throws {
        let model = LlamaModel.randomlyInitialized(config: TrainerTests.modelConfig, seed: 5)
        let trainer = try Trainer(model: model, data: TrainerTests.makeData(), config: TrainerTests.makeConfig(steps: 3), output: temporaryDirectory("plain"))
        trainer.quiet = true
        let plain = try trainer.run(resume: false)
        let fused = try run(lambda: 1, steps: 3, output: temporaryDirectory("lambda1"))
        XCTAssertEqual(plain.map { $0.loss }, fused.map { $0.loss })
    }

    func testResumeOfFusedTrainingIsExact() throws {
        let straight = try run(lambda: 0.7, steps: 7, output: temporaryDirectory("fstraight"))
        let out = temporaryDirectory("fresumed")
        _ = try run(lambda: 0.7, steps: 7, output: out, stopAfter: 4)
        let second = try run(lambda: 0.7, steps: 7, output: out, resume: true)
        XCTAssertEqual(second.map(\.loss), Array(straight.dropFirst(3)).map(\.loss))
    }

    func testPoisonedSoftTargetsStopTheRunBeforeAnyCheckpoint() throws {
        let out = temporaryDirectory("poison")
        XCTAssertThrowsError(try run(lambda: 0.5, steps: 3, output: out, soft: { _ in { _ in
            var t = SparseTargets()
            for _ in 0..<32 { t.appendRow(ids: [1], probs: [.nan]) }
            return t
        } })) { XCTAssertTrue("\($0)".contains("non-finite"), "\($0)") }
        XCTAssertThrowsError(try run(lambda: 0.5, steps: 3, output: temporaryDirectory("short"), soft: { _ in { _ in
            SparseTargets()
        } })) { XCTAssertTrue("\($0)".contains("rows"), "\($0)") }
        XCTAssertTrue(CheckpointStore(directory: out).checkpoints().isEmpty)
    }

    /// With skipNonFinite, a step whose loss overflows is reported and skipped; the others train normally.
    func testANonFiniteStepIsSkippedByFlag() throws {
        let out = temporaryDirectory("skip")
        let model = LlamaModel.randomlyInitialized(config: TrainerTests.modelConfig, seed: 5)
        var config = TrainerTests.makeConfig(steps: 4)
        config.fusionLambda = 0.5
        config.skipNonFinite = true
        let data = TrainerTests.makeData()
        let trainer = try Trainer(model: model, data: data, config: config, output: out)
        trainer.quiet = true
        let poisoned = 3
        let good = teacher(data)
        trainer.softTargets = { block in
            guard block == poisoned else { return try good(block) }
            var t = SparseTargets()
            for _ in 0..<32 { t.appendRow(ids: [1], probs: [3e38]) }  // finite, but the loss overflows
            return t
        }
        let records = try trainer.run(resume: false)
        XCTAssertEqual(records.count, 4)
        let skipped = records.filter { $0.gradNorm.isNaN }  // loss or gradient overflowed
        XCTAssertEqual(skipped.count, records.filter { $0.blocks.contains(poisoned) }.count)
        XCTAssertFalse(skipped.isEmpty, "block \(poisoned) is in some step: \(records.map(\.blocks))")
        XCTAssertTrue(Reduce.allFinite(model.parameters.pointer, model.parameters.count))
        let log = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(log.contains("\"skipped\":true"), log)
        XCTAssertNotNil(try LlamaModel.load(directory: out.appendingPathComponent("final")))
    }
}
