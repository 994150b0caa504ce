import Models
import FuseFormats
import FuseTensor
import FuseText
import Foundation
import Llama

public struct DumpOptions: Sendable {
    /// Top entries kept per position.
    public var k = 10
    public var encoding: ValueEncoding = .qgap
    /// Texts per shard file: the unit of resumption and of `--shard` scheduling.
    public var textsPerShard = 128
    /// This worker's part of `parts` (shards s with s % parts == part).
    public var part = 0
    public var parts = 1
    /// Sequences are padded at the end to a multiple of this many tokens, so the model's workspace (cached per
    /// shape) is reused across texts; causal attention keeps the padding from changing earlier positions.
    public var lengthBucket = 128

    public init() {}
}

/// Where a dump stands, after every text.
public struct DumpProgress: Sendable {
    /// Texts of this worker's part done (resumed shards included), and their total.
    public var texts: Int
    public var totalTexts: Int
    public var textsThisRun: Int
    /// Progress in prepared (target) tokens of the part's texts: a source's own token counts are not known
    /// before it tokenizes a text, and target tokens are proportional enough for an ETA.
    public var targetTokens: Int
    public var targetTokensThisRun: Int
    public var totalTargetTokens: Int
    /// The source's tokens run so far.
    public var tokensThisRun: Int
    public var secondsThisRun: Double
}

/// One finished shard, for the metrics log.
public struct DumpShardReport: Sendable {
    public var shard: Int
    public var texts: Int
    public var tokens: Int
    public var seconds: Double
    /// Token-weighted mean ce of the shard's texts.
    public var ce: Double
    public var bytes: Int
}

/// `fusellm dump`: runs one source model over every prepared text and writes its top-k next-token
/// distributions (TeacherText per text: `textID` is the text index) as a teacher dump.
///
/// Per text the model sees its own tokenization of the text, plus its own EOS when the text ends a document
/// (the target's own dump reuses the prepared tokens, so its rows line up with the target's exactly). Per
/// position: the k most likely next tokens with their log-probabilities (`TopK.extract`); per text: ce = the
/// mean next-token cross-entropy over the positions that have a next token (EOS prediction included).
/// Shards are written whole and renamed; a resumed run skips the shards that exist; `finishPart` then reads
/// every shard of the part back (zstd checksums) before its manifest is written.
public final class DumpRunner {
    public let prepared: PreparedCorpus
    public let model: PretrainedModel
    public let output: URL
    public let options: DumpOptions
    public let settings: TeacherManifest
    /// The model's tokenizer is the prepared target's: its tokens are taken from the prepared texts.
    public let isTarget: Bool
    private var inputs: [Int32] = []

    public init(prepared: PreparedCorpus, model: PretrainedModel, sourceName: String, output: URL, options: DumpOptions) throws {
        guard options.k > 0, options.k <= model.model.vocabSize else {
            throw FusionError("--k must be in 1...\(model.model.vocabSize) (the model's vocabulary), not \(options.k)")
        }
        guard options.textsPerShard > 0, options.lengthBucket > 0 else { throw FusionError("texts per shard and the length bucket must be positive") }
        guard options.parts > 0, options.part >= 0, options.part < options.parts else {
            throw FusionError("--shard must be i/n with 0 ≤ i < n, not \(options.part)/\(options.parts)")
        }
        guard model.tokenizer.eosTokenID != nil else {
            throw FormatError(file: model.source, item: "tokenizer", "has no EOS token; the dump appends EOS to every document's last text")
        }
        if model.addsBOS, model.tokenizer.bosTokenID == nil {
            throw FormatError(file: model.source, item: "tokenizer", "asks for BOS before a sequence but has no BOS token")
        }
        self.prepared = prepared
        self.model = model
        self.output = output
        self.options = options
        isTarget = model.tokenizer.fingerprint == prepared.targetTokenizerFingerprint
        if isTarget, model.tokenizer.eosTokenID != prepared.targetEOS {
            // Same vocabulary, another EOS (e.g. a tokenizer.json's <|endoftext|> against a chat model's <|im_end|>):
            // the target's dump must hold the prepared tokens exactly, so the corpus should be prepared from this model.
            throw FormatError(file: model.source, item: "tokenizer", "has the prepared target's vocabulary but EOS \(model.tokenizer.eosTokenID!) where the corpus was prepared with EOS \(prepared.targetEOS.map(String.init) ?? "none"); prepare it with --target \(model.source)")
        }
        settings = TeacherManifest(source: sourceName, tokenizerFingerprint: model.tokenizer.fingerprint,
                                   blocksFingerprint: prepared.blocksFingerprint, k: options.k,
                                   valueEncoding: options.encoding, blockCount: prepared.textCount,
                                   blocksPerShard: options.textsPerShard, bosPrepended: model.addsBOS)
    }

    /// The source's tokens of text `i`.
    public func sourceTokens(ofText i: Int) throws -> [Int32] {
        try prepared.sourceTokens(ofText: i, tokenizer: model.tokenizer)
    }

    /// Creates the output directory, or checks that the dump it holds has this run's settings (see
    /// `DumpSettingsFile`); `run` does it first, callers that write beside the dump call it before they do.
    public func claimOutput() throws {
        try DumpSettingsFile.claim(output, for: settings)
    }

    /// Writes this worker's missing shards and its part manifest; returns the manifest of the part.
    @discardableResult
    public func run(progress: ((DumpProgress) -> Void)? = nil, shardDone: ((DumpShardReport) -> Void)? = nil) throws -> TeacherManifest {
        // The parts of one dump may share the directory; two writers of the same part, or a merge, may not.
        let directoryLock = try DirectoryLock(output, mode: .shared, purpose: "fusellm dump")
        let partLock = try DirectoryLock(output, name: DirectoryLock.fileName + "-part-\(options.part)-of-\(options.parts)",
                                         mode: .exclusive, purpose: "fusellm dump of \(settings.source), part \(options.part)/\(options.parts)")
        defer { withExtendedLifetime((directoryLock, partLock)) {} }
        try claimOutput()
        let wanted = TeacherDump.shards(of: settings, part: options.part, of: options.parts)
        removeStaleTemporaries(of: wanted)
        let done = TeacherDump.completedShards(in: output, among: wanted)
        let start = DispatchTime.now().uptimeNanoseconds
        func targetTokens(_ shards: [Int]) -> Int {
            shards.reduce(0) { sum, s in settings.blockRange(ofShard: s).reduce(sum) { $0 + prepared.tokenCount(ofText: $1) } }
        }
        var state = DumpProgress(texts: done.reduce(0) { $0 + settings.blockRange(ofShard: $1).count },
                                 totalTexts: wanted.reduce(0) { $0 + settings.blockRange(ofShard: $1).count },
                                 textsThisRun: 0, targetTokens: targetTokens(Array(done)), targetTokensThisRun: 0,
                                 totalTargetTokens: targetTokens(wanted),
                                 tokensThisRun: 0, secondsThisRun: 0)
        for s in wanted where !done.contains(s) {
            let shardStart = DispatchTime.now().uptimeNanoseconds
            let range = settings.blockRange(ofShard: s)
            let tokens = try range.map { try sourceTokens(ofText: $0) }
            // Longest bucket first, then by length: the workspace is reallocated once per bucket, not per text.
            let order = tokens.indices.sorted { bucket(tokens[$0].count) != bucket(tokens[$1].count) ? bucket(tokens[$0].count) > bucket(tokens[$1].count) : $0 < $1 }
            var blocks = [TeacherText?](repeating: nil, count: range.count)
            for j in order {
                blocks[j] = try teacherBlock(text: range.lowerBound + j, tokens: tokens[j])
                state.texts += 1
                state.textsThisRun += 1
                state.targetTokens += prepared.tokenCount(ofText: range.lowerBound + j)
                state.targetTokensThisRun += prepared.tokenCount(ofText: range.lowerBound + j)
                state.tokensThisRun += tokens[j].count
                state.secondsThisRun = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                progress?(state)
            }
            let finished = blocks.map { $0! }
            let url = output.appendingPathComponent(TeacherManifest.shardFileName(s))
            try TeacherShard.write(finished, encoding: options.encoding, to: url)
            let n = finished.reduce(0) { $0 + $1.ceCount }
            shardDone?(DumpShardReport(shard: s, texts: range.count, tokens: tokens.reduce(0) { $0 + $1.count },
                                       seconds: Double(DispatchTime.now().uptimeNanoseconds - shardStart) * 1e-9,
                                       ce: n > 0 ? finished.reduce(0) { $0 + $1.ceSum } / Double(n) : 0,
                                       bytes: (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0))
        }
        try TeacherDump.finishPart(settings, directory: output, part: options.part, of: options.parts)
        let name = options.parts == 1 ? TeacherDump.manifestName : "manifest.part-\(options.part)-of-\(options.parts).json"
        return try TeacherManifest.read(output.appendingPathComponent(name))
    }

    /// The teacher block of text `i` (its source tokens computed here).
    public func teacherBlock(text i: Int) throws -> TeacherText {
        try teacherBlock(text: i, tokens: sourceTokens(ofText: i))
    }

    func teacherBlock(text i: Int, tokens: [Int32]) throws -> TeacherText {
        let maxPositions = model.model.maxSequenceLength
        let bos = model.prependedBOS
        let length = tokens.count + (bos == nil ? 0 : 1)
        guard length <= maxPositions else {
            throw FusionError("text \(i) has \(tokens.count) tokens under \(model.source)\(bos == nil ? "" : " (+ BOS)"), more than its "
                              + "max_position_embeddings (\(maxPositions)); prepare the corpus with a smaller --max-text-tokens")
        }
        return Self.teacherBlock(model: model.model, tokens: tokens, bos: bos, id: i, k: options.k,
                                 seqLen: min(bucket(length), maxPositions), inputs: &inputs)
    }

    private func bucket(_ n: Int) -> Int { max(1, (n + options.lengthBucket - 1) / options.lengthBucket) * options.lengthBucket }

    /// Forward over `tokens` (after `bos` when the model wants one) padded to `seqLen`, then top-k and ce over the
    /// text's positions: BOS is no text token, so its row (the prediction of the first token) is not kept.
    static func teacherBlock(model: any CausalLM, tokens: [Int32], bos: Int32? = nil, id: Int, k: Int, seqLen: Int,
                             inputs: inout [Int32]) -> TeacherText {
        let n = tokens.count
        guard n > 0 else { return TeacherText(textID: id, tokens: [], k: k, topIDs: [], topLogProbs: [], ceSum: 0, ceCount: 0) }
        let shift = bos == nil ? 0 : 1
        if inputs.count != seqLen { inputs = [Int32](repeating: 0, count: seqLen) }
        for t in 0..<seqLen { inputs[t] = t < shift ? bos! : t - shift < n ? tokens[t - shift] : 0 }  // padding is never looked at
        let targets = (0..<n).map { t in t + 1 < n ? tokens[t + 1] : -1 }
        let summary = model.nextTokenSummary(ids: inputs, rows: shift..<(shift + n), k: k, targets: targets)
        // ce = mean over positions with a next token of logZ − logit(next): CrossEntropy.loss's terms, without its
        // second pass of exponentials over the vocabulary.
        var ceSum = 0.0
        var tokenCE = [Float](repeating: 0, count: n)
        for t in 0..<(n - 1) {
            tokenCE[t] = summary.logZ[t] - summary.targetLogits[t]
            ceSum += Double(tokenCE[t])
        }
        let ids = summary.topIDs, logProbs = summary.topLogProbs
        return TeacherText(textID: id, tokens: tokens, k: k, topIDs: ids, topLogProbs: logProbs,
                            ceSum: ceSum, ceCount: n - 1, tokenCE: tokenCE)
    }

    /// Temporary files of this part's shards left by a killed run (other parts' writers may share the directory).
    private func removeStaleTemporaries(of shards: [Int]) {
        let fm = FileManager.default
        let mine = Set(shards.map { "." + TeacherManifest.shardFileName($0) + ".tmp-" })
        for name in (try? fm.contentsOfDirectory(atPath: output.path)) ?? [] {
            guard let cut = name.range(of: ".tmp-"), mine.contains(String(name[..<cut.upperBound])) else { continue }
            try? fm.removeItem(at: output.appendingPathComponent(name))
        }
    }
}
