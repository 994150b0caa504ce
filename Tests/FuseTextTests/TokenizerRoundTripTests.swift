import Foundation
import XCTest
@testable import FuseText
import TestSupport

/// `tokenizerJSON()` written, read back, and giving the same ids on every corpus document.
final class TokenizerRoundTripTests: XCTestCase {
    private func roundTrip(_ t: BPETokenizer, label: String, allowDifferentIDs: (String) -> Bool = { _ in false })
        throws -> BPETokenizer {
        let data = try t.tokenizerJSON()
        if let dir = ProcessInfo.processInfo.environment["FUSELLM_WRITE_TOKENIZER_JSON_DIR"] {
            try data.write(to: URL(fileURLWithPath: dir).appendingPathComponent("\(label).json"))
        }
        let back = try BPETokenizer.parse(tokenizerJSON: data, file: "\(label).json")
        XCTAssertEqual(back.vocabSize, t.vocabSize, label)
        var differ = 0
        for (i, doc) in try TokenizerFixture.corpus().enumerated() {
            let a = t.encode(doc), b = back.encode(doc)
            if a != b {
                XCTAssertTrue(allowDifferentIDs(doc), "\(label): document \(i) encodes differently after the round trip")
                differ += 1
            }
        }
        if differ > 0 { print("\(label): \(differ) documents with control/user-defined piece text differ, as documented") }
        // Written again, the same bytes.
        XCTAssertEqual(try back.tokenizerJSON(), data, label)
        return back
    }

    func testHuggingFaceFilesRoundTrip() throws {
        for name in ["bytelevel", "spm", "metaspace", "llama3", "edge-bytelevel", "edge-split", "edge-bytefallback",
                     "edge-qwen2", "edge-metaspace-never"] {
            let t = try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("\(name)/tokenizer.json"))
            let back = try roundTrip(t, label: name)
            XCTAssertEqual(back.fingerprint, t.fingerprint, name)
        }
    }

    func testSentencePieceModelRoundTrip() throws {
        let t = try BPETokenizer.load(sentencePieceModel: Fixtures.tokenizers("spm/tokenizer.model"))
        // sentencepiece reads "<s>", "</s>", "<unk>" in text as characters, where tokenizer.json matches them as
        // added tokens; a user-defined piece ("<think>") is matched by both, but sentencepiece after the dummy
        // prefix ("▁", "<think>", "x…") and tokenizer.json before it ("<think>", "▁x…").
        _ = try roundTrip(t, label: "spm-model") { doc in ["<s>", "</s>", "<unk>", "<think>"].contains { doc.contains($0) } }
    }

    func testSentencePieceCharacterMapIsNotWritten() throws {
        let t = try BPETokenizer.load(sentencePieceModel: Fixtures.tokenizers("spm-nfkc/tokenizer.model"))
        XCTAssertThrowsError(try t.tokenizerJSON()) { error in
            XCTAssertEqual((error as? TokenizerError)?.field, "ModelProto.normalizer_spec.precompiled_charsmap")
        }
    }

    func testGGUFBuiltRoundTrip() throws {
        let proto = try SentencePieceModel.parse(Data(contentsOf: Fixtures.tokenizers("spm/tokenizer.model")), file: "m")
        let t = try BPETokenizer.fromGGUF(
            model: "llama", pre: nil, tokens: proto.pieces.map(\.piece), merges: nil, scores: proto.pieces.map(\.score),
            tokenTypes: proto.pieces.map(\.type.rawValue), bosID: 1, eosID: 2, unknownID: 0, addSpacePrefix: nil)
        let back = try roundTrip(t, label: "gguf-llama")
        XCTAssertEqual(back.fingerprint, t.fingerprint)
    }

    func testFingerprints() throws {
        let a = try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("bytelevel/tokenizer.json"))
        let a2 = try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("bytelevel/tokenizer.json"))
        let b = try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("llama3/tokenizer.json"))
        let c = try BPETokenizer.load(sentencePieceModel: Fixtures.tokenizers("spm/tokenizer.model"))
        let d = try BPETokenizer.load(tokenizerJSON: Fixtures.tokenizers("spm/tokenizer.json"))
        XCTAssertEqual(a.fingerprint, a2.fingerprint)
        XCTAssertEqual(a.fingerprint.count, 16)
        XCTAssertEqual(Set([a, b, c, d].map(\.fingerprint)).count, 4)
        // A change that affects encoding changes the fingerprint.
        var text = try String(contentsOf: Fixtures.tokenizers("bytelevel/tokenizer.json"), encoding: .utf8)
        text = text.replacingOccurrences(of: #""add_prefix_space":false,"trim_offsets":true,"use_regex":true}"#,
                                         with: #""add_prefix_space":true,"trim_offsets":true,"use_regex":true}"#)
        let e = try BPETokenizer.parse(tokenizerJSON: Data(text.utf8))
        XCTAssertNotEqual(e.fingerprint, a.fingerprint)
    }
}
