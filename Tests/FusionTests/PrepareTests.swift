import FuseCorpus
import FuseFormats
import FuseText
@testable import Fusion
import XCTest
import TestSupport

/// Small corpora and tokenizers shared by the prepare and dump tests.
enum PrepareFixture {
    static let tokenizers = Fixtures.root.appendingPathComponent("tokenizers")
    /// SentencePiece-style (Metaspace) BPE, 3000 tokens, EOS `</s>`: the target.
    static let spm = try! BPETokenizer.load(tokenizerJSON: tokenizers.appendingPathComponent("spm/tokenizer.json"))
    /// Byte-level BPE, 3000 tokens, EOS `<|endoftext|>`: a source.
    static let byteLevel = try! BPETokenizer.load(tokenizerJSON: tokenizers.appendingPathComponent("bytelevel/tokenizer.json"))

    /// The first `count` real documents of the tokenizer fixture corpus (prose, code, several scripts).
    static func documents(_ count: Int, skipping: Int = 0) -> [String] {
        let lines = try! String(contentsOf: tokenizers.appendingPathComponent("corpus.jsonl"), encoding: .utf8)
            .split(separator: "\n").dropFirst(skipping).prefix(count)
        return lines.map { try! JSONDecoder().decode(String.self, from: Data($0.utf8)) }
    }

    /// A JSON-lines corpus of `texts`, with the Pile's nested domain field.
    static func writeCorpus(_ texts: [String], domains: [String]? = nil, label: String) -> URL {
        let dir = temporaryDirectory("corpus-\(label)")
        let url = dir.appendingPathComponent("corpus.jsonl")
        let lines = texts.enumerated().map { i, t -> String in
            let text = String(decoding: try! JSONEncoder().encode(t), as: UTF8.self)
            let domain = domains.map { ", \"meta\": {\"pile_set_name\": \"\($0[i % $0.count])\"}" } ?? ""
            return "{\"text\": \(text)\(domain)}"
        }
        try! Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        return url
    }

    @discardableResult
    static func prepare(_ corpus: URL, into output: URL, maxTextTokens: Int = 64, blockSize: Int = 50, textsPerChunk: Int = 7,
                        also: [BPETokenizer] = [byteLevel], limit: Int? = nil) throws -> PreparedManifest {
        var options = PrepareOptions()
        options.maxTextTokens = maxTextTokens
        options.blockSize = blockSize
        options.textsPerChunk = textsPerChunk
        options.limitDocuments = limit
        return try PreparedCorpusWriter(corpus: Corpus(paths: [corpus.path], domainField: "meta.pile_set_name"), target: spm,
                                        targetSource: "spm", also: also.map { ($0, "also") }, options: options, output: output).run()
    }

    /// Every regular file of a directory (hidden ones included) with its bytes.
    static func files(_ dir: URL) -> [String: Data] {
        var out: [String: Data] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] {
            out[name] = try? Data(contentsOf: dir.appendingPathComponent(name))
        }
        return out
    }
}

final class PrepareTests: XCTestCase {
    func testLongDocumentsAreCutByTheTokenizerWithMostTokensAndEOSEndsEachDocument() throws {
        // English prose and code (more SentencePiece tokens) and Cyrillic/Greek/CJK text (more byte-level tokens).
        let docs = PrepareFixture.documents(8) + PrepareFixture.documents(4, skipping: 65)
        let corpus = PrepareFixture.writeCorpus(docs, label: "cut")
        let out = temporaryDirectory("prep-cut")
        let m = try PrepareFixture.prepare(corpus, into: out)
        let p = try PreparedCorpus(directory: out)
        let spm = PrepareFixture.spm, bl = PrepareFixture.byteLevel, eos = spm.eosTokenID!
        var expected: [(text: String, ends: Bool, document: Int)] = []
        var sawEachWinner = (target: false, source: false)
        for (d, doc) in docs.enumerated() {
            let a = spm.encode(doc), b = bl.encode(doc)
            guard max(a.count, b.count) > 64 else { expected.append((doc, true, d)); continue }
            let (ids, tokenizer) = b.count > a.count ? (b, bl) : (a, spm)
            if tokenizer === bl { sawEachWinner.source = true } else { sawEachWinner.target = true }
            let pieces = stride(from: 0, to: ids.count, by: 64).map { tokenizer.decode(Array(ids[$0..<min($0 + 64, ids.count)])) }
            for (i, piece) in pieces.enumerated() where !piece.isEmpty || i == pieces.count - 1 {
                expected.append((piece, i == pieces.count - 1, d))
            }
        }
        XCTAssertTrue(sawEachWinner.source && sawEachWinner.target, "the fixture should exercise both tokenizers winning")
        XCTAssertEqual(p.textCount, expected.count)
        XCTAssertEqual(m.counts?.splitDocuments, Set(expected.filter { !$0.ends }.map(\.document)).count)
        for i in 0..<p.textCount {
            let t = try p.text(i)
            XCTAssertEqual(t.text, expected[i].text, "text \(i)")
            XCTAssertEqual(t.endsDocument, expected[i].ends, "text \(i)")
            XCTAssertEqual(t.document, expected[i].document)
            // Target tokens are the target's encoding of the text; EOS closes the document's last text only.
            XCTAssertEqual(t.targetTokens, spm.encode(t.text) + (t.endsDocument ? [eos] : []), "text \(i)")
            XCTAssertEqual(try p.targetTokens(ofText: i), t.targetTokens)
        }
    }

    func testBlockSpansCoverExactlyTheConcatenatedTargetStream() throws {
        let corpus = PrepareFixture.writeCorpus(PrepareFixture.documents(9), label: "spans")
        let out = temporaryDirectory("prep-spans")
        let m = try PrepareFixture.prepare(corpus, into: out, blockSize: 37)
        let p = try PreparedCorpus(directory: out)
        var stream: [Int32] = []
        for i in 0..<p.textCount { stream += try p.targetTokens(ofText: i) }
        XCTAssertEqual(p.tokenCount, stream.count)
        XCTAssertEqual(p.blockCount, stream.count / 37)
        XCTAssertEqual(m.counts?.droppedTailTokens, stream.count % 37)
        var position = 0
        for b in 0..<p.blockCount {
            let block = try p.block(b)
            XCTAssertEqual(block.tokens, Array(stream[(b * 37)..<((b + 1) * 37)]), "block \(b)")
            XCTAssertEqual(block.spans.reduce(0) { $0 + $1.tokens.count }, 37)
            // Spans continue exactly where the previous block stopped.
            for s in block.spans {
                var start = 0
                for i in 0..<s.text { start += try p.targetTokens(ofText: i).count }
                XCTAssertEqual(start + s.tokens.lowerBound, position, "block \(b) text \(s.text)")
                position += s.tokens.count
            }
        }
        XCTAssertThrowsError(try p.block(p.blockCount))
    }

    func testPrepareIsDeterministicAndResumesToTheSameBytes() throws {
        let corpus = PrepareFixture.writeCorpus(PrepareFixture.documents(14), domains: ["Pile-CC", "Github"], label: "resume")
        let a = temporaryDirectory("prep-a"), b = temporaryDirectory("prep-b")
        try PrepareFixture.prepare(corpus, into: a)
        try PrepareFixture.prepare(corpus, into: b)
        let reference = PrepareFixture.files(a)
        XCTAssertEqual(PrepareFixture.files(b), reference, "two runs give the same bytes")
        let chunks = reference.keys.filter { $0.hasPrefix("texts-") }.sorted()
        XCTAssertGreaterThan(chunks.count, 3)
        // The resume point must sometimes fall inside a document: find a chunk that ends mid-document.
        let p = try PreparedCorpus(directory: a)
        let perChunk = p.manifest.settings.textsPerChunk
        let midDocument = try (1..<chunks.count).first { !(try p.endsDocument($0 * perChunk - 1)) }
        XCTAssertNotNil(midDocument, "the fixture should put a chunk boundary inside a document")

        for keep in [0, 1, midDocument ?? 2, chunks.count - 1] {
            // A killed run: manifest not complete, no index, chunks from `keep` on missing, a temporary file left.
            var m = try PreparedManifest.read(b.appendingPathComponent(PreparedManifest.fileName))
            m = PreparedManifest(settings: m.settings)
            try m.write(to: b.appendingPathComponent(PreparedManifest.fileName))
            try FileManager.default.removeItem(at: b.appendingPathComponent("index.bin"))
            for c in keep..<chunks.count { try FileManager.default.removeItem(at: b.appendingPathComponent(chunks[c])) }
            try Data("partial".utf8).write(to: b.appendingPathComponent(".\(chunks[min(keep, chunks.count - 1)]).tmp-99999"))
            try PrepareFixture.prepare(corpus, into: b)
            XCTAssertEqual(PrepareFixture.files(b), reference, "resumed with \(keep) chunks kept")
        }
        // The short last chunk is redone rather than extended.
        let last = b.appendingPathComponent(chunks.last!)
        var m = try PreparedManifest.read(b.appendingPathComponent(PreparedManifest.fileName))
        m = PreparedManifest(settings: m.settings)
        try m.write(to: b.appendingPathComponent(PreparedManifest.fileName))
        try PreparedTextChunk.encode([], tokenBytes: 2).write(to: last)
        try PrepareFixture.prepare(corpus, into: b)
        XCTAssertEqual(PrepareFixture.files(b), reference)
        XCTAssertEqual(try PreparedCorpus(directory: b).domain(ofText: 0), "Pile-CC")
        XCTAssertEqual(try PreparedCorpus(directory: b).domain(ofText: p.textCount - 1) != nil, true)
    }

    func testOtherSettingsAndUnfinishedOrCorruptOutputsAreRefused() throws {
        let corpus = PrepareFixture.writeCorpus(PrepareFixture.documents(5), label: "refuse")
        let out = temporaryDirectory("prep-refuse")
        try PrepareFixture.prepare(corpus, into: out)
        XCTAssertThrowsError(try PrepareFixture.prepare(corpus, into: out, maxTextTokens: 100)) {
            XCTAssertTrue("\($0)".contains("prepared.json") && "\($0)".contains("max text tokens"), "\($0)")
        }
        XCTAssertThrowsError(try PrepareFixture.prepare(corpus, into: out, also: [])) {
            XCTAssertTrue("\($0)".contains("--also-tokenizer"), "\($0)")
        }
        // A directory holding something else is not written into.
        let other = temporaryDirectory("prep-other")
        try Data("x".utf8).write(to: other.appendingPathComponent("notes.txt"))
        XCTAssertThrowsError(try PrepareFixture.prepare(corpus, into: other)) {
            XCTAssertTrue("\($0)".contains("not empty"), "\($0)")
        }
        // An unfinished directory is not readable as a prepared corpus.
        let unfinished = temporaryDirectory("prep-unfinished")
        try PreparedManifest(settings: try PreparedCorpus(directory: out).manifest.settings)
            .write(to: unfinished.appendingPathComponent(PreparedManifest.fileName))
        XCTAssertThrowsError(try PreparedCorpus(directory: unfinished)) {
            XCTAssertTrue("\($0)".contains("has not finished"), "\($0)")
        }
        // A corrupt chunk is named by verify(); a truncated one when read.
        let chunk = out.appendingPathComponent(PreparedManifest.chunkFileName(0))
        var bytes = try Data(contentsOf: chunk)
        bytes[bytes.count - 3] ^= 0x20
        try bytes.write(to: chunk)
        XCTAssertThrowsError(try PreparedCorpus(directory: out).verify()) {
            XCTAssertTrue("\($0)".contains(chunk.lastPathComponent) && "\($0)".contains("checksum"), "\($0)")
        }
        try bytes.prefix(bytes.count - 10).write(to: chunk)
        XCTAssertThrowsError(try PreparedCorpus(directory: out).text(0)) {
            XCTAssertTrue("\($0)".contains(chunk.lastPathComponent), "\($0)")
        }
        XCTAssertThrowsError(try PreparedCorpus.open(out, target: PrepareFixture.byteLevel)) {
            XCTAssertTrue("\($0)".contains("another target tokenizer"), "\($0)")
        }
    }

    func testDomainsComeFromTheParquetColumnOrANestedJSONKey() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/sample/minipile/validation-00000-of-00001.parquet")
        let withDomains = try Corpus(paths: [sample.path], domainField: "domain").documents().collect()
        let domainColumn = try Corpus(paths: [sample.path], textField: "domain").documents().collect().map(\.text)
        XCTAssertEqual(withDomains.map(\.domain), domainColumn)
        XCTAssertEqual(try Corpus(paths: [sample.path]).documents().collect().map(\.domain), withDomains.map { _ in nil })
        XCTAssertEqual(try Corpus(paths: [sample.path], domainField: "absent").documents().collect().map(\.domain),
                       withDomains.map { _ in nil }, "a missing column means no domain")

        let jsonl = temporaryDirectory("domain").appendingPathComponent("pile.jsonl")
        try Data("""
            {"meta": {"pile_set_name": "ArXiv", "other": [1, {"pile_set_name": "no"}]}, "text": "one"}
            {"text": "two", "meta": {"pile_set_name": 3}}
            {"text": "three"}
            {"meta": {"pile_set_name": "A"}, "text": "four", "meta": {"pile_set_name": "Git\\u0048ub"}}

            """.utf8).write(to: jsonl)
        let docs = try Corpus(paths: [jsonl.path], domainField: "meta.pile_set_name").documents().collect()
        XCTAssertEqual(docs.map(\.text), ["one", "two", "three", "four"])
        XCTAssertEqual(docs.map(\.domain), ["ArXiv", nil, nil, "GitHub"])
        XCTAssertThrowsError(try Corpus(paths: [jsonl.path], domainField: "meta..x"))
    }
}
