import FuseText
import Foundation
import XCTest
import TestSupport

/// Every document of the corpus, against the Python libraries (scripts/make-tokenizer-fixtures.py).
final class TokenizerFixtureTests: XCTestCase {
    func testByteLevelTokenizerJSON() throws {
        let t = try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("bytelevel/tokenizer.json"))
        try assertMatchesFixture(tokenizer: t, fixture: "bytelevel")
    }

    func testSentencePieceConvertedTokenizerJSON() throws {
        let t = try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("spm/tokenizer.json"))
        try assertMatchesFixture(tokenizer: t, fixture: "spm-json")
    }

    func testSentencePieceModel() throws {
        let t = try BPETokenizer.load(sentencePieceModel: Fixtures.tokenizers("spm/tokenizer.model"))
        try assertMatchesFixture(tokenizer: t, fixture: "spm-model")
    }

    func testMetaspaceTokenizerJSON() throws {
        let t = try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("metaspace/tokenizer.json"))
        try assertMatchesFixture(tokenizer: t, fixture: "metaspace")
    }

    /// sentencepiece's own normaliser (nmt_nfkc character map, extra whitespace removed), no byte fallback, and
    /// UNUSED pieces split back.
    func testSentencePieceModelWithCharacterMap() throws {
        let t = try BPETokenizer.load(sentencePieceModel: Fixtures.tokenizers("spm-nfkc/tokenizer.model"))
        try assertMatchesFixture(tokenizer: t, fixture: "spm-nfkc")
    }

    /// Small tokenizers for the less common options (see Tests/Fixtures/tokenizers/README.md).
    func testEdgeCaseTokenizers() throws {
        for name in ["edge-bytelevel", "edge-split", "edge-bytefallback", "edge-qwen2", "edge-metaspace-never"] {
            let t = try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("\(name)/tokenizer.json"))
            try assertMatchesFixture(tokenizer: t, fixture: name)
        }
    }

    func testLlama3SplitTokenizerJSON() throws {
        let t = try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("llama3/tokenizer.json"))
        try assertMatchesFixture(tokenizer: t, fixture: "llama3")
    }
}
