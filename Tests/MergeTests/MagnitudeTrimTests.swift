import Merging
import FuseTensor
import XCTest

final class MagnitudeTrimTests: XCTestCase {
    func testKeepsTheLargestMagnitudesAsAStableSortWould() {
        var rng = SeededRandom(seed: 5)
        for count in [1, 2, 7, 100, 1001] {
            // Few distinct values, so many ties at the threshold.
            let values = (0..<count).map { _ in Float(Int(rng.next() % 9) - 4) * 0.25 }
            for k in [1, count / 3 + 1, count / 2 + 1, count] where k <= count {
                var trimmed = values
                trimmed.withUnsafeMutableBufferPointer { MagnitudeTrim.apply($0.baseAddress!, count: count, keep: k) }
                let order = values.indices.sorted { abs(values[$0]) > abs(values[$1]) || (abs(values[$0]) == abs(values[$1]) && $0 < $1) }
                var expected = [Float](repeating: 0, count: count)
                for i in order.prefix(k) { expected[i] = values[i] }
                XCTAssertEqual(trimmed, expected, "count \(count) k \(k)")
            }
        }
    }

    func testKeptCountFollowsMergekit() {
        XCTAssertEqual(MagnitudeTrim.keptCount(density: 0.7, count: 10), 7)
        XCTAssertEqual(MagnitudeTrim.keptCount(density: 0.01, count: 16), 1)  // at least one
        XCTAssertEqual(MagnitudeTrim.keptCount(density: 0.55, count: 16), 8)  // int() floors
    }
}
