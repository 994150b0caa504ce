import ArgumentParser
import FuseText
import Foundation
import Fusion

struct DumpImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Make a dump of a prepared corpus from Parquet files in the reference's columns (FuseLLM's forward_for_logits.py, or fusellm dump export).",
        discussion: "One row per prepared text, in order; input_ids must be the source tokenizer's tokens of each text (the reference's EOS after every text is dropped, padding positions ignored). Raw logits become log-probabilities over the kept entries; files from fusellm dump export are taken as they are.")

    @Argument(help: "Parquet files (or directories of *.parquet), read in order.") var inputs: [String]
    @Option(help: "The prepared corpus the rows are the texts of.") var prepared: String
    @Option(help: "The source's tokenizer: checkpoint directory, tokenizer.json, tokenizer.model or .gguf.") var tokenizer: String
    @Option(help: "Dump directory to write.") var output: String
    @Option(help: "Keep the top k entries of each position (default: all the file holds).") var k: Int?
    @Option(help: "Stored log-prob encoding: qgap, q16, f16 or f32.") var encoding = "qgap"
    @Option(help: "Texts per shard file.") var textsPerShard = 128
    @Option(help: "The source model's name in the manifest (default: the tokenizer path's name).") var sourceName: String?

    func run() throws {
        guard let encoding = ValueEncoding(rawValue: encoding) else { throw ValidationError("--encoding must be qgap, q16, f16 or f32") }
        guard textsPerShard > 0 else { throw ValidationError("--texts-per-shard must be positive") }
        do {
            let files = try inputs.flatMap(Self.parquetFiles)
            var options = TeacherDumpParquetImport.Options()
            options.k = k
            options.encoding = encoding
            options.textsPerShard = textsPerShard
            options.sourceName = sourceName ?? URL(fileURLWithPath: tokenizer).standardizedFileURL.lastPathComponent
            let corpus = try PreparedCorpus(directory: URL(fileURLWithPath: prepared))
            let started = Date()
            let s = try TeacherDumpParquetImport(files: files, prepared: corpus, tokenizer: try BPETokenizer.load(path: tokenizer),
                                                 tokenizerPath: tokenizer, output: URL(fileURLWithPath: output), options: options).run { s in
                FileHandle.standardError.write(Data("import: \(s.texts)/\(corpus.textCount) texts, \(s.positions) positions\r".utf8))
            }
            FileHandle.standardError.write(Data("\n".utf8))
            let summary: [String: Any] = ["output": output, "files": files.count, "texts": s.texts, "positions": s.positions, "k": s.k,
                                          "values": s.valuesWereLogits ? "logits → log-probabilities over the kept entries" : "log-probabilities",
                                          "dropped_eos": s.droppedEOS, "ignored_padding_positions": s.ignoredPadding,
                                          "seconds": Date().timeIntervalSince(started)]
            print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
        } catch {
            throw CleanExit(error)
        }
    }

    /// A file, or a directory's *.parquet files in name order.
    static func parquetFiles(_ path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ValidationError("\(path): no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".parquet") }.sorted()
        guard !names.isEmpty else { throw ValidationError("\(path): no .parquet files") }
        return names.map { URL(fileURLWithPath: path).appendingPathComponent($0).path }
    }
}
