import FuseCorpus
import FuseFormats
import XCTest
import TestSupport

final class CorpusPathsTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("paths") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func put(_ relative: String, _ text: String) {
        let url = dir.appendingPathComponent(relative)
        try! FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! Data(text.utf8).write(to: url)
    }

    func copy(_ fixture: String, to relative: String) {
        let url = dir.appendingPathComponent(relative)
        try! FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! FileManager.default.copyItem(at: URL(fileURLWithPath: Fixtures.corpus(fixture)), to: url)
    }

    func testDirectoriesRecurseSortedAndPickReadersByExtension() throws {
        put("b/2.txt", "two")
        put("b/10.txt", "ten")
        put("a.jsonl", "{\"text\": \"json a\"}\n")
        put("c/d/e.json", "{\"text\": \"json e\"}\n")
        put("notes.md", "ignored")
        put(".hidden/x.txt", "ignored")
        put(".x.txt", "ignored")
        copy("parquet/content-column.parquet", to: "p/p.parquet")
        copy("jsonl/docs.jsonl.zst", to: "z/docs.jsonl.zst")
        let root = dir.path
        let corpus = try Corpus(paths: [root])
        XCTAssertEqual(corpus.files.map { String($0.path.dropFirst(root.count + 1)) },
                       ["a.jsonl", "b/10.txt", "b/2.txt", "c/d/e.json", "p/p.parquet", "z/docs.jsonl.zst"])
        XCTAssertEqual(corpus.files.map(\.format), [.jsonLines, .text, .text, .jsonLines, .parquet, .zstdJSONLines])
        // p.parquet has no "text" column: the error names the file and column.
        XCTAssertThrowsError(try corpus.documents().collect()) {
            XCTAssertTrue("\($0)".contains("p.parquet: column 'text': no such column"), "\($0)")
        }
        let noParquet = try Corpus(paths: [root + "/a.jsonl", root + "/b", root + "/z", root + "/c"])
        let docs = try noParquet.documents().collect()
        let want = ["json a", "ten", "two"]
        XCTAssertEqual(Array(docs.prefix(3).map(\.text)), want)
        XCTAssertEqual(docs.last?.text, "json e")
        XCTAssertEqual(try noParquet.count(), docs.count)
        XCTAssertEqual(docs.count, 4 + ExpectedCorpus.shared.files["jsonl/docs.jsonl.zst"]!.rows.count)
    }

    func testGlobs() throws {
        for k in [3, 1, 2] { copy("parquet/plain-v1-snappy.parquet", to: "mp/train-0000\(k)-of-00003.parquet") }
        copy("parquet/plain-v1-snappy.parquet", to: "mp/validation-00000-of-00001.parquet")
        let corpus = try Corpus(paths: [dir.path + "/mp/train-*.parquet"])
        XCTAssertEqual(corpus.files.map { URL(fileURLWithPath: $0.path).lastPathComponent },
                       ["train-00001-of-00003.parquet", "train-00002-of-00003.parquet", "train-00003-of-00003.parquet"])
        let perFile = ExpectedCorpus.shared.files["parquet/plain-v1-snappy.parquet"]!.rows.count
        XCTAssertEqual(try corpus.count(), 3 * perFile)
        let docs = try corpus.documents().collect()
        XCTAssertEqual(docs.count, 3 * perFile)
        XCTAssertEqual(docs[perFile].index, 0)
        XCTAssertTrue(docs[perFile].source.hasSuffix("train-00002-of-00003.parquet"))
        XCTAssertThrowsError(try Corpus(paths: [dir.path + "/mp/test-*.parquet"])) {
            XCTAssertTrue("\($0)".contains("no corpus files match this pattern"), "\($0)")
        }
    }

    func testPathErrors() {
        XCTAssertThrowsError(try Corpus(paths: [dir.path + "/missing.jsonl"])) {
            XCTAssertEqual("\($0)", "\(dir.path)/missing.jsonl: no such file or directory")
        }
        put("data.csv", "a,b")
        XCTAssertThrowsError(try Corpus(paths: [dir.path + "/data.csv"])) {
            XCTAssertTrue("\($0)".contains("unknown corpus file type"), "\($0)")
        }
        try? FileManager.default.createDirectory(at: dir.appendingPathComponent("empty"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try Corpus(paths: [dir.path + "/empty"])) {
            XCTAssertTrue("\($0)".contains("directory holds no corpus files"), "\($0)")
        }
        XCTAssertThrowsError(try Corpus(paths: []))
    }

    func testFormatByFileName() {
        XCTAssertEqual(CorpusFormat(fileName: "x.PARQUET"), .parquet)
        XCTAssertEqual(CorpusFormat(fileName: "00_train.jsonl.zst"), .zstdJSONLines)
        XCTAssertEqual(CorpusFormat(fileName: "a.json.zst"), .zstdJSONLines)
        XCTAssertEqual(CorpusFormat(fileName: "a.ndjson"), .jsonLines)
        XCTAssertEqual(CorpusFormat(fileName: "a.txt"), .text)
        XCTAssertNil(CorpusFormat(fileName: "a.zst"))
        XCTAssertNil(CorpusFormat(fileName: "a.csv"))
    }
}
