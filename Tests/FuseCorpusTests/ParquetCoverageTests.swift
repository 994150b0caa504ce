@testable import FuseCorpus
import XCTest
import TestSupport

/// The fixtures really exercise what their names say (page versions, dictionary pages, many
/// pages per chunk, dictionary → PLAIN fallback), so the exact-text tests cover those paths.
final class ParquetCoverageTests: XCTestCase {
    func pages(_ name: String, column: String = "text") throws -> ParquetColumnReader {
        let file = try ParquetFile(path: Fixtures.corpus(name))
        let reader = ParquetColumnReader(file: file, column: try file.textColumn(named: column))
        while try reader.nextPage() != nil {}
        return reader
    }

    func testPageKindsAndEncodings() throws {
        for codec in ["none", "snappy", "zstd"] {
            for v in ["v1", "v2"] {
                let kind = v == "v1" ? "DATA_PAGE" : "DATA_PAGE_V2"
                let plain = try pages("parquet/plain-\(v)-\(codec).parquet")
                XCTAssertGreaterThan(plain.pagesByKind[kind] ?? 0, 8, "plain-\(v)-\(codec): many data pages")
                XCTAssertNil(plain.pagesByKind["DICTIONARY_PAGE"])
                XCTAssertEqual(Set(plain.dataPagesByEncoding.keys), ["PLAIN"])
                XCTAssertEqual(plain.parquet.metadata.rowGroups.count, 4)

                let dict = try pages("parquet/dict-\(v)-\(codec)-nulls.parquet")
                XCTAssertGreaterThan(dict.pagesByKind[kind] ?? 0, 8)
                XCTAssertEqual(dict.pagesByKind["DICTIONARY_PAGE"], dict.parquet.metadata.rowGroups.count)
                XCTAssertEqual(Set(dict.dataPagesByEncoding.keys), ["RLE_DICTIONARY"])
                XCTAssertTrue(dict.column.optional)
            }
        }
        let fallback = try pages("parquet/dict-fallback-snappy.parquet")
        XCTAssertEqual(fallback.parquet.metadata.rowGroups.count, 1)
        XCTAssertEqual(Set(fallback.dataPagesByEncoding.keys), ["PLAIN", "RLE_DICTIONARY"],
                       "one chunk with dictionary pages then PLAIN pages")
        let required = try pages("parquet/required-v2-none.parquet")
        XCTAssertFalse(required.column.optional)
        XCTAssertGreaterThan(required.pagesByKind["DATA_PAGE_V2"] ?? 0, 8)
        let hf = try pages("parquet/hf-style.parquet")
        XCTAssertEqual(hf.column.leafIndex, 0)
        XCTAssertEqual(try pages("parquet/plain-v1-snappy.parquet").column.leafIndex, 1, "text after an id column")
    }

    func testPeakPageBytesStaysNearThePageSize() throws {
        // Pages are ~1 KB except where one value is larger (the 20 KB text).
        let reader = try pages("parquet/plain-v1-none.parquet")
        XCTAssertLessThan(reader.peakPageBytes, 2 * 24_000)
    }
}
