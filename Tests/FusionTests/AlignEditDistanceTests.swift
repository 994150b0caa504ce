import FuseTensor
@testable import Fusion
import XCTest

/// The textbook O(n·m) Levenshtein DP, the reference for the bit-parallel matcher.
func plainEditDistance(_ a: [UInt32], _ b: [UInt32]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count), current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

final class AlignEditDistanceTests: XCTestCase {
    /// Codes over a small alphabet (many matches), as the matcher sees them.
    private func randomCodes(_ rng: inout SeededRandom, length: Int, alphabet: Int) -> [UInt32] {
        (0..<length).map { _ in UInt32(rng.next() % UInt64(alphabet)) }
    }

    func testMatchesPlainDPOnRandomStrings() {
        var rng = SeededRandom(seed: 11)
        let alphabet = 7
        let matcher = EditDistanceMatcher(alphabetSize: alphabet)
        // Lengths around the 64-unit word boundary and several blocks.
        let lengths = [0, 1, 2, 3, 5, 8, 13, 31, 63, 64, 65, 100, 127, 128, 129, 200]
        for m in lengths {
            let pattern = randomCodes(&rng, length: m, alphabet: alphabet)
            pattern.withUnsafeBufferPointer { matcher.setPattern($0) }
            for _ in 0..<12 {
                let n = lengths[Int(rng.next() % UInt64(lengths.count))]
                // Half the texts are edits of the pattern, so distances are small as well as large.
                var text = rng.next() % 2 == 0 ? pattern : randomCodes(&rng, length: n, alphabet: alphabet)
                if text == pattern, !text.isEmpty {
                    for _ in 0..<(Int(rng.next() % 6)) {
                        let p = Int(rng.next() % UInt64(text.count))
                        switch rng.next() % 3 {
                        case 0: text[p] = UInt32(rng.next() % UInt64(alphabet))
                        case 1: text.remove(at: p)
                        default: text.insert(UInt32(rng.next() % UInt64(alphabet)), at: p)
                        }
                        if text.isEmpty { break }
                    }
                }
                let expected = plainEditDistance(pattern, text)
                let got = text.withUnsafeBufferPointer { matcher.distance($0) }
                XCTAssertEqual(got, expected, "m=\(m) n=\(text.count)")
                // With a limit: exact when within it, something above it otherwise.
                let limit = Int(rng.next() % 12)
                let bounded = text.withUnsafeBufferPointer { matcher.distance($0, limit: limit) }
                if expected <= limit { XCTAssertEqual(bounded, expected) } else { XCTAssertGreaterThan(bounded, limit) }
            }
        }
    }

    func testNonASCIIUnitsThroughTheAlphabet() {
        // Scalars past the BMP and raw bytes (0x110000 + b) are just units: the alphabet gives them dense codes.
        let a: [UInt32] = Array("naïve 日本語 👩‍❤️‍💋‍👨".unicodeScalars.map(\.value)) + [0x1100C3, 0x1100A9]
        let b: [UInt32] = Array("naive 日本 👩‍❤️‍👨 x".unicodeScalars.map(\.value)) + [0x1100C3]
        var alphabet = UnitAlphabet()
        var ca: [UInt32] = [], cb: [UInt32] = []
        alphabet.encode(a[...], into: &ca)
        alphabet.encode(b[...], into: &cb)
        let matcher = EditDistanceMatcher(alphabetSize: alphabet.size)
        ca.withUnsafeBufferPointer { matcher.setPattern($0) }
        XCTAssertEqual(cb.withUnsafeBufferPointer { matcher.distance($0) }, plainEditDistance(a, b))
        // Long non-ASCII strings over a large alphabet, pattern over several blocks.
        var rng = SeededRandom(seed: 5)
        for _ in 0..<20 {
            let x = (0..<(1 + Int(rng.next() % 150))).map { _ in UInt32(0x4E00 + rng.next() % 40) }
            let y = (0..<(Int(rng.next() % 150))).map { _ in UInt32(0x4E00 + rng.next() % 40) }
            var alpha = UnitAlphabet()
            var cx: [UInt32] = [], cy: [UInt32] = []
            alpha.encode(x[...], into: &cx)
            alpha.encode(y[...], into: &cy)
            let mm = EditDistanceMatcher(alphabetSize: alpha.size)
            cx.withUnsafeBufferPointer { mm.setPattern($0) }
            XCTAssertEqual(cy.withUnsafeBufferPointer { mm.distance($0) }, plainEditDistance(x, y))
            // Symmetric.
            cy.withUnsafeBufferPointer { mm.setPattern($0) }
            XCTAssertEqual(cx.withUnsafeBufferPointer { mm.distance($0) }, plainEditDistance(x, y))
        }
    }

    func testPatternSwitchClearsMasks() {
        // A long pattern then a short one reuse the table: stale masks would make unrelated units match.
        let matcher = EditDistanceMatcher(alphabetSize: 4)
        let long = [UInt32](repeating: 1, count: 150)
        long.withUnsafeBufferPointer { matcher.setPattern($0) }
        let short: [UInt32] = [0, 2]
        short.withUnsafeBufferPointer { matcher.setPattern($0) }
        let text: [UInt32] = [1, 1]
        XCTAssertEqual(text.withUnsafeBufferPointer { matcher.distance($0) }, 2)
    }
}
