import FuseCorpus
import FuseFormats
import FuseText
@testable import Fusion
import XCTest
import TestSupport

/// `dump import` of the reference's columns: fusellm's own export comes back unchanged; a file laid out as
/// FuseLLM's forward_for_logits.py writes it (raw logits, EOS after every text, padding positions) becomes the
/// same distributions; files of other texts, tokenizers or shapes are refused with the row named.
final class DumpImportTests: XCTestCase {
    static let dumpURL: URL = {
        let dir = temporaryDirectory("import-source-dump")
        var options = DumpOptions()
        options.k = 5
        options.encoding = .f32
        options.textsPerShard = 4
        options.lengthBucket = 32
        let runner = try! DumpRunner(prepared: try! DumpTests.prepared(), model: DumpTests.source, sourceName: "tiny-2",
                                     output: dir, options: options)
        try! runner.run()
        try! DumpTokenizerFile.keep(of: DumpTests.source, modelPath: nil, in: dir)
        return dir
    }()

    func original() throws -> [TeacherText] {
        let reader = try TeacherDumpReader(directory: Self.dumpURL)
        return try (0..<reader.manifest.blockCount).map { try reader.block($0) }
    }

    func importer(_ files: [URL], into out: URL, encoding: ValueEncoding = .f32, k: Int? = nil) throws -> TeacherDumpParquetImport {
        var o = TeacherDumpParquetImport.Options()
        o.encoding = encoding
        o.k = k
        o.textsPerShard = 3
        return TeacherDumpParquetImport(files: files.map(\.path), prepared: try DumpTests.prepared(), tokenizer: PrepareFixture.byteLevel,
                                        tokenizerPath: nil, output: out, options: o)
    }

    func testFusellmsOwnExportComesBackUnchanged() throws {
        let file = temporaryDirectory("import-export").appendingPathComponent("dump.parquet")
        try TeacherDumpParquetExport.export(dump: Self.dumpURL, prepared: try DumpTests.prepared(), to: file, positionsPerRowGroup: 50)
        let out = temporaryDirectory("import-back")
        let summary = try importer([file], into: out).run()
        XCTAssertFalse(summary.valuesWereLogits)
        XCTAssertEqual(summary.droppedEOS, 0)
        let back = try TeacherDumpReader(directory: out)
        for (i, e) in try original().enumerated() {
            let b = try back.block(i)
            XCTAssertEqual(b.tokens, e.tokens)
            XCTAssertEqual(b.topIDs, e.topIDs)
            XCTAssertEqual(b.topLogProbs, e.topLogProbs)
            XCTAssertEqual(b.ce, e.ce, accuracy: 1e-12)
        }
        XCTAssertEqual(TeacherDumpVerifier(directory: out, prepared: try DumpTests.prepared()).run().problems, [])
    }

    /// A qgap dump's per-token ce travels as per_step_metric_ce (the reference's --save_per_token_metric column).
    func testPerTokenCETravelsThroughExportAndImport() throws {
        let dir = temporaryDirectory("import-token-ce-dump")
        var options = DumpOptions()
        options.k = 4
        options.textsPerShard = 4
        options.lengthBucket = 32
        try DumpRunner(prepared: try DumpTests.prepared(), model: DumpTests.source, sourceName: "tiny-2", output: dir,
                       options: options).run()
        let file = temporaryDirectory("import-token-ce").appendingPathComponent("dump.parquet")
        try TeacherDumpParquetExport.export(dump: dir, prepared: nil, to: file)
        let table = try ParquetTable(path: file.path)
        XCTAssertTrue(try table.columnNames().contains("per_step_metric_ce"))
        let out = temporaryDirectory("import-token-ce-out")
        try importer([file], into: out, encoding: .qgap).run()
        let original = try TeacherDumpReader(directory: dir), back = try TeacherDumpReader(directory: out)
        for i in 0..<original.manifest.blockCount {
            let a = try XCTUnwrap(try original.block(i).tokenCE), b = try XCTUnwrap(try back.block(i).tokenCE)
            XCTAssertEqual(a.count, b.count)
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-6, "text \(i)") }
        }
    }

    /// The reference's layout: raw logits (log-probs plus a per-position constant), EOS after every text, padding
    /// positions after the text's, no fusellm metadata.
    func writeReferenceStyle(_ texts: [TeacherText], to url: URL, edit: (Int, inout [Int64], inout [String]) -> Void = { _, _, _ in },
                             widths: ((Int, Int) -> Int)? = nil, dropColumn: String? = nil) throws {
        let prepared = try DumpTests.prepared()
        let eos = Int64(PrepareFixture.byteLevel.eosTokenID!)
        var columns = [ParquetColumn("text", .string), ParquetColumn("input_ids", .int64, listDepth: 1),
                       ParquetColumn("per_step_logits", .float, listDepth: 2), ParquetColumn("per_step_indices", .int64, listDepth: 2),
                       ParquetColumn("metric_ce", .double)]
        columns.removeAll { $0.name == dropColumn }
        var strings: [String] = [], ids: [Int64] = [], idCounts: [Int] = [], logits: [Float] = [], indices: [Int64] = []
        var positions: [Int] = [], widthsOut: [Int] = [], ce: [Double] = []
        for (i, t) in texts.enumerated() {
            var tokens = t.tokens.map(Int64.init)
            if !(try prepared.text(i).endsDocument) { tokens.append(eos) }
            var text = [try prepared.text(i).text]
            edit(i, &tokens, &text)
            strings += text
            ids += tokens
            idCounts.append(tokens.count)
            let padding = 2
            positions.append(tokens.count + padding)
            for p in 0..<(tokens.count + padding) {
                let w = widths?(i, p) ?? t.k  // ≤ k
                widthsOut.append(w)
                let offset = Float(p % 5) * 1.75 - 2
                let inText = p < t.tokens.count
                for j in 0..<w {
                    let value: Float = inText ? t.topLogProbs[p * t.k + j] : -Float(j)
                    logits.append(value + offset)
                    indices.append(Int64(inText ? t.topIDs[p * t.k + j] : Int32(j)))
                }
            }
            ce.append(t.ce)
        }
        var data = [ParquetColumnData(.string(strings)), ParquetColumnData(.int64(ids), lengths: [idCounts]),
                    ParquetColumnData(.float(logits), lengths: [positions, widthsOut]),
                    ParquetColumnData(.int64(indices), lengths: [positions, widthsOut]), ParquetColumnData(.double(ce))]
        if let drop = dropColumn { data.remove(at: ["text", "input_ids", "per_step_logits", "per_step_indices", "metric_ce"].firstIndex(of: drop)!) }
        let writer = try ParquetWriter(url: url, columns: columns)
        try writer.write(rowGroup: data)
        try writer.finish()
    }

    func testTheReferencesLayoutGivesTheSameDistributions() throws {
        let texts = try original()
        let file = temporaryDirectory("import-reference").appendingPathComponent("logits.parquet")
        try writeReferenceStyle(texts, to: file)
        let out = temporaryDirectory("import-reference-out")
        let summary = try importer([file], into: out, k: 4).run()
        XCTAssertTrue(summary.valuesWereLogits)
        XCTAssertGreaterThan(summary.droppedEOS, 0)
        XCTAssertEqual(summary.ignoredPadding, 2 * texts.count)
        let back = try TeacherDumpReader(directory: out)
        XCTAssertEqual(back.manifest.k, 4)
        for (i, e) in texts.enumerated() {
            let b = try back.block(i)
            XCTAssertEqual(b.tokens, e.tokens)
            XCTAssertEqual(b.ce, e.ce, accuracy: 1e-9)
            for p in 0..<e.tokens.count {
                // The softmax over the file's 5 kept logits, its top 4 kept.
                let row = Array(e.topLogProbs[(p * 5)..<(p * 5 + 5)])
                let m = row.max()!
                let logZ = m + Float(log(row.reduce(0.0) { $0 + exp(Double($1 - m)) }))
                XCTAssertEqual(Array(b.topIDs[(p * 4)..<(p * 4 + 4)]), Array(e.topIDs[(p * 5)..<(p * 5 + 4)]), "text \(i) position \(p)")
                for j in 0..<4 { XCTAssertEqual(b.topLogProbs[p * 4 + j], row[j] - logZ, accuracy: 2e-5) }
            }
        }
        XCTAssertEqual(TeacherDumpVerifier(directory: out, prepared: try DumpTests.prepared()).run().problems, [])
    }

    func testFilesOfOtherTextsTokenizersOrShapesAreRefused() throws {
        let texts = try original()
        let dir = temporaryDirectory("import-refused")
        func refused(_ name: String, _ words: [String], write: (URL) throws -> Void) throws {
            let file = dir.appendingPathComponent("\(name).parquet"), out = dir.appendingPathComponent("\(name)-out")
            try write(file)
            XCTAssertThrowsError(try importer([file], into: out).run(), name) { error in
                for w in words + [file.lastPathComponent] { XCTAssertTrue("\(error)".contains(w), "\(name): «\(w)» not in \(error)") }
                XCTAssertFalse("\(error)".contains("\n"))
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("manifest.json").path), name)
        }
        try refused("other-tokens", ["row 2", "input_ids are not the source tokenizer's tokens of prepared text 2"]) {
            try writeReferenceStyle(texts, to: $0, edit: { i, ids, _ in if i == 2 { ids[1] += 1 } })
        }
        try refused("other-text", ["row 1", "its text is not prepared text 1"]) {
            try writeReferenceStyle(texts, to: $0, edit: { i, _, text in if i == 1 { text = ["something else"] } })
        }
        try refused("fewer-rows", ["hold \(texts.count - 1) rows", "\(texts.count) texts"]) {
            try writeReferenceStyle(Array(texts.dropLast()), to: $0)
        }
        try refused("no-indices", ["has no column per_step_indices"]) {
            try writeReferenceStyle(texts, to: $0, dropColumn: "per_step_indices")
        }
        try refused("ragged", ["row 0", "every position needs the same k"]) {
            try writeReferenceStyle(texts, to: $0, widths: { i, p in i == 0 && p == 1 ? 3 : 5 })
        }
    }
}
