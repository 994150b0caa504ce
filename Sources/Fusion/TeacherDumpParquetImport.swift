import FuseCorpus
import FuseFormats
import FuseText
import Foundation

/// `fusellm dump import`: teacher distributions computed elsewhere — by FuseLLM's forward_for_logits.py on GPUs
/// (its dataset saved as Parquet), or exported by `fusellm dump export` — become a fusellm dump of a prepared
/// corpus. Rows are the prepared texts in order; each row's `input_ids` must be the source tokenizer's tokens of
/// its text (the reference's EOS after every text is accepted and dropped; positions past them, the reference's
/// padding to model_max_length, are ignored) and its `text`, when the file has one, the text itself. Anything
/// else is refused with the file, row and first difference named.
///
/// Values: a file `fusellm dump export` wrote holds log-probabilities and is taken as is; the reference's raw
/// logits become log-probabilities over the kept entries (logit − log Σ exp of the row's kept logits), which is
/// the softmax the fusion takes of either.
public struct TeacherDumpParquetImport {
    public struct Options: Sendable {
        public var k: Int?
        public var encoding: ValueEncoding = .qgap
        public var textsPerShard = 128
        public var sourceName = "imported"
        public init() {}
    }

    public struct Summary: Sendable {
        public var texts = 0
        public var positions = 0
        /// Texts whose input_ids had the reference's EOS after the text (dropped).
        public var droppedEOS = 0
        /// Positions past input_ids (the reference's padding), ignored.
        public var ignoredPadding = 0
        public var valuesWereLogits = false
        public var k = 0
    }

    public static let requiredColumns = ["input_ids", "per_step_logits", "per_step_indices", "metric_ce"]

    let files: [String]
    let prepared: PreparedCorpus
    let tokenizer: BPETokenizer
    let tokenizerPath: String?
    let output: URL
    let options: Options

    public init(files: [String], prepared: PreparedCorpus, tokenizer: BPETokenizer, tokenizerPath: String?, output: URL,
                options: Options) {
        self.files = files
        self.prepared = prepared
        self.tokenizer = tokenizer
        self.tokenizerPath = tokenizerPath
        self.output = output
        self.options = options
    }

    /// One open input file and its columns' row readers.
    struct Input {
        let table: ParquetTable
        let columns: [String: ParquetRowReader]
        let text: ParquetRowReader?
        /// The reference's per_step_metric_ce (with --save_per_token_metric) or fusellm's export of it.
        let tokenCE: ParquetRowReader?
    }

    private func open(_ path: String) throws -> Input {
        let table = try ParquetTable(path: path)
        var columns: [String: ParquetRowReader] = [:]
        for name in Self.requiredColumns { columns[name] = try table.rows(of: name) }
        let missing = Self.requiredColumns.filter { columns[$0] == nil }
        guard missing.isEmpty else {
            throw FormatError(file: path, "has no column \(missing.joined(separator: ", ")) (it has \(try table.columnNames().joined(separator: ", "))); "
                              + "a dump import needs the reference's columns \(Self.requiredColumns.joined(separator: ", "))")
        }
        return Input(table: table, columns: columns, text: try table.rows(of: "text"),
                     tokenCE: try table.rows(of: "per_step_metric_ce"))
    }

    @discardableResult
    public func run(progress: ((Summary) -> Void)? = nil) throws -> Summary {
        guard !files.isEmpty else { throw FusionError("dump import: give the Parquet files to import") }
        let inputs = try files.map(open)
        let rows = inputs.reduce(0) { $0 + $1.table.rowCount }
        guard rows == prepared.textCount else {
            throw FormatError(file: files.count == 1 ? files[0] : "\(files.count) files", "hold \(rows) rows; the prepared corpus "
                              + "\(prepared.directory.path) has \(prepared.textCount) texts (one row per text, in order)")
        }
        let exported = inputs[0].table.keyValueMetadata["fusellm.values"] != nil
        var summary = Summary()
        summary.valuesWereLogits = !exported
        let directoryLock = try DirectoryLock(output, mode: .exclusive, purpose: "fusellm dump import")
        defer { withExtendedLifetime(directoryLock) {} }

        var settings: TeacherManifest?
        var shard: [TeacherText] = []
        var id = 0
        for (f, input) in inputs.enumerated() {
            for row in 0..<input.table.rowCount {
                let place = "row \(row)"
                let (tokens, rawIDs, rawValues, ce, width) = try readRow(input, file: files[f], place: place)
                // The row must be prepared text `id` as the source tokenizes it.
                let text = try prepared.text(id)
                if let t = input.text, let got = try t.nextRow()?.texts.first, got != text.text {
                    throw FormatError(file: files[f], item: place, "its text is not prepared text \(id) (\(Self.preview(got)) ≠ "
                                      + "\(Self.preview(text.text))): the file was made from other texts or in another order")
                }
                let expected = try prepared.sourceTokens(ofText: id, tokenizer: tokenizer)
                var n = tokens.count
                if tokens.count == expected.count + 1, Array(tokens.prefix(expected.count)) == expected,
                   tokens.last == tokenizer.eosTokenID {
                    n -= 1
                    summary.droppedEOS += 1
                } else if tokens != expected {
                    let at = (0..<min(tokens.count, expected.count)).first { tokens[$0] != expected[$0] } ?? min(tokens.count, expected.count)
                    throw FormatError(file: files[f], item: place, "input_ids are not the source tokenizer's tokens of prepared text \(id) "
                                      + "(\(tokens.count) against \(expected.count) tokens, first difference at position \(at)): "
                                      + "the file was made from other texts or with another tokenizer")
                }
                let positions = rawIDs.count / max(width, 1)
                guard positions >= n else {
                    throw FormatError(file: files[f], item: place, "per_step_logits has \(positions) positions for \(tokens.count) input_ids")
                }
                summary.ignoredPadding += positions - tokens.count
                if settings == nil {
                    guard width > 0 else { throw FormatError(file: files[f], item: place, "per_step_logits has no entries") }
                    let k = options.k ?? width
                    guard k >= 1, k <= width else {
                        throw FusionError("--k \(k) is more than the \(width) entries per position the file holds")
                    }
                    summary.k = k
                    let m = TeacherManifest(source: options.sourceName, tokenizerFingerprint: tokenizer.fingerprint,
                                            blocksFingerprint: prepared.blocksFingerprint, k: k, valueEncoding: options.encoding,
                                            blockCount: prepared.textCount, blocksPerShard: options.textsPerShard)
                    try DumpSettingsFile.claim(output, for: m)
                    settings = m
                }
                var t = try teacherText(id: id, tokens: Array(tokens.prefix(n)), ids: rawIDs, values: rawValues, width: width,
                                        k: summary.k, ce: ce, logits: !exported, file: files[f], place: place)
                if let reader = input.tokenCE, let row = try reader.nextRow() {
                    // Per position with a next token; the reference pads to model_max_length − 1 (0 there).
                    guard row.numbers.count >= n - 1, row.numbers.prefix(max(0, n - 1)).allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                        throw FormatError(file: files[f], item: place, "per_step_metric_ce has \(row.numbers.count) values for "
                                          + "\(n - 1) positions with a next token, or a value that is not a finite cross-entropy")
                    }
                    t.tokenCE = (0..<n).map { $0 < n - 1 ? Float(row.numbers[$0]) : 0 }
                }
                shard.append(t)
                summary.texts += 1
                summary.positions += n
                id += 1
                if shard.count == options.textsPerShard || id == prepared.textCount {
                    let s = (id - 1) / options.textsPerShard
                    try TeacherShard.write(shard, encoding: options.encoding,
                                           to: output.appendingPathComponent(TeacherManifest.shardFileName(s)))
                    shard.removeAll()
                    progress?(summary)
                }
            }
        }
        guard let settings else { throw FusionError("dump import: the prepared corpus has no texts") }
        try DumpTokenizerFile.keep(tokenizer, from: tokenizerPath, addsBOS: false, in: output)
        try TeacherDump.finishPart(settings, directory: output, part: 0, of: 1)
        return summary
    }

    /// One row's columns: tokens, the entries as flat arrays with their width, and the ce; every value checked.
    private func readRow(_ input: Input, file: String, place: String) throws
        -> (tokens: [Int32], ids: [Int32], values: [Float], ce: Double, width: Int) {
        func next(_ name: String) throws -> ParquetRow {
            guard let row = try input.columns[name]!.nextRow() else {
                throw FormatError(file: file, item: place, "column \(name) ends before the file's rows do")
            }
            return row
        }
        let ids = try next("input_ids"), logits = try next("per_step_logits"), indices = try next("per_step_indices"),
            ce = try next("metric_ce")
        let vocab = tokenizer.vocabSize
        func tokenIDs(_ numbers: [Double], _ what: String) throws -> [Int32] {
            try numbers.map { v in
                guard v.isFinite, v >= 0, v < Double(vocab), v == v.rounded() else {
                    throw FormatError(file: file, item: place, "\(what) holds \(v), not a token id of the source's \(vocab)-token vocabulary")
                }
                return Int32(v)
            }
        }
        guard logits.lengths == indices.lengths, logits.lengths.count == 2, indices.nulls == 0, logits.nulls == 0 else {
            throw FormatError(file: file, item: place, "per_step_logits and per_step_indices differ in shape or hold nulls")
        }
        let widths = Set(logits.lengths[1])
        guard widths.count <= 1 else {
            throw FormatError(file: file, item: place, "positions hold \(widths.sorted()) entries; every position needs the same k "
                              + "(the aligned, ragged columns of token_alignment.py cannot be imported)")
        }
        guard let metric = ce.numbers.first, metric.isFinite, metric >= 0 else {
            let shown = ce.numbers.first.map { "\($0)" } ?? "null"
            throw FormatError(file: file, item: place, "metric_ce is \(shown), not a finite cross-entropy")
        }
        if let bad = logits.numbers.first(where: { !$0.isFinite }) {
            throw FormatError(file: file, item: place, "per_step_logits holds \(bad)")
        }
        let tokens = try tokenIDs(ids.numbers, "input_ids"), entryIDs = try tokenIDs(indices.numbers, "per_step_indices")
        let values = logits.numbers.map { Float($0) }
        return (tokens, entryIDs, values, metric, widths.first ?? 0)
    }

    /// The text's top-k in highest-first order (ties: lower id first), as log-probabilities.
    private func teacherText(id: Int, tokens: [Int32], ids: [Int32], values: [Float], width: Int, k: Int, ce: Double,
                             logits: Bool, file: String, place: String) throws -> TeacherText {
        let n = tokens.count
        var topIDs = [Int32](), topLogProbs = [Float]()
        topIDs.reserveCapacity(n * k)
        topLogProbs.reserveCapacity(n * k)
        for p in 0..<n {
            let row = (p * width)..<((p + 1) * width)
            guard Set(ids[row]).count == width else {
                throw FormatError(file: file, item: place, "position \(p) repeats a token id in per_step_indices")
            }
            var shift: Float = 0
            if logits {  // log Σ exp over the kept logits, in Double
                let m = values[row].max()!
                shift = m + Float(log(values[row].reduce(0.0) { $0 + exp(Double($1 - m)) }))
            }
            let order = row.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : ids[$0] < ids[$1] }
            for i in order.prefix(k) {
                topIDs.append(ids[i])
                topLogProbs.append(min(0, values[i] - shift))
            }
        }
        let count = max(0, n - 1)
        return TeacherText(textID: id, tokens: tokens, k: k, topIDs: topIDs, topLogProbs: topLogProbs,
                           ceSum: ce * Double(count), ceCount: count)
    }

    static func preview(_ s: String) -> String {
        let head = s.prefix(40)
        return "\"\(head.replacingOccurrences(of: "\n", with: "\\n"))\(head.count < s.count ? "…" : "")\""
    }
}
