@testable import FuseCorpus
import FuseFormats
import XCTest
import TestSupport

final class ZstdJSONLinesTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("zstd") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func sampleLines(_ n: Int) -> String {
        (0..<n).map { "{\"text\": \"document \($0) " + String(repeating: "words ", count: $0 % 50) + "\"}" }
            .joined(separator: "\n") + "\n"
    }

    func write(_ name: String, _ data: Data) -> String {
        let url = dir.appendingPathComponent(name)
        try! data.write(to: url)
        return url.path
    }

    func testStreamMatchesWholeBufferDecompression() throws {
        let raw = Data(sampleLines(3000).utf8)
        let compressed = try Zstd.compress(raw, checksum: true)
        let path = write("a.jsonl.zst", compressed + (try Zstd.compress(raw)))
        let stream = try ZstdFileDecompressor(url: URL(fileURLWithPath: path))
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 777)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try stream.read(into: $0) }
            if n == 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        XCTAssertEqual(out, raw + raw)
        XCTAssertEqual(try Corpus(paths: [path]).count(), 6000)
        let docs = try Corpus(paths: [path]).documents().collect()
        XCTAssertEqual(docs[3000].index, 3001)
        XCTAssertEqual(docs[3000].text, "document 0 ")
    }

    func testCorruptZstdIsAFormatError() throws {
        var compressed = try Zstd.compress(Data(sampleLines(2000).utf8), checksum: true)
        compressed[compressed.count / 2] ^= 0x5A
        compressed[compressed.count / 2 + 1] ^= 0xA5
        let path = write("corrupt.jsonl.zst", compressed)
        XCTAssertThrowsError(try Corpus(paths: [path], invalidLines: .skip).documents().collect()) {
            XCTAssertTrue("\($0)".hasPrefix("\(path): "), "\($0)")
            XCTAssertTrue("\($0)".contains("corrupt zstd data") || "\($0)".contains("line"), "\($0)")
        }
        let notZstd = write("plain.jsonl.zst", Data(sampleLines(3).utf8))
        XCTAssertThrowsError(try Corpus(paths: [notZstd]).documents().collect()) {
            XCTAssertTrue("\($0)".contains("corrupt zstd data: Unknown frame descriptor"), "\($0)")
        }
        let empty = write("empty.jsonl.zst", Data())
        XCTAssertThrowsError(try Corpus(paths: [empty]).documents().collect()) {
            XCTAssertTrue("\($0)".contains("empty file"), "\($0)")
        }
    }

    func testTruncatedZstdIsAFormatError() throws {
        let compressed = try Zstd.compress(Data(sampleLines(2000).utf8))
        let path = write("cut.jsonl.zst", compressed.prefix(compressed.count - 20))
        let stream = try Corpus(paths: [path]).documents()
        var n = 0
        XCTAssertThrowsError(try { while try stream.next() != nil { n += 1 } }()) {
            XCTAssertTrue("\($0)".contains("truncated zstd frame"), "\($0)")
        }
        XCTAssertGreaterThan(n, 0, "the documents before the cut are read")
    }
}
