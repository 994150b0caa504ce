import FuseFormats
import FuseText
import Foundation
import Llama
import XCTest
import TestSupport

/// The SmolLM2 tokenizer exactly as `fusellm` builds it from the GGUF that scripts/fetch-models.sh fetches,
/// against transformers' ids for the whole fixture corpus (expected-smollm2, scripts/make-tokenizer-fixtures.py).
final class SmolLM2TokenizerTests: XCTestCase {
    static let gguf = Fixtures.smolLM2

    func testGGUFTokenizerMatchesTransformers() throws {
        guard FileManager.default.fileExists(atPath: Self.gguf.path) else {
            throw XCTSkip("SKIPPED: \(Self.gguf.path) is absent; run `bash scripts/fetch-models.sh` to fetch SmolLM2")
        }
        let tokenizer = try BPETokenizer.load(gguf: GGUFFile(url: Self.gguf))
        XCTAssertEqual(tokenizer.vocabSize, 49152)
        XCTAssertEqual(tokenizer.eosTokenID, 2)
        let matched = try assertMatchesFixture(tokenizer: tokenizer, fixture: "smollm2")
        XCTAssertEqual(matched, try TokenizerFixture.corpus().count)
    }

    /// What `fusellm convert` writes next to the weights must tokenize the same way when read back.
    func testWrittenTokenizerJSONRoundTrips() throws {
        guard FileManager.default.fileExists(atPath: Self.gguf.path) else {
            throw XCTSkip("SKIPPED: \(Self.gguf.path) is absent; run `bash scripts/fetch-models.sh` to fetch SmolLM2")
        }
        let tokenizer = try BPETokenizer.load(gguf: GGUFFile(url: Self.gguf))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fusellm-smol-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, data) in try tokenizer.hfTokenizerFiles(addsBOS: false, maxLength: 8192) {
            try data.write(to: dir.appendingPathComponent(name))
        }
        let reread = try BPETokenizer.load(directory: dir)
        XCTAssertEqual(reread.fingerprint, tokenizer.fingerprint)
        _ = try assertMatchesFixture(tokenizer: reread, fixture: "smollm2")
    }
}
