import FuseCorpus
import FuseFormats
import XCTest
import TestSupport

/// Every fixture file gives exactly the texts (and rows / lines, in order) pyarrow wrote.
final class FixtureReadTests: XCTestCase {
    let expected = ExpectedCorpus.shared

    func read(_ name: String, policy: InvalidLinePolicy = .stop) throws -> ([Document], CorpusReport) {
        let spec = expected.files[name]!
        let corpus = try Corpus(paths: [Fixtures.corpus(name)], textField: spec.field ?? "text", invalidLines: policy)
        let stream = try corpus.documents()
        let docs = try stream.collect()
        return (docs, stream.report)
    }

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let spec = expected.files[name]!
        let policy: InvalidLinePolicy = (spec.skipped ?? []).isEmpty ? .stop : .skip
        let (docs, report) = try read(name, policy: policy)
        let want = expected.documents(name)
        XCTAssertEqual(docs.count, want.count, "\(name): document count", file: file, line: line)
        for (doc, (index, text)) in zip(docs, want) {
            XCTAssertEqual(doc.index, index, "\(name): index", file: file, line: line)
            if doc.text != text {
                XCTFail("\(name) row \(index): text differs (\(doc.text.utf8.count) vs \(text.utf8.count) bytes)",
                        file: file, line: line)
            }
            XCTAssertEqual(doc.source, Fixtures.corpus(name), file: file, line: line)
        }
        XCTAssertEqual(report.nullTexts, spec.nulls, "\(name): nulls", file: file, line: line)
        XCTAssertEqual(report.documents, want.count, file: file, line: line)
        XCTAssertEqual(report.skippedLines, (spec.skipped ?? []).count, "\(name): skipped", file: file, line: line)
        let corpus = try Corpus(paths: [Fixtures.corpus(name)], textField: spec.field ?? "text", invalidLines: policy)
        XCTAssertEqual(try corpus.count(), want.count, "\(name): count()", file: file, line: line)
    }

    func testEveryParquetFixture() throws {
        let names = expected.files.keys.filter { $0.hasPrefix("parquet/") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 20)
        XCTAssertEqual(names.filter { $0.contains("gzip") }.count, 2)
        for name in names {
            XCTAssertNoThrow(try check(name), name)
        }
    }

    func testEveryJSONLinesFixture() throws {
        for name in expected.files.keys.filter({ $0.hasPrefix("jsonl/") }).sorted() {
            XCTAssertNoThrow(try check(name), name)
        }
    }
}
