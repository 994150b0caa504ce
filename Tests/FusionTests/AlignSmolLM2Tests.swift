import FuseCorpus
import FuseText
@testable import Fusion
import Llama
import XCTest
import TestSupport

/// The real 49152-token SmolLM2 vocabulary (byte-level) against the sample pipeline's SentencePiece target.
final class AlignSmolLM2Tests: XCTestCase {
    static let gguf = AlignFixtures.repository.appendingPathComponent("checkpoints/SmolLM2-135M-Instruct.Q4_1.gguf")
    static let target = AlignFixtures.repository.appendingPathComponent("data/tokenizers/target-spm/tokenizer.model")

    private func load() throws -> (source: BPETokenizer, target: BPETokenizer) {
        guard FileManager.default.fileExists(atPath: Self.gguf.path) else {
            throw XCTSkip("SKIPPED: \(Self.gguf.path) is absent; run bash scripts/fetch-models.sh to test SmolLM2's vocabulary")
        }
        return (try BPETokenizer.load(path: Self.gguf.path), try BPETokenizer.load(path: Self.target.path))
    }

    func testMinEDAgainstBruteForce() throws {
        let p = try load()
        let smol = NormalizedVocabulary(p.source), spm = NormalizedVocabulary(p.target)
        XCTAssertEqual(smol.spelling, .byteLevel)
        XCTAssertEqual(smol.count, 49152)
        // SmolLM2 as a source and as the target of the sample pipeline's SentencePiece tokenizer.
        for (source, target) in [(smol, spm), (spm, smol)] {
            let map = VocabularyMap.build(source: source, target: target, method: .minED)
            XCTAssertEqual(map.exactCount + map.inexactCount + map.unmappedCount, source.count)
            XCTAssertGreaterThan(map.exactCount, 3000)
            // Only special tokens stay unmapped, and EOS finds the target's EOS.
            for s in 0..<Int32(source.count) where map.targetIDs[Int(s)] < 0 { XCTAssertEqual(source.kind(of: s), .special) }
            XCTAssertEqual(map.target(of: source.eosTokenID!), target.eosTokenID!)
            // A spread of inexact tokens against the plain DP over every candidate (in id order: the first minimum).
            let candidates = (0..<Int32(target.count)).filter { target.kind(of: $0) == .regular || target.kind(of: $0) == .byte }
            let inexact = (0..<Int32(source.count)).filter { map.distances[Int($0)] > 0 }
            XCTAssertGreaterThan(inexact.count, 100)
            for s in stride(from: 0, to: inexact.count, by: inexact.count / 25).map({ inexact[$0] }) {
                let a = Array(source.units(of: s))
                var best = (Int.max, Int32(-1))
                for t in candidates {
                    let b = Array(target.units(of: t))
                    if abs(a.count - b.count) >= best.0 { continue }  // cannot beat (only tie, at a higher id)
                    let d = plainEditDistance(a, b)
                    if d < best.0 { best = (d, t) }
                }
                XCTAssertEqual(map.distances[Int(s)], Int32(best.0), "source \(s) \(source.text(of: s))")
                XCTAssertEqual(map.targetIDs[Int(s)], best.1, "source \(s) \(source.text(of: s))")
            }
        }
    }

    func testAlignmentOnRealText() throws {
        let p = try load()
        let docs = try Corpus(paths: [AlignFixtures.repository.appendingPathComponent("data/sample/minipile/validation-00000-of-00001.parquet").path])
            .documents().collect().prefix(2)
        XCTAssertFalse(docs.isEmpty)
        // Both directions: SmolLM2 as a source and as the target.
        for (sourceTok, targetTok, method) in [(p.source, p.target, VocabularyMethod.exact), (p.target, p.source, .minED)] {
            let source = NormalizedVocabulary(sourceTok), target = NormalizedVocabulary(targetTok)
            let aligner = CrossTokenizerAligner(source: source, target: target,
                                                map: VocabularyMap.build(source: source, target: target, method: method))
            for doc in docs {
                let text = String(doc.text.prefix(3000))
                let s = sourceTok.encode(text) + [sourceTok.eosTokenID!], t = targetTok.encode(text) + [targetTok.eosTokenID!]
                let alignment = SequenceAlignment.compute(sourceTokens: s, targetTokens: t, distance: aligner.distance)
                // A monotone path that starts at (0, 0), ends at the last pair and covers every source position.
                XCTAssertEqual(alignment.sources.first?.lowerBound, 0)
                XCTAssertEqual(alignment.sources.last?.upperBound, s.count)
                for j in 1..<t.count {
                    let (a, b) = (alignment.sources[j - 1], alignment.sources[j])
                    XCTAssertFalse(b.isEmpty)
                    XCTAssertTrue(b.lowerBound == a.upperBound - 1 || b.lowerBound == a.upperBound, "position \(j)")
                }
                let k = 10
                let teacher = TeacherText(textID: 0, tokens: s, k: k,
                                           topIDs: s.indices.flatMap { i in (0..<k).map { e in Int32((i * 7919 + e * 104729) % source.count) } },
                                           topLogProbs: s.indices.flatMap { _ in (0..<k).map { -Float($0) - 0.5 } }, ceSum: 0, ceCount: 0)
                let out = try aligner.align(teacher, targetTokens: t)
                XCTAssertEqual(out.positions, t.count)
                var fromSource = 0
                for r in 0..<out.positions {
                    let ids = out.ids[(r * k)..<((r + 1) * k)].filter { $0 >= 0 }
                    XCTAssertEqual(Set(ids).count, ids.count, "row \(r) lists an id twice")
                    XCTAssertTrue(ids.allSatisfy { Int($0) < target.count })
                    if out.logits[r * k] != 0 { fromSource += 1 }
                }
                // Many positions of ordinary text pair one-to-one with an equal token (fewer when the target's
                // vocabulary is much smaller than the source's).
                XCTAssertGreaterThan(fromSource, t.count / 5, "\(fromSource) of \(t.count) rows from the source")
            }
        }
    }
}
