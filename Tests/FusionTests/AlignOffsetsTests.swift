@testable import Fusion
import XCTest

/// Alignment by byte spans: positions pair exactly where both tokenizations cut the text at the same bytes;
/// elsewhere no pairing (one-hot rows), never a guess.
final class AlignOffsetsTests: XCTestCase {
    // Source: SentencePiece-style (dummy-prefix "▁"); target: byte-level.
    let source = handVocabulary(["<unk>", "<s>", "</s>", "▁the", "▁cat", "s", "▁sat", "▁ca", "ts", "▁caf", "é"],
                                special: ["<unk>", "<s>", "</s>"], bos: "<s>", eos: "</s>")
    // "Ã©" is byte-level's spelling of the two bytes of "é".
    let target = handVocabulary(["<|endoftext|>", "the", "Ġcats", "Ġsat", "Ġcat", "s", "Ġcaf", "Ã©"],
                                special: ["<|endoftext|>"], eos: "<|endoftext|>")

    func pairs(_ s: [Int32], _ t: [Int32]) -> [Range<Int>]? {
        OffsetAlignment.compute(sourceTokens: s, targetTokens: t, source: source, target: target)?.sources
    }

    func testCoincidingSpansPairAndOthersDoNot() throws {
        // "▁the ▁cat s ▁sat </s>" against "the Ġcats Ġsat <|endoftext|>": the source's dummy-prefix space is not
        // counted; "▁cat"+"s" covers "Ġcats" with two tokens, so that target position pairs with none.
        XCTAssertEqual(pairs([3, 4, 5, 6, 2], [1, 2, 3, 0]), [0..<1, 0..<0, 3..<4, 4..<5])
        // Same cuts: every position pairs, EOS with EOS.
        XCTAssertEqual(pairs([3, 4, 5, 6, 2], [1, 4, 5, 3, 0]), [0..<1, 1..<2, 2..<3, 3..<4, 4..<5])
        // Shifted cuts ("▁ca"+"ts" against "Ġcat"+"s") pair nothing in between, even with equal token counts.
        XCTAssertEqual(pairs([3, 7, 8, 6], [1, 4, 5, 3]), [0..<1, 0..<0, 0..<0, 3..<4])
        // "the café": spans count UTF-8 bytes ("é" is 2, one scalar on the source side, two bytes on the target's).
        XCTAssertEqual(pairs([3, 9, 10], [1, 6, 7]), [0..<1, 1..<2, 2..<3])
        // Spellings that do not add up to the same bytes have no exact alignment.
        XCTAssertNil(pairs([3, 4], [1]))
    }

    func testTheAlignerUsesOffsetsAndFallsBackToDTW() throws {
        let map = VocabularyMap.build(source: source, target: target, method: .minED)
        let offsets = CrossTokenizerAligner(source: source, target: target, map: map, method: .offsets)
        let dtw = CrossTokenizerAligner(source: source, target: target, map: map)
        XCTAssertEqual(offsets.pairing([3, 4, 5, 6, 2], [1, 2, 3, 0]).sources, [0..<1, 0..<0, 3..<4, 4..<5])
        XCTAssertEqual(offsets.pairing([3, 4], [1]), dtw.pairing([3, 4], [1]), "no exact alignment: DTW")
        // Rows: the paired positions take the source's rows, the unpaired one its one-hot on the next token.
        let teacher = TeacherText(textID: 0, tokens: [3, 4, 5, 6, 2], k: 1, topIDs: [4, 5, 6, 2, 2],
                                  topLogProbs: [-0.1, -0.2, -0.3, -0.4, -0.5], ceSum: 1, ceCount: 4)
        let aligned = try offsets.align(teacher, targetTokens: [1, 2, 3, 0])
        XCTAssertEqual(aligned.provenance.map { $0.taken }, [true, false, true, true])
        XCTAssertEqual(aligned.ids[1 * aligned.width], 3, "the one-hot of target position 1 is on its next token, Ġsat")
    }
}
