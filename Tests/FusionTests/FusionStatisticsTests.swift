import Fusion
import Foundation
import XCTest

/// What fused training logs per step about the fusion: the weights and choices of each function, and the
/// alignment counts summed over a block's rows.
final class FusionStatisticsTests: XCTestCase {
    func signal(_ name: String, ce: Double, _ provenance: [RowProvenance]) -> TeacherSignal {
        let n = provenance.count
        let d = AlignedDistributions(positions: n, width: 1, ids: [Int32](repeating: 1, count: n),
                                     logits: [Float](repeating: 0, count: n), provenance: provenance)
        return TeacherSignal(name: name, distributions: d, ce: ce)
    }

    func testEachFunctionsWeights() throws {
        let own = [RowProvenance(taken: true, exact: 1)]
        let block = [signal("target", ce: 3, own), signal("a", ce: 2, own), signal("b", ce: 2.5, own)]
        XCTAssertEqual(try MinCEFusion().weights(block), [0, 1, 0])
        XCTAssertEqual(try FusionFunctions.make("single:b").weights(block), [0, 0, 1])
        XCTAssertNil(try NoFusion().weights(block))
        // AvgCE: softmax over the rewards exp(−ce), computed here in Double from the definition.
        let rewards = [3.0, 2, 2.5].map { exp(-$0) }
        let z = rewards.map { exp($0) }.reduce(0, +)
        let avg = try XCTUnwrap(try AvgCEFusion().weights(block))
        for (w, r) in zip(avg, rewards) { XCTAssertEqual(w, exp(r) / z, accuracy: 1e-6) }
        // A tie goes to the earlier source, the target first.
        XCTAssertEqual(try MinCEFusion().weights([signal("target", ce: 2, own), signal("a", ce: 2, own)]), [1, 0])
    }

    func testStatisticsAddUpBlocksAndRows() throws {
        var stats = FusionStatistics(sourceNames: ["target", "smol"])
        let own = [RowProvenance](repeating: RowProvenance(taken: true, exact: 4), count: 2)
        // Block 1: smol takes one row of two (2 exact, 1 by edit distance, 1 dropped); MinCE chooses it.
        stats.record([signal("target", ce: 4, own),
                      signal("smol", ce: 3, [RowProvenance(taken: true, exact: 2, edited: 1, dropped: 1), RowProvenance(taken: false)])],
                     weights: [0, 1])
        // Block 2: smol takes both rows (4 exact, then 3 + 1 dropped) but has the higher ce: the target is chosen.
        stats.record([signal("target", ce: 2, own),
                      signal("smol", ce: 5, [RowProvenance(taken: true, exact: 4), RowProvenance(taken: true, exact: 3, dropped: 1)])],
                     weights: [1, 0])
        let json = stats.jsonObject
        XCTAssertEqual(json["blocks"] as? Int, 2)
        XCTAssertEqual(json["chosen"] as? [String], ["smol", "target"])
        let sources = try XCTUnwrap(json["sources"] as? [[String: Any]])
        XCTAssertEqual(sources.map { $0["name"] as? String }, ["target", "smol"])
        let smol = sources[1]
        XCTAssertEqual(smol["chosen"] as? Int, 1)
        XCTAssertEqual(smol["weight"] as? Double, 0.5)
        XCTAssertEqual(smol["ce"] as? Double, 4)
        XCTAssertEqual(smol["rows"] as? Int, 4)
        XCTAssertEqual(smol["one_to_one"] as? Double, 0.75)
        XCTAssertEqual(smol["entries"] as? Int, 12)
        XCTAssertEqual(try XCTUnwrap(smol["exact"] as? Double), 9.0 / 12, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(smol["edited"] as? Double), 1.0 / 12, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(smol["dropped"] as? Double), 2.0 / 12, accuracy: 1e-12)
        XCTAssertEqual(sources[0]["one_to_one"] as? Double, 1)
        XCTAssertEqual(sources[0]["exact"] as? Double, 1)
        // Taking the statistics starts a new count (one metrics line covers the steps since the previous one).
        stats.reset()
        XCTAssertEqual(stats.blocks, 0)
        XCTAssertEqual(stats.jsonObject["chosen"] as? [String], [])
    }
}
