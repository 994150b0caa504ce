import FuseFormats
import FuseTensor
import Foundation
import Llama
import XCTest
import TestSupport

/// SmolLM2-135M-Instruct (Q4_1 GGUF) against transformers loading the same file
/// (Tests/Fixtures/smollm2/reference.json, written by scripts/make-smollm2-fixtures.py).
final class SmolLM2Tests: XCTestCase {
    struct Reference: Decodable {
        struct Sentence: Decodable {
            let text: String
            let ids: [Int32]
            let top_ids: [[Int]]
            let top_logits: [[Double]]
            let sample_logits: [[Double]]
            let logsumexp: [Double]
        }
        struct Paragraph: Decodable {
            let text: String
            let ids: [Int32]
            let mean_loss: Double
            let perplexity: Double
        }
        let sample_columns: [Int]
        let sentences: [Sentence]
        let paragraph: Paragraph
    }

    static let reference: Reference = {
        let url = Fixtures.root.appendingPathComponent("smollm2/reference.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    /// Loaded once for all tests of this class.
    nonisolated(unsafe) static var cached: LlamaModel?

    func smolLM2() throws -> LlamaModel {
        guard FileManager.default.fileExists(atPath: Fixtures.smolLM2.path) else {
            throw XCTSkip("SKIPPED: \(Fixtures.smolLM2.path) is absent; run bash scripts/fetch-models.sh to test SmolLM2")
        }
        if let m = Self.cached { return m }
        let m = try LlamaModel.load(gguf: Fixtures.smolLM2)
        Self.cached = m
        return m
    }

    func testConfigFromGGUFMetadata() throws {
        let c = try smolLM2().config
        XCTAssertEqual(c, LlamaConfig(vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9,
                                      numKVHeads: 3, headDim: 64, rmsNormEps: c.rmsNormEps, ropeTheta: 100000,
                                      tieWordEmbeddings: true, maxPositionEmbeddings: 8192, bosTokenId: 1, eosTokenId: 2))
        XCTAssertEqual(c.rmsNormEps, 1e-5, accuracy: 1e-12)
    }

    func testLogitsMatchTransformers() throws {
        let model = try smolLM2()
        let ref = Self.reference
        let V = model.config.vocabSize
        var worst = 0.0, worstLSE = 0.0, positions = 0
        for s in ref.sentences {
            let T = s.ids.count
            let logits = model.forward(ids: s.ids, batch: 1, seqLen: T)
            for t in 0..<T {
                let row = logits + t * V
                for (j, id) in s.top_ids[t].enumerated() {
                    worst = max(worst, abs(Double(row[id]) - s.top_logits[t][j]))
                }
                for (j, col) in ref.sample_columns.enumerated() {
                    worst = max(worst, abs(Double(row[col]) - s.sample_logits[t][j]))
                }
                var best = 0
                for v in 1..<V where row[v] > row[best] { best = v }
                XCTAssertEqual(best, s.top_ids[t][0], "top-1 differs at position \(t) of \"\(s.text.prefix(30))…\"")
                var m = -Double.infinity, sum = 0.0
                for v in 0..<V { m = max(m, Double(row[v])) }
                for v in 0..<V { sum += Foundation.exp(Double(row[v]) - m) }
                worstLSE = max(worstLSE, abs(m + Foundation.log(sum) - s.logsumexp[t]))
                positions += 1
            }
        }
        print("SmolLM2 vs transformers: \(positions) positions, max |Δlogit| = \(worst), max |Δlogsumexp| = \(worstLSE)")
        XCTAssertLessThan(worst, 1e-3, "logits differ from transformers by up to \(worst)")
        XCTAssertLessThan(worstLSE, 1e-3)
    }

    func testHeldOutPerplexityWithinATenthOfAPercent() throws {
        let model = try smolLM2()
        let p = Self.reference.paragraph
        let targets = Array(p.ids.dropFirst()) + [CrossEntropy.ignore]
        let r = model.loss(ids: p.ids, targets: targets, batch: 1, seqLen: p.ids.count)
        let ppl = Foundation.exp(r.lossSum / Double(r.count))
        print("SmolLM2 held-out perplexity: ours \(ppl), transformers \(p.perplexity)")
        XCTAssertEqual(ppl, p.perplexity, accuracy: p.perplexity * 1e-3)
    }
}
