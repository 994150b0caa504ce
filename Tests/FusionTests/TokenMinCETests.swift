import FuseTensor
@testable import Fusion
import XCTest

/// Token-level MinCE picks, per position, the source with the lowest ce on the token paired with that position.
final class TokenMinCETests: XCTestCase {
    /// One teacher: row r puts all its mass on id base + r; `rowCE` per row (NaN: the row is not the source's own).
    func teacher(_ name: String, base: Int32, rowCE: [Float]?) -> TeacherSignal {
        let n = 4
        var d = AlignedDistributions(positions: n, width: 1, ids: (0..<n).map { base + Int32($0) }, logits: Array(repeating: 0, count: n))
        if let rowCE { d.rowCE = rowCE }
        return TeacherSignal(name: name, distributions: d, ce: 2)
    }

    func testEachPositionTakesTheLowestCESource() throws {
        let teachers = [teacher("target", base: 100, rowCE: [1.0, 2.0, 0.5, 3.0]),
                        teacher("a", base: 200, rowCE: [0.5, .nan, 0.5, 2.5]),
                        teacher("b", base: 300, rowCE: [0.7, 1.5, .nan, 2.0])]
        let fused = try XCTUnwrap(try TokenMinCEFusion().fuse(teachers))
        // Row 0: a (0.5); row 1: b (1.5; a is no pairing there); row 2: a tie with the target goes to the target; row 3: b.
        XCTAssertEqual((0..<4).map { fused.row($0).ids }, [[200], [301], [102], [303]])
        XCTAssertEqual(try TokenMinCEFusion().weights(teachers), [0.25, 0.25, 0.5])
        XCTAssertEqual(try FusionFunctions.make("mince-token").name, "mince-token")
    }

    func testDumpsWithoutPerTokenCEAreNamed() {
        let teachers = [teacher("target", base: 100, rowCE: [1, 1, 1, 1]), teacher("old-dump", base: 200, rowCE: nil)]
        XCTAssertThrowsError(try TokenMinCEFusion().fuse(teachers)) {
            XCTAssertTrue("\($0)".contains("old-dump") && "\($0)".contains("qgap"), "\($0)")
        }
    }
}
