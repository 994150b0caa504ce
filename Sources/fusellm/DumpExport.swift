import ArgumentParser
import Foundation
import Fusion

struct DumpExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a dump as one Parquet file in the reference's columns (input_ids, per_step_logits, per_step_indices, metric_ce).",
        discussion: "One row per text; readable by pyarrow, pandas, DuckDB and HF datasets. per_step_logits hold log-probabilities (the same softmax as the reference's raw logits). The manifest and tokenizer are in the file's key-value metadata.")

    @Option(help: "Output format (parquet).") var format = "parquet"
    @Argument(help: "The dump directory.") var directory: String
    @Argument(help: "The Parquet file to write.") var output: String
    @Option(help: "The prepared corpus the dump was made from: adds each text as a `text` column.") var prepared: String?
    @Option(help: "Positions per row group (the unit a reader streams).") var rowGroupPositions = 1 << 16

    func run() throws {
        guard format == "parquet" else { throw ValidationError("--format must be parquet") }
        guard rowGroupPositions > 0 else { throw ValidationError("--row-group-positions must be positive") }
        do {
            let corpus = try prepared.map { try PreparedCorpus(directory: URL(fileURLWithPath: $0)) }
            let started = Date()
            let s = try TeacherDumpParquetExport.export(dump: URL(fileURLWithPath: directory), prepared: corpus,
                                                        to: URL(fileURLWithPath: output), positionsPerRowGroup: rowGroupPositions) { s in
                FileHandle.standardError.write(Data("export: \(s.texts) texts, \(s.positions) positions, \(s.rowGroups) row groups\r".utf8))
            }
            FileHandle.standardError.write(Data("\n".utf8))
            let summary: [String: Any] = ["output": output, "texts": s.texts, "positions": s.positions, "row_groups": s.rowGroups,
                                          "bytes": s.bytes, "seconds": Date().timeIntervalSince(started)]
            print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
        } catch {
            throw CleanExit(error)
        }
    }
}
