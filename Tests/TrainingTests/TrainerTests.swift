import FuseFormats
import FuseTensor
import FuseText
import Llama
import Training
import XCTest
import TestSupport

final class TrainerTests: XCTestCase {
    static let modelConfig = LlamaConfig(vocabSize: 256, hiddenSize: 32, intermediateSize: 64, numLayers: 2,
                                         numHeads: 4, numKVHeads: 2, maxPositionEmbeddings: 64)

    static let text = String(repeating: "Knowledge fusion of large language models: the student learns from several teachers. ", count: 12)

    static func makeData() -> TokenBlocks { TokenBlocks(tokens: ByteTokenizer().encode(Self.text), blockSize: 32) }

    static func makeConfig(steps: Int) -> TrainConfig {
        var c = TrainConfig()
        c.learningRate = 3e-3
        c.warmupRatio = 0.2
        c.minLRRatio = 0.1
        c.batchSize = 2
        c.gradAccumulation = 2
        c.blockSize = 32
        c.totalSteps = steps
        c.checkpointEvery = 3
        c.keepCheckpoints = 2
        c.seed = 11
        return c
    }

    func train(steps: Int, output: URL, resume: Bool = false, stopAfter: Int? = nil) throws -> [StepRecord] {
        let model = LlamaModel.randomlyInitialized(config: Self.modelConfig, seed: 5)
        let trainer = try Trainer(model: model, data: Self.makeData(), config: Self.makeConfig(steps: steps), output: output)
        trainer.quiet = true
        return try trainer.run(resume: resume, stopAfter: stopAfter)
    }

    func testTrainingLowersLossAndWritesReloadableCheckpoint() throws {
        let out = temporaryDirectory("train")
        let records = try train(steps: 8, output: out)
        XCTAssertEqual(records.count, 8)
        XCTAssertLessThan(records.last!.loss, records.first!.loss - 0.5, "loss should fall: \(records.map(\.loss))")
        let final = try LlamaModel.load(directory: out.appendingPathComponent("final"))
        XCTAssertEqual(final.config, Self.modelConfig)
        let ckpts = CheckpointStore(directory: out).checkpoints().map(\.step)
        XCTAssertEqual(ckpts, [6, 8], "checkpoints every 3 steps and at the end, newest 2 kept")
        let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 8)
        let last = try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as! [String: Any]
        XCTAssertEqual(last["step"] as? Int, 8)
        XCTAssertEqual(last["loss"] as? Double, records.last!.loss)
        // No temporary files; the directory lock's file stays (unlinking a flock file races with the next writer).
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [DirectoryLock.fileName])
    }

    /// Interrupt after 4 steps (last checkpoint at 3), resume, and compare with an uninterrupted run.
    func testResumeReproducesUninterruptedLosses() throws {
        let straight = try train(steps: 7, output: temporaryDirectory("straight"))
        let out = temporaryDirectory("resumed")
        let first = try train(steps: 7, output: out, stopAfter: 4)
        XCTAssertEqual(first.count, 4)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("final").path))
        let second = try train(steps: 7, output: out, resume: true)
        XCTAssertEqual(second.first?.step, 4, "resumes after the step-3 checkpoint")
        XCTAssertEqual(second.map(\.loss), Array(straight.dropFirst(3)).map(\.loss), "bit-identical losses after resume")
        XCTAssertEqual(second.map(\.blocks), Array(straight.dropFirst(3)).map(\.blocks))
        let a = try LlamaModel.load(directory: out.appendingPathComponent("final"))
        let lines = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 7, "steps logged by the interrupted run after its checkpoint are not duplicated")
        XCTAssertTrue(Reduce.allFinite(a.parameters.pointer, a.parameters.count))
    }

    func testResumeRefusesChangedSettingsOrData() throws {
        let out = temporaryDirectory("refuse")
        _ = try train(steps: 3, output: out)
        let model = LlamaModel.randomlyInitialized(config: Self.modelConfig, seed: 5)
        var changed = Self.makeConfig(steps: 3)
        changed.learningRate = 1
        let t1 = try Trainer(model: model, data: Self.makeData(), config: changed, output: out)
        XCTAssertThrowsError(try t1.run(resume: true)) { XCTAssertTrue("\($0)".contains("different training settings"), "\($0)") }
        let otherData = TokenBlocks(tokens: ByteTokenizer().encode(String(Self.text.reversed())), blockSize: 32)
        let t2 = try Trainer(model: model, data: otherData, config: Self.makeConfig(steps: 3), output: out)
        XCTAssertThrowsError(try t2.run(resume: true)) { XCTAssertTrue("\($0)".contains("different training data"), "\($0)") }
        let t3 = try Trainer(model: model, data: Self.makeData(), config: Self.makeConfig(steps: 3), output: out)
        XCTAssertThrowsError(try t3.run(resume: false)) { XCTAssertTrue("\($0)".contains("--resume"), "\($0)") }
    }

    func testNonFiniteLossStopsWithoutCheckpoint() throws {
        let out = temporaryDirectory("nan")
        let model = LlamaModel.randomlyInitialized(config: Self.modelConfig, seed: 5)
        model.pointer("model.norm.weight")![0] = .infinity
        let trainer = try Trainer(model: model, data: Self.makeData(), config: Self.makeConfig(steps: 3), output: out)
        trainer.quiet = true
        XCTAssertThrowsError(try trainer.run(resume: false)) { error in
            XCTAssertTrue("\(error)".contains("step 1"), "\(error)")
            XCTAssertTrue("\(error)".contains("blocks"), "\(error)")
        }
        XCTAssertEqual(CheckpointStore(directory: out).checkpoints().count, 0)
    }

    func testUnwritableOutputIsAClearError() throws {
        let file = temporaryDirectory("ro").appendingPathComponent("not-a-dir")
        try Data("x".utf8).write(to: file)
        let model = LlamaModel.randomlyInitialized(config: Self.modelConfig, seed: 5)
        let trainer = try Trainer(model: model, data: Self.makeData(), config: Self.makeConfig(steps: 2),
                                  output: file.appendingPathComponent("run"))
        XCTAssertThrowsError(try trainer.run(resume: false)) { XCTAssertTrue("\($0)".contains("not-a-dir"), "\($0)") }
    }

    /// A second training on the same --output (started by mistake) stops before touching the first one's files.
    func testASecondTrainingOnTheSameOutputIsRefused() throws {
        let out = temporaryDirectory("train-locked")
        let holder = try DirectoryLock(out, mode: .exclusive, purpose: "fusellm train")
        XCTAssertThrowsError(try train(steps: 2, output: out)) {
            XCTAssertTrue("\($0)".contains("in use by another fusellm process (fusellm train, pid"), "\($0)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path).filter { !$0.hasPrefix(".") }, [])
        withExtendedLifetime(holder) {}
    }

    /// A Mistral target's sliding window is honoured only by blocks no longer than it (LlamaModel attends to all).
    func testBlocksLongerThanASlidingWindowAreRefused() throws {
        let json: [String: Any] = ["model_type": "mistral", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
                                   "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 1,
                                   "max_position_embeddings": 64, "sliding_window": 12]
        let config = try LlamaConfig(json: json, source: "mistral/config.json")
        XCTAssertEqual(config.slidingWindow, 12)
        let model = LlamaModel.randomlyInitialized(config: config, seed: 1)
        XCTAssertThrowsError(try Trainer.checkCompatible(model: model, blocks: TokenBlocks(tokens: [Int32](repeating: 3, count: 32), blockSize: 16))) {
            XCTAssertTrue("\($0)".contains("sliding_window 12"), "\($0)")
        }
        XCTAssertNoThrow(try Trainer.checkCompatible(model: model, blocks: TokenBlocks(tokens: [Int32](repeating: 3, count: 24), blockSize: 12)))
    }

    func testBlocksTheModelCannotReadAreRefused() throws {
        let small = LlamaConfig(vocabSize: 64, hiddenSize: 32, intermediateSize: 64, numLayers: 1,
                                numHeads: 4, numKVHeads: 2, maxPositionEmbeddings: 16)
        let model = LlamaModel.randomlyInitialized(config: small, seed: 1)
        let bytes = TokenBlocks(tokens: ByteTokenizer().encode("outside the vocabulary"), blockSize: 8)
        XCTAssertThrowsError(try Trainer.evaluate(model: model, blocks: bytes, batchSize: 2)) {
            XCTAssertTrue("\($0)".contains("outside the model's vocabulary of 64"), "\($0)")
        }
        let long = TokenBlocks(tokens: [Int32](repeating: 3, count: 64), blockSize: 32)
        XCTAssertThrowsError(try Trainer.evaluate(model: model, blocks: long, batchSize: 2)) {
            XCTAssertTrue("\($0)".contains("max_position_embeddings 16"), "\($0)")
        }
        let fine = TokenBlocks(tokens: [Int32](repeating: 3, count: 32), blockSize: 16)
        let r = try Trainer.evaluate(model: model, blocks: fine, batchSize: 2)
        XCTAssertEqual(r.tokens, 30)
        XCTAssertTrue(r.perplexity.isFinite)
    }

    func testBlockOrderIsAPermutationPerEpoch() {
        var order = BlockOrder(blockCount: 10, seed: 3)
        let epoch0 = (0..<10).map { order.block(at: $0) }
        let epoch1 = (10..<20).map { order.block(at: $0) }
        XCTAssertEqual(Set(epoch0), Set(0..<10))
        XCTAssertEqual(Set(epoch1), Set(0..<10))
        XCTAssertNotEqual(epoch0, epoch1)
        var again = BlockOrder(blockCount: 10, seed: 3)
        XCTAssertEqual((0..<10).map { again.block(at: $0) }, epoch0)
    }
}
