@testable import FuseCorpus
import Foundation
import XCTest
import TestSupport

/// List columns against files pyarrow wrote (scripts/make-parquet-fixtures.py): the reference's nullable
/// columns in every page version, encoding and codec, FLOAT16 included; and the writer's files against pyarrow's
/// file of the same table — same schema, same values.
final class ParquetListTests: XCTestCase {
    let directory = Fixtures.root.appendingPathComponent("parquet-lists")

    func json(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// Every row of `column` as (flattened numbers, lengths per level, texts).
    func rows(_ table: ParquetTable, _ column: String) throws -> [ParquetRow] {
        guard let reader = try table.rows(of: column) else { XCTFail("no column \(column)"); return [] }
        var out: [ParquetRow] = []
        while let row = try reader.nextRow() { out.append(row) }
        return out
    }

    /// A JSON value (number, list, list of lists, null = empty list) as flattened numbers and per-level lengths.
    /// Numbers are compared as Float: the fixtures' values are Float32 (or FLOAT16) or small integers, and
    /// Foundation's JSON parser can miss the nearest Double by an ulp.
    func flattened(_ value: Any, depth: Int) -> (numbers: [Double], lengths: [[Int]]) {
        switch depth {
        case 0: return ([(value as! NSNumber).doubleValue], [])
        case 1:
            let list = value as? [NSNumber] ?? []
            return (list.map(\.doubleValue), [[list.count]])
        default:
            let lists = value as? [[NSNumber]] ?? []
            return (lists.flatMap { $0.map(\.doubleValue) }, [[lists.count], lists.map(\.count)])
        }
    }

    let depths = ["input_ids": 1, "attention_mask": 1, "per_step_logits": 2, "per_step_indices": 2, "metric_ce": 0]

    func testReferenceColumnsInEveryLayout() throws {
        let expected = try json("reference.json") as! [String: [[String: Any]]]
        XCTAssertEqual(expected.count, 8)
        for (file, rows) in expected {
            let table = try ParquetTable(path: directory.appendingPathComponent(file).path)
            XCTAssertEqual(table.rowCount, rows.count, file)
            XCTAssertEqual(try table.columnNames(), ["text", "input_ids", "attention_mask", "per_step_logits", "per_step_indices", "metric_ce"])
            XCTAssertEqual(try self.rows(table, "text").map(\.texts), rows.map { [$0["text"] as! String] }, file)
            for (column, depth) in depths {
                let got = try self.rows(table, column)
                XCTAssertEqual(got.count, rows.count, "\(file) \(column)")
                for (i, (row, want)) in zip(got, rows).enumerated() {
                    let w = flattened(want[column] as Any, depth: depth)
                    XCTAssertEqual(row.numbers.map(Float.init), w.numbers.map(Float.init), "\(file) \(column) row \(i)")
                    XCTAssertEqual(row.lengths, w.lengths, "\(file) \(column) row \(i)")
                    XCTAssertEqual(row.nulls, 0)
                }
            }
        }
    }

    func exportColumns() -> [ParquetColumn] {
        [ParquetColumn("text_id", .int64), ParquetColumn("text", .string), ParquetColumn("input_ids", .int64, listDepth: 1),
         ParquetColumn("per_step_logits", .float, listDepth: 2), ParquetColumn("per_step_indices", .int64, listDepth: 2),
         ParquetColumn("metric_ce", .double)]
    }

    /// The export's table written by ParquetWriter: the schema pyarrow writes for it, and the values pyarrow wrote.
    func testWriterMatchesPyarrowsFileOfTheSameTable() throws {
        let texts = try json("export-values.json") as! [[String: Any]]
        let out = temporaryDirectory("parquet-writer").appendingPathComponent("export.parquet")
        let writer = try ParquetWriter(url: out, columns: exportColumns(), keyValueMetadata: [("fusellm.note", "ok")])
        // Two row groups, the second starting with a text without positions.
        for part in [texts[0..<1], texts[1...]] {
            func lists(_ key: String) -> [[Double]] { part.flatMap { ($0[key] as! [[NSNumber]]).map { $0.map(\.doubleValue) } } }
            let counts = part.map { ($0["input_ids"] as! [NSNumber]).count }
            let entryCounts = lists("per_step_indices").map(\.count)
            try writer.write(rowGroup: [
                ParquetColumnData(.int64(part.map { ($0["text_id"] as! NSNumber).int64Value })),
                ParquetColumnData(.string(part.map { $0["text"] as! String })),
                ParquetColumnData(.int64(part.flatMap { ($0["input_ids"] as! [NSNumber]).map(\.int64Value) }), lengths: [counts]),
                ParquetColumnData(.float(lists("per_step_logits").flatMap { $0.map(Float.init) }), lengths: [counts, entryCounts]),
                ParquetColumnData(.int64(lists("per_step_indices").flatMap { $0.map { Int64($0) } }), lengths: [counts, entryCounts]),
                ParquetColumnData(.double(part.map { ($0["metric_ce"] as! NSNumber).doubleValue })),
            ])
        }
        try writer.finish()

        let ours = try ParquetTable(path: out.path), theirs = try ParquetTable(path: directory.appendingPathComponent("export-pyarrow.parquet").path)
        XCTAssertEqual(ours.keyValueMetadata["fusellm.note"], "ok")
        func schema(_ t: ParquetTable) -> [String] {
            t.file.metadata.schema.dropFirst().map { e in
                "\(e.name) type=\(e.type.map(String.init) ?? "-") rep=\(e.repetition.map(String.init) ?? "-") children=\(e.numChildren) "
                    + "converted=\(e.convertedType.map(String.init) ?? "-") logical=\(e.logicalType.map(String.init) ?? "-")"
            }
        }
        XCTAssertEqual(schema(ours), schema(theirs))
        for table in [ours, theirs] {
            XCTAssertEqual(table.rowCount, texts.count)
            XCTAssertEqual(try rows(table, "text").map(\.texts), texts.map { [$0["text"] as! String] })
            for (column, depth) in ["text_id": 0, "input_ids": 1, "per_step_logits": 2, "per_step_indices": 2, "metric_ce": 0] {
                let got = try rows(table, column)
                for (row, want) in zip(got, texts) {
                    let w = flattened(want[column] as Any, depth: depth)
                    XCTAssertEqual(row.numbers.map(Float.init), w.numbers.map(Float.init), "\(table.path) \(column)")
                    XCTAssertEqual(row.lengths, w.lengths, "\(table.path) \(column)")
                }
            }
        }
    }

    func testAWriterDroppedBeforeFinishLeavesNothing() throws {
        let dir = temporaryDirectory("parquet-unfinished")
        let out = dir.appendingPathComponent("x.parquet")
        var writer: ParquetWriter? = try ParquetWriter(url: out, columns: [ParquetColumn("a", .int64)])
        try writer!.write(rowGroup: [ParquetColumnData(.int64([1, 2]))])
        writer = nil
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }
}
