import FuseCorpus
import XCTest
import TestSupport

/// data/sample/minipile (scripts/make-sample-corpus.py) reads as MiniPile would: its splits by
/// glob, every row a non-empty text, row counts as its README.md records them.
final class SampleCorpusTests: XCTestCase {
    static let dir = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("data/sample/minipile")

    /// The tables of the sample's README.md: rows per file and documents per domain.
    struct Sources {
        var files: [String: Int] = [:]
        var domains: [String: Int] = [:]

        init(card: String) {
            for line in card.split(separator: "\n") where line.hasPrefix("| ") {
                let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                guard cells.count >= 3, let n = Int(cells[1]) else { continue }
                if cells[0].hasSuffix(".parquet") { files[cells[0]] = n } else if cells.count == 4 { domains[cells[0]] = n }
            }
        }
    }

    func testSampleSplitsRead() throws {
        let sources = Sources(card: try String(contentsOf: Self.dir.appendingPathComponent("README.md"), encoding: .utf8))
        XCTAssertEqual(sources.files.count, 4)
        XCTAssertGreaterThanOrEqual(sources.domains.count, 5)
        for split in ["train", "validation", "test"] {
            let corpus = try Corpus(paths: [Self.dir.path + "/\(split)-*.parquet"])
            let want = sources.files.filter { $0.key.hasPrefix(split + "-") }.map(\.value).reduce(0, +)
            XCTAssertGreaterThan(want, 0)
            XCTAssertEqual(try corpus.count(), want, split)
            let stream = try corpus.documents()
            var n = 0
            while let doc = try stream.next() {
                XCTAssertFalse(doc.text.isEmpty)
                n += 1
            }
            XCTAssertEqual(n, want, split)
        }
        // The directory as a whole, and the extra column as the text field.
        let all = try Corpus(paths: [Self.dir.path])
        XCTAssertEqual(all.files.count, sources.files.count)
        let domains = try Corpus(paths: [Self.dir.path], textField: "domain").documents().collect()
        XCTAssertEqual(Set(domains.map(\.text)), Set(sources.domains.keys))
    }
}
