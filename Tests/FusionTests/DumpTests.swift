import Models
import FuseCorpus
import FuseFormats
import FuseTensor
import FuseText
@testable import Fusion
import Llama
import XCTest
import TestSupport

final class DumpTests: XCTestCase {
    /// A small random Llama for a tokenizer (a wide init so its distributions are not flat).
    static func tinyModel(_ tokenizer: BPETokenizer, seed: UInt64) -> PretrainedModel {
        let config = LlamaConfig(vocabSize: tokenizer.vocabSize, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4,
                                 numKVHeads: 2, maxPositionEmbeddings: 256, initializerRange: 0.3)
        return PretrainedModel(model: LlamaModel.randomlyInitialized(config: config, seed: seed), tokenizer: tokenizer,
                               source: "tiny-\(seed)", addsBOS: false)
    }

    static let target = tinyModel(PrepareFixture.spm, seed: 1)
    static let source = tinyModel(PrepareFixture.byteLevel, seed: 2)

    /// English prose and code, and Cyrillic text, cut into texts of at most 64 tokens (about 10), blocks of 40.
    static let preparedURL: URL = {
        let docs = PrepareFixture.documents(1).map { String($0.prefix(900)) }
            + PrepareFixture.documents(1, skipping: 3).map { String($0.prefix(300)) }
            + PrepareFixture.documents(1, skipping: 66).map { String($0.prefix(300)) }
        let corpus = PrepareFixture.writeCorpus(docs, label: "dump")
        let out = temporaryDirectory("dump-prepared")
        try! PrepareFixture.prepare(corpus, into: out, maxTextTokens: 64, blockSize: 40, textsPerChunk: 16)
        return out
    }()

    static func prepared() throws -> PreparedCorpus { try PreparedCorpus(directory: preparedURL) }

    func options(_ encoding: ValueEncoding = .f32, k: Int = 5, perShard: Int = 4, part: Int = 0, of parts: Int = 1) -> DumpOptions {
        var o = DumpOptions()
        o.encoding = encoding
        o.k = k
        o.textsPerShard = perShard
        o.part = part
        o.parts = parts
        o.lengthBucket = 32
        return o
    }

    @discardableResult
    func dump(_ model: PretrainedModel, into dir: URL, _ o: DumpOptions, prepared: PreparedCorpus? = nil) throws -> DumpRunner {
        let runner = try DumpRunner(prepared: prepared ?? Self.prepared(), model: model, sourceName: model.source, output: dir, options: o)
        try runner.run()
        return runner
    }

    func testDumpedValuesAreTheTopKOfADirectForwardAndCeIsTheModelLoss() throws {
        let p = try Self.prepared()
        let m = Self.source.model, vocab = m.vocabSize, k = 5
        for encoding in [ValueEncoding.f32, .q16, .qgap] {
            let bound = 2e-5 + encoding.maxError
            let dir = temporaryDirectory("dump-values-\(encoding)")
            let runner = try dump(Self.source, into: dir, options(encoding))
            XCTAssertFalse(runner.isTarget)
            let reader = try TeacherDumpReader(directory: dir)
            try reader.check(tokenizerFingerprint: PrepareFixture.byteLevel.fingerprint, blocksFingerprint: p.blocksFingerprint,
                             blockCount: p.textCount)
            for i in [0, 1, p.textCount / 2, p.textCount - 1] {
                let b = try reader.block(i)
                let t = try p.text(i)
                // The source's own tokens of the text, with its own EOS after a document's last text.
                XCTAssertEqual(b.tokens, PrepareFixture.byteLevel.encode(t.text) + (t.endsDocument ? [PrepareFixture.byteLevel.eosTokenID!] : []))
                let n = b.tokens.count
                let logits = m.forward(ids: b.tokens, batch: 1, seqLen: n)  // unpadded
                var ids = [Int32](repeating: 0, count: n * k), lp = [Float](repeating: 0, count: n * k)
                TopK.extract(logits: logits, rows: n, vocab: vocab, k: k, ids: &ids, logProbs: &lp)
                for r in 0..<n {
                    for j in 0..<k {
                        let id = b.topIDs[r * k + j], v = b.topLogProbs[r * k + j]
                        if let e = (0..<k).first(where: { ids[r * k + $0] == id }) {
                            XCTAssertEqual(v, lp[r * k + e], accuracy: bound, "\(encoding) text \(i) row \(r)")
                        } else {  // only a near-tie at the k-th place may differ
                            XCTAssertEqual(v, lp[r * k + k - 1], accuracy: bound + 1e-5, "\(encoding) text \(i) row \(r) id \(id)")
                        }
                    }
                }
                let targets = (0..<n).map { $0 + 1 < n ? b.tokens[$0 + 1] : CrossEntropy.ignore }
                let loss = m.loss(ids: b.tokens, targets: targets, batch: 1, seqLen: n)
                XCTAssertEqual(b.ceCount, n - 1)
                XCTAssertEqual(b.ce, loss.mean, accuracy: 1e-5 * loss.mean, "text \(i)")
            }
        }
    }

    /// A model that asks for BOS (Gemma) sees it before every text; the dump keeps one row per text token (BOS's row,
    /// the prediction of the first token, dropped), ce over the text's own predictions, and says so in the manifest.
    func testBOSIsSeenButIsNoTextToken() throws {
        let p = try Self.prepared()
        let plain = Self.tinyModel(PrepareFixture.spm, seed: 4)   // the SentencePiece fixture has <s>
        let bos = try XCTUnwrap(plain.tokenizer.bosTokenID.map { Int32($0) })
        let model = PretrainedModel(model: plain.model, tokenizer: plain.tokenizer, source: "tiny-bos", addsBOS: true)
        let dir = temporaryDirectory("dump-bos")
        try dump(model, into: dir, options())
        let manifest = try TeacherManifest.read(dir.appendingPathComponent("manifest.json"))
        XCTAssertEqual(manifest.bosPrepended, true)
        let reader = try TeacherDumpReader(directory: dir)
        let m = plain.model, vocab = m.vocabSize, k = 5
        for i in [0, p.textCount - 1] {
            let b = try reader.block(i)
            let n = b.tokens.count
            let ids = [bos] + b.tokens
            let logits = m.forward(ids: ids, batch: 1, seqLen: n + 1) + vocab   // rows of the text's tokens
            var top = [Int32](repeating: 0, count: n * k), lp = [Float](repeating: 0, count: n * k)
            TopK.extract(logits: logits, rows: n, vocab: vocab, k: k, ids: &top, logProbs: &lp)
            XCTAssertEqual(b.topIDs, top, "text \(i)")
            for j in 0..<(n * k) { XCTAssertEqual(b.topLogProbs[j], lp[j], accuracy: 2e-5) }
            let targets = (0..<(n + 1)).map { $0 >= 1 && $0 < n ? ids[$0 + 1] : CrossEntropy.ignore }
            let loss = m.loss(ids: ids, targets: targets, batch: 1, seqLen: n + 1)
            XCTAssertEqual(b.ceCount, n - 1)
            XCTAssertEqual(b.ce, loss.mean, accuracy: 1e-5 * loss.mean, "text \(i)")
        }
        // Without BOS the manifest has no such field (dumps made before it read the same).
        let plainDir = temporaryDirectory("dump-no-bos")
        try dump(plain, into: plainDir, options())
        XCTAssertFalse(try String(contentsOf: plainDir.appendingPathComponent("manifest.json"), encoding: .utf8).contains("bos"))
    }

    func testTheTargetsOwnDumpLinesUpWithThePreparedTokensAndFeedsFusion() throws {
        let p = try Self.prepared()
        let a = temporaryDirectory("dump-target"), b = temporaryDirectory("dump-target2")
        XCTAssertTrue(try dump(Self.target, into: a, options()).isTarget)
        // A second model with the target's tokenizer (another seed) stands in for an aligned source.
        try dump(Self.tinyModel(PrepareFixture.spm, seed: 3), into: b, options())
        let readers = try [a, b].map { try TeacherDumpReader(directory: $0) }
        for i in 0..<p.textCount { XCTAssertEqual(try readers[0].block(i).tokens, try p.targetTokens(ofText: i)) }
        let builder = try FusedTargetBuilder(layout: p, sources: [
            .init(name: "target", dump: readers[0], aligner: IdentityAligner()),
            .init(name: "other", dump: readers[1], aligner: IdentityAligner()),
        ], fusion: MinCEFusion())
        for blockIndex in [0, p.blockCount - 1] {
            let signals = try builder.signals(block: blockIndex)
            XCTAssertEqual(signals[0].distributions.positions, p.blockSize)
            var ceSum = 0.0
            for s in try p.spans(ofBlock: blockIndex) { ceSum += try readers[1].block(s.text).ce * Double(s.tokens.count) }
            XCTAssertEqual(signals[1].ce, ceSum / Double(p.blockSize), accuracy: 1e-12)
            XCTAssertNotNil(try builder.targets(block: blockIndex))
        }
    }

    func testShardedPartsMergeIntoTheSingleRunAndAKilledRunResumes() throws {
        let single = temporaryDirectory("dump-single"), shared = temporaryDirectory("dump-shared")
        let other = temporaryDirectory("dump-other"), merged = temporaryDirectory("dump-merged")
        try dump(Self.source, into: single, options(.q16))
        // Part 0 and 1 of 2 in one shared directory, and part 1 again in a directory of its own.
        try dump(Self.source, into: shared, options(.q16, part: 0, of: 2))
        XCTAssertThrowsError(try TeacherDump.merge([shared], into: shared)) { XCTAssertTrue("\($0)".contains("missing"), "\($0)") }
        try dump(Self.source, into: other, options(.q16, part: 1, of: 2))
        try dump(Self.source, into: shared, options(.q16, part: 1, of: 2))
        let reference = try TeacherManifest.read(single.appendingPathComponent("manifest.json"))
        for joined in [try TeacherDump.merge([shared], into: shared), try TeacherDump.merge([shared, other], into: merged)] {
            XCTAssertEqual(joined, reference, "the same shards, byte for byte (checksums)")
        }
        try TeacherDumpReader(directory: merged).verify()

        // Kill simulated: a shard deleted with the manifest, a temporary file left. Only that shard is redone.
        let victim = single.appendingPathComponent(TeacherManifest.shardFileName(1))
        try FileManager.default.removeItem(at: victim)
        try FileManager.default.removeItem(at: single.appendingPathComponent("manifest.json"))
        try Data("partial".utf8).write(to: single.appendingPathComponent(".\(victim.lastPathComponent).tmp-99999"))
        let runner = try DumpRunner(prepared: Self.prepared(), model: Self.source, sourceName: Self.source.source, output: single,
                                    options: options(.q16))
        var redone = 0
        XCTAssertEqual(try runner.run(progress: { redone = $0.textsThisRun }), reference)
        XCTAssertEqual(redone, reference.blockRange(ofShard: 1).count)
        XCTAssertFalse(FileManager.default.fileExists(atPath: single.appendingPathComponent(".\(victim.lastPathComponent).tmp-99999").path))
    }

    func testOutputOfAnotherDumpIsRefusedAndACorruptShardIsNamed() throws {
        let dir = temporaryDirectory("dump-refuse")
        try dump(Self.source, into: dir, options(.q16))
        func refused(_ body: @autoclosure () throws -> Any, _ words: String...) {
            XCTAssertThrowsError(try body()) { e in
                for w in words { XCTAssertTrue("\(e)".contains(w), "\(e) should mention \(w)") }
            }
        }
        refused(try dump(Self.target, into: dir, options(.q16)), "dump-settings.json", "another tokenizer")
        refused(try dump(Self.source, into: dir, options(.q16, k: 4)), "k = 5")
        refused(try dump(Self.source, into: dir, options(.f16)), "encoding q16")
        refused(try dump(Self.source, into: dir, options(.q16, perShard: 3)), "texts per shard")
        // Other prepared texts: the same corpus cut with another text length.
        let corpus = PrepareFixture.writeCorpus(PrepareFixture.documents(1), label: "dump-other-blocks")
        let otherPrepared = temporaryDirectory("dump-other-prepared")
        try PrepareFixture.prepare(corpus, into: otherPrepared, maxTextTokens: 80)
        refused(try dump(Self.source, into: dir, options(.q16), prepared: PreparedCorpus(directory: otherPrepared)),
                "other prepared texts")
        refused(try TeacherDumpReader(directory: dir).check(tokenizerFingerprint: PrepareFixture.byteLevel.fingerprint,
                                                            blocksFingerprint: PreparedCorpus(directory: otherPrepared).blocksFingerprint,
                                                            blockCount: PreparedCorpus(directory: otherPrepared).textCount), "other blocks")
        // The target's vocabulary with another EOS would not reproduce the prepared tokens.
        let otherEOS = temporaryDirectory("dump-eos")
        try FileManager.default.copyItem(at: PrepareFixture.tokenizers.appendingPathComponent("spm/tokenizer.json"),
                                         to: otherEOS.appendingPathComponent("tokenizer.json"))
        try Data(#"{"eos_token": "<s>"}"#.utf8).write(to: otherEOS.appendingPathComponent("tokenizer_config.json"))
        let renamed = try BPETokenizer.load(directory: otherEOS)
        XCTAssertEqual(renamed.fingerprint, PrepareFixture.spm.fingerprint, "EOS is not part of what encodes text")
        XCTAssertNotEqual(renamed.eosTokenID, PrepareFixture.spm.eosTokenID)
        let model = PretrainedModel(model: Self.target.model, tokenizer: renamed, source: "other-eos", addsBOS: false)
        refused(try dump(model, into: temporaryDirectory("dump-eos-out"), options()), "EOS", "prepare it with --target")
        // Shards without a settings file are not adopted.
        let stray = temporaryDirectory("dump-stray")
        try FileManager.default.copyItem(at: dir.appendingPathComponent(TeacherManifest.shardFileName(0)),
                                         to: stray.appendingPathComponent(TeacherManifest.shardFileName(0)))
        refused(try dump(Self.source, into: stray, options(.q16)), "no dump-settings.json")
        // A corrupt shard found on resume is named (its zstd checksum fails when the part is finished).
        let shard = dir.appendingPathComponent(TeacherManifest.shardFileName(2))
        var bytes = try Data(contentsOf: shard)
        bytes[bytes.count / 2] ^= 0x41
        try bytes.write(to: shard)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("manifest.json"))
        refused(try dump(Self.source, into: dir, options(.q16)), shard.lastPathComponent)
    }

    /// Two writers in one directory do not interleave: the same dump part twice, a merge during a dump, two prepares.
    func testWritersOfOneDirectoryDoNotInterleave() throws {
        let dir = temporaryDirectory("dump-locked")
        let part0 = try DirectoryLock(dir, name: DirectoryLock.fileName + "-part-0-of-2", mode: .exclusive,
                                      purpose: "fusellm dump of tiny-2, part 0/2")
        XCTAssertThrowsError(try dump(Self.source, into: dir, options(.qgap, part: 0, of: 2))) {
            XCTAssertTrue("\($0)".contains("in use by another fusellm process (fusellm dump of tiny-2, part 0/2, pid"), "\($0)")
        }
        // Another part of the same dump shares the directory.
        try dump(Self.source, into: dir, options(.qgap, part: 1, of: 2))
        // While a part is writing, the directory cannot be merged.
        let writing = try DirectoryLock(dir, mode: .shared, purpose: "fusellm dump")
        XCTAssertThrowsError(try DirectoryLock(dir, mode: .exclusive, purpose: "fusellm dump merge"))
        withExtendedLifetime((part0, writing)) {}

        let prepared = temporaryDirectory("prepare-locked")
        var preparing: DirectoryLock? = try DirectoryLock(prepared, mode: .exclusive, purpose: "fusellm prepare")
        let corpus = PrepareFixture.writeCorpus(PrepareFixture.documents(1), label: "prepare-locked")
        XCTAssertThrowsError(try PrepareFixture.prepare(corpus, into: prepared, maxTextTokens: 64)) {
            XCTAssertTrue("\($0)".contains("in use by another fusellm process (fusellm prepare, pid"), "\($0)")
        }
        withExtendedLifetime(preparing) {}
        preparing = nil  // the first prepare ended: the next may start
        XCTAssertNoThrow(try PrepareFixture.prepare(corpus, into: prepared, maxTextTokens: 64))
    }

    /// `dump verify` passes a fresh dump and names every kind of damage, one line each, without stopping at the first.
    func testVerifyNamesEveryProblem() throws {
        let p = try Self.prepared()
        let dir = temporaryDirectory("dump-verify")
        try dump(Self.source, into: dir, options(.f32))  // f32: it can hold the bad values written below
        try DumpTokenizerFile.keep(of: Self.source, modelPath: nil, in: dir)
        let clean = TeacherDumpVerifier(directory: dir, prepared: p).run()
        XCTAssertEqual(clean.problems, [])
        // The source's EOS is kept by name, so the dump's tokenizer ends documents as the model did.
        XCTAssertTrue(DumpTokenizerFile.namesEOS(dir))
        XCTAssertEqual(try DumpTokenizerFile.load(dir).eosTokenID, Self.source.tokenizer.eosTokenID)
        XCTAssertEqual(clean.texts, p.textCount)
        XCTAssertGreaterThan(clean.positions, 0)

        // A text with out-of-range values, written into shard 1 as if by another program.
        let manifest = try TeacherManifest.read(dir.appendingPathComponent("manifest.json"))
        let range = manifest.blockRange(ofShard: 1)
        var texts = try range.map { try TeacherDumpReader(directory: dir).block($0) }
        let bad = texts[0], k = bad.k
        var ids = bad.topIDs, values = bad.topLogProbs
        ids[1] = ids[0]                                   // a repeated id
        ids[k] = Int32(PrepareFixture.byteLevel.vocabSize + 5)  // outside the vocabulary
        values[2 * k] = 0.5                               // above 0
        texts[0] = TeacherText(textID: bad.textID, tokens: bad.tokens, k: k, topIDs: ids, topLogProbs: values,
                               ceSum: bad.ceSum, ceCount: bad.ceCount)
        texts[1] = TeacherText(textID: texts[1].textID, tokens: Array(texts[1].tokens.reversed()), k: k, topIDs: texts[1].topIDs,
                               topLogProbs: texts[1].topLogProbs, ceSum: texts[1].ceSum, ceCount: texts[1].ceCount)
        try TeacherShard.write(texts, encoding: .f32, to: dir.appendingPathComponent(TeacherManifest.shardFileName(1)))
        // A flipped byte in shard 2, and a shard nobody listed.
        let shard2 = dir.appendingPathComponent(TeacherManifest.shardFileName(2))
        var bytes = try Data(contentsOf: shard2)
        bytes[bytes.count / 3] ^= 0x41
        try bytes.write(to: shard2)
        try Data("stray".utf8).write(to: dir.appendingPathComponent("shard-000099.fzst"))

        let report = TeacherDumpVerifier(directory: dir, prepared: p).run()
        let text = report.problems.joined(separator: "\n")
        for expected in ["shard-000099.fzst: a shard file manifest.json does not list",
                         "shard-000001.fzst: SHA-256 differs", "shard-000002.fzst: SHA-256 differs",
                         "text \(range.lowerBound): 1 × repeated id", "text \(range.lowerBound): 1 × id outside the vocabulary",
                         "text \(range.lowerBound): 1 × log-probability above 0",
                         "text \(range.lowerBound + 1): \(texts[1].tokens.count) tokens that are not the source tokenizer's"] {
            XCTAssertTrue(text.contains(expected), "missing «\(expected)» in:\n\(text)")
        }
        XCTAssertTrue(report.problems.contains { $0.contains("shard-000002.fzst: text") }, text)
        XCTAssertTrue(report.problems.allSatisfy { !$0.contains("\n") })
        // Against other prepared texts: one line naming both.
        let corpus = PrepareFixture.writeCorpus(PrepareFixture.documents(1), label: "verify-other")
        let other = temporaryDirectory("verify-other-prepared")
        try PrepareFixture.prepare(corpus, into: other, maxTextTokens: 80)
        let mismatch = TeacherDumpVerifier(directory: temporaryDirectory("dump-verify-2"), prepared: try PreparedCorpus(directory: other))
        XCTAssertEqual(mismatch.run().problems.count, 1, "a directory without a dump is one problem")
        let fresh = temporaryDirectory("dump-verify-3")
        try dump(Self.source, into: fresh, options(.qgap))
        try DumpTokenizerFile.keep(of: Self.source, modelPath: nil, in: fresh)
        let otherReport = TeacherDumpVerifier(directory: fresh, prepared: try PreparedCorpus(directory: other)).run()
        XCTAssertEqual(otherReport.problems.count, 1, otherReport.problems.joined(separator: "\n"))
        XCTAssertTrue(otherReport.problems[0].contains("made from other prepared texts"), otherReport.problems[0])
    }

    func testSmolLM2DumpsShortTextsFromTheGGUF() throws {
        let gguf = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("checkpoints/SmolLM2-135M-Instruct.Q4_1.gguf")
        guard FileManager.default.fileExists(atPath: gguf.path) else {
            throw XCTSkip("SKIPPED: \(gguf.path) is absent; run bash scripts/fetch-models.sh to test the dump with SmolLM2")
        }
        let smol = try PretrainedModel.load(path: gguf.path)
        let corpus = PrepareFixture.writeCorpus([
            "The quick brown fox jumps over the lazy dog.",
            "def add(a, b):\n    return a + b\n",
            "In the beginning God created the heaven and the earth.",
        ], label: "smol")
        let preparedDir = temporaryDirectory("smol-prepared"), dir = temporaryDirectory("smol-dump")
        var prep = PrepareOptions()
        prep.blockSize = 16
        try PreparedCorpusWriter(corpus: .init(paths: [corpus.path]), target: smol.tokenizer, targetSource: gguf.path,
                                 also: [], options: prep, output: preparedDir).run()
        let p = try PreparedCorpus(directory: preparedDir)
        var o = DumpOptions()
        o.k = 10
        o.lengthBucket = 16
        let runner = try DumpRunner(prepared: p, model: smol, sourceName: try DumpSourceIdentity.describe(path: gguf.path),
                                    output: dir, options: o)
        XCTAssertTrue(runner.isTarget)
        let manifest = try runner.run()
        XCTAssertTrue(manifest.source.hasPrefix("SmolLM2-135M-Instruct.Q4_1.gguf sha256:"), manifest.source)
        let reader = try TeacherDumpReader(directory: dir)
        for i in 0..<p.textCount {
            let b = try reader.block(i)
            XCTAssertEqual(b.tokens.last, smol.tokenizer.eosTokenID)
            XCTAssertEqual(b.k, 10)
            XCTAssertTrue(b.ce > 0.05 && b.ce < 8, "text \(i): ce \(b.ce) is not that of a trained model")
            // The model is confident about some continuations: the top entry's probability is often high.
            XCTAssertGreaterThan(b.topLogProbs.enumerated().filter { $0.offset % 10 == 0 }.map { exp($0.element) }.max()!, 0.5)
        }
        // "The quick brown fox jumps over the lazy" → " dog" is the model's top choice.
        let first = try reader.block(0)
        let lazy = first.tokens.firstIndex(of: smol.tokenizer.encode(" lazy")[0])!
        XCTAssertEqual(first.topIDs[lazy * 10], smol.tokenizer.encode(" dog")[0])
    }
}
