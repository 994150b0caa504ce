import FuseText
@testable import Fusion
import Llama
import XCTest
import TestSupport

/// Paths of the alignment fixtures (written by scripts/make-alignment-fixtures.py) and the tokenizers they use.
enum AlignFixtures {
    static let repository = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
    static func tokenizer(_ path: String) -> URL { Fixtures.root.appendingPathComponent("tokenizers").appendingPathComponent(path) }
    static func alignment(_ name: String) -> URL { Fixtures.root.appendingPathComponent("alignment").appendingPathComponent(name) }

    /// The tokenizers as the script names them.
    static func load(_ name: String) throws -> BPETokenizer {
        switch name {
        case "target-spm": return try BPETokenizer.load(path: repository.appendingPathComponent("data/tokenizers/target-spm/tokenizer.model").path)
        case "source-bpe": return try BPETokenizer.load(path: repository.appendingPathComponent("data/tokenizers/source-bpe/tokenizer.json").path)
        default: return try BPETokenizer.load(tokenizerJSON: tokenizer("\(name)/tokenizer.json"))
        }
    }

    static func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: alignment(name))) as! [String: Any]
    }
}

/// Our vocabulary maps, DTW and transform against the independent Python implementation's output.
final class AlignFixtureTests: XCTestCase {
    static let pairs = [("bytelevel", "spm"), ("spm", "bytelevel"), ("metaspace", "llama3"), ("source-bpe", "target-spm")]

    func testNormalisedVocabularies() throws {
        for name in ["bytelevel", "spm", "metaspace", "llama3", "target-spm", "source-bpe"] {
            let fixture = try AlignFixtures.json("vocab-\(name).json")
            let v = NormalizedVocabulary(try AlignFixtures.load(name))
            XCTAssertEqual(v.spelling.rawValue, fixture["spelling"] as? String, name)
            XCTAssertEqual(v.bosTokenID.map(Int.init), fixture["bos"] as? Int, name)
            XCTAssertEqual(v.eosTokenID.map(Int.init), fixture["eos"] as? Int, name)
            XCTAssertEqual(v.kinds.map { String($0.rawValue) }.joined(), fixture["kinds"] as? String, name)
            let plain = fixture["units"] as! [String], raw = fixture["raw_units"] as! [String: [Int]]
            XCTAssertEqual(plain.count, v.count, name)
            var mismatches = 0
            for id in 0..<v.count {
                let expected: [UInt32] = raw[String(id)].map { $0.map(UInt32.init) } ?? plain[id].unicodeScalars.map(\.value)
                if Array(v.units(of: Int32(id))) != expected {
                    mismatches += 1
                    if mismatches <= 5 { XCTFail("\(name) id \(id): \(Array(v.units(of: Int32(id)))) vs \(expected)") }
                }
            }
            XCTAssertEqual(mismatches, 0, name)
        }
    }

    func testMapsDTWAndTransform() throws {
        for (s, t) in Self.pairs {
            let fixture = try AlignFixtures.json("pair-\(s)--\(t).json")
            let sourceTok = try AlignFixtures.load(s), targetTok = try AlignFixtures.load(t)
            let source = NormalizedVocabulary(sourceTok), target = NormalizedVocabulary(targetTok)
            let mined = VocabularyMap.build(source: source, target: target, method: .minED)
            let em = VocabularyMap.build(source: source, target: target, method: .exact)
            let ids = (fixture["map_ids"] as! [Int]).map(Int32.init), distances = (fixture["map_distances"] as! [Int]).map(Int32.init)
            XCTAssertEqual(mined.targetIDs, ids, "\(s) → \(t) MinED ids")
            XCTAssertEqual(mined.distances, distances, "\(s) → \(t) MinED distances")
            XCTAssertEqual(em.targetIDs, zip(ids, distances).map { $1 == 0 ? $0 : -1 }, "\(s) → \(t) EM")
            if mined.targetIDs != ids {
                for i in 0..<ids.count where mined.targetIDs[i] != ids[i] {
                    XCTFail("\(s) id \(i) \(source.text(of: Int32(i))): \(mined.targetIDs[i]) (d \(mined.distances[i])) vs \(ids[i]) (d \(distances[i]))")
                    break
                }
            }
            let k = fixture["k"] as! Int
            let aligners = [("em", em), ("mined", mined)].map { name, map in
                (name, CrossTokenizerAligner(source: source, target: target, map: map, oneHot: .nextToken),
                 CrossTokenizerAligner(source: source, target: target, map: map, oneHot: .currentToken))
            }
            for (n, text) in (fixture["texts"] as! [[String: Any]]).enumerated() {
                let label = "\(s) → \(t) text \(n)"
                let sourceIDs = (text["source_ids"] as! [Int]).map(Int32.init)
                let targetIDs = (text["target_ids"] as! [Int]).map(Int32.init)
                // The tokenizers agree with the Python libraries (EOS appended as the pipeline does).
                let raw = text["text"] as! String
                XCTAssertEqual(sourceTok.encode(raw) + (sourceTok.eosTokenID.map { [$0] } ?? []), sourceIDs, label)
                XCTAssertEqual(targetTok.encode(raw) + (targetTok.eosTokenID.map { [$0] } ?? []), targetIDs, label)
                let alignment = SequenceAlignment.compute(sourceTokens: sourceIDs, targetTokens: targetIDs,
                                                          distance: aligners[0].1.distance)
                let runs = (text["runs"] as! [[Int]]).map { $0[0]..<$0[1] }
                XCTAssertEqual(alignment.sources, runs, label)
                XCTAssertEqual(alignment.cost, text["cost"] as? Int, label)
                let topIDs = (text["top_ids"] as! [[Int]]).flatMap { $0.map(Int32.init) }
                let topLogProbs = (text["top_logprobs"] as! [[Double]]).flatMap { $0.map(Float.init) }
                let teacher = TeacherText(textID: n, tokens: sourceIDs, k: k, topIDs: topIDs, topLogProbs: topLogProbs,
                                           ceSum: 0, ceCount: 0)
                let expected = text["rows"] as! [String: [String: Any]]
                for (method, next, current) in aligners {
                    let rows = expected[method]!["rows"] as! [[[Int]]]
                    let onehot = Set(expected[method]!["current_onehot"] as! [Int])
                    let outNext = try next.align(teacher, targetTokens: targetIDs)
                    let outCurrent = try current.align(teacher, targetTokens: targetIDs)
                    XCTAssertEqual(outNext.positions, targetIDs.count, label)
                    var bad = 0
                    for p in 0..<targetIDs.count {
                        let want = rows[p][0].map(Int32.init)
                        let wantLogits: [Float] = zip(rows[p][0], rows[p][1]).map { _, e in e < 0 ? 0 : topLogProbs[runs[p].lowerBound * k + e] }
                        let got = row(outNext, p)
                        let wantCurrent = onehot.contains(p) ? [targetIDs[p]] : want
                        if got.ids != want || got.logits != wantLogits || row(outCurrent, p).ids != wantCurrent {
                            bad += 1
                            if bad <= 3 {
                                XCTFail("\(label) \(method) row \(p): \(got) vs \(want) \(wantLogits); current \(row(outCurrent, p).ids) vs \(wantCurrent)")
                            }
                        }
                    }
                    XCTAssertEqual(bad, 0, "\(label) \(method)")
                }
            }
        }
    }

    /// The `ms` map from the co-alignments of the fixture's texts (counted by our DTW, threaded) against FuseChat-2's
    /// rule as the script implements it.
    func testMappingStatisticsMap() throws {
        for (s, t) in Self.pairs {
            let fixture = try AlignFixtures.json("pair-\(s)--\(t).json")
            let source = NormalizedVocabulary(try AlignFixtures.load(s)), target = NormalizedVocabulary(try AlignFixtures.load(t))
            let texts = (fixture["texts"] as! [[String: Any]]).map {
                (($0["source_ids"] as! [Int]).map(Int32.init), ($0["target_ids"] as! [Int]).map(Int32.init))
            }
            let statistics = try MappingStatistics.collect(corpusFingerprint: "fixture", textCount: texts.count,
                                                           distance: TokenDistance(source: source, target: target), threads: 2,
                                                           tokens: { texts[$0] })
            XCTAssertEqual(statistics.textCount, texts.count)
            XCTAssertEqual(statistics.counts.values.reduce(0, +),
                           (fixture["texts"] as! [[String: Any]]).reduce(0) { n, text in
                               n + (text["runs"] as! [[Int]]).reduce(0) { $0 + $1[1] - $1[0] } })
            let ms = VocabularyMap.build(source: source, target: target, method: .mappingStatistics, statistics: statistics)
            let ids = (fixture["ms_ids"] as! [Int]).map(Int32.init), distances = (fixture["ms_distances"] as! [Int]).map(Int32.init)
            XCTAssertEqual(ms.corpusFingerprint, "fixture")
            XCTAssertGreaterThan(ms.inexactCount, 10, "\(s) → \(t): the texts co-align some inexact tokens")
            XCTAssertEqual(ms.distances, distances, "\(s) → \(t) MS distances")
            XCTAssertEqual(ms.targetIDs, ids, "\(s) → \(t) MS ids")
            for i in 0..<ids.count where ms.targetIDs[i] != ids[i] {
                XCTFail("\(s) id \(i) \(source.text(of: Int32(i))): \(ms.targetIDs[i]) vs \(ids[i]) \(target.text(of: ids[i]))")
                break
            }
            // Exact matches are shared with MinED; MS maps a subset of MinED's inexact ids.
            let mined = (fixture["map_distances"] as! [Int])
            for i in 0..<ids.count {
                if mined[i] <= 0 { XCTAssertEqual(Int(distances[i]), mined[i]) }
            }
        }
    }

    private func row(_ d: AlignedDistributions, _ p: Int) -> (ids: [Int32], logits: [Float]) {
        let r = (p * d.width)..<((p + 1) * d.width)
        let kept = r.filter { d.ids[$0] >= 0 }
        return (kept.map { d.ids[$0] }, kept.map { d.logits[$0] })
    }
}
