import FuseFormats
import FuseTensor
@testable import Fusion
import XCTest
import TestSupport

/// Blocks cut across texts get their teachers' rows from the right texts, and a token-weighted ce.
final class FusedTargetBuilderTests: XCTestCase {
    /// Texts of 5, 7 and 4 target tokens cut into blocks of 4 (16 tokens → 4 blocks).
    struct Layout: BlockLayout {
        let texts: [[Int32]] = [[10, 11, 12, 13, 14], [20, 21, 22, 23, 24, 25, 26], [30, 31, 32, 33]]
        var blockSize: Int { 4 }
        var blockCount: Int { texts.reduce(0) { $0 + $1.count } / blockSize }
        var textCount: Int { texts.count }
        func targetTokens(ofText text: Int) throws -> [Int32] { texts[text] }
        func byteCount(ofText text: Int) throws -> Int { [20, 70, 16][text] }
        func spans(ofBlock block: Int) throws -> [(text: Int, tokens: Range<Int>)] {
            var out: [(text: Int, tokens: Range<Int>)] = []
            var start = 0
            let lo = block * blockSize, hi = lo + blockSize
            for (i, t) in texts.enumerated() {
                let a = max(lo, start), b = min(hi, start + t.count)
                if a < b { out.append((i, (a - start)..<(b - start))) }
                start += t.count
            }
            return out
        }
    }

    /// A dump whose row t of text i puts logit 0 on token `base + 100·i + t` and −1 on the next id.
    func writeDump(_ dir: URL, layout: Layout, base: Int32, ce: [Double], positionsScored: [Int]? = nil,
                   encoding: ValueEncoding = .f32) throws {
        let m = TeacherManifest(source: "s\(base)", tokenizerFingerprint: "tok", blocksFingerprint: "blocks", k: 2,
                                valueEncoding: encoding, blockCount: layout.textCount, blocksPerShard: 2)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for s in 0..<m.shardCount {
            let blocks = m.blockRange(ofShard: s).map { i -> TeacherText in
                let tokens = layout.texts[i]
                var ids: [Int32] = []
                for t in tokens.indices {
                    let id: Int32 = base + Int32(100 * i + t)
                    ids += [id, id + 1]
                }
                return TeacherText(textID: i, tokens: tokens, k: 2, topIDs: ids,
                                    topLogProbs: tokens.indices.flatMap { _ in [Float(0), -1] },
                                    ceSum: ce[i] * Double(positionsScored?[i] ?? tokens.count),
                                    ceCount: positionsScored?[i] ?? tokens.count,
                                    tokenCE: tokens.indices.map { Float(ce[i]) + Float($0) / 8 })
            }
            try TeacherShard.write(blocks, encoding: encoding, to: dir.appendingPathComponent(TeacherManifest.shardFileName(s)))
        }
        try TeacherDump.finishPart(m, directory: dir, part: 0, of: 1)
    }

    func makeBuilder(ce: [Double], fusion: any FusionFunction, topK: Int? = nil, metric: FusionMetric = .ce,
                     otherPositions: [Int]? = nil) throws -> FusedTargetBuilder {
        let layout = Layout()
        let a = temporaryDirectory("fta"), b = temporaryDirectory("ftb")
        try writeDump(a, layout: layout, base: 1000, ce: [2, 2, 2])
        try writeDump(b, layout: layout, base: 5000, ce: ce, positionsScored: otherPositions)
        return try FusedTargetBuilder(layout: layout, sources: [
            .init(name: "target", dump: TeacherDumpReader(directory: a), aligner: IdentityAligner()),
            .init(name: "other", dump: TeacherDumpReader(directory: b), aligner: IdentityAligner()),
        ], fusion: fusion, topK: topK, metric: metric)
    }

    /// Bits per byte: each text's total loss over its bytes, token-weighted over the block as ce is; a source that
    /// cuts the text into more tokens is no longer judged per token.
    func testBitsPerByteScoresTheSameBytesForEverySource() throws {
        let builder = try makeBuilder(ce: [1, 3, 2.5], fusion: MinCEFusion(), metric: .bitsPerByte)
        let bytes = [20.0, 70, 16], tokens = [5.0, 7, 4]
        func bpb(_ ce: Double, _ text: Int) -> Double { ce * tokens[text] / log(2) / bytes[text] }
        // Block 1 = text 0 token 4 + text 1 tokens 0..<3.
        let signals = try builder.signals(block: 1)
        XCTAssertEqual(signals[1].ce, (bpb(1, 0) * 1 + bpb(3, 1) * 3) / 4, accuracy: 1e-12)
        XCTAssertEqual(signals[0].ce, (bpb(2, 0) * 1 + bpb(2, 1) * 3) / 4, accuracy: 1e-12)
        // "other" cuts text 1 (block 2) into 10 finer tokens at 1.5 nats each, the target into 7 at 2 nats each.
        let perByte = try makeBuilder(ce: [1.5, 1.5, 1.5], fusion: MinCEFusion(), metric: .bitsPerByte, otherPositions: [5, 10, 4])
        let perToken = try makeBuilder(ce: [1.5, 1.5, 1.5], fusion: MinCEFusion(), otherPositions: [5, 10, 4])
        // Per token other looks better (1.5 < 2); per byte its 15 nats over text 1 lose to the target's 14.
        XCTAssertEqual(try MinCEFusion().weights(perToken.signals(block: 2)), [0, 1])
        XCTAssertEqual(try MinCEFusion().weights(perByte.signals(block: 2)), [1, 0])
    }

    /// A qgap dump's per-token ce reaches each taken row (token-level MinCE's input); other encodings keep none.
    func testRowsCarryTheirSourcesPerTokenCE() throws {
        let layout = Layout()
        let dir = temporaryDirectory("ft-token-ce")
        try writeDump(dir, layout: layout, base: 1000, ce: [1, 3, 2.5], encoding: .qgap)
        let builder = try FusedTargetBuilder(layout: layout, sources: [
            .init(name: "target", dump: TeacherDumpReader(directory: dir), aligner: IdentityAligner()),
        ], fusion: TokenMinCEFusion())
        // Block 1 = text 0 position 4 + text 1 positions 0..<3.
        let rowCE = try builder.signals(block: 1)[0].distributions.rowCE
        let expected: [Float] = [1 + 4.0 / 8, 3, 3 + 1.0 / 8, 3 + 2.0 / 8]
        XCTAssertEqual(rowCE.count, 4)
        for (a, b) in zip(rowCE, expected) { XCTAssertEqual(a, b, accuracy: 1e-3) }
        XCTAssertEqual(try makeBuilder(ce: [1, 1, 1], fusion: MinCEFusion()).signals(block: 1)[0].distributions.rowCE, [],
                       "an f32 dump keeps no per-token ce")
    }

    func testTopKKeepsEachRowsMostLikelyTokensAndRefusesMoreThanTheDump() throws {
        let block = TeacherText(textID: 0, tokens: [1, 2], k: 3, topIDs: [7, 3, 9, 4, 8, 1], topLogProbs: [-0.1, -2, -3, -0.5, -1, -4],
                                 ceSum: 1, ceCount: 2)
        let two = block.keepingTop(2)
        XCTAssertEqual(two.k, 2)
        XCTAssertEqual(two.topIDs, [7, 3, 4, 8])
        XCTAssertEqual(two.topLogProbs, [-0.1, -2, -0.5, -1])
        XCTAssertEqual(block.keepingTop(3), block)
        XCTAssertEqual(block.keepingTop(5), block)

        let one = try makeBuilder(ce: [1, 3, 2.5], fusion: SingleTeacherFusion(teacherName: "other"), topK: 1)
        let row = try XCTUnwrap(one.targets(block: 0)).row(0)
        XCTAssertEqual(row.ids, [5000], "only the most likely token is left, with all the mass")
        XCTAssertEqual(row.probs[0], 1, accuracy: 1e-6)
        XCTAssertThrowsError(try makeBuilder(ce: [1, 3, 2.5], fusion: MinCEFusion(), topK: 3)) { error in
            XCTAssertTrue("\(error)".contains("k = 2") && "\(error)".contains("top-k 3"), "\(error)")
        }
    }

    func testBlocksSpanningTextsTakeTheRightRowsAndTokenWeightedCE() throws {
        let builder = try makeBuilder(ce: [1, 3, 2.5], fusion: MinCEFusion())
        // Block 1 = text 0 token 4 + text 1 tokens 0..<3.
        let signals = try builder.signals(block: 1)
        XCTAssertEqual(signals.map(\.name), ["target", "other"])
        XCTAssertEqual(signals[1].distributions.ids, [5004, 5005, 5100, 5101, 5101, 5102, 5102, 5103])
        XCTAssertEqual(signals[1].ce, (1 * 1 + 3 * 3) / 4, accuracy: 1e-12)
        XCTAssertEqual(signals[0].ce, 2, accuracy: 1e-12)
        // MinCE per block: block 0 (all text 0, ce 1) → other; block 1 (ce 2.5) → target.
        XCTAssertEqual(try XCTUnwrap(builder.targets(block: 0)).row(0).ids.first, 5000)
        XCTAssertEqual(try XCTUnwrap(builder.targets(block: 1)).row(0).ids.first, 1004)
        let t = try XCTUnwrap(builder.targets(block: 3))
        XCTAssertEqual(t.rows, 4)
        let (_, probs) = t.row(2)
        XCTAssertEqual(probs.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(probs.first!, 1 / (1 + exp(-1)), accuracy: 1e-6)
    }

    func testNoFusionGivesNoTargetsAndNaNInADumpIsNamed() throws {
        XCTAssertNil(try makeBuilder(ce: [1, 1, 1], fusion: NoFusion()).targets(block: 0))
        let poisoned = try makeBuilder(ce: [1, .nan, 1], fusion: AvgCEFusion())
        XCTAssertNoThrow(try poisoned.targets(block: 0))
        XCTAssertThrowsError(try poisoned.targets(block: 2)) {
            XCTAssertTrue("\($0)".contains("other") && "\($0)".contains("text 1") && "\($0)".contains("non-finite"), "\($0)")
        }
    }

    func testIdentityAlignerRefusesADumpOfOtherTokens() throws {
        let block = TeacherText(textID: 0, tokens: [1, 2], k: 1, topIDs: [3, 4], topLogProbs: [0, 0], ceSum: 1, ceCount: 2)
        XCTAssertThrowsError(try IdentityAligner().align(block, targetTokens: [1, 5]))
    }
}
