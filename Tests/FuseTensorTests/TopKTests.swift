import FuseTensor
import XCTest

final class TopKTests: XCTestCase {
    func testKeepsTheKLargestAsLogSoftmaxHighestFirst() {
        let rows = 3, vocab = 50, k = 5
        var logits = [Float](repeating: 0, count: rows * vocab)
        for i in 0..<logits.count { logits[i] = Float((i * 37) % 101) / 10 - 5 }
        var ids = [Int32](repeating: 0, count: rows * k), lp = [Float](repeating: 0, count: rows * k)
        TopK.extract(logits: logits, rows: rows, vocab: vocab, k: k, ids: &ids, logProbs: &lp)
        for r in 0..<rows {
            let row = Array(logits[(r * vocab)..<((r + 1) * vocab)])
            let logZ = log(row.map { exp(Double($0)) }.reduce(0, +))
            let expected = row.enumerated().sorted { $0.element != $1.element ? $0.element > $1.element : $0.offset < $1.offset }.prefix(k)
            for (j, e) in expected.enumerated() {
                XCTAssertEqual(ids[r * k + j], Int32(e.offset))
                XCTAssertEqual(Double(lp[r * k + j]), Double(e.element) - logZ, accuracy: 1e-5)
            }
        }
    }
}
