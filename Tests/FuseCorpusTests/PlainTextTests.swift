import FuseCorpus
import FuseFormats
import XCTest
import TestSupport

final class PlainTextTests: XCTestCase {
    func testOneFileIsOneDocument() throws {
        let dir = temporaryDirectory("txt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.txt")
        try Data([0xEF, 0xBB, 0xBF] + Array("First line.\n\nSecond paragraph — ünïcödé 中文\n".utf8)).write(to: a)
        let docs = try Corpus(paths: [a.path]).documents().collect()
        XCTAssertEqual(docs, [Document(text: "First line.\n\nSecond paragraph — ünïcödé 中文\n", source: a.path, index: 0)])
        XCTAssertEqual(try Corpus(paths: [a.path]).count(), 1)

        let bad = dir.appendingPathComponent("bad.txt")
        try Data([0x61, 0x62, 0xFF, 0x63]).write(to: bad)
        XCTAssertThrowsError(try Corpus(paths: [bad.path]).documents().collect()) {
            XCTAssertEqual("\($0)", "\(bad.path): byte 2: text is not valid UTF-8")
        }
        XCTAssertThrowsError(try Corpus(paths: [a.path], maxDocumentBytes: 10).documents().collect()) {
            XCTAssertTrue("\($0)".contains("exceeds the 10-byte limit"), "\($0)")
        }
    }
}
