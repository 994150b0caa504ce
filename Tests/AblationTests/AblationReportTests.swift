import Ablation
import Foundation
import XCTest

/// Aggregation over seeds, the noise test of results.md, CSV quoting and the chart helpers.
final class AblationReportTests: XCTestCase {
    func result(_ name: String, seed: UInt64?, ppl: Double, kind: String = "trained") -> RunResult {
        RunResult(name: name, kind: kind, seed: seed, settings: ["fusion": name, "sources": "a,b"], signature: "",
                  perplexity: ppl, bitsPerByte: 2, tokens: 10, domainPerplexity: ["x": ppl * 2], domainBitsPerByte: [:],
                  steps: 2, clmLossCurve: [[1, 5], [2, 4]], seconds: 1)
    }

    func testSummaryIsMeanAndSampleStandardDeviation() {
        let s = AblationReport.Summary([1, 2, 3, 4])
        XCTAssertEqual(s.mean, 2.5)
        XCTAssertEqual(s.sd, (5.0 / 3).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(s.text("%.1f"), "2.5 ± 1.3")
        XCTAssertEqual(AblationReport.Summary([7]).text("%.1f"), "7.0", "one run has no spread to show")
    }

    func testMarkdownComparesWithTheReferenceAndMarksDifferencesBeyondNoise() {
        let runs = [100.0, 101, 102].enumerated().map { result("clm", seed: UInt64($0), ppl: $1) }
            + [90.0, 91, 92].enumerated().map { result("fused", seed: UInt64($0), ppl: $1) }
            + [100.5, 101.5, 99.5].enumerated().map { result("close", seed: UInt64($0), ppl: $1) }
            + [result("ens", seed: nil, ppl: 95, kind: "ensemble")]
        let md = AblationReport(results: runs, compareTo: nil).markdown()
        let row = { (name: String) in md.split(separator: "\n").first { $0.hasPrefix("| \(name) |") }.map(String.init) ?? "" }
        XCTAssertTrue(md.contains("**clm**"), "the first trained arm is the reference by default")
        XCTAssertTrue(row("fused").contains("91.000 ± 1.000") && row("fused").contains("-9.90% ± 0.10") && row("fused").contains("| yes |"), row("fused"))
        XCTAssertTrue(row("close").contains("| no |"), row("close"))
        XCTAssertTrue(row("ens").contains("-5.94%") && row("ens").contains("| yes |"), "a baseline compares unpaired: \(row("ens"))")
        XCTAssertTrue(row("ens").contains("95.000") && row("ens").contains("| ensemble |"), row("ens"))
        XCTAssertTrue(row("clm").contains("a,b"), "settings are shown")
        var other = result("smol", seed: nil, ppl: 20, kind: "model")
        other.tokens = 7
        let withOther = AblationReport(results: runs + [other], compareTo: nil).markdown()
        XCTAssertTrue(withOther.contains("| (other tokenizer) |"), withOther)
        let bars = AblationReport(results: runs + [other], compareTo: nil).perplexityByDomainSVG()
        XCTAssertFalse(bars.contains(">smol<"), "no perplexity bar for another tokenizer")
        XCTAssertTrue(bars.contains("1 run with another tokenizer left out"))
        XCTAssertTrue(md.contains("| fused | 182.00 ± 2.00 |"), "per-domain table")
    }

    /// The same seed orders the blocks the same way in every arm: a consistent small gain is beyond noise even
    /// when the seeds' spread is larger than the gain.
    func testPairedChangeSeesAConsistentGainThatTheSpreadHides() {
        let ref = [300.0, 310, 320].enumerated().map { result("clm", seed: UInt64($0), ppl: $1) }
        let arm = [298.5, 308.4, 318.5].enumerated().map { result("fused", seed: UInt64($0), ppl: $1) }
        let paired = AblationReport.pairedChange(arm, against: ref)!
        XCTAssertEqual(paired.n, 3)
        XCTAssertEqual(paired.mean, ((298.5 / 300 + 308.4 / 310 + 318.5 / 320) / 3 - 1) * 100, accuracy: 1e-9)
        let md = AblationReport(results: ref + arm, compareTo: "clm").markdown()
        XCTAssertTrue(md.split(separator: "\n").first { $0.hasPrefix("| fused |") }!.contains("| yes |"), md)
        XCTAssertNil(AblationReport.pairedChange([result("b", seed: nil, ppl: 1)], against: ref))
    }

    func testCSVQuotesFieldsWithCommas() {
        let csv = AblationReport(results: [result("a", seed: 1, ppl: 3)], compareTo: nil).csv()
        XCTAssertTrue(csv.contains(",\"a,b\","), csv)
        XCTAssertTrue(csv.hasSuffix("\n"))
    }

    func testChartHelpers() {
        XCTAssertEqual(SVGChart.movingAverage([1, 2, 3, 4, 5], window: 2), [1, 1.5, 2.5, 3.5, 4.5])
        let svg = SVGChart.lines([.init(name: "a<b", points: [(1, 2), (2, 3)])], title: "t", xLabel: "x", yLabel: "y")
        XCTAssertTrue(svg.contains("a&lt;b") && !svg.contains("a<b"), "names are escaped")
        let bars = SVGChart.barPanels([.init(title: "all", bars: [("p", 10, 1), ("q", 12, 0)])], title: "t")
        XCTAssertEqual(bars.components(separatedBy: "<rect").count - 1, 1 + 2 + 2, "background, two bars, two legend keys")
        let empty = SVGChart.lines([], title: "t", xLabel: "x", yLabel: "y")
        XCTAssertTrue(empty.contains("no data"))
    }
}
