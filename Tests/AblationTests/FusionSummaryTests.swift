import Ablation
import Foundation
import XCTest
import TestSupport

/// The per-run fusion statistics summed from metrics.jsonl, and the table results.md shows them in.
final class FusionSummaryTests: XCTestCase {
    /// One metrics line whose fusion entry covers `blocks` blocks.
    func line(step: Int, blocks: Int, chosen: [String], smol: (weight: Double, chosen: Int, ce: Double, rows: Int, oneToOne: Double,
                                                             entries: Int, exact: Double, edited: Double, dropped: Double)) -> String {
        let own = #"{"name":"target","weight":\#(1 - smol.weight),"chosen":\#(blocks - smol.chosen),"ce":4,"rows":\#(smol.rows),"one_to_one":1,"entries":\#(smol.rows * 2),"exact":1,"edited":0,"dropped":0}"#
        let other = #"{"name":"smol","weight":\#(smol.weight),"chosen":\#(smol.chosen),"ce":\#(smol.ce),"rows":\#(smol.rows),"one_to_one":\#(smol.oneToOne),"entries":\#(smol.entries),"exact":\#(smol.exact),"edited":\#(smol.edited),"dropped":\#(smol.dropped)}"#
        let names = chosen.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"step":\#(step),"loss":3,"clm_loss":3,"fusion_loss":2,"fusion":{"blocks":\#(blocks),"chosen":[\#(names)],"sources":[\#(own),\#(other)]}}"#
    }

    func testLinesAreWeighedByWhatTheyCount() throws {
        let url = temporaryDirectory("fusion-summary").appendingPathComponent("metrics.jsonl")
        let text = [
            line(step: 1, blocks: 2, chosen: ["smol", "smol"],
                 smol: (1, 2, 3, 200, 0.5, 200, 0.5, 0.25, 0.25)),
            #"{"step":2,"skipped":true,"loss":null,"reason":"non-finite loss or gradient","blocks":[1]}"#,
            line(step: 3, blocks: 4, chosen: ["target", "smol", "target", "target"],
                 smol: (0.25, 1, 6, 400, 0.875, 700, 0.8, 0.2, 0)),
        ].joined(separator: "\n") + "\n"
        try text.write(to: url, atomically: true, encoding: .utf8)
        let summary = try XCTUnwrap(try FusionSummary.read(metrics: url))
        XCTAssertEqual(summary.map(\.name), ["target", "smol"])
        let smol = summary[1]
        XCTAssertEqual(smol.blocks, 6)
        XCTAssertEqual(smol.chosen, 3)
        XCTAssertEqual(smol.chosenShare, 0.5)
        XCTAssertEqual(smol.weight, (2 * 1 + 4 * 0.25) / 6, accuracy: 1e-12)
        XCTAssertEqual(smol.ce, (2 * 3 + 4 * 6) / 6, accuracy: 1e-12)
        XCTAssertEqual(smol.oneToOne, (100 + 350) / 600.0, accuracy: 1e-12)       // by rows
        XCTAssertEqual(smol.exact, (100 + 560) / 900.0, accuracy: 1e-12)          // by entries
        XCTAssertEqual(smol.edited, (50 + 140) / 900.0, accuracy: 1e-12)
        XCTAssertEqual(smol.dropped, 50 / 900.0, accuracy: 1e-12)
        XCTAssertEqual(summary[0].chosen, 3)

        let table = FusionSummary.markdownTable([("mince", summary)])
        XCTAssertTrue(table.contains("| mince | smol | 50.0% (3) | 0.500 | 5.000 | 75.0% | 73.3% | 21.1% | 5.6% |"), table)

        // A CLM-only run has no fusion entries.
        try #"{"step":1,"loss":3}"#.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertNil(try FusionSummary.read(metrics: url))
        // A fusion entry that lost its counts is named, with its line.
        try #"{"step":1,"loss":3,"fusion":{"blocks":1,"sources":[{"name":"a"}]}}"#.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try FusionSummary.read(metrics: url)) {
            XCTAssertTrue("\($0)".contains("line 1") && "\($0)".contains("a has no number"), "\($0)")
        }
    }

    func testResultsMarkdownShowsWhatTheFusionDidPerArm() {
        let stats = { (share: Double) in
            [FusionSourceSummary(name: "target", blocks: 10, chosen: 10 - Int(share * 10), weight: 1 - share, ce: 4, oneToOne: 1,
                                 exact: 1, edited: 0, dropped: 0),
             FusionSourceSummary(name: "gemma", blocks: 10, chosen: Int(share * 10), weight: share, ce: 3, oneToOne: 0.9,
                                 exact: 0.7, edited: 0.2, dropped: 0.1)]
        }
        func run(_ name: String, seed: UInt64, fusion: [FusionSourceSummary]?) -> RunResult {
            RunResult(name: name, kind: "trained", seed: seed, settings: [:], signature: "", perplexity: 10, bitsPerByte: 1, tokens: 5,
                      domainPerplexity: [:], domainBitsPerByte: [:], steps: 1, clmLossCurve: [], seconds: 1, fusion: fusion)
        }
        let md = AblationReport(results: [run("clm", seed: 1, fusion: nil), run("mince", seed: 1, fusion: stats(0.6)),
                                          run("mince", seed: 2, fusion: stats(0.8))], compareTo: "clm").markdown()
        XCTAssertTrue(md.contains("## What the fusion did"), md)
        // Two seeds: 6 + 8 of 20 blocks, weights averaged.
        XCTAssertTrue(md.contains("| mince | gemma | 70.0% (14) | 0.700 | 3.000 | 90.0% | 70.0% | 20.0% | 10.0% |"), md)
        XCTAssertFalse(md.contains("| clm | target |"), "a CLM-only arm fused nothing")
    }
}
