import FuseFormats
@testable import Fusion
import XCTest

/// The qgap record (FTB2): every entry survives with its id, its log-probability within 2⁻¹⁰, in highest-first
/// order (ties: lower id first), for every k from 1 to 128 and vocabularies needing one to three id bytes.
final class TeacherGapCodecTests: XCTestCase {
    /// n positions of k distinct ids out of `vocab` with sorted log-probs; some rows put the next token first (the
    /// record's escape), some have near-ties that quantise to the same step, some go below the floor.
    func text(n: Int, k: Int, vocab: Int, seed: UInt64) -> TeacherText {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        let tokens = (0..<n).map { _ in Int32(next() % UInt64(vocab)) }
        var ids: [Int32] = [], values: [Float] = []
        for p in 0..<n {
            var chosen: [Int32] = []
            if p + 1 < n && next() % 3 == 0 { chosen.append(tokens[p + 1]) }
            while chosen.count < k {
                let id = Int32(next() % UInt64(vocab))
                if !chosen.contains(id) { chosen.append(id) }
            }
            var lp: Float = -Float(next() % 4000) / 1000
            var row: [Float] = []
            for j in 0..<k {
                row.append(lp)
                switch next() % 10 {
                case 0: lp -= 0.0003  // quantises to the same step as the previous entry
                case 1: lp -= Float(next() % 300) / 10  // a large gap (the escape path)
                default: lp -= Float(next() % 500) / 1000
                }
                if j == k - 2 && p % 17 == 5 { lp = -30_000 }  // below the floor
            }
            ids += chosen
            values += row
        }
        return TeacherText(textID: Int(seed), tokens: tokens, k: k, topIDs: ids, topLogProbs: values, ceSum: 12.75, ceCount: n - 1)
    }

    func testRoundTripWithinTheStatedErrorInHighestFirstOrder() throws {
        for (k, vocab) in [(1, 200), (2, 49_152), (10, 49_152), (10, 262_144), (33, 5_000), (128, 49_152), (128, 262_144)] {
            let original = text(n: 57, k: k, vocab: vocab, seed: UInt64(k * 1000 + vocab % 997))
            let decoded = try TeacherGapCodec.decode(try TeacherGapCodec.encode(original), file: "test", item: "text")
            XCTAssertEqual(decoded.tokens, original.tokens)
            XCTAssertEqual(decoded.textID, original.textID)
            XCTAssertEqual(decoded.ceSum, original.ceSum)
            XCTAssertEqual(decoded.ceCount, original.ceCount)
            XCTAssertEqual(decoded.k, k)
            for p in 0..<original.tokens.count {
                let row = (p * k)..<((p + 1) * k)
                // Same entries; each value within 2⁻¹⁰ (the floor clamps the ones below −16384).
                let expected = Dictionary(uniqueKeysWithValues: row.map { (original.topIDs[$0], max(TeacherGapCodec.floor, original.topLogProbs[$0])) })
                XCTAssertEqual(Set(row.map { decoded.topIDs[$0] }), Set(expected.keys), "k=\(k) position \(p)")
                for i in row {
                    let error = abs(decoded.topLogProbs[i] - expected[decoded.topIDs[i]]!)
                    XCTAssertLessThanOrEqual(error, ValueEncoding.qgap.maxError, "k=\(k) V=\(vocab) position \(p)")
                }
                // Highest first, ties by lower id.
                for i in row.dropFirst() {
                    let (a, b) = ((decoded.topLogProbs[i - 1], decoded.topIDs[i - 1]), (decoded.topLogProbs[i], decoded.topIDs[i]))
                    XCTAssertTrue(a.0 > b.0 || (a.0 == b.0 && a.1 < b.1), "k=\(k) position \(p): \(a) before \(b)")
                }
            }
        }
    }

    /// Each position's ce (token-level MinCE's input) travels in its own stream, within the same 2⁻¹⁰; texts without
    /// it (older dumps, other encodings) decode to nil.
    func testTokenCERoundTrips() throws {
        let plain = text(n: 30, k: 10, vocab: 49_152, seed: 9)
        XCTAssertNil(try TeacherGapCodec.decode(try TeacherGapCodec.encode(plain), file: "t", item: "t").tokenCE)
        // As a dump makes them: where the next token was kept, its ce is that entry's −log p.
        let ce = (0..<30).map { p -> Float in
            if p + 1 < 30, let j = (0..<10).first(where: { plain.topIDs[p * 10 + $0] == plain.tokens[p + 1] }) {
                return -plain.topLogProbs[p * 10 + j]
            }
            return Float(p % 7) * 1.37 + 0.0011 * Float(p)
        }
        XCTAssertTrue((0..<29).contains { p in (0..<10).contains { plain.topIDs[p * 10 + $0] == plain.tokens[p + 1] } },
                      "some positions keep their next token")
        let withCE = TeacherText(textID: 9, tokens: plain.tokens, k: 10, topIDs: plain.topIDs, topLogProbs: plain.topLogProbs,
                                 ceSum: plain.ceSum, ceCount: plain.ceCount, tokenCE: ce)
        let decoded = try XCTUnwrap(try TeacherGapCodec.decode(try TeacherGapCodec.encode(withCE), file: "t", item: "t").tokenCE)
        for (a, b) in zip(decoded, ce) where b < 16_000 { XCTAssertLessThanOrEqual(abs(a - b), ValueEncoding.qgap.maxError) }
    }

    func testTheStatedErrorIsBelowOneThousandth() {
        XCTAssertLessThanOrEqual(ValueEncoding.qgap.maxError, 1e-3)
        // Every step boundary case: x·512 ± ½ rounds to the nearest step.
        for x in stride(from: Float(0), through: -20, by: -0.000731) {
            let stored = -Float(TeacherGapCodec.quantised(x)) / TeacherGapCodec.stepsPerNat
            XCTAssertLessThanOrEqual(abs(stored - x), ValueEncoding.qgap.maxError + 1e-6 * abs(x))
        }
    }

    /// Damaged records fail with the file and the problem named, never a crash.
    func testCorruptRecordsAreRefusedWithTheFileNamed() throws {
        let record = try TeacherGapCodec.encode(text(n: 20, k: 10, vocab: 49_152, seed: 3))
        for damage in [record.prefix(record.count - 3), record.prefix(9), Data("FTB1".utf8) + record.dropFirst(4),
                       record + Data([0]), flip(record, at: record.count - 20)] {
            XCTAssertThrowsError(try TeacherGapCodec.decode(Data(damage), file: "shard-000001.fzst", item: "text 4")) {
                XCTAssertTrue("\($0)".contains("shard-000001.fzst"), "\($0)")
            }
        }
    }

    func flip(_ data: Data, at i: Int) -> Data {
        var d = data
        d[d.startIndex + i] ^= 0x5A
        return d
    }
}
