@testable import FuseCorpus
import FuseFormats
import FuseTensor
import XCTest
import TestSupport

/// Corrupt or unsupported parquet gives one FormatError naming the file and what is wrong.
final class BadParquetTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("bad-parquet") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func readAll(_ path: String, field: String = "text") throws -> [Document] {
        try Corpus(paths: [path], textField: field).documents().collect()
    }

    func assertFormatError(_ path: String, field: String = "text", contains parts: [String],
                           file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try readAll(path, field: field)
            XCTFail("\(path): read without error", file: file, line: line)
        } catch let e as FormatError {
            XCTAssertEqual(e.file, path, file: file, line: line)
            for part in parts where !e.description.contains(part) {
                XCTFail("error \"\(e)\" does not mention \"\(part)\"", file: file, line: line)
            }
        } catch {
            XCTFail("not a FormatError: \(error)", file: file, line: line)
        }
    }

    /// A copy of a fixture in the temporary directory, changed by `edit`.
    func mutated(_ name: String, _ edit: (inout [UInt8]) throws -> Void) rethrows -> String {
        var bytes = [UInt8](try! Data(contentsOf: URL(fileURLWithPath: Fixtures.corpus(name))))
        try edit(&bytes)
        let url = dir.appendingPathComponent(URL(fileURLWithPath: name).lastPathComponent)
        try! Data(bytes).write(to: url)
        return url.path
    }

    func footerLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        return Int(bytes[n - 8]) | Int(bytes[n - 7]) << 8 | Int(bytes[n - 6]) << 16 | Int(bytes[n - 5]) << 24
    }

    func setFooterLength(_ bytes: inout [UInt8], _ value: UInt32) {
        let n = bytes.count
        for k in 0..<4 { bytes[n - 8 + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(k))) }
    }

    func testUnsupportedFeaturesAreNamed() {
        let bad = ExpectedCorpus.shared.bad
        XCTAssertEqual(bad.count, 6)
        assertFormatError(Fixtures.corpus("bad/delta-byte-array.parquet"), contains: ["DELTA_BYTE_ARRAY", "not supported", "column 'text'"])
        assertFormatError(Fixtures.corpus("bad/brotli.parquet"), contains: ["unsupported compression codec BROTLI"])
        assertFormatError(Fixtures.corpus("bad/lz4.parquet"), contains: ["unsupported compression codec LZ4"])
        assertFormatError(Fixtures.corpus("bad/nested-list.parquet"), contains: ["column 'text'", "nested"])
        assertFormatError(Fixtures.corpus("bad/struct.parquet"), contains: ["column 'text'", "nested"])
        assertFormatError(Fixtures.corpus("bad/int-column.parquet"), contains: ["INT64", "BYTE_ARRAY"])
        assertFormatError(Fixtures.corpus("parquet/plain-v1-snappy.parquet"), field: "body",
                          contains: ["column 'body'", "no such column", "id, text, domain"])
    }

    func testBadMagic() {
        let path = mutated("parquet/plain-v1-snappy.parquet") { $0[3] = UInt8(ascii: "2") }
        assertFormatError(path, contains: ["header magic", "not a parquet file"])
        let tail = mutated("parquet/plain-v1-snappy.parquet") { $0[$0.count - 1] = 0 }
        assertFormatError(tail, contains: ["does not end with PAR1"])
        let text = dir.appendingPathComponent("text.parquet")
        try! Data("just some text that is long enough".utf8).write(to: text)
        assertFormatError(text.path, contains: ["not a parquet file"])
        let tiny = dir.appendingPathComponent("tiny.parquet")
        try! Data("PAR1PAR1".utf8).write(to: tiny)
        assertFormatError(tiny.path, contains: ["too small"])
    }

    func testTruncatedFile() {
        // Cut in the middle: the end is no longer PAR1.
        let cut = mutated("parquet/plain-v1-snappy.parquet") { $0.removeLast(100) }
        assertFormatError(cut, contains: ["does not end with PAR1"])
        // Cut the footer short but keep a valid tail: the Thrift data ends early.
        let short = mutated("parquet/plain-v1-snappy.parquet") { bytes in
            let length = footerLength(bytes)
            let footerStart = bytes.count - 8 - length
            let tail = Array(bytes[(bytes.count - 8)...])
            bytes = Array(bytes[..<(footerStart + length / 2)])
            let newLength = UInt32(length / 2)
            bytes += tail
            setFooterLength(&bytes, newLength)
        }
        assertFormatError(short, contains: ["footer (FileMetaData)"])
    }

    func testFooterLengthPastFileStart() {
        let path = mutated("parquet/plain-v1-snappy.parquet") { setFooterLength(&$0, UInt32($0.count)) }
        assertFormatError(path, contains: ["footer length", "past the start of the file"])
        let huge = mutated("parquet/plain-v1-snappy.parquet") { setFooterLength(&$0, 0xFFFF_FFF0) }
        assertFormatError(huge, contains: ["past the start of the file"])
    }

    /// Offset and header length of the first data page of row group 0's text chunk.
    func firstPage(_ name: String) throws -> (payload: Int, header: Int) {
        let file = try ParquetFile(path: Fixtures.corpus(name))
        let column = try file.textColumn(named: "text")
        let meta = file.metadata.rowGroups[0].columns[column.leafIndex].metaData!
        XCTAssertNil(meta.dictionaryPageOffset)
        let start = Int(meta.dataPageOffset)
        let bytes = try file.file.read(offset: start, count: 256, item: "test")
        let headerLength = try bytes.withUnsafeBytes { raw -> Int in
            var r = ThriftReader(raw)
            _ = try ParquetPageHeader(thrift: &r)
            return r.position
        }
        return (start + headerLength, start)
    }

    func testCorruptSnappyPage() throws {
        let (payload, _) = try firstPage("parquet/plain-v1-snappy.parquet")
        // Past the length preamble, turn the data into copies that reach before the output start.
        let path = mutated("parquet/plain-v1-snappy.parquet") { bytes in
            for k in 1..<8 { bytes[payload + k] = 0xFE }
        }
        assertFormatError(path, contains: ["row group 0", "column 'text'", "page at byte", "corrupt snappy data"])
        // A preamble that disagrees with the page header.
        let preamble = mutated("parquet/plain-v1-snappy.parquet") { $0[payload] = $0[payload] ^ 0x01 }
        assertFormatError(preamble, contains: ["corrupt snappy data"])
    }

    func testCorruptZstdPage() throws {
        let (payload, _) = try firstPage("parquet/plain-v1-zstd.parquet")
        let path = mutated("parquet/plain-v1-zstd.parquet") { bytes in
            for k in 0..<4 { bytes[payload + k] = 0x55 }  // frame magic
        }
        assertFormatError(path, contains: ["row group 0", "page at byte", "corrupt zstd data"])
    }

    func testCorruptPageHeader() throws {
        let (_, header) = try firstPage("parquet/plain-v1-snappy.parquet")
        let path = mutated("parquet/plain-v1-snappy.parquet") { bytes in
            for k in 0..<6 { bytes[header + k] = 0xFF }
        }
        assertFormatError(path, contains: ["row group 0", "page at byte \(header)"])
    }

    /// Random byte changes and truncations of real files: every outcome is either the texts or a
    /// FormatError — never a crash, a hang, another error type or an unbounded allocation.
    func testRandomCorruptionNeverCrashes() throws {
        var rng = SeededRandom(seed: 42)
        let names = ["parquet/plain-v1-snappy.parquet", "parquet/dict-v2-zstd-nulls.parquet",
                     "parquet/dict-v1-none-nulls.parquet", "parquet/dict-fallback-snappy.parquet",
                     "parquet/plain-v2-snappy.parquet", "parquet/dict-v2-gzip-nulls.parquet", "jsonl/docs.jsonl.zst"]
        var outcomes = [String: Int]()
        // FUSECORPUS_FUZZ_TRIALS=5000 for a longer search.
        let trials = Int(ProcessInfo.processInfo.environment["FUSECORPUS_FUZZ_TRIALS"] ?? "") ?? 60
        for name in names {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.corpus(name))))
            for trial in 0..<trials {
                var bytes = original
                if trial % 10 == 9 {
                    bytes.removeLast(Int(rng.next() % UInt64(bytes.count - 1)) + 1)
                } else {
                    // Bias towards the footer and page headers, where the structure lives.
                    for _ in 0..<(1 + Int(rng.next() % 4)) {
                        let inTail = rng.next() % 2 == 0
                        let span = inTail ? min(bytes.count, 600) : bytes.count
                        let at = bytes.count - 1 - Int(rng.next() % UInt64(span))
                        bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                    }
                }
                let url = dir.appendingPathComponent("fuzz-\(trial)-" + URL(fileURLWithPath: name).lastPathComponent)
                try Data(bytes).write(to: url)
                do {
                    _ = try readAll(url.path)
                    outcomes["ok", default: 0] += 1
                } catch is FormatError {
                    outcomes["error", default: 0] += 1
                } catch {
                    XCTFail("\(name) trial \(trial): not a FormatError: \(error)")
                }
                try? FileManager.default.removeItem(at: url)
            }
        }
        XCTAssertGreaterThan(outcomes["error", default: 0], 100)
    }
}
