import Models
import FuseFormats
import FuseTensor
import FuseText
@testable import Fusion
import Foundation
import Llama
import XCTest
import TestSupport

/// What fused training checks before its first step: each bad input is one clear error, before any training.
final class FusionSetupTests: XCTestCase {
    /// Dumps of the tiny target and source over DumpTests' prepared corpus, with their tokenizers kept.
    static let dumps: (target: URL, source: URL) = {
        var o = DumpOptions()
        o.k = 4
        o.encoding = .f32
        o.lengthBucket = 32
        let p = try! DumpTests.prepared()
        func make(_ m: PretrainedModel, _ label: String) -> URL {
            let dir = temporaryDirectory("setup-\(label)")
            try! DumpRunner(prepared: p, model: m, sourceName: m.source, output: dir, options: o).run()
            try! DumpTokenizerFile.keep(of: m, modelPath: nil, in: dir)
            return dir
        }
        return (make(DumpTests.target, "target"), make(DumpTests.source, "source"))
    }()

    func setup(_ teachers: [URL], prepared: PreparedCorpus? = nil, fusion: any FusionFunction = AvgCEFusion(),
               method: VocabularyMethod = .minED, cache: URL? = nil) throws -> FusionSetup {
        try FusionSetup.make(prepared: prepared ?? DumpTests.prepared(), target: PrepareFixture.spm, teachers: teachers.map(\.path),
                             fusion: fusion, method: method, oneHot: .nextToken, cache: cache ?? temporaryDirectory("setup-cache"))
    }

    /// `--vocab-map ms` counts the co-alignments of the dump with the prepared texts, caches the map under the
    /// corpus's fingerprint, and maps no more source ids than MinED (exact matches shared, the rest only if co-aligned).
    func testMappingStatisticsMapIsBuiltFromTheCorpusAndCached() throws {
        let cache = temporaryDirectory("setup-ms-cache")
        let p = try DumpTests.prepared()
        let s = try setup([Self.dumps.target, Self.dumps.source], fusion: MinCEFusion(), method: .mappingStatistics, cache: cache)
        for b in 0..<p.blockCount { _ = try s.builder.targets(block: b) }
        let files = try FileManager.default.contentsOfDirectory(atPath: cache.path).filter { $0.hasSuffix(".bin") }
        XCTAssertEqual(files.count, 1)
        XCTAssertTrue(files[0].hasSuffix("-ms-\(p.blocksFingerprint).bin"), files[0])
        let ms = try VocabularyMapCache.read(cache.appendingPathComponent(files[0]))
        XCTAssertEqual(ms.corpusFingerprint, p.blocksFingerprint)
        let source = NormalizedVocabulary(try DumpTokenizerFile.load(Self.dumps.source))
        let mined = VocabularyMap.build(source: source, target: NormalizedVocabulary(PrepareFixture.spm), method: .minED)
        XCTAssertEqual(ms.exactCount, mined.exactCount)
        XCTAssertGreaterThan(ms.inexactCount, 0)
        XCTAssertLessThan(ms.inexactCount, mined.inexactCount)
        // Every inexact entry pairs tokens DTW co-aligned somewhere in the corpus.
        let reader = try TeacherDumpReader(directory: Self.dumps.source)
        var paired = Set<[Int32]>()
        let distance = TokenDistance(source: source, target: NormalizedVocabulary(PrepareFixture.spm))
        for i in 0..<p.textCount {
            let sourceTokens = try reader.block(i).tokens, targetTokens = try p.targetTokens(ofText: i)
            let a = SequenceAlignment.compute(sourceTokens: sourceTokens, targetTokens: targetTokens, distance: distance)
            for (t, run) in a.sources.enumerated() { for j in run { paired.insert([sourceTokens[j], targetTokens[t]]) } }
        }
        for (sid, tid) in ms.targetIDs.enumerated() where ms.distances[sid] > 0 {
            XCTAssertTrue(paired.contains([Int32(sid), tid]), "source \(sid) → \(tid) was never co-aligned")
        }
        // A second setup reads the cached map.
        _ = try setup([Self.dumps.target, Self.dumps.source], fusion: MinCEFusion(), method: .mappingStatistics, cache: cache)
    }

    func testAGoodSetupPutsTheTargetFirstAndFusesEveryBlock() throws {
        let s = try setup([Self.dumps.source, Self.dumps.target])
        XCTAssertEqual(s.teacherNames, [Self.dumps.target.lastPathComponent, Self.dumps.source.lastPathComponent])
        let p = try DumpTests.prepared()
        for b in 0..<p.blockCount {
            let t = try XCTUnwrap(s.builder.targets(block: b))
            XCTAssertEqual(t.rows, p.blockSize)
            for r in 0..<t.rows {
                let (ids, probs) = t.row(r)
                XCTAssertTrue(ids.allSatisfy { $0 >= 0 && Int($0) < PrepareFixture.spm.vocabSize })
                if !probs.isEmpty { XCTAssertEqual(probs.reduce(0, +), 1, accuracy: 1e-4, "block \(b) row \(r)") }
            }
        }
    }

    func testFusingBlocksCountsWhatTheFusionDid() throws {
        let s = try setup([Self.dumps.target, Self.dumps.source], fusion: MinCEFusion())
        let p = try DumpTests.prepared()
        for b in 0..<p.blockCount { _ = try s.builder.targets(block: b) }
        let stats = s.builder.takeStatistics()
        XCTAssertEqual(stats.blocks, p.blockCount)
        XCTAssertEqual(stats.choices.count, p.blockCount)
        XCTAssertEqual(stats.sources.map(\.chosen).reduce(0, +), p.blockCount)
        let own = stats.sources[0], source = stats.sources[1]
        XCTAssertEqual(own.rows, p.blockCount * p.blockSize)
        XCTAssertEqual(own.oneToOne, own.rows)
        XCTAssertEqual(own.exact, own.rows * 4)  // k = 4, all exact
        // The other tokenizer: some rows are one-hot, every entry of a taken row is counted once.
        XCTAssertEqual(source.rows, own.rows)
        XCTAssertGreaterThan(source.oneToOne, 0)
        XCTAssertLessThanOrEqual(source.oneToOne, source.rows)
        XCTAssertEqual(source.entries, source.oneToOne * 4)
        // MinCE's choice on every block is the source with the lowest block ce.
        for (b, chosen) in stats.choices.enumerated() {
            let signals = try s.builder.signals(block: b)
            XCTAssertEqual(chosen, signals.indices.min { signals[$0].ce < signals[$1].ce }, "block \(b)")
        }
        XCTAssertEqual(s.builder.takeStatistics().blocks, 0)
    }

    func testADumpMadeWithAnotherBOSConventionIsRefused() throws {
        let dir = temporaryDirectory("bos-dump")
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.dumps.target.path) {
            try FileManager.default.copyItem(at: Self.dumps.target.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        XCTAssertNoThrow(try setup([dir]))
        // The source asks for BOS (as Gemma does), the dump was made without it (as fusellm did before it knew).
        try Data(#"{"add_bos_token": true}"#.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        XCTAssertThrowsError(try setup([dir])) {
            XCTAssertTrue("\($0)".contains("bos_prepended") && "\($0)".contains("without BOS") && "\($0)".contains(dir.path), "\($0)")
        }
    }

    func testADumpMissingTextsIsRefusedBeforeTraining() throws {
        // An unfinished dump: shards written, no manifest yet.
        let unfinished = temporaryDirectory("unfinished-dump")
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.dumps.target.path) where name != "manifest.json" {
            try FileManager.default.copyItem(at: Self.dumps.target.appendingPathComponent(name), to: unfinished.appendingPathComponent(name))
        }
        XCTAssertThrowsError(try setup([unfinished])) {
            XCTAssertTrue("\($0)".contains(unfinished.path) && "\($0)".contains("not finished"), "\($0)")
        }
        // A finished dump one of whose shard files has gone since: named before the first step.
        let gone = temporaryDirectory("shard-gone")
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.dumps.target.path) where name != "shard-000000.fzst" {
            try FileManager.default.copyItem(at: Self.dumps.target.appendingPathComponent(name), to: gone.appendingPathComponent(name))
        }
        XCTAssertThrowsError(try setup([gone])) {
            XCTAssertTrue("\($0)".contains("shard-000000.fzst"), "\($0)")
        }
    }

    func testTheTargetsOwnDumpIsRequired() throws {
        XCTAssertThrowsError(try setup([Self.dumps.source])) { XCTAssertTrue("\($0)".contains("target's own dump"), "\($0)") }
        XCTAssertNoThrow(try setup([Self.dumps.source], fusion: NoFusion()))
    }

    func testAMissingTeacherIsNamed() throws {
        let missing = temporaryDirectory("gone").appendingPathComponent("smollm2")
        XCTAssertThrowsError(try setup([Self.dumps.target, missing])) {
            XCTAssertTrue("\($0)".contains(missing.path) && "\($0)".contains("no such teacher dump"), "\($0)")
        }
    }

    func testDumpsOfOtherBlocksAreRefused() throws {
        let corpus = PrepareFixture.writeCorpus(PrepareFixture.documents(2, skipping: 10), label: "other-blocks")
        let other = temporaryDirectory("other-prepared")
        try PrepareFixture.prepare(corpus, into: other, maxTextTokens: 64, blockSize: 40, textsPerChunk: 16)
        XCTAssertThrowsError(try setup([Self.dumps.target], prepared: PreparedCorpus(directory: other))) {
            XCTAssertTrue("\($0)".contains("other blocks"), "\($0)")
        }
    }

    func testNaNInADumpStopsBeforeTraining() throws {
        // A copy of the target's dump whose text 1 has a NaN ce (a valid shard and manifest otherwise).
        let p = try DumpTests.prepared()
        let good = try TeacherDumpReader(directory: Self.dumps.target)
        let dir = temporaryDirectory("nan-dump")
        var m = good.manifest
        m.shards = []
        for s in 0..<m.shardCount {
            let blocks = try m.blockRange(ofShard: s).map { i -> TeacherText in
                let b = try good.block(i)
                return i == 1 ? TeacherText(textID: i, tokens: b.tokens, k: b.k, topIDs: b.topIDs, topLogProbs: b.topLogProbs,
                                             ceSum: .nan, ceCount: b.ceCount) : b
            }
            try TeacherShard.write(blocks, encoding: m.valueEncoding, to: dir.appendingPathComponent(TeacherManifest.shardFileName(s)))
        }
        try TeacherDump.finishPart(m, directory: dir, part: 0, of: 1)
        try DumpTokenizerFile.keep(of: DumpTests.target, modelPath: nil, in: dir)
        XCTAssertEqual(p.textCount, m.blockCount)
        XCTAssertThrowsError(try setup([dir])) { XCTAssertTrue("\($0)".contains("text 1") && "\($0)".contains("non-finite"), "\($0)") }
    }

    func testAPreparedCorpusWithoutACompleteBlockIsRefused() throws {
        let corpus = PrepareFixture.writeCorpus(["A short text."], label: "no-block")
        let dir = temporaryDirectory("no-block")
        try PrepareFixture.prepare(corpus, into: dir, maxTextTokens: 64, blockSize: 200, textsPerChunk: 16)
        XCTAssertThrowsError(try setup([Self.dumps.target], prepared: PreparedCorpus(directory: dir))) {
            XCTAssertTrue("\($0)".contains("no complete block"), "\($0)")
        }
    }
}
