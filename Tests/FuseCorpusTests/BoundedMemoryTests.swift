#if canImport(Glibc)
import Glibc
#endif
@testable import FuseCorpus
import FuseFormats
import XCTest
import TestSupport

/// Reading a corpus far larger than any buffer keeps memory bounded: the readers hold one page
/// or one line (checked through their own counters) and the process's peak resident size grows
/// by much less than the file.
final class BoundedMemoryTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("memory") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss) * 1024  // kilobytes on Linux
    }

    /// Row `k`'s text: ~10 KB, distinct per row, with some non-ASCII.
    static func text(_ k: Int) -> String {
        let words = ["fusion", "of", "large", "language", "models", "données", "数据", "🙂", "stream", "page"]
        var s = "document \(k):"
        var i = k
        while s.utf8.count < 10_000 {
            s += " " + words[(i >> 16) % words.count]
            i = (i &* 1_103_515_245 &+ 12345) & 0x7FFF_FFFF
        }
        return s
    }

    func testFiftyMegabyteParquetInBoundedMemory() throws {
        let url = dir.appendingPathComponent("big.parquet")
        let writer = try ParquetTestWriter(url: url, optional: true, pageBytes: 256 << 10, rowGroupRows: 1000)
        let rows = 5000
        for k in 0..<rows { writer.append(k % 97 == 5 ? nil : Self.text(k)) }
        try writer.close()
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
        XCTAssertGreaterThan(size, 45_000_000)

        let before = Self.peakResidentBytes()
        let file = try ParquetFile(path: url.path)
        let pages = ParquetColumnReader(file: file, column: try file.textColumn(named: "text"))
        var count = 0, nulls = 0, bytes = 0
        while let page = try pages.nextPage() {
            for (k, t) in page.texts.enumerated() {
                guard let t else { nulls += 1; continue }
                count += 1
                bytes += t.utf8.count
                if (page.firstRow + k) % 1237 == 0 { XCTAssertEqual(t, Self.text(page.firstRow + k)) }
            }
        }
        let growth = Self.peakResidentBytes() - before
        XCTAssertEqual(count + nulls, rows)
        XCTAssertEqual(nulls, (0..<rows).filter { $0 % 97 == 5 }.count)
        XCTAssertGreaterThan(bytes, 45_000_000)
        XCTAssertEqual(file.metadata.rowGroups.count, 5)
        XCTAssertLessThan(pages.peakPageBytes, 1 << 20, "one ~256 KB page (compressed + uncompressed) at a time")
        XCTAssertLessThan(growth, 24 << 20, "peak resident size grew by \(growth >> 20) MB reading \(size >> 20) MB")
        // The public API agrees.
        let corpus = try Corpus(paths: [url.path])
        XCTAssertEqual(try corpus.count(), count)
    }

    func testFiftyMegabyteZstdJSONLinesInBoundedMemory() throws {
        let url = dir.appendingPathComponent("big.jsonl.zst")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        let rows = 5000
        var chunk = ""
        var raw = 0
        for k in 0..<rows {
            chunk += "{\"meta\": {\"k\": \(k)}, \"text\": \"\(Self.text(k))\"}\n"
            if chunk.utf8.count > 2 << 20 || k == rows - 1 {
                raw += chunk.utf8.count
                handle.write(try Zstd.compress(Data(chunk.utf8)))  // one frame per ~2 MB
                chunk = ""
            }
        }
        try handle.close()
        XCTAssertGreaterThan(raw, 45_000_000)

        let before = Self.peakResidentBytes()
        let reader = try JSONLinesDocumentReader(path: url.path, compressed: true,
            options: ReaderOptions(textField: "text", invalidLines: .stop, maxDocumentBytes: 1 << 30))
        var report = CorpusReport()
        var count = 0
        while let doc = try reader.next(report: &report) {
            if count % 1237 == 0 { XCTAssertEqual(doc.text, Self.text(count)) }
            count += 1
            XCTAssertEqual(doc.index, count)
        }
        let growth = Self.peakResidentBytes() - before
        XCTAssertEqual(count, rows)
        XCTAssertEqual(reader.peakBufferBytes, 1 << 20, "the 1 MiB line buffer never grew")
        XCTAssertLessThan(growth, 24 << 20, "peak resident size grew by \(growth >> 20) MB reading \(raw >> 20) MB")
    }
}
