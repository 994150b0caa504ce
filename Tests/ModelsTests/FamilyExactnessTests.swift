import FuseFormats
import FuseTensor
import Foundation
import Llama
import Models
import TestSupport
import XCTest

/// Every family against transformers: a tiny randomly initialised model of the family with its quirks switched on
/// (scripts/make-family-fixtures.py), loaded from its safetensors checkpoint, must give transformers' logits to
/// 1e-4 of max |logit|.
final class FamilyExactnessTests: XCTestCase {
    static let families = ["llama3", "llama-linear", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3",
                           "gpt_neox", "gpt_neox-sequential", "gpt2", "mixtral"]

    struct Reference {
        let ids: [[Int32]]
        let logits: [Float]
    }

    static func reference(_ name: String) throws -> Reference {
        let dir = Fixtures.family(name)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("reference.json"))) as! [String: Any]
        let ids = (json["ids"] as! [[Int]]).map { $0.map(Int32.init) }
        let logits = try SafetensorsFile(url: dir.appendingPathComponent("reference.safetensors")).floats("logits")
        return Reference(ids: ids, logits: logits)
    }

    func checkFamily(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try TransformerModel.load(directory: Fixtures.family(name))
        let ref = try Self.reference(name)
        let batch = ref.ids.count, seqLen = ref.ids[0].count
        let logits = model.forward(ids: ref.ids.flatMap { $0 }, batch: batch, seqLen: seqLen)
        let error = relativeError(logits, ref.logits)
        print("family \(name): logits within \(error) of max |logit| of transformers'")
        XCTAssertLessThan(error, 1e-4, "\(name): logits differ from transformers' by \(error) of max |logit|", file: file, line: line)
        // One sequence at a time gives the same rows (nothing leaks across the batch).
        let single = model.forward(ids: ref.ids[1], batch: 1, seqLen: seqLen)
        let secondRows = Array(ref.logits[(seqLen * model.vocabSize)...])
        XCTAssertLessThan(relativeError(single, secondRows), 1e-4, "\(name): batch of one", file: file, line: line)
    }

    func testLlama3RopeScaling() throws { try checkFamily("llama3") }
    func testLlamaLinearRopeScalingTied() throws { try checkFamily("llama-linear") }
    func testMistralSlidingWindow() throws { try checkFamily("mistral") }
    func testQwen2Biases() throws { try checkFamily("qwen2") }
    func testQwen3QKNorm() throws { try checkFamily("qwen3") }
    func testGemma2SoftCapping() throws { try checkFamily("gemma2") }
    func testGemma3LocalGlobal() throws { try checkFamily("gemma3") }
    func testPhi3FusedPartialRotary() throws { try checkFamily("phi3") }
    func testGPTNeoXParallel() throws { try checkFamily("gpt_neox") }
    func testGPTNeoXSequential() throws { try checkFamily("gpt_neox-sequential") }
    func testGPT2() throws { try checkFamily("gpt2") }
    func testMixtral() throws { try checkFamily("mixtral") }

    func testFixtureListCoversEveryFamily() throws {
        let dirs = try FileManager.default.contentsOfDirectory(atPath: Fixtures.root.appendingPathComponent("families").path)
        XCTAssertEqual(Set(dirs), Set(Self.families))
        let types = Set(try Self.families.map { name -> String in
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.family(name).appendingPathComponent("config.json"))) as! [String: Any]
            return json["model_type"] as! String
        })
        for family in ModelFamilies.all {
            XCTAssertFalse(types.isDisjoint(with: family.modelTypes), "\(family.modelTypes) has no exactness fixture")
        }
    }

    /// The generic forward pass on a Llama checkpoint equals the trainable LlamaModel's.
    func testGenericLlamaMatchesTrainableModel() throws {
        let dir = Fixtures.llama("gqa_untied")
        guard FileManager.default.fileExists(atPath: dir.path) else { throw XCTSkip("no tiny-llama fixture") }
        let generic = try TransformerModel.load(directory: dir)
        let llama = try LlamaModel.load(directory: dir)
        let ids: [Int32] = (0..<24).map { Int32(($0 * 7 + 3) % llama.config.vocabSize) }
        let a = Array(UnsafeBufferPointer(start: llama.forward(ids: ids, batch: 1, seqLen: ids.count), count: ids.count * llama.config.vocabSize))
        let b = generic.forward(ids: ids, batch: 1, seqLen: ids.count)
        XCTAssertLessThan(relativeError(b, a), 1e-6)
    }
}

/// The tiled output projection (`TransformerModel.nextTokenSummary`, `loss`) against the same quantities from the
/// full logits, across tile boundaries and with final-logit soft-capping.
final class TiledHeadTests: XCTestCase {
    func testSummaryFromVocabularyTilesEqualsFullLogits() throws {
        for name in ["gemma2", "gpt2", "qwen3"] {
            let model = try TransformerModel.load(directory: Fixtures.family(name))
            let ids = try FamilyExactnessTests.reference(name).ids[0]
            let V = model.vocabSize, T = ids.count, k = 7
            let full = Array(UnsafeBufferPointer(start: model.forward(ids: ids, batch: 1, seqLen: T), count: T * V))
            let rows = 3..<T
            let targets = rows.map { $0 + 1 < T ? ids[$0 + 1] : -1 }
            let saved = TransformerModel.vocabularyTile
            defer { TransformerModel.vocabularyTile = saved }
            TransformerModel.vocabularyTile = 17   // 96 = 5 × 17 + 11: uneven tiles
            let s = model.nextTokenSummary(ids: ids, rows: rows, k: k, targets: targets)
            for (i, r) in rows.enumerated() {
                let row = Array(full[(r * V)..<((r + 1) * V)])
                let m = row.max()!
                let logZ = m + Foundation.log(row.reduce(Float(0)) { $0 + Foundation.exp($1 - m) })
                XCTAssertEqual(s.logZ[i], logZ, accuracy: 1e-5, "\(name) row \(r)")
                let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }
                XCTAssertEqual(s.topIDs[(i * k)..<((i + 1) * k)].map(Int.init), Array(order.prefix(k)), "\(name) row \(r)")
                for j in 0..<k { XCTAssertEqual(s.topLogProbs[i * k + j], row[order[j]] - logZ, accuracy: 1e-5) }
                if targets[i] >= 0 { XCTAssertEqual(s.targetLogits[i], row[Int(targets[i])], accuracy: 1e-5) } else { XCTAssertTrue(s.targetLogits[i].isNaN) }
            }
            // The loss through the tiles equals cross-entropy over the full logits.
            let lossTargets = Array(ids.dropFirst()) + [CrossEntropy.ignore]
            let tiled = model.loss(ids: ids, targets: lossTargets, batch: 1, seqLen: T)
            let direct = full.withUnsafeBufferPointer { f in lossTargets.withUnsafeBufferPointer {
                CrossEntropy.loss(logits: f.baseAddress!, targets: $0.baseAddress!, rows: T, vocab: V)
            } }
            XCTAssertEqual(tiled.count, direct.count)
            XCTAssertEqual(tiled.lossSum, direct.lossSum, accuracy: 1e-4 * abs(direct.lossSum))
        }
    }
}

/// GGUF files of the families whose llama.cpp layout differs from Llama's (written by scripts/make-family-fixtures.py
/// and read back by transformers' GGUF loader to the same logits), and the real SmolLM2 GGUF through the generic path.
final class FamilyGGUFTests: XCTestCase {
    func testQwenGGUFGivesTheCheckpointsLogits() throws {
        for name in ["qwen2", "qwen3"] {
            let model = try TransformerModel.load(gguf: GGUFFile(url: Fixtures.family(name).appendingPathComponent("model.gguf")))
            let ref = try FamilyExactnessTests.reference(name)
            let logits = model.forward(ids: ref.ids.flatMap { $0 }, batch: ref.ids.count, seqLen: ref.ids[0].count)
            XCTAssertLessThan(relativeError(logits, ref.logits), 1e-4, name)
        }
    }

    func testSmolLM2ThroughTheGenericPathEqualsLlamaModel() throws {
        guard FileManager.default.fileExists(atPath: Fixtures.smolLM2.path) else {
            throw XCTSkip("SKIPPED: \(Fixtures.smolLM2.path) is absent; run bash scripts/fetch-models.sh")
        }
        let generic = try TransformerModel.load(gguf: GGUFFile(url: Fixtures.smolLM2))
        let llama = try LlamaModel.load(gguf: Fixtures.smolLM2)
        let ids: [Int32] = (0..<48).map { Int32(($0 * 7919 + 17) % 49152) }
        let a = Array(UnsafeBufferPointer(start: llama.forward(ids: ids, batch: 1, seqLen: ids.count), count: ids.count * 49152))
        // Not bit-identical: LlamaModel adds the projections into the residual inside the GEMM (beta = 1).
        XCTAssertLessThan(relativeError(generic.forward(ids: ids, batch: 1, seqLen: ids.count), a), 1e-5)
    }

    func testUnsupportedGGUFArchitectureIsOneClearError() throws {
        let url = Fixtures.family("qwen2").appendingPathComponent("model.gguf")
        let bytes = try Data(contentsOf: url)
        // Same file with general.architecture renamed to one no family reads ("qwen2" → "qwen9": same length).
        let patched = bytes.replacingOccurrences(of: Data("qwen2".utf8), with: Data("qwen9".utf8))
        let dir = temporaryDirectory("gguf-arch")
        let bad = dir.appendingPathComponent("model.gguf")
        try patched.write(to: bad)
        XCTAssertThrowsError(try TransformerModel.load(gguf: GGUFFile(url: bad))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(bad.path) && text.contains("qwen9") && text.contains("supported"), text)
        }
    }
}

extension Data {
    fileprivate func replacingOccurrences(of a: Data, with b: Data) -> Data {
        var out = self
        var start = out.startIndex
        while let r = out.range(of: a, in: start..<out.endIndex) {
            out.replaceSubrange(r, with: b)
            start = r.lowerBound + b.count
        }
        return out
    }
}
