import FuseFormats
import FuseText
@testable import Fusion
import XCTest
import TestSupport

/// A hand-made vocabulary: token strings by id, the listed ones special.
func handVocabulary(_ tokens: [String], special: [String] = [], bos: String? = nil, eos: String? = nil,
                    fingerprint: String? = nil) -> NormalizedVocabulary {
    let added = tokens.enumerated().filter { special.contains($0.element) }
        .map { AddedToken(id: Int32($0.offset), content: $0.element, special: true) }
    func id(_ s: String?) -> Int32? { s.flatMap { tokens.firstIndex(of: $0) }.map { Int32($0) } }
    return NormalizedVocabulary(tokenStrings: tokens, addedTokens: added,
                                fingerprint: fingerprint ?? fnv1a64Hex(Array(tokens.joined(separator: "\u{0}").utf8)),
                                bos: id(bos), eos: id(eos))
}

func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }

final class AlignVocabularyTests: XCTestCase {
    func testNormalisationOfBothSpellings() {
        // Byte-level: 'Ġ' space, 'Ċ' newline, "Ã©" the two bytes of "é", a lone 0xC3 byte stays a raw unit.
        let bl = handVocabulary(["Ġthe", "Ċ", "Ã©", "Ã", "<|endoftext|>", "abc"], special: ["<|endoftext|>"])
        XCTAssertEqual(bl.spelling, .byteLevel)
        XCTAssertEqual(Array(bl.units(of: 0)), scalars(" the"))
        XCTAssertEqual(Array(bl.units(of: 1)), scalars("\n"))
        XCTAssertEqual(Array(bl.units(of: 2)), scalars("é"))
        XCTAssertEqual(Array(bl.units(of: 3)), [0x1100C3])
        XCTAssertEqual(Array(bl.units(of: 4)), scalars("<|endoftext|>"))
        XCTAssertEqual(bl.kinds, [.regular, .regular, .regular, .regular, .special, .regular])
        // SentencePiece: '▁' space, <0xNN> byte pieces (ASCII ones are the character, others raw units).
        let sp = handVocabulary(["<unk>", "<0x0A>", "<0xC3>", "▁the", "é", "▁▁", "<0x41>"], special: ["<unk>"])
        XCTAssertEqual(sp.spelling, .characters)
        XCTAssertEqual(Array(sp.units(of: 1)), scalars("\n"))
        XCTAssertEqual(Array(sp.units(of: 2)), [0x1100C3])
        XCTAssertEqual(Array(sp.units(of: 3)), scalars(" the"))
        XCTAssertEqual(Array(sp.units(of: 5)), scalars("  "))
        XCTAssertEqual(sp.kinds, [.special, .byte, .byte, .regular, .regular, .regular, .byte])
        XCTAssertEqual(sp.text(of: 2), "<0xC3>")
        // Same bytes, same units, whichever spelling.
        XCTAssertEqual(Array(bl.units(of: 0)), Array(sp.units(of: 3)))
        XCTAssertEqual(Array(bl.units(of: 3)), Array(sp.units(of: 2)))
        XCTAssertEqual(Array(bl.units(of: 2)), Array(sp.units(of: 4)))
    }

    func testInvalidUTF8InByteLevelTokensBecomesRawUnits() {
        var out: [UInt32] = []
        // Overlong "/" (C0 AF), a surrogate (ED A0 80), a truncated 3-byte sequence, then a valid "€".
        TokenUnits.appendUnits(ofBytes: [0xC0, 0xAF, 0xED, 0xA0, 0x80, 0xE2, 0x82, 0xE2, 0x82, 0xAC], to: &out)
        XCTAssertEqual(out, [0x1100C0, 0x1100AF, 0x1100ED, 0x1100A0, 0x110080, 0x1100E2, 0x110082, 0x20AC])
    }

    func testExactAndMinEDWithTies() {
        let source = handVocabulary(["<s>", "</s>", "▁the", "▁cat", "dog", "<0x0A>", "▁zebra", "<0xE4>", "xy"],
                                    special: ["<s>", "</s>"], bos: "<s>", eos: "</s>")
        // Target: byte-level, its own specials; "dog" has two candidates at distance 1 ("dig" id 3, "dot" id 4):
        // the lower id wins.
        let target = handVocabulary(["<|endoftext|>", "Ġthe", "Ċ", "dig", "dot", "Ġcat", "Ġzebr", "Ġcats", "x", "y", "ä"],
                                    special: ["<|endoftext|>"], eos: "<|endoftext|>")
        let mined = VocabularyMap.build(source: source, target: target, method: .minED)
        // <s>: no target BOS and no special "<s>" → unmapped; </s> → the target's EOS; <0xE4> is byte 0xE4, which
        // the byte-level "ä" also stands for; "xy" ties "x" and "y" at 1 → the lower id.
        XCTAssertEqual(mined.targetIDs, [-1, 0, 1, 5, 3, 2, 6, 10, 8])
        XCTAssertEqual(mined.distances, [-1, 0, 0, 0, 1, 0, 1, 0, 1])
        let em = VocabularyMap.build(source: source, target: target, method: .exact)
        XCTAssertEqual(em.targetIDs, [-1, 0, 1, 5, -1, 2, -1, 10, -1])
        XCTAssertEqual(em.exactCount, 5)
        XCTAssertEqual(em.unmappedCount, 4)
        XCTAssertEqual(mined.inexactCount, 3)
    }

    func testExactMatchPrefersRegularTokenOverBytePiece() {
        // "A" exists as a byte piece (id 1) and as a regular token (id 2): the regular one takes the match.
        let target = handVocabulary(["<unk>", "<0x41>", "A", "▁A"], special: ["<unk>"])
        let source = handVocabulary(["A", "ĠA", "B"])
        let map = VocabularyMap.build(source: source, target: target, method: .minED)
        XCTAssertEqual(map.targetIDs[0], 2)
        XCTAssertEqual(map.targetIDs[1], 3)
        // "B": every one-unit candidate is at distance 1; the lowest id wins, byte pieces included.
        XCTAssertEqual(map.targetIDs[2], 1)
    }

    func testSameTokenizerIsIdentity() {
        let v = handVocabulary(["<0x41>", "A", "▁a"], fingerprint: "0123456789abcdef")
        let map = VocabularyMap.build(source: v, target: v, method: .minED)
        XCTAssertTrue(map.isIdentity)
        XCTAssertEqual(map.targetIDs, [0, 1, 2])
    }

    func testMinEDMatchesBruteForceOnFixtureTokenizers() throws {
        let source = NormalizedVocabulary(try BPETokenizer.load(tokenizerJSON: AlignFixtures.tokenizer("bytelevel/tokenizer.json")))
        let target = NormalizedVocabulary(try BPETokenizer.load(sentencePieceModel: AlignFixtures.tokenizer("spm/tokenizer.model")))
        let map = VocabularyMap.build(source: source, target: target, method: .minED)
        let candidates = (0..<Int32(target.count)).filter { target.kind(of: $0) == .regular || target.kind(of: $0) == .byte }
        // Every 7th inexact source token against the plain DP over all candidates.
        var checked = 0
        for s in 0..<Int32(source.count) where map.distances[Int(s)] > 0 && s % 7 == 0 {
            let a = Array(source.units(of: s))
            var best = (Int.max, Int32.max)
            for t in candidates {
                let d = plainEditDistance(a, Array(target.units(of: t)))
                if d < best.0 { best = (d, t) }
            }
            XCTAssertEqual(map.distances[Int(s)], Int32(best.0), "source \(s) \(source.text(of: s))")
            XCTAssertEqual(map.targetIDs[Int(s)], best.1, "source \(s) \(source.text(of: s))")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 100)
    }

    // MARK: Mapping statistics (ms)

    /// Statistics from explicit pairs: `pairs` are (source id, target id, count).
    private func statistics(_ pairs: [(Int32, Int32, Int)], corpus: String = "c1") -> MappingStatistics {
        var stats = MappingStatistics(corpusFingerprint: corpus)
        for (s, t, n) in pairs {
            for _ in 0..<n { stats.add(SequenceAlignment(sources: [0..<1], cost: 0), sourceTokens: [s], targetTokens: [t]) }
        }
        return stats
    }

    func testMappingStatisticsChoice() {
        // Source: 0 "▁the" (exact), 1 "cats", 2 "dogz", 3 "hous", 4 "never", 5 "<|x|>" special.
        let source = handVocabulary(["▁the", "cats", "dogz", "hous", "never", "<|x|>"], special: ["<|x|>"])
        // Target: 0 "Ġthe", 1 "cat", 2 "cab", 3 "dog", 4 "dogs", 5 "house", 6 "<s>" special, 7 "hour".
        let target = handVocabulary(["Ġthe", "cat", "cab", "dog", "dogs", "house", "<s>", "hour"], special: ["<s>"])
        let stats = statistics([
            (0, 0, 9),
            // "cats" vs "cat" (ED 1, contained: 0.1) beats "cab" (ED 2), whatever the counts.
            (1, 2, 1), (1, 1, 50),
            // "dogz": "dog" (ED 1, contained) and "dogs" (ED 1, not contained) → "dog".
            (2, 4, 1), (2, 3, 3),
            // "hous": "house" and "hour" both ED 1 and contained / not: house (contained) wins;
            (3, 7, 1), (3, 5, 4),
            // a special target token is never a candidate.
            (5, 6, 10),
        ])
        let ms = VocabularyMap.build(source: source, target: target, method: .mappingStatistics, statistics: stats)
        XCTAssertEqual(ms.targetIDs, [0, 1, 3, 5, -1, -1])
        XCTAssertEqual(ms.distances, [0, 1, 1, 1, -1, -1])
        XCTAssertEqual(ms.corpusFingerprint, "c1")
        XCTAssertEqual(ms.inexactCount, 3)
        // sigmoid(count) grows with the count: between two candidates at the same weighted distance the rarer wins.
        let tie = handVocabulary(["ab"]), twins = handVocabulary(["ac", "ad"])
        let rare = VocabularyMap.build(source: tie, target: twins, method: .mappingStatistics,
                                       statistics: statistics([(0, 0, 5), (0, 1, 1)]))
        XCTAssertEqual(rare.targetIDs, [1])
        let even = VocabularyMap.build(source: tie, target: twins, method: .mappingStatistics,
                                       statistics: statistics([(0, 0, 2), (0, 1, 2)]))
        XCTAssertEqual(even.targetIDs, [0], "equal costs: the lowest target id")
        XCTAssertEqual(MappingStatisticsChoice.cost(editDistance: (3, true), count: 2), 3 * 0.1 * (1 / (1 + exp(-2.0))))
    }

    func testMappingStatisticsCountsRuns() {
        var stats = MappingStatistics(corpusFingerprint: "c")
        // Target position 0 paired with source 0..<2, position 1 with 2..<3.
        stats.add(SequenceAlignment(sources: [0..<2, 2..<3], cost: 0), sourceTokens: [7, 8, 7], targetTokens: [1, 2])
        stats.add(SequenceAlignment(sources: [0..<1], cost: 0), sourceTokens: [7], targetTokens: [1])
        XCTAssertEqual(stats.count(source: 7, target: 1), 2)
        XCTAssertEqual(stats.count(source: 8, target: 1), 1)
        XCTAssertEqual(stats.count(source: 7, target: 2), 1)
        XCTAssertEqual(stats.textCount, 2)
        XCTAssertEqual(stats.candidatesBySource()[7]!.map(\.target), [1, 2])
    }

    func testMappingStatisticsCacheIsPerCorpus() throws {
        let dir = temporaryDirectory("vocab-cache-ms")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = handVocabulary(["▁the", "cats"]), target = handVocabulary(["Ġthe", "cat", "cab"])
        XCTAssertThrowsError(try VocabularyMapCache.loadOrBuild(source: source, target: target, method: .mappingStatistics,
                                                                directory: dir)) {
            XCTAssertTrue("\($0)".contains("corpus"), "\($0)")
        }
        var counted = 0
        func corpus(_ name: String, _ pairs: [(Int32, Int32, Int)]) -> MappingStatisticsSource {
            MappingStatisticsSource(corpusFingerprint: name) {
                counted += 1
                return self.statistics(pairs, corpus: name)
            }
        }
        let (a, aCached) = try VocabularyMapCache.loadOrBuild(source: source, target: target, method: .mappingStatistics,
                                                              directory: dir, corpus: corpus("c1", [(1, 2, 1)]))
        XCTAssertFalse(aCached)
        XCTAssertEqual(a.targetIDs, [0, 2])
        let (again, againCached) = try VocabularyMapCache.loadOrBuild(source: source, target: target, method: .mappingStatistics,
                                                                      directory: dir, corpus: corpus("c1", [(1, 1, 1)]))
        XCTAssertTrue(againCached)
        XCTAssertEqual(again, a)
        XCTAssertEqual(counted, 1, "a cached map is not counted again")
        let (b, bCached) = try VocabularyMapCache.loadOrBuild(source: source, target: target, method: .mappingStatistics,
                                                              directory: dir, corpus: corpus("c2", [(1, 1, 1)]))
        XCTAssertFalse(bCached)
        XCTAssertEqual(b.targetIDs, [0, 1])
        XCTAssertEqual(b.corpusFingerprint, "c2")
        XCTAssertEqual(try VocabularyMapCache.decode(VocabularyMapCache.encode(b), file: "x"), b)
    }

    // MARK: Cache

    func testCacheRoundTripAndReuse() throws {
        let dir = temporaryDirectory("vocab-cache")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = handVocabulary(["▁the", "cat", "<0x0A>"]), target = handVocabulary(["Ġthe", "Ġcat", "Ċ", "c"])
        let (built, cached) = try VocabularyMapCache.loadOrBuild(source: source, target: target, method: .minED, directory: dir)
        XCTAssertFalse(cached)
        let (again, cachedAgain) = try VocabularyMapCache.loadOrBuild(source: source, target: target, method: .minED, directory: dir)
        XCTAssertTrue(cachedAgain)
        XCTAssertEqual(again, built)
        // Another method is another file.
        let (em, emCached) = try VocabularyMapCache.loadOrBuild(source: source, target: target, method: .exact, directory: dir)
        XCTAssertFalse(emCached)
        XCTAssertEqual(em.method, .exact)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(files.count, 2)
    }

    func testCorruptOrForeignCacheIsAnErrorNamingTheFile() throws {
        let dir = temporaryDirectory("vocab-cache-bad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = handVocabulary(["▁the", "cat"]), target = handVocabulary(["Ġthe", "Ġcat", "c"])
        _ = try VocabularyMapCache.loadOrBuild(source: source, target: target, method: .minED, directory: dir)
        let name = VocabularyMapCache.fileName(sourceFingerprint: source.fingerprint, targetFingerprint: target.fingerprint,
                                               method: .minED)
        let url = dir.appendingPathComponent(name)
        var data = try Data(contentsOf: url)
        // A flipped byte: checksum.
        data[data.count - 12] ^= 0xFF
        try data.write(to: url)
        XCTAssertThrowsError(try VocabularyMapCache.loadOrBuild(source: source, target: target, method: .minED, directory: dir)) {
            XCTAssertTrue("\($0)".contains(name) && "\($0)".contains("checksum"), "\($0)")
        }
        // Truncated.
        try data.prefix(20).write(to: url)
        XCTAssertThrowsError(try VocabularyMapCache.loadOrBuild(source: source, target: target, method: .minED, directory: dir)) {
            XCTAssertTrue("\($0)".contains(name), "\($0)")
        }
        // A valid map of other tokenizers under this name.
        let other = VocabularyMap.build(source: handVocabulary(["x"]), target: target, method: .minED)
        try VocabularyMapCache.write(other, to: url)
        XCTAssertThrowsError(try VocabularyMapCache.loadOrBuild(source: source, target: target, method: .minED, directory: dir)) {
            XCTAssertTrue("\($0)".contains(name) && "\($0)".contains("other tokenizers"), "\($0)")
        }
    }
}
