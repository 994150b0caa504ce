import FuseCorpus
import FuseFormats
import Foundation

/// `fusellm dump export --format parquet`: a dump as one Parquet file in the reference's columns (FuseLLM's
/// forward_for_logits.py, trimmed to the text's positions as its token_alignment.py trims them), one row per text:
///
///   text_id           int64               the prepared text's index
///   text              string              the text (when the prepared corpus is given)
///   input_ids         list<int64>         the source's tokens of the text
///   per_step_logits   list<list<float>>   per position, the k kept log-probabilities, highest first
///   per_step_indices  list<list<int64>>   their token ids
///   metric_ce         double              the text's mean next-token cross-entropy
///   per_step_metric_ce list<float>        per position with a next token, its cross-entropy (dumps that keep it:
///                                         qgap; the reference writes it with --save_per_token_metric)
///
/// The reference stores raw logits where the dump keeps log-probabilities (logits minus the log-normaliser): the
/// softmax over the kept entries — all the reference's trainer takes of them — is the same. The manifest, the
/// tokenizer and this note travel in the file's key-value metadata. Row groups of about `positionsPerRowGroup`
/// positions are written as they fill, so an export streams.
public enum TeacherDumpParquetExport {
    public struct Summary: Sendable {
        public var texts = 0
        public var positions = 0
        public var rowGroups = 0
        public var bytes = 0
    }

    public static let valuesNote = "per_step_logits hold log-probabilities (log-softmax over the full vocabulary), "
        + "not raw logits; a softmax over the kept entries gives the same distribution as over the reference's logits"

    public static func export(dump directory: URL, prepared: PreparedCorpus?, to url: URL,
                              positionsPerRowGroup: Int = 1 << 16, progress: ((Summary) -> Void)? = nil) throws -> Summary {
        let dump = try TeacherDumpReader(directory: directory)
        let m = dump.manifest
        if let p = prepared, p.blocksFingerprint != m.blocksFingerprint || p.textCount != m.blockCount {
            throw FormatError(url: directory.appendingPathComponent(TeacherDump.manifestName),
                              "was made from other prepared texts than \(p.directory.path) (\(m.blockCount) texts, blocks \(m.blocksFingerprint.prefix(12)))")
        }
        let perToken = try m.blockCount > 0 && dump.block(0).tokenCE != nil
        var columns = [ParquetColumn("text_id", .int64)]
        if prepared != nil { columns.append(ParquetColumn("text", .string)) }
        columns += [ParquetColumn("input_ids", .int64, listDepth: 1), ParquetColumn("per_step_logits", .float, listDepth: 2),
                    ParquetColumn("per_step_indices", .int64, listDepth: 2), ParquetColumn("metric_ce", .double)]
        if perToken { columns.append(ParquetColumn("per_step_metric_ce", .float, listDepth: 1)) }
        var metadata = [("fusellm.dump.manifest", String(decoding: try TeacherManifest.encoder.encode(m), as: UTF8.self)),
                        ("fusellm.values", valuesNote)]
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            if let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) {
                metadata.append(("fusellm.\(name)", String(decoding: data, as: UTF8.self)))
            }
        }
        let writer = try ParquetWriter(url: url, columns: columns, keyValueMetadata: metadata)
        var summary = Summary()
        var group = RowGroup(withText: prepared != nil, perToken: perToken)
        for id in 0..<m.blockCount {
            let t = try dump.block(id)
            guard (t.tokenCE != nil) == perToken else {
                throw FormatError(url: directory, item: "text \(id)", "keeps per-token ce where text 0 does not, or the reverse")
            }
            group.append(t, text: try prepared?.text(id).text)
            summary.texts += 1
            summary.positions += t.tokens.count
            if group.positions >= positionsPerRowGroup || id == m.blockCount - 1 {
                try writer.write(rowGroup: group.columns())
                summary.rowGroups += 1
                group = RowGroup(withText: prepared != nil, perToken: perToken)
                progress?(summary)
            }
        }
        if m.blockCount == 0 { try writer.write(rowGroup: group.columns()) }
        try writer.finish()
        summary.bytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        return summary
    }

    /// The columns of the texts of one row group, filled text by text.
    struct RowGroup {
        let withText: Bool, perToken: Bool
        var tokenCE: [Float] = [], tokenCECounts: [Int] = []
        var ids: [Int64] = [], texts: [String] = [], ce: [Double] = []
        var tokens: [Int64] = [], tokenCounts: [Int] = []
        var logProbs: [Float] = [], topIDs: [Int64] = [], entryCounts: [Int] = []
        var positions = 0

        init(withText: Bool, perToken: Bool) {
            self.withText = withText
            self.perToken = perToken
        }

        mutating func append(_ t: TeacherText, text: String?) {
            ids.append(Int64(t.textID))
            if withText { texts.append(text ?? "") }
            ce.append(t.ce)
            tokens += t.tokens.map(Int64.init)
            tokenCounts.append(t.tokens.count)
            logProbs += t.topLogProbs
            topIDs += t.topIDs.map(Int64.init)
            entryCounts += Array(repeating: t.k, count: t.tokens.count)
            positions += t.tokens.count
            if perToken, let values = t.tokenCE {  // the positions that have a next token
                let scored = max(0, values.count - 1)
                tokenCE += values.prefix(scored)
                tokenCECounts.append(scored)
            }
        }

        func columns() -> [ParquetColumnData] {
            var out = [ParquetColumnData(.int64(ids))]
            if withText { out.append(ParquetColumnData(.string(texts))) }
            out += [ParquetColumnData(.int64(tokens), lengths: [tokenCounts]),
                    ParquetColumnData(.float(logProbs), lengths: [tokenCounts, entryCounts]),
                    ParquetColumnData(.int64(topIDs), lengths: [tokenCounts, entryCounts]),
                    ParquetColumnData(.double(ce))]
            if perToken { out.append(ParquetColumnData(.float(tokenCE), lengths: [tokenCECounts])) }
            return out
        }
    }
}
