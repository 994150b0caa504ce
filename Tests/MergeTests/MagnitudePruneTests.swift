import Merging
import XCTest

/// DELLA's magnitude-ranked drop: the odds follow each row's ranks, the draws are DARE's stream.
final class MagnitudePruneTests: XCTestCase {
    func testLargerEntriesSurviveMoreOftenAndRowsAreRankedApart() {
        // 400 rows of 64: row r holds ±(1…64) shuffled by r; density 0.5 ± 0.4 gives odds 0.1 … 0.9 by rank.
        let rows = 400, n = 64
        var values = [Float](repeating: 0, count: rows * n)
        for r in 0..<rows {
            for i in 0..<n { values[r * n + (i * 37 + r) % n] = Float(i + 1) * (i % 2 == 0 ? 1 : -1) }
        }
        let original = values
        let kept = values.withUnsafeMutableBufferPointer {
            MagnitudePrune.apply($0.baseAddress!, count: rows * n, rowLength: n, density: 0.5, epsilon: 0.4, seed: 9,
                                 modelIndex: 1, tensor: "w")
        }
        XCTAssertEqual(kept, values.filter { $0 != 0 }.count)
        XCTAssertEqual(Double(kept) / Double(rows * n), 0.5, accuracy: 0.02)
        // Per magnitude (= rank + 1 in every row), the share kept tracks 0.1 + 0.8 · rank / 63.
        for magnitude in [1, 16, 32, 48, 64] {
            let positions = original.indices.filter { abs(original[$0]) == Float(magnitude) }
            let share = Double(positions.filter { values[$0] != 0 }.count) / Double(positions.count)
            XCTAssertEqual(share, 0.1 + 0.8 * Double(magnitude - 1) / 63, accuracy: 0.08, "magnitude \(magnitude)")
        }
        // Kept entries are untouched (rescaling is the caller's); the same stream gives the same mask.
        for i in values.indices where values[i] != 0 { XCTAssertEqual(values[i], original[i]) }
        var again = original
        again.withUnsafeMutableBufferPointer {
            _ = MagnitudePrune.apply($0.baseAddress!, count: rows * n, rowLength: n, density: 0.5, epsilon: 0.4, seed: 9,
                                     modelIndex: 1, tensor: "w")
        }
        XCTAssertEqual(again, values)
    }
}
