@testable import FuseCorpus
import FuseFormats
import XCTest
import TestSupport

final class JSONLinesTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("jsonl") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func write(_ name: String, _ text: String) -> String {
        let url = dir.appendingPathComponent(name)
        try! Data(text.utf8).write(to: url)
        return url.path
    }

    func testStopPolicyNamesFileAndLine() {
        let path = Fixtures.corpus("jsonl/invalid.jsonl")
        let spec = ExpectedCorpus.shared.files["jsonl/invalid.jsonl"]!
        do {
            let stream = try Corpus(paths: [path], invalidLines: .stop).documents()
            var got = 0
            do {
                while try stream.next() != nil { got += 1 }
                XCTFail("no error")
            } catch let e as FormatError {
                XCTAssertEqual(got, 2, "the two lines before the broken one")
                XCTAssertEqual(e.file, path)
                XCTAssertEqual(e.item, "line \(spec.first_error_line!)")
                XCTAssertTrue(e.description.hasPrefix("\(path): line 3: invalid JSON at column"), e.description)
                XCTAssertTrue(e.description.contains("unterminated string"), e.description)
            }
            // The pass is over: the same error again, not the lines after it.
            XCTAssertThrowsError(try stream.next()) { XCTAssertEqual(($0 as? FormatError)?.item, "line 3") }
        } catch {
            XCTFail("\(error)")
        }
    }

    func testSkipPolicyCountsAndReports() throws {
        let path = Fixtures.corpus("jsonl/invalid.jsonl")
        let stream = try Corpus(paths: [path], invalidLines: .skip).documents()
        let docs = try stream.collect()
        XCTAssertEqual(docs.map(\.index), [1, 2, 4, 9])
        XCTAssertEqual(stream.report.skippedLines, 5)
        let m = stream.report.messages
        XCTAssertEqual(m.count, 5)
        XCTAssertTrue(m[0].hasPrefix("\(path): line 3: invalid JSON"), m[0])
        XCTAssertEqual(m[1], "\(path): line 5: no \"text\" field")
        XCTAssertEqual(m[2], "\(path): line 6: \"text\" is a JSON number, not a string")
        XCTAssertTrue(m[3].hasPrefix("\(path): line 7: invalid JSON at column 1: expected a JSON object"), m[3])
        XCTAssertTrue(m[4].contains("line 8: invalid JSON at column 16: unexpected data after the JSON object"), m[4])
    }

    func field(_ line: String, _ key: String = "text") throws -> JSONFieldValue {
        let bytes = Array(line.utf8)
        return try bytes.withUnsafeBytes { try JSONLineParser.field(Array(key.utf8), in: $0) }
    }

    func invalid(_ line: String, file: StaticString = #filePath, lineNumber: UInt = #line) -> String? {
        do {
            let v = try field(line)
            XCTFail("accepted \(line) as \(v)", file: file, line: lineNumber)
            return nil
        } catch let e as JSONSyntaxError {
            return e.message
        } catch {
            XCTFail("\(error)", file: file, line: lineNumber)
            return nil
        }
    }

    func testParserValues() throws {
        XCTAssertEqual(try field(#"{"text": "a"}"#), .string("a"))
        XCTAssertEqual(try field(#"{}"#), .missing)
        XCTAssertEqual(try field(#"{"Text": "a"}"#), .missing)
        XCTAssertEqual(try field(#"{"text": null}"#), .null)
        XCTAssertEqual(try field(#"{"text": [1, {"a": []}]}"#), .other("array"))
        XCTAssertEqual(try field(#"{"text": {"a": "b"}}"#), .other("object"))
        XCTAssertEqual(try field(#"{"text": false}"#), .other("boolean"))
        XCTAssertEqual(try field(#"{"text": -0.5e+10}"#), .other("number"))
        XCTAssertEqual(try field(#"{"te\u0078t": "escaped key"}"#), .string("escaped key"))
        XCTAssertEqual(try field(#"{"text": "\"\\\/\b\f\n\r\t"}"#), .string("\"\\/\u{8}\u{c}\n\r\t"))
        XCTAssertEqual(try field(#"{"text": "\u00e9\u4e2d\ud83d\ude00"}"#), .string("é中😀"))
        XCTAssertEqual(try field(#"{"text": "é中😀 raw"}"#), .string("é中😀 raw"))
        XCTAssertEqual(try field(#"{"text": "\u0000"}"#), .string("\u{0}"))
        XCTAssertEqual(try field(#"{"a": 1, "text": "x", "b": [true, false, null, 0, -1.25E-3, "s"]}"#), .string("x"))
        XCTAssertEqual(try field(#"{"text": "first", "text": "second"}"#), .string("second"))
        XCTAssertEqual(try field(#"{"content": "c", "text": 1}"#, "content"), .string("c"))
        XCTAssertEqual(try field(" \t{\"text\":\"ws\"}\t "), .string("ws"))
    }

    func testParserRejects() {
        XCTAssertEqual(invalid(""), "empty line")
        XCTAssertEqual(invalid("[]"), "expected a JSON object ('{')")
        XCTAssertEqual(invalid(#"{"text": "a",}"#), "expected a string key")
        XCTAssertEqual(invalid(#"{"text" "a"}"#), "expected ':' after key")
        XCTAssertEqual(invalid(#"{"text": "a""#), "unterminated object (expected ',' or '}')")
        XCTAssertEqual(invalid(#"{"text": "a"} x"#), "unexpected data after the JSON object")
        XCTAssertEqual(invalid(#"{"text": 01}"#), "expected ',' or '}'")
        XCTAssertEqual(invalid(#"{"text": 1.}"#), "invalid number")
        XCTAssertEqual(invalid(#"{"text": -}"#), "invalid number")
        XCTAssertEqual(invalid(#"{"text": 1e}"#), "invalid number")
        XCTAssertEqual(invalid(#"{"text": tru}"#), "invalid literal")
        XCTAssertEqual(invalid(#"{"text": 'a'}"#), "unexpected character where a value should start")
        XCTAssertEqual(invalid(#"{"text": "\x"}"#), "invalid escape '\\x'")
        XCTAssertEqual(invalid(#"{"text": "\u12"}"#), "invalid \\u escape")
        XCTAssertEqual(invalid(#"{"text": "\ud83d alone"}"#), "unpaired surrogate in \\u escape")
        XCTAssertEqual(invalid(#"{"text": "\ude00"}"#), "unpaired surrogate in \\u escape")
        XCTAssertEqual(invalid("{\"text\": \"tab\there\"}"), "control character (0x9) inside a string")
        XCTAssertEqual(invalid(#"{"a": [1 2]}"#), "expected ',' or ']'")
        XCTAssertEqual(invalid(String(repeating: "[", count: 10)), "expected a JSON object ('{')")
        let deep = "{\"a\": " + String(repeating: "[", count: 400) + String(repeating: "]", count: 400) + "}"
        XCTAssertEqual(invalid(deep), "nesting deeper than 256")
        // Invalid UTF-8 inside a string.
        let bad: [UInt8] = Array(#"{"text": ""#.utf8) + [0xC3, 0x28] + Array("\"}".utf8)
        XCTAssertThrowsError(try bad.withUnsafeBytes { try JSONLineParser.field(Array("text".utf8), in: $0) }) {
            XCTAssertEqual(($0 as? JSONSyntaxError)?.message, "invalid UTF-8")
        }
    }

    func testBlankLinesNullsAndLineEndings() throws {
        let path = write("a.jsonl", "\n{\"text\":\"one\"}\r\n  \n{\"text\":null}\n{\"text\":\"two\"}")
        let stream = try Corpus(paths: [path]).documents()
        let docs = try stream.collect()
        XCTAssertEqual(docs, [Document(text: "one", source: path, index: 2), Document(text: "two", source: path, index: 5)])
        XCTAssertEqual(stream.report.nullTexts, 1)
        XCTAssertEqual(try Corpus(paths: [path]).count(), 2)
        let empty = write("empty.jsonl", "")
        XCTAssertEqual(try Corpus(paths: [empty]).documents().collect(), [])
    }

    func testLineLongerThanTheLimitIsAnError() {
        let long = "{\"text\": \"" + String(repeating: "x", count: 5000) + "\"}"
        let path = write("long.jsonl", "{\"text\":\"short\"}\n" + long + "\n")
        XCTAssertThrowsError(try Corpus(paths: [path], maxDocumentBytes: 4096).documents().collect()) {
            XCTAssertEqual(($0 as? FormatError)?.item, "line 2")
            XCTAssertTrue("\($0)".contains("longer than 4096 bytes"), "\($0)")
        }
        // Lines longer than the 1 MiB read buffer are fine under the default limit.
        let big = "{\"text\": \"" + String(repeating: "y", count: 3 << 20) + "\"}"
        let bigPath = write("big.jsonl", big + "\n" + big)
        let docs = try? Corpus(paths: [bigPath]).documents().collect()
        XCTAssertEqual(docs?.map(\.text.utf8.count), [3 << 20, 3 << 20])
    }

    func testLineReaderAcrossChunkBoundaries() throws {
        // Tiny buffers: every line straddles reads, CR before LF split across them.
        var text = ""
        var expected: [String] = []
        for k in 0..<200 {
            let s = String(repeating: "é", count: k % 13) + "line \(k)"
            expected.append(s)
            text += s + (k % 3 == 0 ? "\r\n" : "\n")
        }
        let path = write("chunks.txt", text)
        for chunk in [16, 17, 31, 64] {
            let lines = LineReader(source: try InputFile(path: path), path: path, chunkBytes: chunk, maxLineBytes: 1 << 20)
            var got: [String] = []
            while let s = try lines.nextLine({ String(decoding: $0, as: UTF8.self) }) { got.append(s) }
            XCTAssertEqual(got, expected, "chunk \(chunk)")
        }
    }
}
