@testable import Fusion
import XCTest

final class AlignSequenceTests: XCTestCase {
    // Source: SentencePiece-style; target: byte-level. The target has no " cat" (MinED sends it to " cats").
    let source = handVocabulary(["<unk>", "<s>", "</s>", "▁the", "▁cat", "s", "▁sat", "▁dog", "▁cats"],
                                special: ["<unk>", "<s>", "</s>"], bos: "<s>", eos: "</s>")
    let target = handVocabulary(["<|endoftext|>", "Ġthe", "Ġcats", "Ġsat", "Ġdog", "s"],
                                special: ["<|endoftext|>"], eos: "<|endoftext|>")

    private func aligner(_ method: VocabularyMethod, _ oneHot: OneHotPlacement = .nextToken) -> CrossTokenizerAligner {
        CrossTokenizerAligner(source: source, target: target,
                                  map: VocabularyMap.build(source: source, target: target, method: method), oneHot: oneHot)
    }

    private func rows(_ d: AlignedDistributions) -> [[Int32]] {
        (0..<d.positions).map { p in d.ids[(p * d.width)..<((p + 1) * d.width)].filter { $0 >= 0 } }
    }

    private func logits(_ d: AlignedDistributions) -> [[Float]] {
        (0..<d.positions).map { p in (0..<d.width).filter { d.ids[p * d.width + $0] >= 0 }.map { d.logits[p * d.width + $0] } }
    }

    func testOneToOneOneToManyManyToOne() throws {
        let distance = TokenDistance(source: source, target: target)
        // the cat s sat | the cats sat: "cat"+"s" against "cats", worked by hand (and by the reference's dtw).
        let a = SequenceAlignment.compute(sourceTokens: [3, 4, 5, 6], targetTokens: [1, 2, 3], distance: distance)
        XCTAssertEqual(a.sources, [0..<1, 1..<2, 2..<4])
        XCTAssertEqual(a.cost, 3)
        // One source token against two target tokens: both target positions take it.
        let hello = handVocabulary(["▁hello", "▁hel", "lo"]), split = handVocabulary(["Ġhello", "Ġhel", "lo"])
        let d2 = TokenDistance(source: hello, target: split)
        XCTAssertEqual(SequenceAlignment.compute(sourceTokens: [0], targetTokens: [1, 2], distance: d2).sources, [0..<1, 0..<1])
        // Two source tokens against one target token: it takes both.
        XCTAssertEqual(SequenceAlignment.compute(sourceTokens: [1, 2], targetTokens: [0], distance: d2).sources, [0..<2])
        XCTAssertEqual(SequenceAlignment.compute(sourceTokens: [1, 2], targetTokens: [0], distance: d2).cost, 5)
        // Nothing on one side: no source positions.
        XCTAssertEqual(SequenceAlignment.compute(sourceTokens: [], targetTokens: [0, 1], distance: d2).sources, [0..<0, 0..<0])
    }

    func testTransformEMAndMinED() throws {
        // Rows predict the next token; row 0 lists " cat" and " cats" (both → target " cats" under MinED).
        let teacher = TeacherText(textID: 7, tokens: [3, 4, 5, 6], k: 3,
                                   topIDs: [4, 8, 3, /**/ 5, 4, 6, /**/ 6, 3, 7, /**/ 2, 6, 3],
                                   topLogProbs: [-0.1, -2, -3, /**/ -0.5, -1, -4, /**/ -0.2, -3, -5, /**/ -1, -2, -3],
                                   ceSum: 1, ceCount: 4)
        let targetTokens: [Int32] = [1, 2, 3]
        let em = try aligner(.exact).align(teacher, targetTokens: targetTokens)
        // t0 "the"="the": source row 0 with " cat" dropped (no exact match); t1 " cats" vs " cat": no match under EM
        // → one-hot on the next token " sat"; t2 pairs with two source tokens → one-hot, but it is the last row: empty.
        XCTAssertEqual(rows(em), [[2, 1], [3], []])
        XCTAssertEqual(logits(em), [[-2, -3], [0], []])
        XCTAssertEqual(em.width, 3)
        let mined = try aligner(.minED).align(teacher, targetTokens: targetTokens)
        // MinED maps " cat" → " cats": t1 now matches and takes source row 1; row 0's two entries on " cats" keep
        // only the first (highest) one.
        XCTAssertEqual(rows(mined), [[2, 1], [5, 2, 3], []])
        XCTAssertEqual(logits(mined), [[-0.1, -3], [-0.5, -1, -4], []])
        // Faithful placement: the one-hot goes on the row's own token.
        let faithful = try aligner(.exact, .currentToken).align(teacher, targetTokens: targetTokens)
        XCTAssertEqual(rows(faithful), [[2, 1], [2], [3]])
        XCTAssertEqual(logits(faithful), [[-2, -3], [0], [0]])
    }

    func testProvenanceCountsHowEachRowAndEntryWasMapped() throws {
        // The teacher of testTransformEMAndMinED, counted (metrics.jsonl's fusion statistics add these up).
        let teacher = TeacherText(textID: 7, tokens: [3, 4, 5, 6], k: 3,
                                   topIDs: [4, 8, 3, /**/ 5, 4, 6, /**/ 6, 3, 7, /**/ 2, 6, 3],
                                   topLogProbs: [-0.1, -2, -3, /**/ -0.5, -1, -4, /**/ -0.2, -3, -5, /**/ -1, -2, -3],
                                   ceSum: 1, ceCount: 4)
        let em = try aligner(.exact).align(teacher, targetTokens: [1, 2, 3])
        // t0: " cat" has no exact match (dropped), " cats" and " the" do; t1 and t2 are one-hot rows.
        XCTAssertEqual(em.provenance, [RowProvenance(taken: true, exact: 2, dropped: 1, sourceRow: 0), RowProvenance(taken: false),
                                       RowProvenance(taken: false)])
        let mined = try aligner(.minED).align(teacher, targetTokens: [1, 2, 3])
        // t0: " cat" → " cats" by edit distance, then " cats" itself repeats that id (dropped), " the" exact;
        // t1 takes source row 1: "s" and " sat" exact, " cat" by edit distance.
        XCTAssertEqual(mined.provenance, [RowProvenance(taken: true, exact: 1, edited: 1, dropped: 1, sourceRow: 0),
                                          RowProvenance(taken: true, exact: 2, edited: 1, sourceRow: 1), RowProvenance(taken: false)])
        // Slices and joins carry the rows' provenance with them.
        XCTAssertEqual(AlignedDistributions.concatenate([mined.slice(1..<3), em.slice(0..<1)]).provenance,
                       [mined.provenance[1], mined.provenance[2], em.provenance[0]])
        // The target's own rows: every row taken, every entry an exact match.
        let own = try IdentityAligner().align(teacher, targetTokens: teacher.tokens)
        XCTAssertEqual(own.provenance, (0..<4).map { RowProvenance(taken: true, exact: 3, sourceRow: $0) })
    }

    func testEOSMapsToEOS() throws {
        let teacher = TeacherText(textID: 0, tokens: [3, 7, 2], k: 2, topIDs: [7, 3, 2, 4, 3, 1],
                                   topLogProbs: [-0.1, -3, -0.2, -2, -1, -2], ceSum: 1, ceCount: 3)
        let out = try aligner(.exact).align(teacher, targetTokens: [1, 4, 0])
        // " dog" predicts </s> → the target's <|endoftext|>; the EOS rows match through the map (EOS → EOS).
        XCTAssertEqual(rows(out), [[4, 1], [0], [1]])
        XCTAssertEqual(logits(out), [[-0.1, -3], [-0.2], [-1]])
    }

    func testFirstTokenIgnoresALeadingSpace() throws {
        // A byte-level source has no dummy prefix ("Hello"), the SentencePiece target has ("▁Hello").
        let bl = handVocabulary(["Hello", "Ġworld", "!"]), sp = handVocabulary(["▁Hello", "▁world", "!", "Hello"])
        let al = CrossTokenizerAligner(source: bl, target: sp, map: VocabularyMap.build(source: bl, target: sp, method: .exact))
        let teacher = TeacherText(textID: 1, tokens: [0, 1, 2], k: 1, topIDs: [1, 2, 0], topLogProbs: [-1, -2, -3],
                                   ceSum: 0, ceCount: 0)
        let out = try al.align(teacher, targetTokens: [0, 1, 2])
        XCTAssertEqual(rows(out), [[1], [2], [3]])
        // Not at later positions: "Hello" against "▁Hello" elsewhere is no match.
        let later = try al.align(TeacherText(textID: 1, tokens: [2, 0], k: 1, topIDs: [1, 1], topLogProbs: [-1, -1],
                                              ceSum: 0, ceCount: 0), targetTokens: [2, 0])
        XCTAssertEqual(rows(later), [[1], []])
    }

    func testSameTokenizerIsIdentity() throws {
        let map = VocabularyMap.build(source: source, target: source, method: .minED)
        let al = CrossTokenizerAligner(source: source, target: source, map: map)
        let teacher = TeacherText(textID: 2, tokens: [3, 4, 5, 6, 2], k: 2, topIDs: [4, 8, 5, 6, 6, 3, 2, 7, 3, 4],
                                   topLogProbs: [-0.1, -2, -0.3, -1, -0.2, -3, -0.5, -0.9, -1, -2], ceSum: 1, ceCount: 5)
        let out = try al.align(teacher, targetTokens: teacher.tokens)
        XCTAssertEqual(out.ids, teacher.topIDs)
        XCTAssertEqual(out.logits, teacher.topLogProbs)
        // Through DTW as well: the diagonal, every row passed on.
        let alignment = SequenceAlignment.compute(sourceTokens: teacher.tokens, targetTokens: teacher.tokens, distance: al.distance)
        XCTAssertEqual(alignment.sources, (0..<5).map { $0..<($0 + 1) })
        XCTAssertEqual(alignment.cost, 0)
        XCTAssertEqual(al.transform(teacher, targetTokens: teacher.tokens, alignment: alignment), out)
    }

    func testBadInputIsAClearError() throws {
        let al = aligner(.minED)
        let bad = TeacherText(textID: 9, tokens: [3, 40], k: 1, topIDs: [3, 3], topLogProbs: [-1, -1], ceSum: 0, ceCount: 0)
        XCTAssertThrowsError(try al.align(bad, targetTokens: [1])) {
            XCTAssertTrue("\($0)".contains("text 9") && "\($0)".contains("40"), "\($0)")
        }
        let badTarget = TeacherText(textID: 3, tokens: [3], k: 1, topIDs: [3], topLogProbs: [-1], ceSum: 0, ceCount: 0)
        XCTAssertThrowsError(try al.align(badTarget, targetTokens: [99]))
        // Too long for one DTW matrix (prepare cuts texts at 2000 tokens).
        let long = [Int32](repeating: 3, count: 8193)
        let huge = TeacherText(textID: 4, tokens: long, k: 1, topIDs: long, topLogProbs: [Float](repeating: -1, count: 8193),
                                ceSum: 0, ceCount: 0)
        XCTAssertThrowsError(try al.align(huge, targetTokens: [Int32](repeating: 1, count: 8193))) {
            XCTAssertTrue("\($0)".contains("too long"), "\($0)")
        }
    }
}
